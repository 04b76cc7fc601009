"""Suite-wide rules: hypothesis profiles, the `container` marker, and what happens without Docker.

- HYPOTHESIS_PROFILE picks `dev` (default: quick), `ci` (derandomized, fixed
  budget; what `make test` uses) or `fuzz` (long; `make fuzz`, failures saved
  under .hypothesis/ so the next run replays them first).
- Everything under tests/containers/ is marked `container`; the fast tier is
  `-m "not container"`.
- Without a reachable Docker Engine, container tests are skipped with the
  reason, except under CI=true, where that is a usage error: CI must never
  pass by skipping the suite that matters.
- pytest-xdist (`-n auto`, `--dist loadfile` from pyproject.toml): a module runs
  on one worker, so its module-scoped server is started once; modules are handed
  out longest first, by the stored durations (tests/harness/durations.py). Every
  worker shares the run's session id (tests/harness/labels.py); the leftover
  check runs once, where the run ends (the controller, after every worker).
- The summary ends with the time per tier and per module (--module-times).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.database import DirectoryBasedExampleDatabase

from tests.harness import durations
from tests.harness.engine import docker_problem, in_ci

# Imported here, in every process, so the run's session id is in the environment
# before pytest-xdist starts its workers: they inherit it (labels.py exports it).
from tests.harness.labels import SESSION_ID
from tests.harness.sweep import sweep_session
from tests.harness.timing import ModuleTimes

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


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--module-times",
        type=int,
        default=10,
        metavar="N",
        help="the summary's time per module: the N slowest (default 10; 0: every module)",
    )


def pytest_report_header(config: pytest.Config) -> list[str]:
    profile = f"hypothesis profile: {_PROFILE}" + (" (CI=true)" if in_ci() else "")
    return [profile, f"harness session: {SESSION_ID}"]


def is_worker(config: pytest.Config) -> bool:
    """A pytest-xdist worker (xdist gives each one `workerinput`)."""
    return hasattr(config, "workerinput")


def is_controller(config: pytest.Config) -> bool:
    """The pytest-xdist controller of a distributed run: it runs no test, it gathers reports."""
    return config.pluginmanager.has_plugin("dsession")


def pytest_itemcollected(item: pytest.Item) -> None:
    # Marked as collected, so `-m "not container"` deselects them before any Docker check.
    if CONTAINER_TESTS in item.path.parents:
        item.add_marker(pytest.mark.container)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Every worker reads the same file, so every worker collects the same order.
    stored = durations.load(Path(config.getoption("durations_path", ROOT / ".test_durations")))
    items[:] = durations.longest_modules_first(items, stored)
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


# --- the leftover check: once per run, after every test of every worker ----------------

_CONTAINER_TESTS_RAN = pytest.StashKey[bool]()
WORKER_OUTPUT_KEY = "socket_harness_container_tests"


def container_tests_selected(session: pytest.Session) -> bool:
    """Does this session run any container test? (every worker selects the same tests)"""
    return any(item.get_closest_marker("container") for item in session.items)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object | None) -> None:
    # Controller: a worker finished (its `workeroutput` says whether the run had container
    # tests) or died (it may have left anything behind: check).
    output: dict[str, Any] = getattr(node, "workeroutput", {})
    if error is not None or output.get(WORKER_OUTPUT_KEY):
        node.config.stash[_CONTAINER_TESTS_RAN] = True


@pytest.hookimpl(trylast=True)  # after pytest's own teardown and xdist's shutdown of the workers
def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    if is_worker(config):
        # Other workers may still be running tests: a worker never sweeps, it tells.
        output: dict[str, Any] = config.workeroutput  # type: ignore[attr-defined]
        output[WORKER_OUTPUT_KEY] = container_tests_selected(session)
        return
    if is_controller(config):
        ran = config.stash.get(_CONTAINER_TESTS_RAN, False)
    else:
        ran = container_tests_selected(session)
    if not ran or docker_problem() is not None:
        return  # the fast tier never touches Docker; without one, tests said why already
    try:
        leftovers = sweep_session()
    except Exception as exc:
        say(config, f"harness: could not check for leftovers: {exc}")
        return
    if leftovers:
        # Teardown removes everything; anything found here is a fixture bug, said out loud.
        say(
            config,
            f"harness: teardown missed {len(leftovers)} objects of session {SESSION_ID}, "
            f"removed now: {', '.join(leftovers)}",
        )
        if session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED  # a leak is a bug: the run fails


def say(config: pytest.Config, line: str) -> None:
    """One red line in pytest's output (stdout when the terminal plugin is off)."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        print(line)
    else:
        reporter.write_line(line, red=True, bold=True)


# --- time per tier and module, in the summary ------------------------------------------


def pytest_configure(config: pytest.Config) -> None:
    if not is_worker(config):  # the controller gets every worker's reports
        config.pluginmanager.register(ModuleTimes(config.getoption("module_times")))
