"""`make demo` (ci/demo.sh) for real: the compose stack ends by itself, every part exits 0.

Runs under this session's compose project name, which the sweeper knows, and
checks that nothing of it is left afterwards.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness.labels import COMPOSE_PROJECT_PREFIX, SESSION_ID
from tests.harness.sweep import compose_project_objects

ROOT = Path(__file__).resolve().parents[2]
PROJECT = f"{COMPOSE_PROJECT_PREFIX}{SESSION_ID}"
CLIENTS = {f"client-{n}" for n in range(1, 6)}
DEMO_TIMEOUT = 120


def run_demo(compose_files: list[Path] | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, COMPOSE_PROJECT_NAME=PROJECT, DEMO_TIMEOUT=str(DEMO_TIMEOUT))
    if compose_files:
        env["COMPOSE_FILE"] = os.pathsep.join(str(f) for f in compose_files)
    return subprocess.run(
        ["ci/demo.sh"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=DEMO_TIMEOUT + 120,  # plus bootstrap and a cached image build
        check=False,
    )


def clients_printing(output: str, text: str) -> set[str]:
    """The clients whose log lines (as `docker compose up` prefixes them) start with `text`."""
    return set(re.findall(rf"^(client-\d+)\s+\| {re.escape(text)}", output, re.MULTILINE))


def container_reports(stderr: str) -> dict[str, tuple[int, str]]:
    """demo.sh's `NAME exited CODE (image ID12)` lines: {replica: (exit code, short image ID)},
    replicas named as `client-3`, `server-1`."""
    found = re.findall(
        rf"^demo: {re.escape(PROJECT)}-(\S+) exited (\d+) \(image ([0-9a-f]{{12}})\)$",
        stderr,
        re.MULTILINE,
    )
    return {name: (int(code), image) for name, code, image in found}


def exit_reports(stderr: str) -> dict[str, int]:
    """Each replica's exit code, as demo.sh reports it."""
    return {name: code for name, (code, _) in container_reports(stderr).items()}


def images_run(stderr: str) -> dict[str, set[str]]:
    """The short image IDs each service's containers ran, as demo.sh reports them."""
    ran: dict[str, set[str]] = {}
    for name, (_, image) in container_reports(stderr).items():
        ran.setdefault(name.rsplit("-", 1)[0], set()).add(image)
    return ran


def leftovers() -> list[str]:
    return compose_project_objects(PROJECT)


@pytest.fixture
def demo_project(images: dict[str, str]) -> Iterator[str]:
    """This session's compose project: empty before the test, checked empty after it."""
    assert leftovers() == []
    yield PROJECT
    left = leftovers()
    subprocess.run(
        ["docker", "compose", "-p", PROJECT, "down", "--remove-orphans", "--timeout", "5"],
        cwd=ROOT,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert left == [], "ci/demo.sh left these behind"


@pytest.mark.timeout(DEMO_TIMEOUT + 180)
@pytest.mark.covers("compose/make-demo", "compose/image-ids")
def test_make_demo_shows_five_answers_and_every_container_exits_zero(
    demo_project: str, images: dict[str, str]
) -> None:
    result = run_demo()

    assert result.returncode == 0, result.stderr
    assert clients_printing(result.stdout, "测试成功!") == CLIENTS
    assert clients_printing(result.stdout, "收到的信息:Ho") == CLIENTS
    assert clients_printing(result.stdout, "first blood") == CLIENTS  # the \r\n escape became bytes
    assert exit_reports(result.stderr) == dict.fromkeys([*CLIENTS, "server-1"], 0)
    assert re.search(r"^server-1\s+\| .*event=summary connections=5 ", result.stdout, re.M)
    # The demo ran the images this checkout's build returned (the same IDs as this
    # session's: one tree, one build), not whatever a shared tag pointed at.
    assert images_run(result.stderr) == {
        "server": {images["server"].removeprefix("sha256:")[:12]},
        "client": {images["client"].removeprefix("sha256:")[:12]},
    }


@pytest.mark.timeout(DEMO_TIMEOUT + 180)
@pytest.mark.covers("compose/make-demo", "troubleshooting/demo-failed")
def test_make_demo_fails_when_a_client_fails(demo_project: str, tmp_path: Path) -> None:
    # The server still ends after five sessions, but refuses every message as too large.
    override = tmp_path / "refuse.yaml"
    override.write_text(
        "services:\n"
        "  server:\n"
        "    command: [--listen=seed://0.0.0.0:9000, --max-sessions=5, --max-message-bytes=2]\n"
    )
    result = run_demo([ROOT / "compose.yaml", override])

    assert result.returncode != 0
    assert "demo: error: 5 containers exited non-zero" in result.stderr
    assert clients_printing(result.stdout, "ERR too-large") == CLIENTS
    assert exit_reports(result.stderr) == {**dict.fromkeys(CLIENTS, 6), "server-1": 0}


def demo_in(checkout: Path) -> subprocess.Popen[str]:
    """Start `ci/demo.sh` in `checkout` with no COMPOSE_PROJECT_NAME: its own default."""
    env = {k: v for k, v in os.environ.items() if k != "COMPOSE_PROJECT_NAME"}
    env["DEMO_TIMEOUT"] = str(DEMO_TIMEOUT)
    return subprocess.Popen(
        ["ci/demo.sh"],
        cwd=checkout,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def projects_reported(stderr: str) -> set[str]:
    """The compose projects of demo.sh's `PROJECT-client-N exited` lines."""
    return set(re.findall(r"^demo: (\S+)-(?:client|server)-\d+ exited ", stderr, re.MULTILINE))


@pytest.mark.timeout(2 * DEMO_TIMEOUT + 240)
@pytest.mark.covers("compose/make-demo")
def test_two_checkouts_demos_at_once_each_run_their_own_stack(
    images: dict[str, str], tmp_path: Path
) -> None:
    # README: two checkouts on one engine never run each other's code. Without a project
    # name of their own, both stacks were compose.yaml's `socket-harness`: each removed
    # or collided with the other's containers, and both demos failed.
    other = tmp_path / "other-checkout"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(other)], check=True, timeout=60)
    runs = [demo_in(ROOT), demo_in(other)]
    results: list[tuple[int, str]] = []
    projects: set[str] = set()
    try:
        for run in runs:
            _, stderr = run.communicate(timeout=DEMO_TIMEOUT + 120)
            results.append((run.returncode, stderr))
            projects |= projects_reported(stderr)
    finally:
        for run in runs:
            if run.poll() is None:
                run.kill()
                run.wait(timeout=10)
    for code, stderr in results:
        assert code == 0, stderr
        assert "demo: ok: 5 greetings, 5 answers, every container exited 0" in stderr
    assert len(projects) == 2, projects  # one stack each
    assert all(compose_project_objects(project) == [] for project in projects)
