"""The suite on pytest-xdist workers: whose objects are whose, and the one leftover check.

README (Testing, "Workers"): every container and network the suite creates is
labelled org.socket-harness.worker with the xdist worker that made it ("gw0",
"gw1", ...; "main" without -n), beside the run's session id, which all workers
share; the check for leftovers runs once, in the controller, after every worker
has finished, and a leftover fails the run even when every test passed.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import docker
import docker.errors
from testcontainers.core.network import Network

from tests.containers.conftest import StartServer
from tests.harness.images import ROOT

# The label keys as README states them (the oracle), not as socket_harness/labels.py spells them.
SESSION = "org.socket-harness.session"
WORKER = "org.socket-harness.worker"
INNER_RUN_TIMEOUT = 180.0  # s: a pytest with two workers, on a busy machine


def expected_worker(worker_id: str) -> str:
    """xdist's `worker_id` fixture says "master" outside a distributed run; the label says main."""
    return "main" if worker_id == "master" else worker_id


def test_a_server_container_and_its_network_carry_the_worker_that_made_them(
    start_server: StartServer,
    network: Network,
    docker_client: docker.DockerClient,
    worker_id: str,
) -> None:
    server = start_server()

    container = docker_client.containers.get(server.name)
    net = docker_client.networks.get(network.name)

    assert container.labels[WORKER] == expected_worker(worker_id)
    assert net.attrs["Labels"][WORKER] == expected_worker(worker_id)
    # One session for the whole run: every worker labels with the id the run started with.
    assert container.labels[SESSION] == os.environ["SOCKET_HARNESS_SESSION"]
    assert net.attrs["Labels"][SESSION] == os.environ["SOCKET_HARNESS_SESSION"]


LEAKING_MODULE = """
import os

import docker
import pytest

from tests.harness.labels import harness_labels

pytestmark = pytest.mark.container


def test_leaves_a_labelled_container_behind():
    assert os.environ["PYTEST_XDIST_WORKER"].startswith("gw")  # made by a worker
    client = docker.from_env(timeout=30)
    try:
        client.containers.create(
            os.environ["LEAK_IMAGE"],
            name=os.environ["LEAK_NAME"],
            labels=harness_labels("test_leaves_a_labelled_container_behind"),
        )
    finally:
        client.close()


def test_passes():
    pass
"""


def test_a_container_a_worker_left_behind_fails_the_run_and_is_removed(
    images: dict[str, str], docker_client: docker.DockerClient, tmp_path: Path
) -> None:
    # A pytest of its own, on two workers, with the suite's rules (tests/conftest.py as a
    # plugin) and a session id of its own, so its check sees only what it made.
    session = f"leak-test-{uuid.uuid4().hex[:12]}"
    name = f"socket-harness-{session}"
    module = tmp_path / "test_leak.py"
    module.write_text(textwrap.dedent(LEAKING_MODULE))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update(
        SOCKET_HARNESS_SESSION=session,
        LEAK_IMAGE=images["server"],
        LEAK_NAME=name,
        PYTHONPATH=str(ROOT),
        PY_COLORS="0",
    )
    try:
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-c",
                str(ROOT / "pyproject.toml"),
                "--rootdir",
                str(ROOT),
                "-p",
                "tests.conftest",
                "-p",
                "no:cacheprovider",
                "-n",
                "2",
                str(module),
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=INNER_RUN_TIMEOUT,
            check=False,
        )
        left = docker_client.containers.list(all=True, filters={"label": f"{SESSION}={session}"})
    finally:
        with contextlib.suppress(docker.errors.NotFound):  # whatever a failing run left
            docker_client.containers.get(name).remove(force=True)
    output = run.stdout + run.stderr

    assert "2 passed" in output, output  # every test passed ...
    assert run.returncode == 1, output  # ... and the run failed all the same
    assert f"teardown missed 1 objects of session {session}" in output, output
    assert f"container {name}" in output, output
    assert left == []  # the check removed it
