"""The figures a run reports, read out of its results, and their ratios to the baselines.

Every ratio reads "how many times better the project's server is": for rates and
connections held that is project / baseline, for latency, CPU and memory it is
baseline / project. Above 1 the project is ahead.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

Results = Mapping[str, Any]


@dataclass(frozen=True)
class Figure:
    label: str
    unit: str
    get: Callable[[Results, str], float | None]
    higher_is_better: bool
    digits: int = 0

    def value(self, results: Results, server: str) -> float | None:
        try:
            return self.get(results, server)
        except (KeyError, TypeError):
            return None  # not measured for this server (skipped or unavailable)

    def ratio(self, results: Results, server: str, baseline: str) -> float | None:
        mine, theirs = self.value(results, server), self.value(results, baseline)
        if mine is None or theirs is None or not mine or not theirs:
            return None
        return mine / theirs if self.higher_is_better else theirs / mine

    def text(self, value: float | None) -> str:
        if value is None:
            return "–"
        return f"{value:,.{self.digits}f}"


@dataclass(frozen=True)
class _Throughput:
    """Reads one field of one throughput workload: a figure's getter that names its workload."""

    workload: str
    key: str

    def __call__(self, results: Results, server: str) -> float | None:
        return float(results["throughput"][self.workload][server][self.key])


def _capacity(field: str) -> Callable[[Results, str], float | None]:
    def get(results: Results, server: str) -> float | None:
        value = results["capacity"][server][field]
        return None if value is None else float(value)

    return get


SEED_RATE = Figure(
    "seed exchanges/s (64 B, concurrency 50)", "/s", _Throughput("seed", "rate"), True
)
SEED_RATE_ASYNCIO_CLIENT = Figure(
    "seed exchanges/s, the load generator on asyncio's loop",
    "/s",
    _Throughput("seed-asyncio-client", "rate"),
    True,
)
SEED_P50 = Figure("seed latency p50", "ms", _Throughput("seed", "p50_ms"), False, 1)
SEED_P99 = Figure("seed latency p99", "ms", _Throughput("seed", "p99_ms"), False, 1)
SEED_CPU = Figure("seed server CPU per exchange", "µs", _Throughput("seed", "server_cpu_us"), False)
FRAME1_RATE = Figure(
    "frame 1 KiB messages/s (10 connections)", "/s", _Throughput("frame-1k", "rate"), True
)
FRAME1_CPU = Figure(
    "frame 1 KiB server CPU per message", "µs", _Throughput("frame-1k", "server_cpu_us"), False, 1
)
FRAME64_RATE = Figure(
    "frame 64 KiB messages/s (10 connections)", "/s", _Throughput("frame-64k", "rate"), True
)
FRAME64_CPU = Figure(
    "frame 64 KiB server CPU per message", "µs", _Throughput("frame-64k", "server_cpu_us"), False
)
HELD = Figure("idle connections held", "", _capacity("held"), True)
KIB_PER_CONN = Figure(
    "server memory per idle connection", "KiB", _capacity("kib_per_connection"), False, 1
)

ALL = (
    SEED_RATE,
    SEED_RATE_ASYNCIO_CLIENT,
    SEED_P50,
    SEED_P99,
    SEED_CPU,
    FRAME1_RATE,
    FRAME1_CPU,
    FRAME64_RATE,
    FRAME64_CPU,
    HELD,
    KIB_PER_CONN,
)


@dataclass(frozen=True)
class Target:
    """One goal of issue 6: a figure's ratio to a baseline, or an absolute count."""

    label: str
    figure: Figure
    baseline: str | None  # None: compare the value itself
    goal: float

    @property
    def workload(self) -> str | None:
        """The throughput workload a rate target is measured on; None for the others."""
        get = self.figure.get
        return get.workload if isinstance(get, _Throughput) else None

    def measured(self, results: Results, server: str) -> float | None:
        if self.baseline is None:
            return self.figure.value(results, server)
        return self.figure.ratio(results, server, self.baseline)

    def met(self, results: Results, server: str) -> bool | None:
        value = self.measured(results, server)
        return None if value is None else value >= self.goal


TARGETS = (
    Target("frame 1 KiB messages/s ≥ 2x asyncio streams", FRAME1_RATE, "streams", 2.0),
    Target("frame 64 KiB messages/s ≥ 2x asyncio streams", FRAME64_RATE, "streams", 2.0),
    Target("seed exchanges/s ≥ 3x blocking (concurrency 50)", SEED_RATE, "blocking", 3.0),
    Target("10,000 idle connections held", HELD, None, 10_000),
)
