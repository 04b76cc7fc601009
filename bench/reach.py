"""Whether a rate target can be reached on this machine at all.

A target such as "3x the blocking server's exchanges per second" asks the project's
server and the load generator, sharing this machine's cores, for that rate. The
kernel time per exchange or message (each one's system time, and the interrupts
that receive its packets) is socket and TCP work that any server and client must
do, whatever their Python; if that time alone, at the rate asked for, needs more
cores than the machine has, no change to the code measured reaches the target
here. The user-space time, as measured, says how far the rest is.
"""

from __future__ import annotations

from dataclasses import dataclass

from .figures import TARGETS, Results, Target


@dataclass(frozen=True)
class Reach:
    target: Target
    server: str
    rate_needed: float  # exchanges or messages per second
    # Kernel time per op: the server's and the load generator's system time, plus the
    # machine's interrupt time, where TCP receive work is charged to no process.
    kernel_us: float
    measured_us: float  # all CPU per op as measured: server and load generator
    cores: float

    @property
    def kernel_cores(self) -> float:
        return self.rate_needed * self.kernel_us / 1e6

    @property
    def measured_cores(self) -> float:
        return self.rate_needed * self.measured_us / 1e6

    @property
    def verdict(self) -> str:
        if self.kernel_cores > self.cores:
            return (
                "out of reach here: the kernel's work alone, as measured, "
                "needs more cores than there are"
            )
        if self.measured_cores > self.cores:
            return "the kernel's work fits; the user-space work, at today's cost, does not"
        return "fits this machine's cores"


def reach(results: Results, target: Target, server: str) -> Reach | None:
    """The cores `target` needs from `server` and the load generator; None when the
    target is not a rate or a figure is missing."""
    if target.workload is None or target.baseline is None:
        return None
    try:
        per_server = results["throughput"][target.workload]
        baseline_rate = float(per_server[target.baseline]["rate"])
        mine = per_server[server]
        kernel_us = (
            float(mine["server_system_us"])
            + float(mine["client_system_us"])
            + float(mine["softirq_us"])
        )
        user_us = float(mine["server_user_us"]) + float(mine["client_user_us"])
        cores = float(results["machine"]["cores"])
    except (KeyError, TypeError, ValueError):
        return None
    return Reach(target, server, target.goal * baseline_rate, kernel_us, kernel_us + user_us, cores)


def reaches(results: Results, servers: list[str]) -> list[Reach]:
    found = (reach(results, target, server) for target in TARGETS for server in servers)
    return [r for r in found if r is not None]
