"""Where a run's time went: seconds per tier and per module, for the end-of-run summary.

Under pytest-xdist every worker's reports reach the controller, so one table
covers the whole run. A module's time is the sum of its tests' setup, call and
teardown (a module-scoped fixture counts in the test that set it up); beside
the wall time it shows how well the workers were kept busy, and it is the table
behind docs/ci.md's scale-out figures.
"""

from __future__ import annotations

import pytest

from .durations import module_of

CONTAINER_MARK = "container"  # tests/conftest.py marks the container tier with it


class ModuleTimes:
    """A pytest plugin: seconds per module (`tests/x/test_y.py`), by tier, shown in the summary
    (the `top` slowest modules; every module for 0)."""

    def __init__(self, top: int) -> None:
        self.top = top
        self.seconds: dict[str, float] = {}
        self.tier: dict[str, str] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Count one phase (setup, call or teardown) of one test."""
        module = module_of(report.nodeid)
        self.seconds[module] = self.seconds.get(module, 0.0) + report.duration
        container = CONTAINER_MARK in report.keywords
        self.tier[module] = "container tier" if container else "fast tier"

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.seconds:
            terminalreporter.section("time per tier and module (s of setup + call + teardown)")
            for line in self.lines():
                terminalreporter.write_line(line)

    def lines(self) -> list[str]:
        """Per-tier totals, then the slowest modules."""
        tiers: dict[str, list[float]] = {}
        for module, seconds in self.seconds.items():
            tiers.setdefault(self.tier[module], []).append(seconds)
        out = [
            f"{sum(times):7.1f} s  {name}, {len(times)} modules"
            for name, times in sorted(tiers.items())
        ]
        slowest = sorted(self.seconds.items(), key=lambda kv: (-kv[1], kv[0]))
        shown = slowest if self.top == 0 else slowest[: self.top]
        out += [f"{seconds:7.1f} s  {module}" for module, seconds in shown]
        if len(shown) < len(slowest):
            out.append(f"... {len(slowest) - len(shown)} more modules (--module-times=0: all)")
        return out
