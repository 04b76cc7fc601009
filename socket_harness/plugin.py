"""The pytest plugin (entry point `pytest11: socket_harness`): any TCP service as a target.

Options (group "socket-harness target"): `--target FILE` (repeatable; a directory
means every *.toml in it), every profile field as `--target-*` (alone they make
one target; with `--target FILE` they override each file's keys), `--check ID`
(repeatable: a check ID or a prefix such as `backlog/`), `--list-checks`,
`--conformance-report DIR` (the matrix, socket_harness.report; and pytest's own JUnit XML
in DIR/junit.xml unless `--junitxml` says where).

Fixtures, each meant to be overridden in a conftest.py the pytest-docker way:
`target` (the Target; a test using it runs once per target, id = its name),
`target_image`, `target_network`, `target_service` (the running system under
test, see socket_harness.sut), `target_promise` (the promise of the test's
`promise` marker) and `target_peer` (plain sockets speaking the profile's wire).

Markers: `@pytest.mark.check("backlog/queues-b-plus-one", container=True)` names a
check (its stable ID; `container=True`: needs the target's container, so it is
*not applicable* to an address; `framing="seed"`: needs a listener of that framing, so it
is *not applicable* to a target without one, said before the container is),
`@pytest.mark.promise("backlog")` the promise it tests (skipped as *not declared by the
target* when the profile lacks it; keyword arguments pick one of several, e.g.
`overflow="pause"`). Under `CI=true` a run in
which a promise a target declares went unchecked fails.

Misuse and broken targets are one line: no target or an unknown `--check` is a usage
error (exit 4); a target that cannot be started is `error: REASON` for each of its
checks in the "check x target" table (after one failed start, the rest fail at once);
SIGTERM is handled like Ctrl-C (fixtures tear down, exit 2). The table is gathered from
each report's user_properties, so it works on the pytest-xdist controller too.
"""

from __future__ import annotations

import os
import shlex
import signal
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from .errors import ProfileError
from .expect import Expect
from .load import check_distinct_names, load
from .options import OPTIONS, from_options
from .profile import PROMISE_NAMES, Framing, Listener, MaxSessions, Promise, Readiness, Target
from .report import Collector
from .wire import TIMEOUT, WirePeer

GROUP = "socket-harness target"
NOT_DECLARED = "not declared by the target"
NOT_APPLICABLE = "not applicable: the target is an address, this check needs its container"


@dataclass
class State:
    """What the plugin knows in one run: the targets, and what was checked."""

    targets: list[Target]
    checks: list[str] = field(default_factory=list)
    list_checks: bool = False
    checked: dict[str, set[str]] = field(default_factory=dict)  # target -> promise names run
    results: list[tuple[str, str, str]] = field(default_factory=list)  # (check, target, outcome)
    report: Collector | None = None  # --conformance-report
    options: list[str] = field(default_factory=list)  # the --target-* options given, as argv
    dead: dict[str, str] = field(default_factory=dict)  # target -> why it never got ready
    sigterm: Any = None  # the SIGTERM handler before ours


STATE = pytest.StashKey[State]()
SETUP_LOGS = pytest.StashKey[str]()  # a target's log tail when it failed to start for an item
LOG_TAIL = 4000  # characters of a target's logs shown with a failure


def _dest(flag: str) -> str:
    return "socket_harness_" + flag.lstrip("-").replace("-", "_")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup(GROUP, "socket-harness: the target under test (docs/targets.md)")
    group.addoption(
        "--target",
        action="append",
        default=[],
        dest=_dest("--target"),
        metavar="FILE",
        help="a target profile (TOML), or a directory of them; repeatable",
    )
    for option in OPTIONS:
        group.addoption(
            option.flag,
            action="append" if option.repeatable else "store",
            dest=_dest(option.flag),
            metavar=option.metavar,
            help=option.help,
        )
    group.addoption(
        "--check",
        action="append",
        default=[],
        dest=_dest("--check"),
        metavar="ID",
        help="run only this check (its ID, or a prefix such as backlog/); repeatable",
    )
    group.addoption(
        "--conformance-report",
        dest=_dest("--conformance-report"),
        metavar="DIR",
        help="write the checks x targets matrix to DIR (matrix.md, matrix.html, results/) "
        "and, unless --junitxml says where, pytest's JUnit XML to DIR/junit.xml",
    )
    group.addoption(
        "--list-checks",
        action="store_true",
        dest=_dest("--list-checks"),
        help="list the check IDs collected (with their promises) and run nothing",
    )


def _profile_files(given: Sequence[str]) -> list[Path]:
    files: list[Path] = []
    for text in given:
        path = Path(text)
        if path.is_dir():
            found = sorted(path.glob("*.toml"))
            if not found:
                raise pytest.UsageError(f"--target {text}: no *.toml profile in that directory")
            files += found
        else:
            files.append(path)
    return files


def _given_options(config: pytest.Config) -> dict[str, Any]:
    values = {option.flag: config.getoption(_dest(option.flag)) for option in OPTIONS}
    return {flag: value for flag, value in values.items() if value is not None}


def options_argv(config: pytest.Config) -> list[str]:
    """The `--target-*` options of this run as argv (a repeatable one once per value)."""
    argv: list[str] = []
    for flag, value in _given_options(config).items():
        for item in value if isinstance(value, list) else [value]:
            argv += [flag, str(item)]
    return argv


def targets_from(config: pytest.Config) -> list[Target]:
    """The targets the command line names (ProfileError becomes a one-line usage error)."""
    values = _given_options(config)
    files = _profile_files(config.getoption(_dest("--target")))
    try:
        if files:
            targets = [from_options(values, file) if values else load(file) for file in files]
            check_distinct_names(targets)  # else their report rows could not be told apart
            return targets
        return [from_options(values)] if values else []
    except ProfileError as exc:
        raise pytest.UsageError(str(exc)) from None


@pytest.hookimpl(tryfirst=True)  # before pytest's junitxml plugin reads --junitxml
def pytest_configure(config: pytest.Config) -> None:
    report_dir = config.getoption(_dest("--conformance-report"))
    list_checks = bool(config.getoption(_dest("--list-checks")))
    if report_dir and not list_checks and not config.option.xmlpath:
        # The report's JUnit XML is pytest's own (--junitxml), as if it had been given.
        config.option.xmlpath = str(Path(report_dir) / "junit.xml")
    config.addinivalue_line(
        "markers",
        "check(id, container=False, framing=None): a conformance check's stable ID "
        "(socket_harness)",
    )
    config.addinivalue_line(
        "markers", "promise(name, **fields): the target promise a check tests (socket_harness)"
    )
    config.addinivalue_line(  # the project's promise map (tests/promises.py) reads them
        "markers", "covers(*ids): documented promises of the project's server a check tests"
    )
    config.stash[STATE] = State(
        targets=targets_from(config),
        checks=list(config.getoption(_dest("--check"))),
        list_checks=list_checks,
        options=options_argv(config),
    )
    config.pluginmanager.register(Gather(config.stash[STATE]), "socket_harness.gather")
    if config.stash[STATE].targets:
        config.stash[STATE].sigterm = signal.signal(signal.SIGTERM, _interrupt)
    if report_dir and not list_checks:
        config.stash[STATE].report = Collector(Path(report_dir))
        config.pluginmanager.register(config.stash[STATE].report, "socket_harness.report")


def _interrupt(signum: int, frame: Any) -> None:
    """SIGTERM (a CI cancel, `timeout`) ends the run like Ctrl-C: fixtures tear down, so the
    target's containers and network are removed, and pytest exits 2 (interrupted)."""
    raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(STATE, None)
    if state is not None and state.sigterm is not None:
        signal.signal(signal.SIGTERM, state.sigterm)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "target" not in metafunc.fixturenames:
        return
    state = metafunc.config.stash[STATE]
    if not state.targets:
        if state.list_checks:
            metafunc.parametrize("target", [None], ids=["no-target"], scope="session")
        return  # a usage error once collected (pytest_collection_modifyitems), not per module
    names = [target.name for target in state.targets]
    metafunc.parametrize("target", state.targets, ids=names, scope="session")


# --- checks, promises, selection -------------------------------------------------


def check_id(item: pytest.Item) -> str | None:
    """The check ID of `item` (its `check` marker), or None for a test that is no check."""
    marker = item.get_closest_marker("check")
    return str(marker.args[0]) if marker and marker.args else None


def find_promise(target: Target, name: str, **match: object) -> Promise | None:
    """`target`'s promise `name` (a PROMISE_NAMES entry), or None: not declared.

    For one declared several times (max_connections), the first whose fields
    equal `match` (an enum field matches its value, e.g. overflow="pause").
    """
    if name not in PROMISE_NAMES:
        raise ValueError(f"no promise {name!r}: one of {', '.join(PROMISE_NAMES)}")
    value = getattr(target.promises, name)
    candidates: tuple[Promise | None, ...] = value if isinstance(value, tuple) else (value,)
    for candidate in candidates:
        if candidate is not None and all(_field(candidate, k) == v for k, v in match.items()):
            return candidate
    return None


def _field(promise: Promise, name: str) -> object:
    value = getattr(promise, name)
    return getattr(value, "value", value)  # an enum compares by its profile spelling


def _promise_marker(item: pytest.Item) -> tuple[str, dict[str, Any]] | None:
    marker = item.get_closest_marker("promise")
    return (str(marker.args[0]), dict(marker.kwargs)) if marker else None


def _target_of(item: pytest.Item) -> Target | None:
    callspec = getattr(item, "callspec", None)
    value = callspec.params.get("target") if callspec else None
    return value if isinstance(value, Target) else None


def _selected(check: str | None, wanted: Sequence[str]) -> bool:
    if not wanted:
        return True
    if check is None:
        return False
    return any(check == w or check.startswith(w.rstrip("/") + "/") for w in wanted)


NO_TARGET = (
    "no target: give --target FILE (a profile, docs/targets.md), "
    "--target-image IMAGE or --target-address HOST:PORT"
)


def _usage_errors(state: State, items: list[pytest.Item]) -> None:
    """UsageError (one line, exit 4) for a --check no collected check matches, or for
    checks collected without a target (to run them: --list-checks needs none)."""
    known = sorted({c for c in map(check_id, items) if c is not None})
    unknown = [w for w in state.checks if not any(_selected(c, [w]) for c in known)]
    if unknown and known:
        raise pytest.UsageError(
            f"--check {', '.join(unknown)}: no such check; the checks: {' '.join(known)}"
        )
    if state.list_checks or state.targets:
        return
    if any("target" in getattr(i, "fixturenames", ()) for i in items):
        raise pytest.UsageError(NO_TARGET)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    state = config.stash[STATE]
    _usage_errors(state, items)
    kept = [item for item in items if _selected(check_id(item), state.checks)]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in kept])
        items[:] = kept
    for item in items:
        target = _target_of(item)
        check = item.get_closest_marker("check")
        promise = _promise_marker(item)
        if target is None:
            continue
        framing = check.kwargs.get("framing") if check is not None else None
        if framing is not None and not any(i.framing.value == framing for i in target.listeners):
            item.add_marker(pytest.mark.skip(reason=f"not applicable: no {framing} listener"))
        elif check is not None and check.kwargs.get("container") and not target.has_container:
            item.add_marker(pytest.mark.skip(reason=NOT_APPLICABLE))
        elif promise is not None and find_promise(target, promise[0], **promise[1]) is None:
            item.add_marker(pytest.mark.skip(reason=f"{promise[0]}: {NOT_DECLARED}"))


def pytest_collection_finish(session: pytest.Session) -> None:
    state = session.config.stash[STATE]
    if not state.list_checks:
        return
    lines: dict[str, str] = {}
    for item in session.items:
        check = check_id(item)
        if check is not None:
            promise = _promise_marker(item)
            lines[check] = promise[0] if promise else "(wire)"
    writer = session.config.get_terminal_writer()
    writer.line("")
    for check in sorted(lines):
        writer.line(f"{check:45} promise: {lines[check]}")
    writer.line(f"{len(lines)} checks")


def pytest_runtestloop(session: pytest.Session) -> bool | None:
    return True if session.config.stash[STATE].list_checks else None


def rerun_command(item: pytest.Item, target: Target, check: str) -> str:
    """The command that re-runs just `check` against just `target`: its profile file (if
    any) and the `--target-*` options of this run, as given."""
    module = item.module.__name__ if isinstance(item, pytest.Function) else item.nodeid
    package = module.rpartition(".")[0] or module
    where = ["--target", str(target.path)] if target.path else []
    options = item.config.stash[STATE].options
    return shlex.join(
        ["python", "-m", "pytest", "--pyargs", package, *where, *options, "--check", check]
    )


def _message(call: pytest.CallInfo[None]) -> str:
    """Why `call` failed: an assertion's (or pytest.fail's) own message, else the exception
    with its type (`ValueError: ...`)."""
    if call.excinfo is None:
        return ""
    value = call.excinfo.value
    plain = isinstance(value, (AssertionError, pytest.fail.Exception)) and str(value)
    return str(value) if plain else call.excinfo.exconly()


def _reason(call: pytest.CallInfo[None]) -> str:
    """The first line of `_message`: what the table shows."""
    text = _message(call).strip()
    return (text.splitlines() or ["(no message)"])[0]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    target, check = _target_of(item), check_id(item)
    if target is None or check is None:
        return report
    report.user_properties += [("check", check), ("target", target.name)]
    outcome = None
    if report.when in ("setup", "call") and report.skipped:
        reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else "skipped"
        outcome = "skipped: " + str(reason).removeprefix("Skipped: ")
    elif report.when == "setup" and report.failed:
        outcome = f"error: {_reason(call)}"
        report.sections.append(("re-run", rerun_command(item, target, check)))
        logs = item.stash.get(SETUP_LOGS, "")
        if logs:
            report.sections.append((f"{target.name} logs", logs[-LOG_TAIL:]))
    elif report.when == "call":
        promise = _promise_marker(item)
        if promise is not None:
            report.user_properties.append(("promise", promise[0]))
        outcome = f"failed: {_reason(call)}" if report.failed else report.outcome
        if report.failed:
            _shorten(report, call)
            _explain(report, item, target, check)
    if outcome is not None:
        report.user_properties.append(("outcome", outcome))
    return report


def _shorten(report: pytest.TestReport, call: pytest.CallInfo[None]) -> None:
    """A check's assertion (a wrong byte, a silent target) as its message alone, not
    pytest's traceback with source, nor the file and line of the harness's helper that
    raised it: the message already says what was awaited and seen."""
    if call.excinfo is not None and call.excinfo.errisinstance(AssertionError):
        report.longrepr = _message(call)


def _explain(report: pytest.TestReport, item: pytest.Item, target: Target, check: str) -> None:
    report.sections.append(("re-run", rerun_command(item, target, check)))
    peer = getattr(item, "funcargs", {}).get("target_peer")
    if isinstance(peer, TargetPeer) and peer.peers:
        report.sections.append(("exchange", peer.exchange()))
    service = getattr(item, "funcargs", {}).get("target_service")
    if service is not None and service.has_container:
        report.sections.append((f"{target.name} logs", service.logs()[-LOG_TAIL:]))


class Gather:
    """Fills `state`'s table from the reports' user_properties (set by
    pytest_runtest_makereport): in this process, or on the pytest-xdist controller from
    its workers' reports, which the same hook sees."""

    def __init__(self, state: State) -> None:
        self.state = state

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        props = {str(key): value for key, value in report.user_properties}
        if "outcome" not in props:
            return
        check, target = str(props["check"]), str(props["target"])
        self.state.results.append((check, target, str(props["outcome"])))
        if "promise" in props:
            self.state.checked.setdefault(target, set()).add(str(props["promise"]))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    state = terminalreporter.config.stash[STATE]
    if not state.results:
        return
    terminalreporter.section("conformance: check x target")
    for check, target, outcome in state.results:
        terminalreporter.write_line(f"{check:45} {target:20} {outcome}")
    if state.report is not None:
        for path in state.report.write():
            terminalreporter.write_line(f"conformance report: {path}")


def pytest_sessionfinish(session: pytest.Session) -> None:
    state = session.config.stash[STATE]
    if os.environ.get("CI") != "true" or state.list_checks or not state.results:
        return
    if hasattr(session.config, "workerinput"):
        return  # a pytest-xdist worker: the controller has every worker's results
    missing = []
    for target in state.targets:
        done = state.checked.get(target.name, set())
        missing += [
            f"{target.name}: {name}" for name in target.promises.declared() if name not in done
        ]
    if missing:
        writer = session.config.get_terminal_writer()
        writer.line("CI=true: declared promises went unchecked: " + "; ".join(missing), red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


# --- fixtures --------------------------------------------------------------------


@pytest.fixture(scope="session")
def target(request: pytest.FixtureRequest) -> Target:
    """The target under test (parametrized: one run per `--target`)."""
    value = request.param
    if not isinstance(value, Target):
        pytest.skip("no target given (--list-checks)")
    return value


@pytest.fixture(scope="session")
def target_image(target: Target) -> Iterator[str | None]:
    """The image to run for `target` (built once per run for a `build`), None for an address."""
    if not target.has_container:
        yield None
        return
    import docker

    from .service import TargetProblem, image_of

    client = docker.from_env()
    try:
        image = image_of(target, client)
    except TargetProblem as exc:
        problem = str(exc)  # failed below, outside this handler: one message, not two
    else:
        problem = ""
    finally:
        client.close()
    if problem:
        pytest.fail(problem, pytrace=False)
    yield image


@pytest.fixture(scope="session")
def target_network(target: Target) -> Iterator[Any]:
    """A labelled network of its own for `target`'s containers (None for an address)."""
    if not target.has_container:
        yield None
        return
    from .service import create_network

    network = create_network(f"target {target.name}")
    try:
        yield network
    finally:
        network.remove()


@pytest.fixture
def target_promise(request: pytest.FixtureRequest, target: Target) -> Promise | None:
    """The promise the test's `promise` marker names, as `target` declares it (None: none)."""
    marker = _promise_marker(request.node)
    if marker is None:
        return None
    found = find_promise(target, marker[0], **marker[1])
    if found is None:
        pytest.skip(f"{marker[0]}: {NOT_DECLARED}")
    return found


@pytest.fixture
def target_service(
    request: pytest.FixtureRequest,
    target: Target,
    target_image: str | None,
    target_network: Any,
    target_promise: Promise | None,
) -> Iterator[Any]:
    """The running system under test (socket_harness.sut), started with the setup of the test's
    promise; removed at teardown. A check of max_sessions waits for `listening` (connecting
    would use sessions)."""
    from .labels import harness_labels
    from .sut import ContainerRun, ExistingAddress, TargetProblem

    if target_image is None:
        yield ExistingAddress(target)
        return
    dead = request.config.stash[STATE].dead
    if target.name in dead:  # it failed once: the rest of its checks fail at once
        pytest.fail(dead[target.name], pytrace=False)
    readiness = Readiness.LISTENING if isinstance(target_promise, MaxSessions) else None
    try:
        service = ContainerRun(
            target,
            target_image,
            network=target_network,
            setup=target.setup_for(target_promise),
            labels=harness_labels(request.node.nodeid),
            readiness=readiness,
        )
    except TargetProblem as exc:
        dead[target.name] = str(exc).splitlines()[0]
        request.node.stash[SETUP_LOGS] = exc.logs
    if target.name in dead:  # failed outside the handler: one message, not two
        pytest.fail(dead[target.name], pytrace=False)
    try:
        yield service
    finally:
        service.remove()


class TargetPeer:
    """Plain socket peers of the running target, and what the profile says they exchange.

    `expect` gives expected bytes (socket_harness.expect); `listeners(framing)`
    the target's listeners (optionally of one framing); `connect(listener)` a
    new WirePeer (socket_harness.wire) with every operation timed out.
    """

    def __init__(self, target: Target, service: Any) -> None:
        self.target = target
        self.service = service
        self.expect = Expect(target.wire)
        self.peers: list[WirePeer] = []  # every connection made, for a failure's exchange

    def listeners(self, framing: Framing | None = None) -> list[Listener]:
        return [item for item in self.target.listeners if framing in (None, item.framing)]

    def connect(self, listener: Listener, timeout: float = TIMEOUT) -> WirePeer:
        host, port = self.service.address(listener)
        peer = WirePeer(f"{self.target.name} {listener.name}", host, port, timeout)
        self.peers.append(peer)
        return peer

    def exchange(self, connections: int = 3) -> str:
        """The last `connections` connections' bytes sent and received, escaped."""
        return "\n".join(peer.exchange() for peer in self.peers[-connections:])


@pytest.fixture
def target_peer(target: Target, target_service: Any) -> TargetPeer:
    """Plain socket peers of `target_service` speaking `target`'s wire constants."""
    return TargetPeer(target, target_service)
