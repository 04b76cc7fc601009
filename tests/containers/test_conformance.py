"""The conformance suite (socket_harness.conformance) against every shipped target profile.

Each run is the command a user types, in a subprocess: `python -m pytest --pyargs
socket_harness.conformance --target targets/NAME.toml`, under CI=true (so a
declared promise that went unchecked fails the run). The project's server must
pass every check; socat, the PHP tutorial server and the benchmark's three baselines
what they declare, and the rest is reported "not declared by the target".
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.containers.test_targets_shipped import target_images  # noqa: F401 (a fixture)
from tests.harness.images import ROOT, base_image

RUN_TIMEOUT = 300.0  # seconds: the whole suite against one target, image build included
CHECKS = 12
# A run is bounded by RUN_TIMEOUT; building the shipped targets' images (the
# target_images fixture: five images, minutes on a loaded engine) by its own timeout.
pytestmark = pytest.mark.timeout(RUN_TIMEOUT + 30, func_only=True)


def conformance(*args: str) -> tuple[int, str]:
    command = [sys.executable, "-m", "pytest", "--pyargs", "socket_harness.conformance"]
    command += ["-p", "no:cacheprovider", "-q", *args]
    env = {**os.environ, "CI": "true"}
    result = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT
    )
    return result.returncode, result.stdout + result.stderr


def counts(output: str) -> dict[str, int]:
    return {word: int(n) for n, word in re.findall(r"(\d+) (passed|failed|skipped|error)", output)}


def test_the_project_server_passes_every_check() -> None:
    code, output = conformance(
        "--target",
        "targets/socket-harness.toml",
        "--target-build-arg",
        f"BASE_IMAGE={base_image()}",
    )
    assert code == 0, output
    assert counts(output.splitlines()[-1]) == {"passed": CHECKS}, output


@pytest.mark.usefixtures("target_images")
@pytest.mark.parametrize(
    ("profile", "passed"),
    [
        ("socat-echo", 3),
        ("php-tutorial", 4),
        # payload x2, faults, and its one slot: pause-queues, backlog 512 + 1 queued.
        ("baseline-blocking", 5),
        ("baseline-threaded", 3),
        ("baseline-streams", 3),
    ],
)
def test_a_shipped_target_passes_what_it_declares(profile: str, passed: int) -> None:
    code, output = conformance("--target", f"targets/{profile}.toml")
    assert code == 0, output
    assert counts(output.splitlines()[-1]) == {"passed": passed, "skipped": CHECKS - passed}
    assert "not declared by the target" in output
