"""PULL_TIMEOUT bounds the pull of BASE_IMAGE (README, Bootstrap's variables table).

The registry is a listener of this test's own on loopback that accepts the engine's
connection and never answers, so the pull hangs for real; with PULL_TIMEOUT=2 the
bootstrap gives up after 2 s and falls back to the offline base.
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from tests.harness.labels import SESSION_ID

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_BASE = "socket-harness/python-base:bookworm"
PULL_TIMEOUT = 2


@pytest.fixture
def silent_registry() -> Iterator[tuple[str, threading.Event]]:
    """`HOST:PORT` of a loopback listener that accepts and says nothing, and an event set
    once something connected to it."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    connected = threading.Event()
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            held.append(conn)  # held open, unanswered, until the test ends
            connected.set()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"127.0.0.1:{listener.getsockname()[1]}", connected
    stop.set()
    thread.join(timeout=5)
    for conn in held:
        conn.close()
    listener.close()


@pytest.mark.covers("bootstrap/pull-timeout")
def test_a_pull_that_hangs_is_given_up_after_pull_timeout(
    images: dict[str, str],
    docker_client: docker.DockerClient,
    silent_registry: tuple[str, threading.Event],
    tmp_path: Path,
) -> None:
    docker_client.images.get(DEFAULT_BASE)  # the fallback is there: reused, not built
    registry, connected = silent_registry
    wanted = f"{registry}/socket-harness-test/absent:{SESSION_ID}"
    env = {k: v for k, v in os.environ.items() if k != "BASE_IMAGE_REPO"}
    env.update(BUILD_DIR=str(tmp_path), BASE_IMAGE=wanted, PULL_TIMEOUT=str(PULL_TIMEOUT))
    started = time.monotonic()
    result = subprocess.run(
        ["ci/lib/base-image.sh"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    took = time.monotonic() - started

    assert result.returncode == 0, result.stderr
    assert connected.is_set(), "the engine never reached the registry: nothing hung"
    assert result.stdout == f"{DEFAULT_BASE}\n"
    assert f"BASE_IMAGE={wanted} is not present and cannot be pulled" in result.stderr
    assert PULL_TIMEOUT <= took < PULL_TIMEOUT + 8, f"{took:.1f} s"
