"""`idle-timeout/closes-silent-peer` against a real host target whose idle timer the test
sets (tests/fast/line_echo.py with IDLE seconds) and a profile that declares another
number: a close later than declared + the tolerance, or earlier than declared, fails in
one line naming the declared value; one on time passes. Real runs of the conformance
suite, as a user runs it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fast.conftest import line_echo

RUN_TIMEOUT = 60.0  # seconds: one check against a loopback target, a few seconds of idling
PROFILE = """\
[target]
name = "idler"
address = "127.0.0.1:{port}"

[[listeners]]
framing = "line"
port = {port}

[wire]
greeting = false
ack_prefix = ""

[promises.idle_timeout]
seconds = {declared}
"""


@pytest.fixture
def idle_closer(request: pytest.FixtureRequest) -> Iterator[int]:
    """The line echo closing silent peers after `request.param` seconds: its port."""
    with line_echo(request.param) as port:
        yield port


def idle_check(tmp_path: Path, port: int, declared: float) -> tuple[int, str]:
    """Run the idle-timeout check against 127.0.0.1:port declared at `declared` seconds:
    (exit code, the check's row of the check x target table)."""
    (tmp_path / "idler.toml").write_text(PROFILE.format(port=port, declared=declared))
    command = [sys.executable, "-m", "pytest", "--pyargs", "socket_harness.conformance"]
    command += ["-p", "no:cacheprovider", "-q", "--target", "idler.toml"]
    command += ["--check", "idle-timeout/closes-silent-peer"]
    env = {key: value for key, value in os.environ.items() if key != "CI"}
    result = subprocess.run(
        command, cwd=tmp_path, capture_output=True, text=True, timeout=RUN_TIMEOUT, env=env
    )
    output = result.stdout + result.stderr
    rows = [line for line in output.splitlines() if line.startswith("idle-timeout/")]
    assert len(rows) == 1, output
    return result.returncode, rows[0]


@pytest.mark.covers("conformance/idle-timeout-tolerance")
@pytest.mark.parametrize("idle_closer", [3.0], indirect=True)
def test_a_close_later_than_declared_plus_the_tolerance_fails_naming_the_declared_value(
    tmp_path: Path, idle_closer: int
) -> None:
    # Declared 1 s, tolerance max(1 s, 50 %) = 1 s: a close after 3 s is 1 s too late.
    code, row = idle_check(tmp_path, idle_closer, 1)
    assert code == 1, row
    found = re.search(
        r"failed: declared idle_timeout 1 s \(tolerance 1 s\): closed after (\S+) s$", row
    )
    assert found, row
    assert 2.8 <= float(found.group(1)) < 4.0, row


@pytest.mark.covers("conformance/idle-timeout-tolerance")
@pytest.mark.parametrize("idle_closer", [1.0], indirect=True)
def test_a_close_earlier_than_declared_fails_naming_the_declared_value(
    tmp_path: Path, idle_closer: int
) -> None:
    code, row = idle_check(tmp_path, idle_closer, 2)
    assert code == 1, row
    found = re.search(
        r"failed: declared idle_timeout 2 s \(tolerance 1 s\): closed after (\S+) s, before it$",
        row,
    )
    assert found, row


@pytest.mark.covers("conformance/idle-timeout-tolerance")
@pytest.mark.parametrize("idle_closer", [1.0], indirect=True)
def test_a_close_at_the_declared_time_passes(tmp_path: Path, idle_closer: int) -> None:
    code, row = idle_check(tmp_path, idle_closer, 1)
    assert code == 0, row
    assert row.endswith(" passed"), row
