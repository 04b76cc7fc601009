"""The conformance suite (socket_harness.conformance) against every shipped target profile.

Each run is the command a user types, in a subprocess: `python -m pytest --pyargs
socket_harness.conformance --target targets/NAME.toml`, under CI=true (so a
declared promise that went unchecked fails the run). The project's server must
pass every check; socat and the PHP tutorial server what they declare, and the
rest is reported "not declared by the target".
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.containers.test_targets_shipped import target_images  # noqa: F401 (a fixture)
from tests.harness.images import ROOT, base_image

RUN_TIMEOUT = 480.0  # seconds: the whole suite against one target, image build included
# Each run is many containers (one per check) on a shared 2-core machine: its own bound.
pytestmark = pytest.mark.timeout(RUN_TIMEOUT + 60)
CHECKS = 19


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


# The container-tier tests of these promises are conformance checks (socket_harness/
# conformance: faults/half-close-gets-every-answer, faults/truncated-frame-dropped,
# faults/never-reading-peer-bounded, faults/garbage-answered-per-framing,
# stateful/many-connections-any-order), run against this server here.
@pytest.mark.covers(
    "line/half-close",
    "frame/truncated-at-eof",
    "server/backpressure",
    "server/peer-misbehaviour",
    "line/message-body",
    "line/pipelined-in-order",
    "frame/pipelined-in-order",
)
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
@pytest.mark.parametrize(("profile", "passed"), [("socat-echo", 9), ("php-tutorial", 5)])
def test_a_shipped_target_passes_what_it_declares(profile: str, passed: int) -> None:
    code, output = conformance("--target", f"targets/{profile}.toml")
    assert code == 0, output
    assert counts(output.splitlines()[-1]) == {"passed": passed, "skipped": CHECKS - passed}
    assert "not declared by the target" in output
