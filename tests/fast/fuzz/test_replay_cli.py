"""`python -m socket_harness.replay`: one line per file, exit 0 pass / 1 fail / 2 usage."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fast.server.process import REPO_ROOT, ServerFactory

SEED = REPO_ROOT / "tests" / "reproducers" / "seed-tutorial-exchange.toml"


def replay(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "socket_harness.replay", *map(str, args)],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.covers("fuzz/replay-cli")
def test_pass_and_fail_are_one_line_each_with_the_exit_code(
    server_factory: ServerFactory,
) -> None:
    server = server_factory("--max-message-bytes", "1000")
    passed = replay(SEED, "--target", server.url("seed"))
    assert (passed.returncode, passed.stdout.count("\n")) == (0, 1), passed
    assert passed.stdout.startswith(f"PASS {SEED}")
    # The seed exchange against the line listener: greeted, but never answered so.
    failed = replay(SEED, "--target", str(server.endpoint("line").port).join(["127.0.0.1:", ""]))
    assert failed.returncode == 1, failed
    assert failed.stdout.startswith(f"FAIL {SEED}"), failed.stdout
    assert "step 3 (conn 1)" in failed.stdout
    assert failed.stderr == ""


@pytest.mark.covers("fuzz/replay-cli")
def test_an_unreachable_target_fails_in_one_line(server_factory: ServerFactory) -> None:
    server = server_factory(listen=("seed",))
    address = f"127.0.0.1:{server.endpoint('seed').port}"
    server.signal()
    assert server.wait() == 0
    result = replay(SEED, "--target", address)
    assert result.returncode == 1
    assert "cannot connect" in result.stdout
    assert "Traceback" not in result.stderr


@pytest.mark.covers("fuzz/replay-cli")
@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["missing.toml", "--target", "127.0.0.1:9"], "missing.toml"),
        ([SEED, "--target", "nowhere"], "expected HOST:PORT"),
        ([SEED], "no [target] address"),
        ([SEED, "--target", "line://127.0.0.1:9", "--framing", "seed"], "--framing"),
    ],
)
def test_usage_errors_exit_2_with_one_line(args: list[str | Path], says: str) -> None:
    result = replay(*args)
    assert result.returncode == 2, result
    assert says in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.covers("fuzz/replay-cli")
def test_a_file_that_is_not_a_reproducer_is_a_usage_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        "format = 1\ntitle = 'x'\nframing = 'line'\nsteps = [{ conn = 1, send = '\\q' }]\n"
    )
    result = replay(bad, "--target", "127.0.0.1:9")
    assert result.returncode == 2
    assert "step 1: bad escape '\\\\q'" in result.stderr, result.stderr
