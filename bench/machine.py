"""Facts about the machine a run measured on: the table is meaningless without them."""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path

from .containers import Containers


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_facts(pool: Containers, container_python: str) -> dict[str, str]:
    version = pool.client.version()
    load1, load5, _ = os.getloadavg()
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cores": str(os.cpu_count() or "?"),
        "cpu": _cpu_model(),
        "kernel": platform.release(),
        "host_python": platform.python_version(),
        "container_python": container_python,
        "docker": f"Engine {version.get('Version', '?')} (API {version.get('ApiVersion', '?')})",
        "load_average_at_start": f"{load1:.2f} (1 min), {load5:.2f} (5 min)",
    }
