"""Without a Docker Engine, container tests are skipped; under CI=true that is an error.

A real pytest run of a container module in a child process, with DOCKER_HOST naming a
socket that does not exist: the engine is really unreachable (README, Troubleshooting).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODULE = "tests/containers/test_bootstrap_user.py"  # two container tests, cheap to collect


def pytest_without_engine(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """pytest on MODULE with no engine at the end of DOCKER_HOST; `env` on top."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "CI"))}
    clean.update(DOCKER_HOST=f"unix://{tmp_path}/no-docker.sock", **env)
    return subprocess.run(
        [sys.executable, "-m", "pytest", MODULE, "-p", "no:cacheprovider", "-q", "-rs"],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.covers("troubleshooting/no-engine", "testing/without-docker")
def test_container_tests_are_skipped_without_an_engine(tmp_path: Path) -> None:
    run = pytest_without_engine(tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 skipped" in run.stdout, run.stdout
    assert "no Docker Engine: " in run.stdout
    assert "passed" not in run.stdout
    assert "failed" not in run.stdout


@pytest.mark.covers("troubleshooting/no-engine", "testing/without-docker")
def test_container_tests_without_an_engine_are_an_error_under_ci(tmp_path: Path) -> None:
    run = pytest_without_engine(tmp_path, CI="true")
    assert run.returncode == 4, run.stdout + run.stderr  # pytest's usage error
    assert "CI=true and 2 container tests selected, but " in run.stderr, run.stderr
    assert "skipped" not in run.stdout
    assert "passed" not in run.stdout
