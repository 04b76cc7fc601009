"""Suite-wide rules: hypothesis profiles, the `container` marker, and what happens without Docker.

- HYPOTHESIS_PROFILE picks `dev` (default: quick), `ci` (derandomized, fixed
  budget; what `make test` uses) or `fuzz` (long; `make fuzz`, failures saved
  under .hypothesis/ so the next run replays them first).
- Everything under tests/containers/ is marked `container`; the fast tier is
  `-m "not container"`.
- Without a reachable Docker Engine, container tests are skipped with the
  reason, except under CI=true, where that is a usage error: CI must never
  pass by skipping the suite that matters.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.database import DirectoryBasedExampleDatabase

from tests.harness.engine import docker_problem, in_ci

ROOT = Path(__file__).resolve().parent.parent
CONTAINER_TESTS = Path(__file__).resolve().parent / "containers"

settings.register_profile("dev", max_examples=10, deadline=None)
settings.register_profile(
    "ci",
    max_examples=25,
    derandomize=True,  # the same examples every run: a red CI is reproducible
    database=None,
    deadline=None,  # shared 2-core runners: wall-clock deadlines only add flakes
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "fuzz",
    max_examples=2000,
    deadline=None,
    database=DirectoryBasedExampleDatabase(str(ROOT / ".hypothesis" / "examples")),
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
_PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "dev")
if _PROFILE not in ("dev", "ci", "fuzz"):
    raise pytest.UsageError(f"HYPOTHESIS_PROFILE={_PROFILE!r}: expected dev, ci or fuzz")
settings.load_profile(_PROFILE)


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [f"hypothesis profile: {_PROFILE}" + (" (CI=true)" if in_ci() else "")]


def pytest_itemcollected(item: pytest.Item) -> None:
    # Marked as collected, so `-m "not container"` deselects them before any Docker check.
    if CONTAINER_TESTS in item.path.parents:
        item.add_marker(pytest.mark.container)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    selected = [item for item in items if item.get_closest_marker("container")]
    if not selected:
        return  # the fast tier never touches Docker
    problem = docker_problem()
    if problem is None:
        return
    if in_ci():
        raise pytest.UsageError(
            f"CI=true and {len(selected)} container tests selected, but {problem}"
        )
    skip = pytest.mark.skip(reason=f"no Docker Engine: {problem}")
    for item in selected:
        item.add_marker(skip)
