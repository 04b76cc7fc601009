"""A new user's first hour (issue 11, "Done when"): install the harness, test their own service.

In a fresh virtual environment outside the repository, `pip install <a copy of this
checkout>` (PyPI for the dependencies); exactly one top-level import package lands,
`socket_harness`. Then the user's own image (a standard-library line echo: no greeting,
an empty ack prefix, nothing of this project in it), built here with the Docker SDK,
and their own `my-echo.toml` in a directory of their own; one pytest command:

    <venv>/bin/python -m pytest --pyargs socket_harness.conformance --target my-echo.toml

must pass the checks the profile declares and report the rest "not declared by the
target" (or, against the address of a service already running, "not applicable" for the
checks that need its container). A profile that promises what the image does not do
must fail, with the first difference and the command that re-runs just that check.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import venv
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.errors
import pytest
from docker.models.containers import Container

from tests.harness.images import ROOT, base_image
from tests.harness.labels import SESSION_ID, harness_labels
from tests.harness.suite_run import run_bounded
from tests.harness.user_repo import (
    CHECKS,
    WIRE_CHECKS,
    copy_checkout,
    user_env,
    write_echo_service,
)
from tests.harness.user_repo import ECHO_PORT as PORT
from tests.harness.waiting import wait_until

# Installing (the build backend and four dependencies from PyPI, or pip's cache) and
# building the image take longer than a test body; each step has its own bound.
pytestmark = pytest.mark.timeout(600)

INSTALL_TIMEOUT = 300.0  # seconds: `pip install` of the checkout, dependencies included
BUILD_TIMEOUT = 300.0  # seconds: the user's image, one COPY on the base image
RUN_TIMEOUT = 360.0  # seconds: the whole conformance suite against the echo (24 checks)

# The user's profile, as docs/targets.md and targets/socat-echo.toml show it.
PROFILE = """\
[target]
name = "my-echo"
{source}

[[listeners]]
framing = "line"
port = 9000

[wire]
greeting = false
ack_prefix = ""
{promises}"""

# A line echo with no promise declared passes WIRE_CHECKS (tests/harness/user_repo.py)
# and, with its container, the one that reads its process from the host.
FDS_CHECK = "faults/fds-and-memory-back-to-baseline"
# Not applicable to a line echo: checks of seed's one read, and of a frame listener.
SEED_CHECKS = ("payload/seed-one-read-8192", "payload/seed-split-write")
NOT_APPLICABLE = (*SEED_CHECKS, "faults/truncated-frame-dropped")
CONTAINER_CHECKS = (
    "graceful-stop/drains-and-exits",
    "graceful-stop/aborted-exit-code",
    "max-sessions/exits-after-n",
    "payload/seed-one-read-8192",
    FDS_CHECK,
)


@pytest.fixture(scope="module")
def user_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment outside the repository with `pip install <checkout>` done:
    its python."""
    home = tmp_path_factory.mktemp("user")
    clone = copy_checkout(home / "socket-harness")
    venv.create(home / "venv", with_pip=True)
    python = home / "venv" / "bin" / "python"
    try:
        result = subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(clone)],
            cwd=home,
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT,
            env=user_env(),
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"pip install took more than {INSTALL_TIMEOUT:.0f} s", pytrace=False)
    assert result.returncode == 0, f"pip install {clone} failed:\n{result.stderr}"
    return python


@pytest.fixture(scope="module")
def echo_image(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The user's own image (a tag of its own), built with the Docker SDK; removed afterwards."""
    context = write_echo_service(tmp_path_factory.mktemp("echo-image"), base_image())
    tag = f"socket-harness-test/my-echo:{SESSION_ID}"
    client = docker.from_env(timeout=int(BUILD_TIMEOUT))
    try:
        image, _ = client.images.build(
            path=str(context), tag=tag, labels=harness_labels(__name__), rm=True
        )
    except docker.errors.BuildError as exc:
        log = "".join(str(part.get("stream", part.get("error", ""))) for part in exc.build_log)
        pytest.fail(f"building the user's image failed:\n{log[-3000:]}", pytrace=False)
    try:
        yield tag
    finally:
        client.images.remove(str(image.id), force=True)
        client.close()


@pytest.fixture
def running_echo(echo_image: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """A container of the user's image started by the user, not the harness: its HOST:PORT."""
    client = docker.from_env(timeout=60)
    container: Container = client.containers.run(
        echo_image, detach=True, labels=harness_labels(request.node.nodeid)
    )
    try:
        container.reload()
        host = str(container.attrs["NetworkSettings"]["IPAddress"])
        wait_until(lambda: accepts(host), timeout=30, what=f"the echo accepting on {host}:{PORT}")
        yield f"{host}:{PORT}"
    finally:
        container.remove(force=True)
        client.close()


def accepts(host: str) -> bool:
    """Does HOST:PORT accept a connection (within a second)?"""
    try:
        socket.create_connection((host, PORT), timeout=1.0).close()
    except OSError:
        return False
    return True


def conformance(python: Path, profile: Path) -> tuple[int, str]:
    """The user's one command, from the profile's directory; (exit status, output)."""
    command = [str(python), "-m", "pytest", "--pyargs", "socket_harness.conformance"]
    command += ["--target", profile.name, "-p", "no:cacheprovider"]
    return run_bounded(command, cwd=profile.parent, env=user_env(), timeout=RUN_TIMEOUT)


def outcomes(output: str) -> dict[str, str]:
    """The conformance table at the end of the run: {check ID: outcome}."""
    table = output.partition("conformance: check x target")[2]
    found = re.findall(r"^([a-z0-9-]+/[a-z0-9-]+)\s+my-echo\s+(.+)$", table, re.MULTILINE)
    return dict(found)


def write_profile(directory: Path, source: str, promises: str = "") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "my-echo.toml"
    path.write_text(PROFILE.format(source=source, promises=promises))
    return path


def test_one_import_package_lands_in_a_fresh_environment(user_venv: Path) -> None:
    """The distribution's RECORD names one top-level package; no client/protocol/server/tests."""
    script = (
        "import importlib.metadata as m, json; d = m.distribution('socket-harness');"
        "print(json.dumps([sorted({f.parts[0] for f in d.files}), d.read_text('top_level.txt'),"
        " str(d.locate_file(''))]))"
    )
    result = subprocess.run(
        [str(user_venv), "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        env=user_env(),
        cwd=user_venv.parent,
    )
    assert result.returncode == 0, result.stderr
    tops, top_level, site = json.loads(result.stdout)
    assert [top for top in tops if not top.endswith(".dist-info")] == ["socket_harness"], tops
    assert top_level.split() == ["socket_harness"]
    assert not Path(site).is_relative_to(ROOT), site  # installed, not the checkout in place
    for name in ("client", "protocol", "server", "tests"):
        assert not (Path(site) / name).exists(), f"{name} in {site}"


def test_the_suite_runs_against_the_users_own_image(
    user_venv: Path, echo_image: str, tmp_path: Path
) -> None:
    profile = write_profile(tmp_path / "project", f'image = "{echo_image}"')
    code, output = conformance(user_venv, profile)
    assert code == 0, output
    # The installed plugin (beside hypothesis', which the suite's properties bring).
    assert re.search(r"^plugins: .*socket-harness-0\.1\.0", output, re.MULTILINE), output
    found = outcomes(output)
    assert len(found) == CHECKS, output
    passing = (*WIRE_CHECKS, FDS_CHECK)
    for check, outcome in found.items():
        expected = "passed" if check in passing else "skipped: "
        assert outcome.startswith(expected), f"{check}: {outcome}\n{output}"
        if check in NOT_APPLICABLE:
            assert outcome.startswith("skipped: not applicable"), f"{check}: {outcome}"
        elif check not in passing:
            assert outcome.endswith(": not declared by the target"), f"{check}: {outcome}"
    passed = len(passing)
    assert f"{passed} passed, {CHECKS - passed} skipped" in output.splitlines()[-1], output


def test_an_address_already_running_gets_not_applicable(
    user_venv: Path, running_echo: str, tmp_path: Path
) -> None:
    """Started by the user, not the harness: checks that need its container do not apply."""
    profile = write_profile(tmp_path / "project", f'address = "{running_echo}"')
    code, output = conformance(user_venv, profile)
    assert code == 0, output
    found = outcomes(output)
    assert len(found) == CHECKS, output
    for check in CONTAINER_CHECKS:
        assert found[check].startswith("skipped: not applicable"), f"{check}: {found[check]}"
    for check in WIRE_CHECKS:
        assert found[check] == "passed", f"{check}: {found[check]}\n{output}"


def test_a_promise_the_image_does_not_keep_fails_clearly(
    user_venv: Path, echo_image: str, tmp_path: Path
) -> None:
    """A declared 16-byte message limit: the echo answers the 17-byte line instead of
    `too-large`, also after two answers and in garbage (a long line before the sentinel).
    The run fails, says where the bytes part, and how to re-run that check."""
    promise = "\n[promises.max_message_bytes]\nlimit = 16\n"
    profile = write_profile(tmp_path / "project", f'image = "{echo_image}"', promise)
    code, output = conformance(user_venv, profile)
    assert code == 1, output
    found = outcomes(output)
    assert found["limit/one-over"].startswith("failed: "), output
    assert found["limit/over-after-answers"].startswith("failed: "), output
    assert found["faults/garbage-answered-per-framing"].startswith("failed: "), output
    assert found["limit/at-bound"] == "passed", output
    rerun = "--pyargs socket_harness.conformance --target my-echo.toml --check limit/one-over"
    assert rerun in output, output
    assert "3 failed" in output.splitlines()[-1], output
