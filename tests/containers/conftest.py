"""Fixtures of the container tier: images, a network per module, server and client containers.

Everything created here carries the harness labels (socket_harness/labels.py),
the pytest-xdist worker that made it among them, and is removed at teardown,
pass or fail; tests/conftest.py checks, once per run, that nothing is left.
A failing test's report gets the logs of every container it touched.
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

# tests/conftest.py, loaded first, imported tests.harness: Ryuk is disabled before this import.
from testcontainers.core.network import Network

from tests.harness import tracking
from tests.harness.containers import ClientRun, ServerContainer, create_network, run_client
from tests.harness.engine import unavailable
from tests.harness.images import ROOT, ImageProblem, build_images

IMAGES_LOCK = ROOT / "build" / "images.lock"

StartServer = Callable[..., ServerContainer]
RunClient = Callable[..., ClientRun]


@contextlib.contextmanager
def exclusive(path: Path) -> Iterator[None]:
    """Hold an exclusive flock(2) on `path` (created if missing) for the block; it blocks."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        yield


@pytest.fixture(scope="session")
def images() -> dict[str, str]:
    """Both images of this checkout, built (or found up to date in Docker's cache) once per
    worker: {"server": image ID, "client": image ID}. Containers run by these IDs, never by a
    tag, so another run building other code on the same engine cannot change what runs."""
    try:
        # One build at a time per checkout: pytest-xdist workers each ask, and two builds of
        # one tree at once would both miss Docker's cache and return two different IDs;
        # built one after another, the later ones are cache hits with the first one's IDs.
        with exclusive(IMAGES_LOCK):
            return build_images()
    except ImageProblem as exc:
        unavailable(str(exc))


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    """The engine's API, for what testcontainers does not cover (images, inspect)."""
    engine = docker.from_env(timeout=120)  # long enough for a container run to its end
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def network(images: dict[str, str], request: pytest.FixtureRequest) -> Iterator[Network]:
    """A bridge network of this module's own; containers on it are reachable from the host."""
    net = create_network(owner=request.node.nodeid)
    yield net
    net.remove()


def _server_factory(
    network: Network, owner: str, images: dict[str, str]
) -> Generator[StartServer, None, None]:
    started: list[ServerContainer] = []

    def start(image: str | None = None, **options: Any) -> ServerContainer:
        server = ServerContainer(network, owner, image or images["server"], **options)
        started.append(server)
        return server

    try:
        yield start
    finally:
        for server in started:
            server.remove()


@pytest.fixture
def start_server(
    network: Network, images: dict[str, str], request: pytest.FixtureRequest
) -> Iterator[StartServer]:
    """`start_server(max_connections=2, overflow="reject")`: a ready server, removed afterwards.

    It runs this session's server image by ID; `image=ID` runs another one instead."""
    yield from _server_factory(network, request.node.nodeid, images)


@pytest.fixture(scope="module")
def start_module_server(
    network: Network, images: dict[str, str], request: pytest.FixtureRequest
) -> Iterator[StartServer]:
    """Like `start_server`, but the server lives for the whole module (cheap property tests)."""
    yield from _server_factory(network, request.node.nodeid, images)


@pytest.fixture
def client_runner(
    network: Network, images: dict[str, str], request: pytest.FixtureRequest
) -> RunClient:
    """`client_runner([URL, "hello"], timeout=30)`: run the client image to its end on `network`."""

    def run(args: list[str], timeout: float = 30.0) -> ClientRun:
        return run_client(network, request.node.nodeid, images["client"], args, timeout)

    return run


def pytest_runtest_setup(item: pytest.Item) -> None:
    tracking.begin_test()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed:
        for title, text in tracking.report_sections():
            report.sections.append((title, text))
    return report
