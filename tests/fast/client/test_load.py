"""`python -m socket_harness.client load`.

Every connection and message counted, JSON shape, bounded.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from typing import Any

import pytest

from tests.fast.client.helpers import CLI_TIMEOUT, free_port, run_cli
from tests.fast.client.peers import ScriptedPeer, never_greets
from tests.fast.server.process import REPO_ROOT, RunningServer, ServerFactory


def load(*args: str) -> tuple[int, dict[str, Any]]:
    done = run_cli("load", "--json", *args)
    assert b"Traceback" not in done.stderr, done.stderr
    return done.returncode, json.loads(done.stdout)


def closes_by_listener(server: RunningServer, url: str, count: int) -> list[dict[str, str]]:
    """Wait until the server logged `count` closes on `url`; those close events."""
    server.wait_for_log(
        lambda _: sum(e.get("listener") == url for e in server.events("close")) >= count,
        timeout=10,
    )
    return [e for e in server.events("close") if e.get("listener") == url]


@pytest.mark.parametrize(("framing", "window"), [("line", "16"), ("frame", "1")])
@pytest.mark.covers("load/framings", "load/loop", "load/report", "load/exit-codes")
def test_every_message_of_every_connection_is_counted(
    server_factory: ServerFactory, framing: str, window: str
) -> None:
    server = server_factory(listen=[framing])
    code, report = load(
        server.url(framing),
        *("--connections", "6", "--concurrency", "3", "--messages", "50"),
        *("--size", "32", "--window", window, "--processes", "2"),
    )
    assert code == 0, report
    assert report["unit"] == "messages"
    assert report["completed"] == report["planned"]["messages"] == 300
    assert report["connections"] == {"ok": 6, "failed": 0}
    assert report["errors"] == {}
    assert report["ok"] is True
    assert len(report["cpu"]["per_process_s"]) == 2
    lat = report["latency_ms"]
    assert 0 < lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["max"]
    # The server's own count agrees: 6 connections of 50 messages each.
    closes = closes_by_listener(server, server.url(framing), 6)
    assert [e["messages"] for e in closes] == ["50"] * 6


@pytest.mark.covers("load/framings")
def test_seed_does_one_exchange_per_connection(server_factory: ServerFactory) -> None:
    server = server_factory(listen=["seed"])
    code, report = load(
        server.url("seed"), "--connections", "20", "--concurrency", "4", "--size", "100"
    )
    assert code == 0, report
    assert report["unit"] == "exchanges"
    assert report["completed"] == report["planned"]["exchanges"] == 20
    assert report["rate_per_s"] > 0
    closes = closes_by_listener(server, server.url("seed"), 20)
    assert {e["messages"] for e in closes} == {"1"}


@pytest.mark.covers("load/progress-line")
def test_text_report_without_a_terminal_has_no_progress_line(server: RunningServer) -> None:
    done = run_cli("load", server.url("line"), "--connections", "2", "--messages", "5")
    assert done.returncode == 0, done.stderr
    text = done.stdout.decode()
    assert "completed    10/10 messages" in text
    assert "\r" not in text  # the live progress line is for terminals only


@pytest.mark.covers("load/progress-line")
def test_progress_line_on_a_terminal(server: RunningServer) -> None:
    primary, secondary = pty.openpty()
    with subprocess.Popen(
        [
            sys.executable,
            "-m",
            "socket_harness.client",
            "load",
            server.url("frame"),
            "--connections",
            "2",
        ],
        stdout=secondary,
        stderr=subprocess.PIPE,
        cwd=REPO_ROOT,
    ) as proc:
        os.close(secondary)
        shown = read_terminal(primary, timeout=CLI_TIMEOUT)
        assert proc.wait(timeout=CLI_TIMEOUT) == 0
    assert re.search(rb"\r\x1b\[K\d+/200 done ", shown)  # rewritten in place
    assert b"completed    200/200 messages" in shown


def read_terminal(primary: int, timeout: float) -> bytes:
    """All a program wrote to a pty, until it closed its side."""
    deadline = time.monotonic() + timeout
    shown = b""
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([primary], [], [], deadline - time.monotonic())
            if not ready:
                break
            chunk = os.read(primary, 65536)
            if not chunk:
                break
            shown += chunk
    except OSError:  # EIO: the program closed the terminal
        pass
    finally:
        os.close(primary)
    return shown


@pytest.mark.covers("load/report", "load/exit-codes")
def test_failures_are_counted_by_kind_and_exit_1() -> None:
    code, report = load(
        f"line://127.0.0.1:{free_port()}", "--connections", "5", "--concurrency", "2"
    )
    assert code == 1
    assert report["errors"] == {"connect-failed": 5}
    assert report["connections"] == {"ok": 0, "failed": 5}
    assert report["ok"] is False


@pytest.mark.covers("load/duration-limit")
def test_duration_limit_stops_a_run_that_would_hang() -> None:
    with ScriptedPeer(never_greets) as peer:
        started = time.monotonic()
        code, report = load(
            peer.url("frame"),
            *("--connections", "4", "--concurrency", "4", "--processes", "1"),
            *("--timeout", "60", "--duration-limit", "1"),
        )
    assert time.monotonic() - started < 15
    assert code == 1
    assert report["stopped_by_limit"] is True
    assert report["completed"] == 0


@pytest.mark.covers("load/exit-codes", "load/messages-option")
def test_seed_rejects_messages_per_connection() -> None:
    done = run_cli("load", "seed://127.0.0.1:9", "--messages", "5")
    assert done.returncode == 2
    assert b"one exchange per connection" in done.stderr


# Runs `python -m socket_harness.client` with uvloop unimportable in the parent,
# as where it is not installed.
WITHOUT_UVLOOP = (
    "import sys; sys.modules['uvloop'] = None; "
    "from socket_harness.client.cli import main; sys.exit(main())"
)


def run_without_uvloop(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_UVLOOP, *args],
        capture_output=True,
        cwd=REPO_ROOT,
        timeout=CLI_TIMEOUT,
        check=False,
    )


SEED_RUN = ("--connections", "20", "--concurrency", "4", "--processes", "2")


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
@pytest.mark.covers("load/loop")
def test_the_loop_asked_for_runs_and_is_reported(server: RunningServer, loop: str) -> None:
    if loop == "uvloop":
        pytest.importorskip("uvloop")
    code, report = load(server.url("seed"), *SEED_RUN, "--loop", loop)
    assert code == 0, report
    assert report["completed"] == 20
    assert report["planned"]["loop"] == loop


@pytest.mark.covers("load/loop")
def test_auto_picks_uvloop_when_importable(server: RunningServer) -> None:
    pytest.importorskip("uvloop")
    code, report = load(server.url("seed"), *SEED_RUN)
    assert code == 0, report
    assert report["planned"]["loop"] == "uvloop"


@pytest.mark.covers("load/loop")
def test_auto_falls_back_to_asyncio_without_uvloop(server: RunningServer) -> None:
    done = run_without_uvloop("load", server.url("seed"), *SEED_RUN, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["planned"]["loop"] == "asyncio"


@pytest.mark.covers("load/loop")
def test_loop_uvloop_without_uvloop_is_a_usage_error() -> None:
    done = run_without_uvloop("load", "seed://127.0.0.1:9", "--loop", "uvloop")
    assert done.returncode == 2
    assert b"--loop uvloop: uvloop is not installed" in done.stderr
    assert b"Traceback" not in done.stderr


@pytest.mark.covers("load/report")
def test_cpu_is_split_into_user_and_system(server: RunningServer) -> None:
    code, report = load(server.url("line"), "--connections", "4", "--processes", "2")
    assert code == 0, report
    cpu = report["cpu"]
    assert cpu["user_s"] >= 0
    assert cpu["system_s"] >= 0
    # Both measure the workers' CPU over the run; only rounding tells them apart.
    assert cpu["user_s"] + cpu["system_s"] == pytest.approx(sum(cpu["per_process_s"]), abs=0.01)


@pytest.mark.covers("load/report")
def test_text_report_names_the_loop_and_the_cpu_split(server: RunningServer) -> None:
    done = run_cli("load", server.url("seed"), "--connections", "2", "--loop", "asyncio")
    assert done.returncode == 0, done.stderr
    text = done.stdout.decode()
    assert re.search(r"^load seed://\S+: .*, loop asyncio$", text, re.MULTILINE)
    assert re.search(r"^  cpu .* user [\d.]+ s \+ system [\d.]+ s ", text, re.MULTILINE)


@pytest.mark.parametrize(
    ("as_json", "whole_group"),
    [
        pytest.param(True, True, id="json-ctrl-c"),
        pytest.param(False, True, id="text-ctrl-c"),
        pytest.param(True, False, id="json-kill-int"),
    ],
)
@pytest.mark.covers("load/interrupt", "load/exit-codes")
def test_ctrl_c_prints_the_report_of_what_completed_marked_interrupted(
    server_factory: ServerFactory, as_json: bool, whole_group: bool
) -> None:
    """Ctrl-C sends SIGINT to the terminal's whole process group (workers too); `kill -INT`
    to the parent alone. Either way: the report of what completed, marked, and exit 130."""
    server = server_factory(listen=["line"])
    url = server.url("line")
    run = ["--connections", "1000000", "--messages", "100", "--processes", "2"]
    with subprocess.Popen(
        [
            sys.executable,
            "-m",
            "socket_harness.client",
            "load",
            url,
            *run,
            *(["--json"] if as_json else []),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=REPO_ROOT,
        start_new_session=True,  # its own process group, as a shell gives a foreground job
    ) as proc:
        try:
            server.wait_for_event("close", timeout=CLI_TIMEOUT)  # some connection completed
            started = time.monotonic()
            if whole_group:
                os.killpg(proc.pid, signal.SIGINT)
            else:
                proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=CLI_TIMEOUT)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
    assert time.monotonic() - started < 10  # stops soon, not at the duration limit
    assert proc.returncode == 130, err
    assert err == b""
    # Every connection the client opened is closed now; the server's count is the oracle.
    server.wait_for_log(lambda _: len(server.events("close")) == len(server.events("open")))
    answered = sum(int(e["messages"]) for e in server.events("close"))
    full = sum(e["messages"] == "100" for e in server.events("close"))
    if as_json:
        report = json.loads(out)
        assert report["interrupted"] is True
        assert report["ok"] is False
        assert report["stopped_by_limit"] is False
        assert report["lost_processes"] == 0
        assert 100 <= report["completed"] <= answered  # acked ones only, none made up
        assert 1 <= report["connections"]["ok"] <= full
        assert report["errors"] == {}  # connections cut short by the stop are no failures
    else:
        text = out.decode()
        completed = re.search(r"^  completed    (\d+)/100000000 messages", text, re.MULTILINE)
        assert completed is not None, text
        assert 100 <= int(completed.group(1)) <= answered
        assert re.search(r"^  interrupted  Ctrl-C \(SIGINT\) stopped the run", text, re.MULTILINE)
