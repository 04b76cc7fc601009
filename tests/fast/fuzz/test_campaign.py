"""The campaign end to end against real server processes: it runs, stops on time and on
Ctrl-C with its summary and the server's coverage, and finds a planted bug as a reproducer
that replay confirms (fails on the broken server, passes on the real one)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from socket_harness.fuzz.play import play
from socket_harness.fuzz.reproducer import load
from tests.fast.server.process import REPO_ROOT, start_server

BROKEN = "tests.fast.fuzz.broken_server"  # drops a `\r` before `\n`
CRASHING = "tests.fast.fuzz.crashing_server"  # exits on a NUL byte in a line body


def fuzz(report: Path, *args: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "socket_harness.fuzz", "--target", "local"]
    command += ["--report-dir", str(report), "--database", str(report / "db"), *args]
    return subprocess.Popen(
        command,
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen[str], timeout: float) -> tuple[int, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out + err


def test_a_short_campaign_runs_every_property_and_reports_coverage(tmp_path: Path) -> None:
    # 15 s: every property gets its turn even beside the container tier (make test).
    code, output = finish(fuzz(tmp_path, "--time", "15s"), timeout=120)
    assert code == 0, output
    report = json.loads((tmp_path / "summary.json").read_text())
    assert report["stopped_by"] == "time"
    for name, prop in report["properties"].items():
        assert prop["examples"] > 0, f"{name} ran no example"
        assert prop["kinds_drawn"], f"{name} labelled nothing it drew"
        assert prop["failures"] == [], (name, prop)
        assert prop["errors"] == [], (name, prop)
    assert all(d["runs"] > 0 for d in report["decoders"].values()), report["decoders"]
    assert report["server"]["exit_code"] == 0, report["server"]
    covered, total = map(int, report["server_coverage"]["lines"].split("/"))
    assert covered > total // 2, report["server_coverage"]
    assert (tmp_path / "coverage" / "html" / "index.html").is_file()
    assert "server coverage" in (tmp_path / "summary.txt").read_text()


def test_a_campaign_shorter_than_one_round_still_runs_every_property(tmp_path: Path) -> None:
    """1 s is less than one round of the first property (ROUND_SECONDS' low bound): the
    campaign still gives every property one example before it stops (docs/fuzzing.md)."""
    code, output = finish(fuzz(tmp_path, "--time", "1s", "--no-decoders"), timeout=120)
    assert code == 0, output
    report = json.loads((tmp_path / "summary.json").read_text())
    assert report["stopped_by"] == "time"
    ran = {name: prop["examples"] for name, prop in report["properties"].items()}
    assert len(ran) > 1, ran
    assert all(ran.values()), ran


def test_ctrl_c_stops_the_campaign_with_its_summary_and_coverage(tmp_path: Path) -> None:
    proc = fuzz(tmp_path, "--time", "forever", "--no-decoders")
    started = threading.Event()

    def watch() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            if "examples" in line:  # the first progress line: examples are running
                started.set()

    threading.Thread(target=watch, daemon=True).start()
    assert started.wait(60), "no progress line within 60 s"
    proc.send_signal(signal.SIGINT)
    assert proc.wait(60) == 0
    report = json.loads((tmp_path / "summary.json").read_text())
    assert report["stopped_by"] == "Ctrl-C"
    assert report["server"]["exit_code"] == 0
    assert "lines" in report["server_coverage"], report["server_coverage"]


@pytest.mark.parametrize(
    ("module", "detail"),
    [(BROKEN, "differs"), (CRASHING, "the target closed")],
    ids=["wrong-answer", "crash"],
)
def test_the_campaign_finds_a_planted_bug_and_replay_confirms_it(
    tmp_path: Path, module: str, detail: str
) -> None:
    began = time.monotonic()
    args = ["--time", "60s", "--properties", "line_messages", "--no-decoders"]
    code, output = finish(fuzz(tmp_path, *args, "--server-module", module), timeout=120)
    assert code == 1, output
    assert time.monotonic() - began < 60, "found only at the deadline (or not stopped by it)"
    found = sorted((tmp_path / "reproducers").glob("line_messages-*.toml"))
    assert len(found) == 1, output
    reproducer = load(found[0])
    assert reproducer.failure is not None
    assert detail in reproducer.failure.detail
    for server_module, verdict in ((module, "fail"), ("socket_harness.server", "pass")):
        server = start_server("--max-message-bytes", "1000", listen=("line",), module=server_module)
        try:
            endpoint = server.endpoint("line")
            outcome = play(reproducer, endpoint.host, endpoint.port)
        finally:
            server.stop()
        assert (outcome.failure is None) == (verdict == "pass"), (server_module, outcome)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--time", "5x"], "expected a duration"),
        (["--properties", "nonesuch"], "unknown properties"),
        (["--target", "ftp://127.0.0.1:1"], "expected seed://, line:// or frame://"),
    ],
)
def test_usage_errors_exit_2_with_one_line(tmp_path: Path, args: list[str], says: str) -> None:
    command = [sys.executable, "-m", "socket_harness.fuzz", "--report-dir", str(tmp_path), *args]
    result = subprocess.run(
        command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2, result
    assert says in result.stderr
    assert "Traceback" not in result.stderr
