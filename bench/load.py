"""Drive a server with the project's own load generator on the host.

`python -m socket_harness.client load`, as a subprocess.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

from .containers import BenchError
from .servers import REPO


@dataclass(frozen=True)
class Workload:
    """One load shape: seed exchanges or frame messages, bounded in count and time."""

    key: str  # names the figure in results
    framing: str
    connections: int
    concurrency: int
    size: int
    messages: int | None = None  # per connection (frame only)
    duration_limit: float = 20.0
    loop: str = (
        "auto"  # the load generator's event loop (`python -m socket_harness.client load --loop`)
    )


@dataclass(frozen=True)
class LoadResult:
    rate: float  # exchanges or messages per second
    p50_ms: float
    p99_ms: float
    completed: int
    planned: int
    errors: dict[str, int]
    client_cores: float  # CPU the load generator itself used (the host has few)
    client_user_s: float  # its workers' CPU seconds in user space
    client_system_s: float  # and in the kernel (sockets, TCP, the bridge)
    loop: str  # the event loop it ran on

    @property
    def ok(self) -> bool:
        return self.completed == self.planned and not self.errors


def run_load(url: str, work: Workload, processes: int) -> LoadResult:
    command = [
        sys.executable,
        "-m",
        "socket_harness.client",
        "load",
        url,
        "--connections",
        str(work.connections),
        "--concurrency",
        str(work.concurrency),
        "--size",
        str(work.size),
        "--processes",
        str(processes),
        "--duration-limit",
        str(work.duration_limit),
        "--loop",
        work.loop,
        "--json",
    ]
    if work.messages is not None:
        command += ["--messages", str(work.messages)]
    try:
        done = subprocess.run(
            command, cwd=REPO, capture_output=True, text=True, timeout=work.duration_limit + 30
        )
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"load on {url} did not finish in time") from exc
    try:
        report: dict[str, Any] = json.loads(done.stdout)
    except json.JSONDecodeError:
        raise BenchError(f"load on {url} exit {done.returncode}: {done.stderr[-500:]}") from None
    planned = report["planned"]
    return LoadResult(
        rate=float(report["rate_per_s"]),
        p50_ms=float(report["latency_ms"]["p50"]),
        p99_ms=float(report["latency_ms"]["p99"]),
        completed=int(report["completed"]),
        planned=int(planned[report["unit"]]),
        errors={str(k): int(v) for k, v in report["errors"].items()},
        client_cores=float(report["cpu"]["cores_used"]),
        client_user_s=float(report["cpu"]["user_s"]),
        client_system_s=float(report["cpu"]["system_s"]),
        loop=str(planned["loop"]),
    )
