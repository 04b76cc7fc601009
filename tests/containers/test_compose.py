"""compose.yaml through testcontainers' DockerCompose: the demo ends by itself; a stop drains.

The stack runs under a compose project of this session's own (the sweeper
knows its prefix), with tests/containers/compose.labels.yaml adding the
suite's labels to every service. Teardown runs `down` and checks that
nothing of the project is left.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.errors
import pytest
from testcontainers.compose import ComposeContainer, DockerCompose

from socket_harness import client
from socket_harness.protocol import Ack, ErrorReason, ServerError
from tests.harness.containers import bridge_ip
from tests.harness.engine import compose_problem, unavailable
from tests.harness.images import ROOT, base_image
from tests.harness.labels import COMPOSE_PROJECT_PREFIX, SESSION_ID
from tests.harness.sweep import compose_project_objects
from tests.harness.waiting import wait_until
from tests.oracle import model

# Tighter than the suite-wide 120 s: nothing here should take long.
pytestmark = pytest.mark.timeout(90)

PROJECT = f"{COMPOSE_PROJECT_PREFIX}{SESSION_ID}-tc"  # test_demo.py uses the bare prefix + id
FILES = ["compose.yaml", str(Path(__file__).with_name("compose.labels.yaml"))]
CLIENTS = 5
TIMEOUT = 10.0


@pytest.fixture
def compose_env(images: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Compose reads these from the environment testcontainers passes on."""
    problem = compose_problem()
    if problem is not None:
        unavailable(problem)
    monkeypatch.setenv("COMPOSE_PROJECT_NAME", PROJECT)
    monkeypatch.setenv("SOCKET_HARNESS_SESSION", SESSION_ID)
    monkeypatch.setenv("BASE_IMAGE", base_image())
    # compose.yaml runs these (default: the movable :local tags): this session's own builds.
    monkeypatch.setenv("SERVER_IMAGE", images["server"])
    monkeypatch.setenv("CLIENT_IMAGE", images["client"])
    assert compose_project_objects(PROJECT) == [], "a previous run left this project behind"
    yield
    DockerCompose(ROOT, compose_file_name=FILES).stop()  # `down`, whatever the test did
    assert compose_project_objects(PROJECT) == [], "`docker compose down` left these behind"


def containers(compose: DockerCompose) -> list[ComposeContainer]:
    return compose.get_containers(include_all=True)


@pytest.mark.covers("compose/stack", "compose/image-ids")
def test_demo_stack_answers_five_times_and_exits_zero(
    compose_env: None, images: dict[str, str], docker_client: docker.DockerClient
) -> None:
    compose = DockerCompose(ROOT, compose_file_name=FILES, wait=False)  # `up --detach`
    compose.start()

    def all_exited() -> list[ComposeContainer] | None:
        found = containers(compose)
        done = len(found) == CLIENTS + 1 and all(c.State == "exited" for c in found)
        return found if done else None

    ended = wait_until(all_exited, timeout=60, what="the demo stack to end by itself", interval=0.5)
    assert {(c.Service, c.ExitCode) for c in ended} == {("server", 0), ("client", 0)}
    assert sum(c.Service == "client" for c in ended) == CLIENTS
    # Each service ran this session's build, by ID, not the :local tags compose.yaml defaults to.
    ran = {(c.Service, docker_client.containers.get(str(c.ID)).attrs["Image"]) for c in ended}
    assert ran == {("server", images["server"]), ("client", images["client"])}

    client_logs, _ = compose.get_logs("client")
    assert client_logs.count(model.GREETING.decode().strip()) == CLIENTS
    answers = re.findall(re.escape(model.ACK_PREFIX.decode()) + r"Ho", client_logs)
    assert len(answers) == CLIENTS
    server_logs, _ = compose.get_logs("server")
    assert "Traceback" not in server_logs + client_logs
    assert "event=summary" in server_logs


@pytest.mark.covers("server/shutdown-drain")
def test_compose_stop_drains_the_server_and_exits_zero(
    compose_env: None, docker_client: docker.DockerClient
) -> None:
    compose = DockerCompose(ROOT, compose_file_name=FILES, wait=True, services=["server"])
    compose.start()  # `up --wait server`: returns once the healthcheck passes
    server = compose.get_container("server")
    assert server.ID is not None
    ip = bridge_ip(docker_client.containers.get(server.ID))

    idle = client.connect(f"line://{ip}:9001", timeout=TIMEOUT)
    idle.greeting()
    busy = client.connect(f"frame://{ip}:9002", timeout=TIMEOUT)
    busy.greeting()
    wire = model.message("frame", b"in flight during compose stop")
    busy.send_raw(wire[:10])

    stopper = threading.Thread(target=compose.stop, kwargs={"down": False}, daemon=True)
    stopper.start()  # `docker compose stop server`: blocks until the server has exited
    assert idle.receive() == ServerError(ErrorReason.SHUTTING_DOWN)
    busy.send_raw(wire[10:])
    assert busy.receive() == Ack(b"in flight during compose stop")
    idle.close()
    busy.close()
    stopper.join(timeout=30)
    assert not stopper.is_alive(), "compose stop did not return"

    stopped = compose.get_container("server", include_all=True)
    assert (stopped.State, stopped.ExitCode) == ("exited", 0)
    logs, _ = compose.get_logs("server")
    assert "event=summary" in logs
    assert "Traceback" not in logs
    assert re.search(r"event=drain .*result=complete", logs)


@pytest.mark.covers("compose/hardening")
def test_both_services_are_created_locked_down_on_an_internal_network(
    compose_env: None, docker_client: docker.DockerClient
) -> None:
    """What the engine holds for each container `docker compose create` made (created, never
    started: the settings are the engine's, not the YAML's, and cost no container run)."""
    files = [arg for name in FILES for arg in ("-f", name)]
    created = subprocess.run(
        ["docker", "compose", *files, "create", "--no-build", "--pull", "never"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert created.returncode == 0, created.stderr
    found = docker_client.containers.list(
        all=True, filters={"label": f"com.docker.compose.project={PROJECT}"}
    )
    services = sorted(c.labels["com.docker.compose.service"] for c in found)
    assert services == ["client"] * CLIENTS + ["server"]
    networks = set()
    for container in found:
        host, config = container.attrs["HostConfig"], container.attrs["Config"]
        where = container.labels["com.docker.compose.service"]
        assert host["ReadonlyRootfs"] is True, where
        assert host["CapDrop"] == ["ALL"], where
        assert host["SecurityOpt"] == ["no-new-privileges:true"], where
        assert host["PidsLimit"] > 0, where
        assert host["Memory"] > 0, where
        assert config["User"] == "10001:10001", where  # the images' non-root user
        assert not host["PortBindings"], where  # no published ports
        assert not container.attrs["NetworkSettings"]["Ports"], where
        networks.update(container.attrs["NetworkSettings"]["Networks"])
    # The pair's own network, shared by both services, cut off from the outside.
    assert len(networks) == 1
    assert docker_client.networks.get(networks.pop()).attrs["Internal"] is True
    # The server's stop grace (10 s) outlasts its drain timeout (3 s).
    (server,) = (c for c in found if c.labels["com.docker.compose.service"] == "server")
    assert server.attrs["Config"]["StopTimeout"] == 10
    assert "SERVER_DRAIN_TIMEOUT=3" in server.attrs["Config"]["Env"]


@pytest.mark.covers("troubleshooting/no-registry")
def test_compose_builds_on_the_bootstrap_base_by_hand(
    compose_env: None, docker_client: docker.DockerClient
) -> None:
    """`BASE_IMAGE=$(cat build/base-image) docker compose up --build`'s build, with no
    registry (python:3.11-slim cannot be pulled here): both images build on the offline
    base. Built under tags of this session's own, not the shared :local ones; running the
    stack is test_demo_stack_answers_five_times_and_exits_zero's."""
    base = (ROOT / "build" / "base-image").read_text().strip()
    tags = {
        "server": f"socket-harness/server:test-{SESSION_ID}",
        "client": f"socket-harness/client:test-{SESSION_ID}",
    }
    env = os.environ | {
        "BASE_IMAGE": base,
        "SERVER_IMAGE": tags["server"],
        "CLIENT_IMAGE": tags["client"],
    }
    try:
        built = subprocess.run(
            ["docker", "compose", "build"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert built.returncode == 0, built.stderr
        for service, tag in tags.items():
            labels = docker_client.images.get(tag).labels
            assert labels["org.opencontainers.image.base.name"] == base, service
    finally:
        for tag in tags.values():
            with contextlib.suppress(docker.errors.ImageNotFound):
                docker_client.images.remove(tag)
