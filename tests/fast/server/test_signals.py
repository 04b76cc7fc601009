"""SIGTERM and SIGINT at every moment, as a plain process and as PID 1 (README: Signals).

Before `ready`: stop without serving, one `shutdown action=exit` line, exit 128+N.
Serving: the drain (a second signal aborts). Once the exit code is decided: nothing
changes it. Never a traceback; as PID 1 (a new PID namespace, as in the container)
never ignored.

Each moment is a well-defined point of the server's life, found without a fixed sleep:
- a launcher started it with the signals blocked, and they were sent at once (0 ms);
- its first instruction ran: /proc/PID/status shows SIGTERM caught (the interpreter
  never catches it; the server's first instruction does), imports still going on;
- it opens its listeners: stdout is a full pipe, so it sleeps writing `listening`;
- serving, with a message in flight; and draining (the second signal);
- the exit code is decided: it sleeps writing `summary` into a pipe that had room for
  the lines before it only; then signals again and again until it is gone.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from socket_harness.protocol import ErrorReason, codec_for, parse_endpoint
from tests.fast.server.peer import Peer
from tests.fast.server.pipes import HeldPipe, wait_blocked_writing_to_a_pipe
from tests.fast.server.process import REPO_ROOT, ServerFactory
from tests.fast.server.test_shutdown import wait_until_received, wait_until_signals_are_handled

TIMEOUT = 15.0
# README, Exit codes: a signal before `ready` exits 128+N.
EXIT_BEFORE_READY = {signal.SIGTERM: 143, signal.SIGINT: 130}
EXIT_ABORTED = 3
SIGNALS = pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
AS_PID1 = pytest.mark.parametrize("pid1", [False, True], ids=["plain", "pid1"])


def wait_until_sigterm_is_caught(pid: int, timeout: float = TIMEOUT) -> None:
    """Until /proc/PID/status shows a handler for SIGTERM (bit 15 of SigCgt)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(f"/proc/{pid}/status") as status:
            caught = next(line for line in status if line.startswith("SigCgt:"))
        if int(caught.split()[1], 16) & 1 << (signal.SIGTERM - 1):
            return
        time.sleep(0.001)
    raise AssertionError(f"process {pid} does not catch SIGTERM after {timeout} s")


def has_an_event_loop(pid: int) -> bool:
    """Does `pid` hold an epoll descriptor (the event loop's), i.e. are its imports done?"""
    fds = f"/proc/{pid}/fd"
    for fd in os.listdir(fds):
        try:
            if os.readlink(f"{fds}/{fd}") == "anon_inode:[eventpoll]":
                return True
        except FileNotFoundError:
            continue  # closed since the listing: a module file its imports read
    return False


@contextlib.contextmanager
def stop_signals_blocked() -> Iterator[None]:
    """Block SIGTERM and SIGINT in this thread: a child started now inherits the mask
    through fork and exec, as from a launcher that holds the signals until it is ready."""
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def assert_stopped_before_ready(events: list[dict[str, str]], sig: signal.Signals) -> None:
    """Nothing but `listening` lines, then one `shutdown action=exit` line."""
    *before, last = events
    assert {fields["event"] for fields in before} <= {"listening"}, events
    assert last["event"] == "shutdown", events
    assert (last["signal"], last["action"]) == (sig.name, "exit")
    assert last["exit_code"] == str(EXIT_BEFORE_READY[sig])


@pytest.mark.covers("server/blocked-signals")
@SIGNALS
@AS_PID1
def test_a_signal_sent_before_the_first_instruction_is_not_lost(
    server_factory: ServerFactory, sig: signal.Signals, pid1: bool
) -> None:
    with stop_signals_blocked():
        server = server_factory(ready=False, pid1=pid1)
    server.signal(sig)  # at once: the interpreter has not even started
    assert server.wait(timeout=TIMEOUT) == EXIT_BEFORE_READY[sig]
    assert_stopped_before_ready(server.events(), sig)
    assert server.stderr_text() == ""


@pytest.mark.covers("server/signal-before-ready", "server/exit-128-plus-n")
def test_both_signals_before_the_first_instruction_exit_with_the_code_the_line_names(
    server_factory: ServerFactory,
) -> None:
    # Both pending when the server unblocks them: one `shutdown action=exit` line, and
    # the exit code is 128+N of the signal that line names (and its exit_code).
    with stop_signals_blocked():
        server = server_factory(ready=False)
    server.signal(signal.SIGTERM)
    server.signal(signal.SIGINT)
    code = server.wait(timeout=TIMEOUT)
    (shutdown,) = server.events("shutdown")
    named = signal.Signals[shutdown["signal"]]
    assert_stopped_before_ready(server.events(), named)
    assert code == EXIT_BEFORE_READY[named]
    assert server.stderr_text() == ""


@pytest.mark.covers("server/signal-before-ready", "server/exit-128-plus-n", "server/pid1-signals")
@SIGNALS
@AS_PID1
def test_a_signal_from_the_first_instruction_on_stops_it_before_ready(
    server_factory: ServerFactory, sig: signal.Signals, pid1: bool
) -> None:
    server = server_factory(ready=False, pid1=pid1)
    wait_until_sigterm_is_caught(server.pid)
    assert not has_an_event_loop(server.pid), "SIGTERM was caught only once the loop ran"
    server.signal(sig)
    assert server.wait(timeout=TIMEOUT) == EXIT_BEFORE_READY[sig]
    assert_stopped_before_ready(server.events(), sig)
    assert server.stderr_text() == ""


@pytest.mark.covers("server/pid1-signals")
def test_the_handlers_are_installed_before_asyncio_is_imported() -> None:
    # README: the first instruction, before the imports that take most of the start-up
    # (asyncio: tens of ms), installs the handlers. `-X importtime` lists each module as
    # its import ends (what it imports first): in start-up order.
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "socket_harness.server", "--help"],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=True,
    )
    modules = [
        line.rpartition("|")[2].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:")
    ]
    assert "asyncio" in modules
    assert modules.index("socket_harness.server.stop_signals") < modules.index("asyncio")


@pytest.mark.covers("server/signal-before-ready", "server/exit-128-plus-n")
@SIGNALS
@AS_PID1
def test_a_signal_while_it_opens_its_listeners_stops_it_before_ready(
    server_factory: ServerFactory, sig: signal.Signals, pid1: bool
) -> None:
    stdout = HeldPipe()
    try:
        stdout.fill()
        server = server_factory(ready=False, pid1=pid1, listen=["line"], stdout=stdout.write_fd)
        stdout.close_write_end()
        wait_blocked_writing_to_a_pipe(server.pid)  # its first line: `listening`
        server.signal(sig)
        stdout.read_to_eof(timeout=TIMEOUT)  # lets the write finish
        assert server.wait(timeout=TIMEOUT) == EXIT_BEFORE_READY[sig]
    finally:
        stdout.close()
    events = stdout.events()
    assert [fields["event"] for fields in events] == ["listening", "shutdown"]
    assert_stopped_before_ready(events, sig)
    assert server.stderr_text() == ""


@pytest.mark.covers("server/pid1-signals", "server/second-signal")
@SIGNALS
def test_as_pid1_a_signal_drains_and_a_second_one_aborts(
    server_factory: ServerFactory, sig: signal.Signals
) -> None:
    server = server_factory("--drain-timeout", "60", listen=["line"], pid1=True)
    with Peer(server.endpoint("line")) as idle, Peer(server.endpoint("line")) as busy:
        idle.expect_greeting()
        busy.expect_greeting()
        busy.send(b"a line without its end")
        wait_until_received(server, busy)
        server.signal(sig)
        assert server.wait_for_event("shutdown", signal=sig.name)["action"] == "drain"
        assert idle.read_to_eof() == codec_for("line").encode_error(ErrorReason.SHUTTING_DOWN)
        other = signal.SIGINT if sig == signal.SIGTERM else signal.SIGTERM
        server.signal(other)
        assert server.wait(timeout=TIMEOUT) == EXIT_ABORTED
    assert server.wait_for_event("shutdown", signal=other.name)["action"] == "abort"
    assert server.events("drain")[0]["result"] == "aborted"
    assert server.events("summary")[0]["exit_code"] == str(EXIT_ABORTED)
    assert server.stderr_text() == ""


# Room in the pipe for `shutdown ... connections=0` (96 bytes in text) and `drain
# result=complete` (67), not for `summary` (123) as well.
ROOM_BEFORE_SUMMARY = 220


@pytest.mark.covers("server/signal-after-exit-decided")
@pytest.mark.parametrize(
    ("sig", "pid1", "loop"),
    [
        (signal.SIGTERM, False, "asyncio"),
        (signal.SIGINT, False, "asyncio"),
        (signal.SIGTERM, True, "asyncio"),
        (signal.SIGINT, True, "asyncio"),
        (signal.SIGTERM, False, "uvloop"),
        (signal.SIGINT, False, "uvloop"),
    ],
    ids=["plain-TERM", "plain-INT", "pid1-TERM", "pid1-INT", "uvloop-TERM", "uvloop-INT"],
)
def test_signals_after_the_exit_code_is_decided_change_nothing(
    server_factory: ServerFactory, sig: signal.Signals, pid1: bool, loop: str
) -> None:
    if loop == "uvloop":
        pytest.importorskip("uvloop")
    stdout = HeldPipe()
    try:
        server = server_factory(
            "--loop", loop, ready=False, pid1=pid1, listen=["line"], stdout=stdout.write_fd
        )
        stdout.read_event("ready", timeout=TIMEOUT)
        stdout.fill(room=ROOM_BEFORE_SUMMARY)
        server.signal(signal.SIGTERM)  # no connection: the drain is complete at once, code 0
        wait_blocked_writing_to_a_pipe(server.pid)  # inside the write of `summary`
        server.signal(sig)
        stdout.close_write_end()
        reader = threading.Thread(target=stdout.read_to_eof, args=(TIMEOUT,), daemon=True)
        reader.start()  # lets it finish, while the signal keeps coming until it is gone
        with contextlib.suppress(ProcessLookupError):
            while server.proc.poll() is None:  # as fast as it goes: no window is too short
                server.signal(sig)
        code = server.wait(timeout=TIMEOUT)
        reader.join(TIMEOUT)
    finally:
        stdout.close()
    events = stdout.events()
    names = [fields["event"] for fields in events]
    assert names[names.index("ready") + 1 :] == ["shutdown", "drain", "summary"]
    assert events[-1]["exit_code"] == "0"
    assert code == 0
    assert server.stderr_text() == ""


@pytest.mark.covers("server/signal-after-exit-decided", "server/log-summary")
@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_a_signal_the_loop_learns_of_as_the_last_session_ends_leaves_summary_last(
    server_factory: ServerFactory, loop: str
) -> None:
    # With `--max-sessions 1` the end of the session decides the code (0). The signal comes
    # while the server writes that session's `truncated` line (its peer sent half a line
    # and its FIN): the loop reads its wake-up at the turn that ends the session, so it is
    # acted on, if at all, after the code was decided: it changes nothing. The summary is
    # the last line (README: Logs) and the exit code is its.
    if loop == "uvloop":
        pytest.importorskip("uvloop")
    stdout = HeldPipe()
    try:
        server = server_factory(
            "--max-sessions",
            "1",
            "--loop",
            loop,
            ready=False,
            listen=["line"],
            stdout=stdout.write_fd,
        )
        stdout.read_event("ready", timeout=TIMEOUT)
        endpoint = parse_endpoint(stdout.events()[0]["listener"])
        with Peer(endpoint) as peer:
            peer.expect_greeting()
            stdout.read_event("open", timeout=TIMEOUT)
            stdout.fill()
            stdout.close_write_end()
            peer.send(b"a line without its end")
            peer.sock.shutdown(socket.SHUT_WR)
            wait_blocked_writing_to_a_pipe(server.pid)  # inside the `truncated` line
            server.signal(signal.SIGTERM)
            wait_until_signals_are_handled(server.pid)
            reader = threading.Thread(target=stdout.read_to_eof, args=(TIMEOUT,), daemon=True)
            reader.start()
            code = server.wait(timeout=TIMEOUT)
            reader.join(TIMEOUT)
    finally:
        stdout.close()
    events = stdout.events()
    assert code == 0
    assert events[-1]["event"] == "summary"
    assert events[-1]["exit_code"] == "0"
    assert server.stderr_text() == ""
