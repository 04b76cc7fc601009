"""Standard streams closed at start or broken later (README: Standard streams).

The event log is on stdout; when stdout is closed or its reader exits, the log moves to
stderr (one `event=log` line says why, then the line that failed) and serving goes on.
With no stream left the server stops as on SIGTERM and exits 4. A stream closed at start
gets /dev/null on its number, so no socket takes it. Never a traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from socket_harness.protocol import ErrorReason, codec_for, parse_endpoint
from tests.fast.server.peer import Peer
from tests.fast.server.pipes import HeldPipe, wait_blocked_writing_to_a_pipe
from tests.fast.server.process import REPO_ROOT, ServerFactory

TIMEOUT = 15.0
EXIT_NO_LOG = 4  # README, Exit codes
SHUTTING_DOWN = codec_for("line").encode_error(ErrorReason.SHUTTING_DOWN)


def closing(*redirections: str) -> list[str]:
    """A launcher that starts the server with `>&-`, `2>&-` or `<&-` as a shell would."""
    return ["sh", "-c", f'exec "$@" {" ".join(redirections)}', "sh"]


def exchange(peer: Peer) -> None:
    peer.expect_greeting()
    peer.expect_answer(b"still served")


def test_stdout_closed_at_start_the_log_is_on_stderr(server_factory: ServerFactory) -> None:
    server = server_factory(listen=["line"], launcher=closing(">&-"), log_on="stderr")
    first = server.events()[0]
    assert (first["level"], first["event"]) == ("warning", "log")
    assert (first["stream"], first["reason"]) == ("stderr", "stdout-closed")
    assert os.readlink(f"/proc/{server.pid}/fd/1") == "/dev/null"  # no socket took fd 1
    with Peer(server.endpoint("line")) as peer:
        exchange(peer)
    server.signal()
    assert server.wait(timeout=TIMEOUT) == 0
    assert server.events()[-1]["event"] == "summary"
    assert "Traceback" not in server.stderr_text()


@pytest.mark.parametrize(("stream", "fd"), [("<&-", 0), ("2>&-", 2)], ids=["stdin", "stderr"])
def test_stdin_or_stderr_closed_at_start_changes_nothing(
    server_factory: ServerFactory, stream: str, fd: int
) -> None:
    server = server_factory(listen=["line"], launcher=closing(stream))
    assert os.readlink(f"/proc/{server.pid}/fd/{fd}") == "/dev/null"  # no socket took it
    with Peer(server.endpoint("line")) as peer:
        exchange(peer)
    server.signal()
    assert server.wait(timeout=TIMEOUT) == 0
    assert [fields["event"] for fields in server.events()][-3:] == ["shutdown", "drain", "summary"]
    assert server.stderr_text() == ""


def test_stdout_and_stderr_closed_at_start_exits_4(server_factory: ServerFactory) -> None:
    server = server_factory(listen=["line"], launcher=closing(">&-", "2>&-"), ready=False)
    assert server.wait(timeout=TIMEOUT) == EXIT_NO_LOG


# PYTHONUNBUFFERED as the image sets it, and unset as on a host (stdout block-buffered:
# the failed line stays in the buffer for the flush at exit).
BUFFERING = pytest.mark.parametrize("unbuffered", ["1", ""], ids=["unbuffered", "buffered"])


@BUFFERING
@pytest.mark.parametrize("moment", ["starting", "serving"])
def test_a_reader_that_exits_moves_the_log_to_stderr_and_serving_goes_on(
    server_factory: ServerFactory, moment: str, unbuffered: str
) -> None:
    stdout = HeldPipe()
    try:
        if moment == "starting":
            stdout.fill()  # it will sleep writing its first line
        server = server_factory(
            listen=["line"],
            env={"PYTHONUNBUFFERED": unbuffered},
            ready=False,
            stdout=stdout.write_fd,
            log_on="stderr",
        )
        stdout.close_write_end()
        if moment == "starting":
            wait_blocked_writing_to_a_pipe(server.pid)
        else:
            stdout.read_event("ready", timeout=TIMEOUT)
        stdout.close_read_end()  # `| head -c 1`: the reader is gone
    finally:
        stdout.close()
    if moment == "starting":
        server.wait_for_event("ready", timeout=TIMEOUT)
        server.learn_addresses()
        endpoint = server.endpoint("line")
    else:
        endpoint = parse_endpoint(stdout.events()[0]["listener"])
    with Peer(endpoint) as peer:
        exchange(peer)
    server.wait_for_event("close", timeout=TIMEOUT)
    server.signal()
    assert server.wait(timeout=TIMEOUT) == 0

    moved, *after = server.events()
    assert (moved["level"], moved["event"], moved["stream"]) == ("warning", "log", "stderr")
    assert moved["reason"] == "stdout-broken"
    assert "Broken pipe" in moved["detail"]
    # Nothing lost: the line that failed on stdout is the first one after the move.
    expected = ["open", "close", "shutdown", "drain", "summary"]
    if moment == "starting":
        expected = ["listening", "ready", *expected]
    assert [fields["event"] for fields in after] == expected
    assert "Traceback" not in server.stderr_text()


@BUFFERING
@pytest.mark.parametrize("stderr", ["closed at start", "broken later"])
def test_with_no_stream_left_it_stops_as_on_sigterm_and_exits_4(
    server_factory: ServerFactory, stderr: str, unbuffered: str
) -> None:
    stdout, error = HeldPipe(), HeldPipe()
    try:
        server = server_factory(
            listen=["line"],
            env={"PYTHONUNBUFFERED": unbuffered},
            ready=False,
            stdout=stdout.write_fd,
            stderr=error.write_fd,
            launcher=closing("2>&-") if stderr == "closed at start" else (),
        )
        stdout.close_write_end()
        error.close_write_end()
        stdout.read_event("ready", timeout=TIMEOUT)
        endpoint = parse_endpoint(stdout.events()[0]["listener"])
        with Peer(endpoint) as early:
            early.expect_greeting()
            stdout.read_event("open", timeout=TIMEOUT)
            stdout.close_read_end()
            error.close_read_end()
            with Peer(endpoint) as late:  # its `open` line has nowhere to go
                assert late.read_to_eof().endswith(SHUTTING_DOWN)
            assert early.read_to_eof() == SHUTTING_DOWN  # the drain, as on SIGTERM
        assert server.wait(timeout=TIMEOUT) == EXIT_NO_LOG
    finally:
        stdout.close()
        error.close()


def test_help_for_a_reader_that_is_gone_exits_0_quietly() -> None:
    stdout = HeldPipe()
    stdout.close_read_end()  # broken before the first byte
    # As on a host: stdout block-buffered, so the help fails at the flush on exit.
    env = {key: value for key, value in os.environ.items() if key != "PYTHONUNBUFFERED"}
    try:
        result = subprocess.run(
            [sys.executable, "-m", "socket_harness.server", "--help"],
            cwd=REPO_ROOT,
            env={**env, "PYTHONPATH": str(REPO_ROOT)},
            stdout=stdout.write_fd,
            stderr=subprocess.PIPE,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
    finally:
        stdout.close()
    assert result.returncode == 0  # not 120 (a failed flush at exit)
    assert result.stderr == ""
