"""Server measurements: every server in its container, driven side by side in one run.

Throughput: all servers of a framing run at once (idle ones cost nothing) and
rounds interleave them, the order rotating each round, so a burst of noise from
a shared machine lands on every server alike; each figure is the median round.
Capacity: one server at a time, since holding 10,000 connections is not free.
"""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from socket_harness.protocol import codec_for

from .capacity import HoldResult, hold_idle, raise_fd_limit
from .containers import Containers, RunningServer
from .hostcpu import daemons_cpu_seconds, softirq_seconds
from .load import LoadResult, Workload, run_load
from .servers import PORTS, ServerKind

Say = Callable[[str], None]
MIN_FOR_MEMORY = 100


@dataclass
class Throughput:
    """One workload on one server, every round."""

    rounds: list[LoadResult] = field(default_factory=list)
    # Server CPU per exchange/message, user and system (kernel) apart.
    user_us: list[float] = field(default_factory=list)
    system_us: list[float] = field(default_factory=list)
    daemons_us: list[float] = field(default_factory=list)  # dockerd & co. (logs) per op
    softirq_us: list[float] = field(default_factory=list)  # the machine's interrupts per op

    @property
    def cpu_us(self) -> list[float]:
        return [user + system for user, system in zip(self.user_us, self.system_us, strict=True)]

    def median(self, pick: Callable[[LoadResult], float]) -> float:
        return statistics.median(pick(r) for r in self.rounds)

    def as_dict(self) -> dict[str, object]:
        return {
            "rate": self.median(lambda r: r.rate),
            "p50_ms": self.median(lambda r: r.p50_ms),
            "p99_ms": self.median(lambda r: r.p99_ms),
            "server_cpu_us": statistics.median(self.cpu_us),
            "docker_daemons_cpu_us": statistics.median(self.daemons_us),
            "client_cores": self.median(lambda r: r.client_cores),
            # The load generator's own CPU per exchange/message: on a small machine, its ceiling.
            "client_cpu_us": self.median(lambda r: r.client_cores / r.rate * 1e6 if r.rate else 0),
            # The kernel's share on each side: a floor no user-space change can lower.
            "server_user_us": statistics.median(self.user_us),
            "server_system_us": statistics.median(self.system_us),
            "client_user_us": self.median(lambda r: _per_op(r.client_user_s, r)),
            "client_system_us": self.median(lambda r: _per_op(r.client_system_s, r)),
            "softirq_us": statistics.median(self.softirq_us),
            "client_loop": self.rounds[-1].loop,
            "rates": [r.rate for r in self.rounds],
            "ok": all(r.ok for r in self.rounds),
            "errors": {k: v for r in self.rounds for k, v in r.errors.items()},
        }


def measure_throughput(
    pool: Containers,
    kinds: Sequence[ServerKind],
    images: Mapping[str, str],
    workloads: Sequence[Workload],
    rounds: int,
    processes: int,
    say: Say,
) -> dict[str, dict[str, dict[str, object]]]:
    """{workload key: {server name: figures}} for every workload, framing by framing."""
    results: dict[str, dict[str, Throughput]] = {w.key: {} for w in workloads}
    for framing in dict.fromkeys(w.framing for w in workloads):
        mine = [w for w in workloads if w.framing == framing]
        running: list[RunningServer] = []
        try:
            for kind in kinds:
                running.append(pool.start(kind.name, kind.launch(framing, images, {})))
            for index in range(rounds):
                turn = index % len(running)
                for server in running[turn:] + running[:turn]:
                    for work in mine:
                        figure = results[work.key].setdefault(server.name, Throughput())
                        _one_round(server, framing, work, processes, figure)
                        last = figure.rounds[-1]
                        say(
                            f"round {index + 1}/{rounds} {work.key:9s} {server.name:8s} "
                            f"{last.rate:9.0f}/s  p99 {last.p99_ms:7.2f} ms  "
                            f"server user {figure.user_us[-1]:6.1f} "
                            f"sys {figure.system_us[-1]:6.1f} us/op"
                        )
        finally:
            for server in running:
                pool.stop(server)
    return {key: {name: t.as_dict() for name, t in per.items()} for key, per in results.items()}


def _one_round(
    server: RunningServer, framing: str, work: Workload, processes: int, figure: Throughput
) -> None:
    (user_before, system_before), daemons_before = server.cpu_times(), daemons_cpu_seconds()
    softirq_before = softirq_seconds()
    result = run_load(server.url(framing, PORTS[framing]), work, processes)
    (user, system), daemons = server.cpu_times(), daemons_cpu_seconds()
    figure.rounds.append(result)
    figure.user_us.append(_per_op(user - user_before, result))
    figure.system_us.append(_per_op(system - system_before, result))
    figure.daemons_us.append(_per_op(daemons - daemons_before, result))
    figure.softirq_us.append(_per_op(softirq_seconds() - softirq_before, result))


def _per_op(seconds: float, result: LoadResult) -> float:
    """CPU seconds over a round as µs per exchange or message completed."""
    return seconds / max(result.completed, 1) * 1e6


def measure_capacity(
    pool: Containers,
    kinds: Sequence[ServerKind],
    images: Mapping[str, str],
    target: int,
    budget: float,
    say: Say,
) -> dict[str, dict[str, object]]:
    """{server name: idle connections held, memory per connection} for each server."""
    headroom = 1024
    limit = raise_fd_limit(target + headroom)
    if limit < target + headroom:
        say(f"capacity: this process may open only {limit} files; target lowered")
        target = max(limit - headroom, 1)
    settings = {"SERVER_MAX_CONNECTIONS": str(target), "SERVER_IDLE_TIMEOUT": "0"}
    greeting = len(codec_for("frame").greeting)
    results: dict[str, dict[str, object]] = {}
    for kind in kinds:
        launch = kind.launch("frame", images, settings)
        with pool.running(kind.name, launch, nofile=target + headroom) as server:
            before = server.rss_kib()
            held: HoldResult = asyncio.run(
                hold_idle(server.ip, PORTS["frame"], greeting, target, budget, server.rss_kib)
            )
        during = held.measured or before
        # Too few connections and the figure is page-size noise, not a cost per connection.
        per_conn = (during - before) / held.held if held.held >= MIN_FOR_MEMORY else None
        results[kind.name] = {
            "target": target,
            "held": held.held,
            "failed": held.failed,
            "dropped": held.dropped,
            "stopped_by": held.stopped_by,
            "open_seconds": round(held.open_seconds, 2),
            "rss_before_kib": before,
            "rss_held_kib": during,
            "kib_per_connection": round(per_conn, 2) if per_conn is not None else None,
        }
        say(
            f"capacity {kind.name:8s} held {held.held}/{target} ({held.stopped_by}) "
            f"rss {before} -> {during} KiB"
        )
    return results
