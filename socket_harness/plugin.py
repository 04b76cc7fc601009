"""The pytest plugin (entry point `pytest11: socket_harness`): any TCP service as a target.

Options (group "socket-harness target"): `--target FILE` (repeatable; a directory
means every *.toml in it), every profile field as `--target-*` (alone they make
one target; with `--target FILE` they override each file's keys), `--check ID`
(repeatable: a check ID or a prefix such as `backlog/`), `--list-checks`.

Fixtures, each meant to be overridden in a conftest.py the pytest-docker way:
`target` (the Target; a test using it runs once per target, id = its name),
`target_image`, `target_network`, `target_service` (the running system under
test, see socket_harness.sut), `target_promise` (the promise of the test's
`promise` marker) and `target_peer` (plain sockets speaking the profile's wire).

Markers: `@pytest.mark.check("backlog/queues-b-plus-one", container=True)` names a
check (its stable ID; `container=True`: needs the target's container, so it is
*not applicable* to an address), `@pytest.mark.promise("backlog")` the promise it
tests (skipped as *not declared by the target* when the profile lacks it; keyword
arguments pick one of several, e.g. `overflow="pause"`). Under `CI=true` a run in
which a promise a target declares went unchecked fails.
"""

from __future__ import annotations

import os
import shlex
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


STATE = pytest.StashKey[State]()


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
        help="write the checks x targets matrix to DIR (matrix.md, matrix.html, results/)",
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


def targets_from(config: pytest.Config) -> list[Target]:
    """The targets the command line names (ProfileError becomes a one-line usage error)."""
    values = {option.flag: config.getoption(_dest(option.flag)) for option in OPTIONS}
    values = {flag: value for flag, value in values.items() if value is not None}
    files = _profile_files(config.getoption(_dest("--target")))
    try:
        if files:
            targets = [from_options(values, file) if values else load(file) for file in files]
            check_distinct_names(targets)  # else their report rows could not be told apart
            return targets
        return [from_options(values)] if values else []
    except ProfileError as exc:
        raise pytest.UsageError(str(exc)) from None


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "check(id, container=False): a conformance check's stable ID (socket_harness)"
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
        list_checks=bool(config.getoption(_dest("--list-checks"))),
    )
    report_dir = config.getoption(_dest("--conformance-report"))
    if report_dir and not config.stash[STATE].list_checks:
        config.stash[STATE].report = Collector(Path(report_dir))
        config.pluginmanager.register(config.stash[STATE].report, "socket_harness.report")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "target" not in metafunc.fixturenames:
        return
    state = metafunc.config.stash[STATE]
    if not state.targets:
        if state.list_checks:
            metafunc.parametrize("target", [None], ids=["no-target"], scope="session")
            return
        raise pytest.UsageError(
            f"{metafunc.definition.nodeid} needs a target: --target FILE (a profile, "
            "docs/targets.md), --target-image IMAGE or --target-address HOST:PORT"
        )
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


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    state = config.stash[STATE]
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
        if check is not None and check.kwargs.get("container") and not target.has_container:
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
    """The command that re-runs just `check` against just `target`."""
    module = item.module.__name__ if isinstance(item, pytest.Function) else item.nodeid
    package = module.rpartition(".")[0] or module
    where = str(target.path) if target.path else "(the same --target-* options)"
    return shlex.join(
        ["python", "-m", "pytest", "--pyargs", package, "--target", where, "--check", check]
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    target, check = _target_of(item), check_id(item)
    if target is None or check is None:
        return report
    state = item.config.stash[STATE]
    report.user_properties += [("check", check), ("target", target.name)]
    if report.when in ("setup", "call") and report.skipped:
        reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else "skipped"
        reason = str(reason).removeprefix("Skipped: ")
        state.results.append((check, target.name, f"skipped: {reason}"))
    elif report.when == "call":
        promise = _promise_marker(item)
        if promise is not None:
            state.checked.setdefault(target.name, set()).add(promise[0])
        state.results.append((check, target.name, report.outcome))
        if report.failed:
            report.sections.append(("re-run", rerun_command(item, target, check)))
            peer = getattr(item, "funcargs", {}).get("target_peer")
            if isinstance(peer, TargetPeer) and peer.peers:
                report.sections.append(("exchange", peer.exchange()))
            service = getattr(item, "funcargs", {}).get("target_service")
            if service is not None and service.has_container:
                report.sections.append((f"{target.name} logs", service.logs()[-4000:]))
    return report


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
        yield image_of(target, client)
    except TargetProblem as exc:
        pytest.fail(str(exc), pytrace=False)
    finally:
        client.close()


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
        pytest.fail(str(exc), pytrace=False)
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
