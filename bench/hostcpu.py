"""CPU the Docker daemons spend, read from the host's /proc: a server's logs cost there too."""

from __future__ import annotations

import os
from pathlib import Path

# comm names are cut at 15 characters: containerd-shim-runc-v2 shows as containerd-shim.
DAEMONS = frozenset({"dockerd", "containerd", "containerd-shim"})
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def daemons_cpu_seconds() -> float:
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue  # the process ended while we looked
        name, _, rest = text.partition(" (")[2].rpartition(") ")
        if name in DAEMONS:
            fields = rest.split()
            total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS


def softirq_seconds() -> float:
    """Time the whole machine spent in hardware and software interrupts (/proc/stat).

    Receiving TCP over the bridge runs there, and with IRQ time accounting the kernel
    charges it to no process: per-process system time leaves it out.
    """
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    irq, softirq = int(fields[6]), int(fields[7])  # after "cpu": user nice system idle iowait
    return (irq + softirq) / CLOCK_TICKS
