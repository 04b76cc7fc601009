"""The load generator's report: merged worker results, percentiles, text and JSON."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .load_worker import Plan, WorkerResult


def percentile(ordered: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of an ordered sequence (0.0 when it is empty)."""
    if not ordered:
        return 0.0
    rank = max(math.ceil(p / 100 * len(ordered)), 1)
    return ordered[rank - 1]


@dataclass
class LoadReport:
    url: str
    unit: str  # "exchanges" or "messages"
    plans: list[Plan]
    results: list[WorkerResult]
    lost_processes: int  # workers that gave no result (killed at the hard deadline)
    interrupted: bool = False  # Ctrl-C stopped the run: the figures are what completed before

    @property
    def planned(self) -> int:
        return sum(plan.connections * plan.messages for plan in self.plans)

    @property
    def completed(self) -> int:
        return sum(result.completed for result in self.results)

    @property
    def errors(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for result in self.results:
            total.update(result.errors)
        return total

    @property
    def elapsed(self) -> float:
        if not self.results:
            return 0.0
        return max(r.finished for r in self.results) - min(r.started for r in self.results)

    @property
    def stopped_by_limit(self) -> bool:
        return any(r.stopped_by_limit for r in self.results)

    @property
    def ok(self) -> bool:
        return (
            self.completed == self.planned
            and not self.errors
            and not self.stopped_by_limit
            and not self.lost_processes
            and not self.interrupted
        )

    def as_dict(self) -> dict[str, Any]:
        plan = self.plans[0]
        latencies = sorted(value for r in self.results for value in r.latencies)
        elapsed = self.elapsed
        cpu = [r.cpu_seconds for r in self.results]
        return {
            "url": self.url,
            "unit": self.unit,
            "planned": {
                "connections": sum(p.connections for p in self.plans),
                "messages_per_connection": plan.messages,
                self.unit: self.planned,
                "concurrency": sum(p.concurrency for p in self.plans),
                "processes": len(self.plans),
                "size": plan.size,
                "window": plan.window,
                "loop": plan.loop,
            },
            "completed": self.completed,
            "elapsed_s": round(elapsed, 6),
            "rate_per_s": round(self.completed / elapsed, 1) if elapsed > 0 else 0.0,
            "connections": {
                "ok": sum(r.connections_ok for r in self.results),
                "failed": sum(r.connections_failed for r in self.results),
            },
            "latency_ms": {
                name: round(value * 1000, 3)
                for name, value in (
                    ("p50", percentile(latencies, 50)),
                    ("p90", percentile(latencies, 90)),
                    ("p99", percentile(latencies, 99)),
                    ("max", latencies[-1] if latencies else 0.0),
                )
            },
            "errors": dict(self.errors),
            "stopped_by_limit": self.stopped_by_limit,
            "interrupted": self.interrupted,
            "lost_processes": self.lost_processes,
            "cpu": {
                "per_process_s": [round(c, 3) for c in cpu],
                "cores_used": round(sum(cpu) / elapsed, 2) if elapsed > 0 else 0.0,
                "user_s": round(sum(r.user_seconds for r in self.results), 3),
                "system_s": round(sum(r.system_seconds for r in self.results), 3),
            },
            "ok": self.ok,
        }

    def as_text(self) -> str:
        d = self.as_dict()
        planned, lat, cpu = d["planned"], d["latency_ms"], d["cpu"]
        errors = ", ".join(f"{kind} {n}" for kind, n in sorted(d["errors"].items())) or "none"
        shape = f"{planned['connections']} connections"
        if self.unit == "messages":
            shape += (
                f" x {planned['messages_per_connection']} messages (window {planned['window']})"
            )
        lines = [
            f"load {self.url}: {shape}, size {planned['size']}, "
            f"concurrency {planned['concurrency']}, {planned['processes']} "
            f"process{'' if planned['processes'] == 1 else 'es'}, "
            f"loop {planned['loop']}",
            f"  completed    {d['completed']}/{planned[self.unit]} {self.unit} in "
            f"{d['elapsed_s']:.3f} s = {d['rate_per_s']:.0f} {self.unit}/s",
            f"  connections  {d['connections']['ok']} ok, {d['connections']['failed']} failed",
            "  latency ms   " + "  ".join(f"{name} {value}" for name, value in lat.items()),
            f"  errors       {errors}",
            f"  cpu          {cpu['cores_used']} cores busy on average, "
            f"user {cpu['user_s']} s + system {cpu['system_s']} s "
            f"(per process CPU s: {', '.join(str(c) for c in cpu['per_process_s'])})",
        ]
        if self.lost_processes:
            lines.append(f"  lost         {self.lost_processes} worker processes gave no result")
        if self.stopped_by_limit:
            lines.append("  stopped      the duration limit ended the run before it finished")
        if self.interrupted:
            lines.append(
                "  interrupted  Ctrl-C (SIGINT) stopped the run: the figures are what "
                "completed before it"
            )
        return "\n".join(lines)
