"""A fuzzing campaign: hypothesis rounds over every property until the time is up or Ctrl-C.

Each round runs one property's @given test for a bounded number of examples
(sized to take about ROUND_SECONDS at its measured rate) with the kept example
database, so a failure found once is replayed first next time. Properties take
turns; a property that fails is shrunk, saved as a reproducer and not run again
in this campaign. Hypothesis is driven here rather than by HypoFuzz: see
docs/fuzzing.md ("Why not HypoFuzz").
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import HealthCheck, Phase, Verbosity, event, given, settings, target
from hypothesis.database import DirectoryBasedExampleDatabase

from . import model
from .play import Outcome, TargetUnreachable, play
from .properties import Plan, Property
from .reproducer import Expect, Failure, Reproducer, dumps
from .targets import FuzzTarget

# A round is one hypothesis run of one property: long enough for hypothesis to grow its
# examples and steer (target phase), short enough that every property gets turns.
ROUND_SECONDS = (1.0, 30.0)


def _then_still_serving(plan: Plan, why: str) -> tuple[Plan, Outcome]:
    """`plan` followed by a new connection that must be greeted (docs/protocol.md: peer
    misbehaviour never stops the server), failed there: the reproducer of a dead target."""
    reproducer = plan.reproducer
    conn = max(reproducer.connections(), default=0) + 1
    steps = (*reproducer.steps, Expect(conn, model.greeting(reproducer.framing)))
    failure = Failure(len(steps), b"", f"step {len(steps)} (conn {conn}): {why}")
    extended = replace(plan, reproducer=replace(reproducer, steps=steps))
    return extended, Outcome(len(steps), failure, 0.0)


class _Stop(BaseException):
    """The deadline passed: ends a hypothesis run at once (a BaseException is no failure)."""


@dataclass
class PropertyStats:
    """What one property did so far: examples run, seconds spent, labels drawn, failures."""

    prop: Property
    examples: int = 0
    seconds: float = 0.0
    labels: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)  # reproducer paths
    errors: list[str] = field(default_factory=list)
    done: bool = False

    @property
    def rate(self) -> float:
        return self.examples / self.seconds if self.seconds else 0.0


@dataclass
class Campaign:
    """Runs `properties` against `fuzz_target` until `deadline` (monotonic; None: forever)."""

    properties: list[Property]
    fuzz_target: FuzzTarget
    deadline: float | None
    database: Path
    reproducers: Path
    started: float = field(default_factory=time.monotonic)
    stats: dict[str, PropertyStats] = field(default_factory=dict)
    stopped_by: str = ""
    tick: Callable[[], None] | None = None  # called after every example (progress)
    interrupted: bool = False  # set by the Ctrl-C handler: stop after the current example
    _failing: tuple[Plan, Outcome] | None = None
    _last_played: Plan | None = None  # the last plan the target answered (suspect if it dies)

    def __post_init__(self) -> None:
        self.stats = {prop.name: PropertyStats(prop) for prop in self.properties}

    def time_left(self) -> float | None:
        return None if self.deadline is None else self.deadline - time.monotonic()

    def stop_requested(self) -> bool:
        """Ctrl-C (or SIGTERM) asked the campaign to stop; set from a signal handler."""
        return self.interrupted

    def failing(self) -> tuple[Plan, Outcome] | None:
        """The last failing example of the current round (the shrunk one, once it ends)."""
        return self._failing

    def round_seconds(self) -> float:
        """Each property gets a few turns in a short campaign, 30 s turns in a long one."""
        low, high = ROUND_SECONDS
        if self.deadline is None:
            return high
        total = self.deadline - self.started
        return max(low, min(high, total / (3 * max(1, len(self.properties)))))

    def run(self) -> None:
        """Round after round until the deadline; KeyboardInterrupt propagates to the caller."""
        while True:
            if self.interrupted:
                self.stopped_by = "Ctrl-C"
                return
            active = [s for s in self.stats.values() if not s.done]
            if not active:
                self.stopped_by = "every property failed"
                return
            for stats in active:
                left = self.time_left()
                if left is not None and left <= 0:
                    # Every property gets one example, however loaded the machine: a
                    # campaign's report must not list a property that never ran.
                    if all(s.examples > 0 or s.done for s in active):
                        self.stopped_by = "time"
                        return
                    if stats.examples > 0:
                        continue
                if self.stop_requested():
                    break
                self._round(stats)

    def _round(self, stats: PropertyStats) -> None:
        prop = stats.prop
        round_end = time.monotonic() + self.round_seconds()
        limits = self.fuzz_target.limits
        addresses = {f: self.fuzz_target.address(f) for f in limits.framings}
        self._failing = None

        @settings(
            max_examples=1_000_000,  # the round's time ends it
            deadline=None,
            database=DirectoryBasedExampleDatabase(str(self.database / prop.name)),
            suppress_health_check=list(HealthCheck),
            phases=[Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
            print_blob=False,
            verbosity=Verbosity.quiet,  # the progress table speaks; hypothesis' notes would not
            report_multiple_bugs=False,
        )
        @given(plan=prop.plans(limits))
        def check(plan: Plan) -> None:
            now = time.monotonic()
            if self.interrupted:
                raise _Stop  # even while shrinking: the smallest failing plan so far is saved
            if self._failing is None and (
                stats.examples > examples_before  # one each round, however slow
                and (now >= round_end or now >= (self.deadline or now + 1))
            ):
                raise _Stop  # not while a failure is shrunk: its smallest example is the point
            for label in plan.labels:
                event(label)
            for label, value in plan.targets:
                target(value, label=label)
            host, port = addresses[plan.reproducer.framing]
            outcome = play(plan.reproducer, host, port)
            self._last_played = plan
            stats.examples += 1
            stats.seconds = seconds_before + time.monotonic() - begun  # a live rate
            stats.labels.update(plan.labels)
            if self.tick is not None:
                self.tick()
            if outcome.failure is not None:
                self._failing = (plan, outcome)  # the last one is the shrunk one
                raise AssertionError(outcome.failure.detail)

        seconds_before, begun = stats.seconds, time.monotonic()
        examples_before = stats.examples
        try:
            check()
        except _Stop:
            if self.failing() is not None:  # Ctrl-C while shrinking
                stats.done = True
                self._save(stats, "interrupted while shrinking")
        except TargetUnreachable as exc:
            # The server died or hung: the plan played just before is the suspect.
            stats.done = True
            if self._last_played is not None and self._failing is None:
                self._failing = _then_still_serving(self._last_played, str(exc))
            self._save(stats, f"the target stopped answering: {exc}")
        except Exception as exc:  # a failure hypothesis shrank (or a bug in the property)
            stats.done = True
            self._save(stats, str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        finally:
            stats.seconds = seconds_before + time.monotonic() - begun

    def _save(self, stats: PropertyStats, why: str) -> None:
        if self._failing is None:
            stats.errors.append(why)
            return
        plan, outcome = self._failing
        assert outcome.failure is not None
        reproducer: Reproducer = plan.reproducer
        framing = reproducer.framing
        host, port = self.fuzz_target.address(framing)
        found = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        saved = reproducer.with_failure(
            outcome.failure, f"{host}:{port}", self.fuzz_target.description, found
        )
        saved = replace(saved, labels=plan.labels)
        text = dumps(saved)
        digest = hashlib.sha256(dumps(reproducer).encode()).hexdigest()[:10]
        self.reproducers.mkdir(parents=True, exist_ok=True)
        path = self.reproducers / f"{stats.prop.name}-{digest}.toml"
        path.write_text(text)
        stats.failures.append(str(path))
