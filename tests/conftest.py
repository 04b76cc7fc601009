"""Suite-wide rules: hypothesis profiles, the `container` marker, and what happens without Docker.

- HYPOTHESIS_PROFILE picks `dev` (default: quick), `ci` (derandomized, fixed
  budget; what `make test` uses) or `fuzz` (long; `make fuzz`, failures saved
  under .hypothesis/ so the next run replays them first).
- Everything under tests/containers/ is marked `container`; the fast tier is
  `-m "not container"`.
- Without a reachable Docker Engine, container tests are skipped with the
  reason, except under CI=true, where that is a usage error: CI must never
  pass by skipping the suite that matters.
- A red run ends nearly as fast as a green one: under `dev` and `ci` a failing
  property shrinks for at most SHRINK_SECONDS and skips hypothesis' explain
  phase; pytest-timeout's bound ends a test with an exception hypothesis does
  not take for one more failing example; a hypothesis `FlakyFailure` is
  reported with the failure it hides first.
- pytest-xdist (`-n auto`, `--dist loadfile` from pyproject.toml): a module runs
  on one worker, so its module-scoped server is started once; modules are handed
  out longest first, by the stored durations (tests/harness/durations.py). Every
  worker shares the run's session id (socket_harness/labels.py); the leftover
  check runs once, where the run ends (the controller, after every worker).
- The summary ends with the time per tier and per module (--module-times).
"""

from __future__ import annotations

import os
import signal
import threading
import traceback
from collections.abc import Generator
from pathlib import Path
from types import FrameType
from typing import Any

import hypothesis.internal.conjecture.engine as hypothesis_engine
import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.database import DirectoryBasedExampleDatabase
from hypothesis.errors import FlakyFailure

from tests.harness import durations
from tests.harness.engine import docker_problem, in_ci

# Imported here, in every process, so the run's session id is in the environment
# before pytest-xdist starts its workers: they inherit it (labels.py exports it).
from tests.harness.labels import SESSION_ID
from tests.harness.sweep import sweep_session
from tests.harness.timing import ModuleTimes

ROOT = Path(__file__).resolve().parent.parent
CONTAINER_TESTS = Path(__file__).resolve().parent / "containers"

# The explain phase replays a failing example in many variations to say which parts
# matter: 67 of a 70 s red unit test on this machine. dev and ci skip it.
QUICK_PHASES = (Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink)
# How long a failing property may shrink under dev and ci (hypothesis' own cap, 300 s,
# is no setting: it is the engine's MAX_SHRINKING_SECONDS, pinned with hypothesis).
SHRINK_SECONDS = 10

settings.register_profile("dev", max_examples=10, deadline=None, phases=QUICK_PHASES)
settings.register_profile(
    "ci",
    max_examples=25,
    derandomize=True,  # the same examples every run: a red CI is reproducible
    database=None,
    deadline=None,  # shared 2-core runners: wall-clock deadlines only add flakes
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
    phases=QUICK_PHASES,
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
if _PROFILE != "fuzz":  # the long campaign shrinks as long as hypothesis likes
    if not isinstance(getattr(hypothesis_engine, "MAX_SHRINKING_SECONDS", None), int):
        raise pytest.UsageError(
            "hypothesis.internal.conjecture.engine.MAX_SHRINKING_SECONDS is gone: "
            "bound the shrink phase another way (tests/conftest.py)"
        )
    hypothesis_engine.MAX_SHRINKING_SECONDS = SHRINK_SECONDS


class TestTimedOut(BaseException):
    """A test ran past its pytest-timeout bound.

    A BaseException on purpose: hypothesis takes an Exception, and pytest's own
    `Failed` (what pytest-timeout raises), for one more failing example and goes
    on shrinking, so the bound would not bound anything.
    """


@pytest.hookimpl(tryfirst=True, optionalhook=True)  # pytest-timeout's hook, if it is loaded
def pytest_timeout_set_timer(item: pytest.Item, settings: tuple[object, ...]) -> bool | None:
    """pytest-timeout's `signal` method, but ending the test with TestTimedOut."""
    timeout, method = settings[0], settings[1]
    if method != "signal" or threading.current_thread() is not threading.main_thread():
        return None  # pytest-timeout's own way
    assert isinstance(timeout, int | float)

    def expire(signum: int, frame: FrameType | None) -> None:
        raise TestTimedOut(f"{item.nodeid} ran past its bound of {timeout:g} s (pytest-timeout)")

    def cancel() -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, signal.SIG_DFL)

    item.cancel_timeout = cancel  # type: ignore[attr-defined]  # pytest-timeout's cancel calls it
    signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    return True


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A hypothesis FlakyFailure is reported with the failure it hides first."""
    report = yield
    error = call.excinfo.value if call.excinfo is not None else None
    if report.failed and isinstance(error, FlakyFailure) and error.exceptions:
        hidden = traceback.TracebackException.from_exception(error.exceptions[0])
        hidden.stack = traceback.StackSummary.from_list(
            [frame for frame in hidden.stack if "/hypothesis/" not in frame.filename]
        )
        first = "".join(hidden.format())
        report.longrepr = (
            f"The failure hypothesis calls flaky (it did not fail again when replayed; "
            f"{len(error.exceptions)} failure(s) seen), the first as it happened:\n{first}\n"
            f"{report.longrepr}"
        )
    return report


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
    # A run started in the background by a non-interactive shell (`make test &`) inherits
    # SIGINT ignored (bash), and so would every program a test starts and then sends
    # SIGINT, standing for a terminal's Ctrl-C. With Python's handler here, each child
    # starts at the default disposition (exec resets a caught signal, not an ignored one).
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if not is_worker(config):  # the controller gets every worker's reports
        config.pluginmanager.register(ModuleTimes(config.getoption("module_times")))
