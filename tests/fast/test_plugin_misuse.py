"""The plugin under a misbehaving user or target, from real runs of the conformance suite
(`python -m pytest --pyargs socket_harness.conformance`) against a line echo on loopback
(tests/fast/line_echo.py, an address target): usage errors are one line and exit 4; a
failing check's table row gives its reason and its re-run command the real options; under
pytest-xdist the table and the CI=true rule still work.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

RUN_TIMEOUT = 120.0  # seconds: a run of the suite against a loopback echo
USAGE_ERROR = 4  # pytest.ExitCode.USAGE_ERROR
PROFILE = """\
[target]
name = "echo-with-prefix"
address = "{address}"

[[listeners]]
framing = "line"
port = {port}

[wire]
greeting = false
ack_prefix = "<ok> "
{extra}"""


def suite(cwd: Path, *args: str, ci: bool = False) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "pytest", "--pyargs", "socket_harness.conformance"]
    command += ["-p", "no:cacheprovider", "-q", *args]
    env = {key: value for key, value in os.environ.items() if key != "CI"}
    if ci:
        env["CI"] = "true"
    return subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=RUN_TIMEOUT, env=env
    )


def write_profile(directory: Path, address: str, port: int, extra: str = "") -> Path:
    path = directory / "refused.toml"
    path.write_text(PROFILE.format(address=address, port=port, extra=extra))
    return path


def test_no_target_is_one_usage_line(tmp_path: Path) -> None:
    result = suite(tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == USAGE_ERROR, output
    assert "ERROR: no target: give --target FILE" in result.stderr, output
    assert "Traceback" not in output, output
    assert "pluggy" not in output, output
    assert "error" not in result.stdout.lower(), output  # no collection errors


def test_an_unknown_check_is_a_usage_error_listing_the_ids(tmp_path: Path, echo_port: int) -> None:
    profile = write_profile(tmp_path, f"127.0.0.1:{echo_port}", echo_port)
    result = suite(tmp_path, "--target", profile.name, "--check", "nosuch/")
    assert result.returncode == USAGE_ERROR, result.stdout + result.stderr
    line = result.stderr.strip().splitlines()[0]
    assert line.startswith("ERROR: --check nosuch/: no such check; the checks: "), line
    assert "payload/echo-exact" in line, line
    assert "backlog/queues-b-plus-one" in line, line


def test_a_failure_names_its_reason_and_the_real_options_to_re_run(
    tmp_path: Path, echo_port: int
) -> None:
    # The profile's address refuses; the override points it at the echo, whose answers lack
    # the declared ack prefix: payload/echo-exact fails, and only with the override.
    profile = write_profile(tmp_path, "127.0.0.1:2", echo_port)
    override = f"127.0.0.1:{echo_port}"
    check = ["--check", "payload/echo-exact"]
    result = suite(tmp_path, "--target", profile.name, "--target-address", override, *check)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    rerun = (
        "python -m pytest --pyargs socket_harness.conformance --target refused.toml "
        f"--target-address {override} --check payload/echo-exact"
    )
    assert rerun in output, output
    rows = [line for line in output.splitlines() if line.startswith("payload/echo-exact ")]
    reason = f"failed: echo-with-prefix line ({override}) sent 6 of 11 bytes in 5 s"
    assert len(rows) == 1, output
    assert reason in rows[0], output
    assert "def test_" not in output, output  # a one-line reason, not the check's source

    alone = ["--target-address", override, "--target-listener", f"line:{echo_port}"]
    alone += ["--target-greeting", "none", "--target-ack-prefix", "<ok> "]
    result = suite(tmp_path, *alone, *check)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    rerun = (
        f"python -m pytest --pyargs socket_harness.conformance --target-address {override} "
        f"--target-listener line:{echo_port} --target-greeting none --target-ack-prefix '<ok> ' "
        "--check payload/echo-exact"
    )
    assert rerun in output, output
    assert "(the same --target-* options)" not in output, output


def test_under_xdist_the_table_and_the_ci_rule_hold(tmp_path: Path, echo_port: int) -> None:
    # idle_timeout is declared, but only payload/ checks run: under CI=true that fails.
    extra = "\n[promises.idle_timeout]\nseconds = 30\n"
    profile = write_profile(tmp_path, f"127.0.0.1:{echo_port}", echo_port, extra)
    args = ["--target", profile.name, "--check", "payload/", "-n", "2"]
    result = suite(tmp_path, *args, "--target-ack-prefix", "", ci=True)
    output = result.stdout + result.stderr
    assert "conformance: check x target" in output, output
    assert any(line.startswith("payload/echo-exact ") for line in output.splitlines()), output
    assert "declared promises went unchecked: echo-with-prefix: idle_timeout" in output, output
    assert result.returncode == 1, output
