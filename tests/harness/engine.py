"""Is a Docker Engine reachable? Asked once per run, before any container test runs."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from typing import NoReturn

import pytest


def in_ci() -> bool:
    """CI=true: what would be skipped elsewhere (no Docker, no images) fails instead."""
    return os.environ.get("CI", "").lower() == "true"


def unavailable(reason: str) -> NoReturn:
    """Skip the test for `reason`; under CI=true fail it: CI must never pass by skipping."""
    if in_ci():
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


@functools.cache
def docker_problem() -> str | None:
    """Why container tests cannot run here, or None when the engine answers a ping."""
    import docker
    import docker.errors

    try:
        client = docker.from_env(timeout=10)
    except docker.errors.DockerException as exc:
        return f"cannot reach a Docker Engine ({exc}); start dockerd or run ci/bootstrap.sh"
    try:
        client.ping()
    except Exception as exc:  # any failure here means the same to the user
        return f"the Docker Engine does not answer a ping ({exc})"
    finally:
        client.close()
    return None


@functools.cache
def compose_problem() -> str | None:
    """Why `docker compose` (v2) cannot be used here, or None."""
    if shutil.which("docker") is None:
        return "the docker CLI is not installed"
    result = subprocess.run(
        ["docker", "compose", "version", "--short"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if result.returncode != 0:
        return "Compose v2 (`docker compose`) is missing; run ci/bootstrap.sh"
    return None
