"""The conformance suite (socket_harness.conformance) against the project's own server.

Each run is the command a user types, in a subprocess: `python -m pytest --pyargs
socket_harness.conformance --target targets/socket-harness.toml`, under CI=true (so a
declared promise that went unchecked fails the run): the project's server must pass
every check. The other shipped targets get a short check each in `make test`
(test_targets_shipped.py: the profile loads, the image builds, it answers); the whole
suite against every one of them is `make conformance` (ci/conformance.sh), which fails
when a target does not pass what it declares.
"""

from __future__ import annotations

import os
import re
import sys

import pytest

from tests.harness.images import ROOT, base_image
from tests.harness.suite_run import STOP_GRACE, run_bounded
from tests.harness.user_repo import CHECKS

RUN_TIMEOUT = 600.0  # seconds: the whole suite against one target, image build included
# The suite against the project's server takes about 2 minutes on a loaded 2-core machine.
pytestmark = pytest.mark.timeout(RUN_TIMEOUT + STOP_GRACE + 30)


def conformance(*args: str, ci: bool = True) -> tuple[int, str]:
    """The suite's exit code and output; `ci`: under CI=true (every declared promise must be
    checked, so a run of a few checks passes `ci=False`)."""
    command = [sys.executable, "-m", "pytest", "--pyargs", "socket_harness.conformance"]
    command += ["-p", "no:cacheprovider", "-q", *args]
    env = {**os.environ, "CI": "true" if ci else "false"}
    return run_bounded(command, cwd=ROOT, env=env, timeout=RUN_TIMEOUT)


def counts(output: str) -> dict[str, int]:
    return {word: int(n) for n, word in re.findall(r"(\d+) (passed|failed|skipped|error)", output)}


def own_server(*args: str) -> list[str]:
    """The options that run the suite against the project's server, then `args`."""
    profile = ["--target", "targets/socket-harness.toml"]
    return [*profile, "--target-build-arg", f"BASE_IMAGE={base_image()}", *args]


def test_the_project_server_passes_every_check() -> None:
    code, output = conformance(*own_server())
    assert code == 0, output
    assert counts(output.splitlines()[-1]) == {"passed": CHECKS}, output


@pytest.mark.covers("server/shutdown-drain", "server/pid1-signals")
def test_the_project_server_drains_on_sigint_as_on_sigterm() -> None:
    """Its profile declares SIGTERM; README (Shutdown) promises SIGINT the same: the
    graceful-stop checks again, with the profile's signal overridden by an option."""
    code, output = conformance(
        *own_server("--target-drain-signal", "SIGINT", "--check", "graceful-stop/"), ci=False
    )
    assert code == 0, output
    assert counts(output.splitlines()[-1]) == {"passed": 2}, output
