"""The plugin against targets that cannot be had, and a run that is cancelled: real runs of
`python -m pytest --pyargs socket_harness.conformance --target X.toml` (a subprocess) against
tiny images on the base image (nothing pulled), each with a session id of its own so the
Docker objects it made can be found.

- A target that exits before it is ready: every selected check is in the table as an
  error with that one-line reason, the re-run command and the target's log tail; the
  target is started once, not once per check.
- An image that is neither on the engine nor pullable: one line, no traceback.
- A `[build]` that fails: its table line is the engine's error, and no build container is
  left behind (forcerm).
- SIGTERM to the run (a CI cancel, `timeout`): it exits interrupted (2) and leaves no
  labelled container or network.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from tests.harness.images import base_image
from tests.harness.labels import SESSION_ENV, SESSION_LABEL
from tests.harness.waiting import wait_until

RUN_TIMEOUT = 120.0  # seconds: one run of the suite against a target that cannot be had
INTERRUPTED = 2  # pytest.ExitCode.INTERRUPTED
PORT = 9000
# A line echo on PORT (standard library only), for a run to cancel mid-check.
ECHO = (
    "import socketserver\n"
    "class E(socketserver.StreamRequestHandler):\n"
    "    def handle(self):\n"
    "        for line in self.rfile: self.wfile.write(line)\n"
    "socketserver.ThreadingTCPServer(('', 9000), E).serve_forever()\n"
)


def profile(directory: Path, name: str, source: str, extra: str = "") -> Path:
    path = directory / f"{name}.toml"
    path.write_text(
        f'[target]\nname = "{name}"\n{source}\n\n[[listeners]]\nframing = "line"\n'
        f'port = {PORT}\n\n[wire]\ngreeting = false\nack_prefix = ""\n{extra}'
    )
    return path


def _quoted(argv: list[str]) -> str:
    """`argv` as a TOML array of basic strings (json's escapes are TOML's)."""
    return json.dumps(argv, ensure_ascii=False)


def suite_command(profile: Path, *args: str) -> list[str]:
    command = [sys.executable, "-m", "pytest", "--pyargs", "socket_harness.conformance"]
    return [*command, "-p", "no:cacheprovider", "-q", "--target", profile.name, *args]


@pytest.fixture
def session() -> str:
    """A session id of its own for the run under test (its Docker objects carry it)."""
    return "plugin-" + uuid.uuid4().hex[:8]


@pytest.fixture
def engine() -> Iterator[docker.DockerClient]:
    client = docker.from_env()
    try:
        yield client
    finally:
        client.close()


def env_for(session: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "CI"}
    env[SESSION_ENV] = session
    return env


def left_behind(engine: docker.DockerClient, session: str) -> list[str]:
    label: dict[str, str | list[str] | bool] = {"label": f"{SESSION_LABEL}={session}"}
    containers = engine.containers.list(all=True, filters=label)
    networks = engine.networks.list(filters=label)
    return [f"container {c.name}" for c in containers] + [f"network {n.name}" for n in networks]


def _remove(engine: docker.DockerClient, session: str) -> None:
    """Remove what the run with `session` left (only ever that session's objects)."""
    label: dict[str, str | list[str] | bool] = {"label": f"{SESSION_LABEL}={session}"}
    for container in engine.containers.list(all=True, filters=label):
        container.remove(force=True)
    for network in engine.networks.list(filters=label):
        network.remove()


def run(profile: Path, session: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        suite_command(profile, *args),
        cwd=profile.parent,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        env=env_for(session),
    )


def test_a_target_that_exits_fails_every_check_once_with_reason_rerun_and_logs(
    tmp_path: Path, session: str, engine: docker.DockerClient
) -> None:
    command = ["python3", "-c", "import sys; print('gone-before-ready'); sys.exit(3)"]
    dead = profile(tmp_path, "dead", f'image = "{base_image()}"\ncommand = {_quoted(command)}')
    since = int(time.time()) - 1
    result = run(dead, session, "--check", "payload/")
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    reason = "error: dead exited 3 before it was ready"
    rows = [line for line in output.splitlines() if line.startswith("payload/")]
    # The one check that needs a seed listener is not applicable before any start.
    not_applicable = [row for row in rows if row.startswith("payload/seed-one-read-8192 ")]
    assert [row.split(maxsplit=2)[2] for row in not_applicable] == [
        "skipped: not applicable: no seed listener"
    ], output
    rows = [row for row in rows if row not in not_applicable]
    assert len(rows) >= 3, output
    assert all(reason in row for row in rows), output
    assert "--target dead.toml --check payload/echo-exact" in output, output
    assert "gone-before-ready" in output, output  # the log tail
    assert "During handling of the above exception" not in output, output
    assert "Traceback" not in output, output
    events = engine.events(
        since=since,
        until=int(time.time()) + 1,
        filters={"type": "container", "event": "create", "label": f"{SESSION_LABEL}={session}"},
        decode=True,
    )
    assert len(list(events)) == 1, "the dead target was started more than once"
    assert left_behind(engine, session) == []


def test_an_image_not_on_the_engine_is_one_line(tmp_path: Path, session: str) -> None:
    missing = profile(tmp_path, "missing", 'image = "nosuch/image:1"')
    result = run(missing, session, "--check", "payload/echo-exact")
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "image nosuch/image:1 is not on this engine and could not be pulled: " in output
    assert "Traceback" not in output, output
    assert len(output.splitlines()) < 40, output


def run_failing_build(tmp_path: Path, session: str, marker: str) -> str:
    """One check against a target whose `[build]` fails (a RUN that prints `marker` and
    exits 7): the run's output, once it exited 1."""
    context = tmp_path / "context"
    context.mkdir()
    (context / "Dockerfile").write_text(f"FROM {base_image()}\nRUN echo {marker} && exit 7\n")
    broken = profile(tmp_path, "broken", '\n[build]\ncontext = "context"\n')
    result = run(broken, session, "--check", "payload/echo-exact")
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    return output


def test_a_failed_build_leaves_no_build_container(
    tmp_path: Path, session: str, engine: docker.DockerClient
) -> None:
    marker = "build-fails-" + session
    output = run_failing_build(tmp_path, session, marker)
    assert "error: broken: building" in output, output
    leftovers = [
        c
        for c in engine.containers.list(all=True, filters={"status": "exited"})
        if marker in " ".join(c.attrs["Config"].get("Cmd") or [])
    ]
    for container in leftovers:  # ours (the marker says so): a red run leaves nothing either
        container.remove()
    assert [c.name for c in leftovers] == []


def test_a_failed_build_says_the_engines_error_in_its_table_line(
    tmp_path: Path, session: str
) -> None:
    """The table's one line for a failed `[build]` is the build's cause (here a RUN that
    exits 7, as the engine reports it), not the build's first step; the build's output is
    still in the failure's detail."""
    marker = "build-output-" + session
    output = run_failing_build(tmp_path, session, marker)
    rows = [line for line in output.splitlines() if line.startswith("payload/echo-exact ")]
    assert len(rows) == 1, output
    assert "error: broken: building " in rows[0], rows[0]
    assert rows[0].endswith(f"'/bin/sh -c echo {marker} && exit 7' returned a non-zero code: 7")
    assert "Step 1/" not in rows[0], rows[0]
    assert f"\n{marker}\n" in output, output  # the RUN's own output, after the cause


def test_sigterm_ends_the_run_interrupted_and_removes_the_target(
    tmp_path: Path, session: str, engine: docker.DockerClient
) -> None:
    # The echo never closes an idle peer: the idle-timeout check waits, its target running.
    source = f'image = "{base_image()}"\ncommand = {_quoted(["python3", "-c", ECHO])}'
    echo = profile(tmp_path, "echo", source, "\n[promises.idle_timeout]\nseconds = 30\n")
    proc = subprocess.Popen(
        suite_command(echo, "--check", "idle-timeout/"),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env_for(session),
    )
    try:
        label: dict[str, str | list[str] | bool] = {
            "label": f"{SESSION_LABEL}={session}",
            "status": "running",
        }
        wait_until(
            lambda: engine.containers.list(filters=label), timeout=60.0, what="the target running"
        )
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    left = left_behind(engine, session)
    _remove(engine, session)  # a red run leaves nothing either
    assert proc.returncode == INTERRUPTED, output
    assert left == [], output
