"""The images themselves: what they contain, how they run, how they stop.

The server is reached from the host at its bridge-network IP; every socket has
a timeout. Each container is labelled and removed by its fixture.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import docker
import docker.errors
import pytest
from docker.models.containers import Container
from testcontainers.core.network import Network

from socket_harness.protocol import Framing, parse_endpoint
from tests.containers.conftest import StartServer
from tests.harness.containers import ServerContainer, bridge_ip
from tests.harness.images import BASE_IMAGE_FILE, ROOT, BuiltImage, base_image, build
from tests.harness.labels import harness_labels
from tests.harness.tcp import wait_for_server_close
from tests.harness.waiting import wait_until
from tests.oracle import model

IO_TIMEOUT = 5.0
DRAIN_TIMEOUT = 3.0
SERVICE_UID = 10001
# "Well under 1 MB": the code is tens of kB; this leaves room to grow, not to install packages.
MAX_ADDED_BYTES = 512 * 1024
# The same locks compose.yaml puts on the server.
HARDENING: dict[str, Any] = {
    "read_only": True,
    "cap_drop": ["ALL"],
    "security_opt": ["no-new-privileges:true"],
}


# Every file under /app, relative to it, one per line.
WALK_APP = (
    "import os\n"
    "for d, _, fs in os.walk('/app'):\n"
    "    for f in fs: print(os.path.relpath(os.path.join(d, f), '/app'))"
)


def read_up_to(sock: socket.socket, limit: int) -> bytes:
    """Read until `limit` bytes or EOF (the socket's timeout bounds each read)."""
    received = b""
    while len(received) < limit and (chunk := sock.recv(65536)):
        received += chunk
    return received


def exchange(url: str, payload: bytes, expected: bytes) -> bytes:
    """Send `payload` once in the URL's framing; read until `expected`'s length or EOF."""
    endpoint = parse_endpoint(url)
    with socket.create_connection((endpoint.host, endpoint.port), timeout=IO_TIMEOUT) as sock:
        sock.sendall(model.message(endpoint.framing.value, payload))
        return read_up_to(sock, len(expected))


# The modules of socket_harness/ the client image copies for `--target FILE` (stdlib only).
PROFILE_READER = {
    "errors.py",
    "hostport.py",
    "load.py",
    "profile.py",
    "toml_lines.py",
    "validate.py",
}


@pytest.mark.parametrize("app", ["server", "client"])
@pytest.mark.covers("images/server-size", "images/client-size")
def test_image_adds_well_under_a_megabyte_and_holds_only_its_code(
    images: dict[str, str], docker_client: docker.DockerClient, app: str
) -> None:
    image = docker_client.images.get(images[app])
    base = docker_client.images.get(base_image())
    added = int(image.attrs["Size"]) - int(base.attrs["Size"])
    assert 0 < added < MAX_ADDED_BYTES, f"the {app} image adds {added} bytes to {base_image()}"

    listing = docker_client.containers.run(
        images[app],
        entrypoint=["python3", "-c", WALK_APP],
        command=[],
        network_mode="none",
        labels=harness_labels("test_images:listing"),
        remove=True,
    )
    paths = listing.decode().split()
    # .dockerignore and the COPY lines: the socket_harness package holding its own code and
    # protocol/ (the client also the target-profile reader, for --target), no Dockerfile,
    # no caches.
    assert {path.split("/")[0] for path in paths} == {"socket_harness"}
    extra = PROFILE_READER if app == "client" else set()
    assert {path.split("/")[1] for path in paths} == {app, "protocol", "__init__.py", *extra}
    assert f"socket_harness/{app}/__main__.py" in paths
    assert not [p for p in paths if "__pycache__" in p or p.endswith(("Dockerfile", ".pyc"))]


# The tutorial's exchange on a seed listener, byte for byte: greeting, then the answer, then close.
TUTORIAL_GREETING = "测试成功!\n".encode()
TUTORIAL_ANSWER = "收到的信息:".encode() + b"Ho\r\nfirst blood\r\n" + b"\n"
# What the other checkout's server greets with instead (its source changed, nothing else),
# and both greetings as protocol/constants.py spells them.
OTHER_GREETING = "另一个克隆!\n".encode()
GREETING_SOURCE = {TUTORIAL_GREETING: '"测试成功!\\n"', OTHER_GREETING: '"另一个克隆!\\n"'}


@pytest.fixture
def other_checkout(tmp_path: Path) -> Path:
    """A second checkout beside this one, as a clone with a local edit would be: what
    ci/build-images.sh needs (its scripts, the build context, the base-image choice), with
    the server's greeting changed in protocol/constants.py."""
    copy = tmp_path / "other-checkout"
    for name in ("ci", "protocol", "server", "client"):
        shutil.copytree(ROOT / name, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
    reader = [f"socket_harness/{name}" for name in sorted(PROFILE_READER)]
    for name in (".dockerignore", "pyproject.toml", "socket_harness/__init__.py", *reader):
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, copy / name)
    (copy / "build").mkdir()
    shutil.copy2(BASE_IMAGE_FILE, copy / "build" / "base-image")
    constants = copy / "protocol" / "constants.py"
    source = constants.read_text()
    ours = GREETING_SOURCE[TUTORIAL_GREETING]
    assert source.count(ours) == 1, f"{ours} is no longer in protocol/constants.py"
    constants.write_text(source.replace(ours, GREETING_SOURCE[OTHER_GREETING]))
    return copy


@pytest.fixture
def builds_side_by_side(
    other_checkout: Path, docker_client: docker.DockerClient
) -> Iterator[tuple[BuiltImage, BuiltImage]]:
    """This checkout's server image and the other checkout's, built at the same time on
    this engine (ours is a cache hit by now); the other one is removed afterwards."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        ours = pool.submit(build, ROOT, ("server",))
        theirs = pool.submit(build, other_checkout, ("server",))
        mine, other = ours.result()["server"], theirs.result()["server"]
    try:
        yield mine, other
    finally:
        if other.id != mine.id:  # never remove this checkout's image, whatever went wrong
            with contextlib.suppress(docker.errors.ImageNotFound):
                docker_client.images.remove(other.tag)


def seed_exchange(server: ServerContainer) -> bytes:
    """The tutorial's exchange with `server`: everything it sends until it closes."""
    endpoint = parse_endpoint(server.url(Framing.SEED))
    with socket.create_connection((endpoint.host, endpoint.port), timeout=IO_TIMEOUT) as sock:
        sock.sendall(b"Ho\r\nfirst blood\r\n")
        return read_up_to(sock, 1 << 16)


@pytest.mark.covers("images/one-identity-per-build")
def test_two_checkouts_build_at_once_and_each_runs_its_own_server(
    images: dict[str, str],
    builds_side_by_side: tuple[BuiltImage, BuiltImage],
    start_server: StartServer,
    docker_client: docker.DockerClient,
) -> None:
    mine, other = builds_side_by_side

    # Each build is named by its own ID; the other build moved nothing of ours.
    assert mine.id == images["server"]
    assert other.id != mine.id
    assert other.tag != mine.tag
    assert docker_client.images.get(mine.tag).id == mine.id
    assert docker_client.images.get(other.tag).id == other.id

    # Both servers at once, on one network: each answers with its own checkout's bytes.
    ours = start_server()
    theirs = start_server(image=other.id)
    assert seed_exchange(theirs) == OTHER_GREETING + TUTORIAL_ANSWER
    assert seed_exchange(ours) == TUTORIAL_GREETING + TUTORIAL_ANSWER
    assert ours.container.get_wrapped_container().attrs["Image"] == mine.id
    assert theirs.container.get_wrapped_container().attrs["Image"] == other.id


@pytest.mark.covers("images/metadata")
def test_server_image_metadata(images: dict[str, str], docker_client: docker.DockerClient) -> None:
    config = docker_client.images.get(images["server"]).attrs["Config"]
    assert config["User"] == f"{SERVICE_UID}:{SERVICE_UID}"
    assert config["StopSignal"] == "SIGTERM"
    assert config["Entrypoint"] == ["python3", "-m", "socket_harness.server"]
    assert set(config["ExposedPorts"]) == {"9000/tcp", "9001/tcp", "9002/tcp"}
    assert config["Healthcheck"]["Test"] == ["CMD", "python3", "-m", "socket_harness.server.probe"]
    # README: 5 s, past the probe's own 3-s default, so the probe's verdict is what is logged.
    assert config["Healthcheck"]["Timeout"] == 5 * 10**9
    assert config["Healthcheck"]["Interval"] == 2 * 10**9
    assert config["Healthcheck"]["StartPeriod"] == 10 * 10**9
    assert config["Healthcheck"]["Retries"] == 3
    labels = config["Labels"]
    assert labels["org.opencontainers.image.title"] == "socket-harness server"
    assert labels["org.opencontainers.image.base.name"] == base_image()
    assert labels["org.opencontainers.image.version"] not in ("", "dev")


@pytest.fixture(scope="module")
def module_server(start_module_server: StartServer) -> ServerContainer:
    """One server with the image's default listeners, shared by the module's exchanges."""
    return start_module_server()


@pytest.mark.covers("server/listen", "proto/greeting")
@pytest.mark.parametrize("framing", list(Framing))
def test_server_image_answers_every_framing(
    module_server: ServerContainer, framing: Framing
) -> None:
    payload = b"Ho\r\nfirst blood\r\n" if framing is Framing.SEED else b"first blood"
    expected = model.greeting(framing.value) + model.ack(framing.value, payload)

    assert exchange(module_server.url(framing), payload, expected) == expected


@pytest.fixture
def hardened_server(
    images: dict[str, str], network: Network, docker_client: docker.DockerClient
) -> Iterator[Container]:
    """The server image run the way compose.yaml runs it, with no user given: the image's own."""
    container = docker_client.containers.run(
        images["server"],
        detach=True,
        network=network.name,
        labels=harness_labels("test_images:hardened"),
        **HARDENING,
    )
    try:
        yield container
    finally:
        with contextlib.suppress(docker.errors.NotFound):
            container.remove(force=True)


def health_status(container: Container) -> str:
    container.reload()
    return str(container.attrs["State"]["Health"]["Status"])


def exec_python(container: Container, code: str) -> tuple[int, str]:
    exit_code, output = container.exec_run(["python3", "-c", code])
    # Not streamed, so it has ended: an exit code and all of the output.
    assert exit_code is not None
    assert isinstance(output, bytes)
    return exit_code, output.decode(errors="replace")


@pytest.mark.covers("images/metadata")
def test_server_runs_as_non_root_on_a_read_only_root(hardened_server: Container) -> None:
    # Healthy means the probe and the server both work under these locks.
    wait_until(lambda: health_status(hardened_server) == "healthy", timeout=30, what="healthy")

    code, ids = exec_python(hardened_server, "import os; print(os.getuid(), os.getgid())")
    assert (code, ids.split()) == (0, [str(SERVICE_UID), str(SERVICE_UID)])
    code, status = exec_python(hardened_server, "print(open('/proc/1/status').read())")
    assert code == 0
    assert f"Uid:\t{SERVICE_UID}\t{SERVICE_UID}" in status  # the server process itself
    assert "CapEff:\t0000000000000000" in status
    assert "NoNewPrivs:\t1" in status
    for path in ("/app/socket_harness/server/x", "/tmp/x"):
        code, output = exec_python(hardened_server, f"open({path!r}, 'w')")
        assert code != 0
        assert "Read-only file system" in output, output

    url = f"line://{bridge_ip(hardened_server)}:9001"
    expected = model.greeting("line") + model.ack("line", b"locked down")
    assert exchange(url, b"locked down", expected) == expected


@pytest.mark.covers("server/health-answer", "server/max-sessions")
def test_health_probes_never_count_as_sessions(start_server: StartServer) -> None:
    # The probe is a Python start-up in the container: seconds on a loaded machine, past
    # the image's 5-s timeout. What is tested is that probes are no sessions, not their speed.
    server = start_server(max_sessions=1, health_timeout=20)
    wrapped = server.container.get_wrapped_container()
    assert wrapped.attrs["Config"]["Healthcheck"]["Timeout"] == 20 * 10**9
    assert wrapped.attrs["Config"]["Healthcheck"]["Test"][0] == "CMD"  # the image's probe

    def probes() -> int:
        wrapped.reload()
        health = wrapped.attrs["State"].get("Health") or {}
        return sum(1 for probe in health.get("Log") or [] if probe["ExitCode"] == 0)

    wait_until(lambda: probes() >= 2, timeout=30, what="two successful health probes")
    assert server.status() == "running"  # two probes, and the one session is still free

    expected = model.greeting("seed") + model.ack("seed", b"the only one")
    assert exchange(server.url(Framing.SEED), b"the only one", expected) == expected
    assert server.wait_exit(timeout=10) == 0


@pytest.mark.covers("server/health-answer", "server/lingering-close")
def test_an_http_check_of_the_health_port_gets_the_whole_answer_and_no_reset(
    start_server: StartServer,
) -> None:
    # An orchestrator's HTTP check sends a request the endpoint never reads; closing
    # with it unread would reset the answer away (README "Health").
    server = start_server(health="0.0.0.0:9099")
    with socket.create_connection((server.ip, 9099), timeout=IO_TIMEOUT) as sock:
        sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
        assert wait_for_server_close(sock) == "fin"
        assert read_up_to(sock, 1 << 16) == b"OK connections=0 listeners=3\n"


@pytest.mark.covers("server/shutdown-drain", "server/exit-0")
def test_docker_stop_drains_and_exits_zero_within_the_drain_timeout(
    start_server: StartServer,
) -> None:
    server = start_server(drain_timeout=DRAIN_TIMEOUT)
    endpoint = parse_endpoint(server.url(Framing.LINE))
    greeting = model.greeting("line")
    with socket.create_connection((endpoint.host, endpoint.port), timeout=IO_TIMEOUT) as idle:
        assert read_up_to(idle, len(greeting)) == greeting
        started = time.monotonic()
        stopper = server.stop_in_background(grace=DRAIN_TIMEOUT + 7)
        # The idle peer is told why and reads to EOF, then closes, as a client does.
        rest = read_up_to(idle, 1 << 16)
    exit_code = server.wait_exit(timeout=DRAIN_TIMEOUT + 10)
    elapsed = time.monotonic() - started
    stopper.join(timeout=IO_TIMEOUT)
    assert exit_code == 0
    assert elapsed < DRAIN_TIMEOUT, f"docker stop took {elapsed:.2f} s"
    assert rest == model.error("line", "shutting-down")
    assert server.events("drain")[-1]["result"] == "complete"
