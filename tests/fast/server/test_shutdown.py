"""Graceful shutdown on SIGTERM/SIGINT: drain, drain timeout, second signal."""

from __future__ import annotations

import contextlib
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from socket_harness.protocol import parse_endpoint
from tests.fast.server.peer import Peer, connect_refused, wait_until
from tests.fast.server.pipes import HeldPipe, wait_blocked_writing_to_a_pipe
from tests.fast.server.process import RunningServer, ServerFactory
from tests.oracle import model

SHUTTING_DOWN = "shutting-down"


def half_a_frame(peer: Peer, body: bytes) -> bytes:
    """Send a frame's header and the first half of its body; return the rest."""
    wire = model.frame(body)
    cut = 4 + len(body) // 2  # the 4-byte header, then half the body
    peer.send(wire[:cut])
    return wire[cut:]


def wait_until_received(server: RunningServer, peer: Peer) -> None:
    """The server has read what `peer` sent: it answers a probe on another connection.

    A connection's data is read in order with every other event of the loop, so a
    fresh greeting proves the loop got past our earlier send.
    """
    with Peer(peer.endpoint) as probe:
        probe.expect_greeting()
    server.wait_for_log(lambda line: f"peer=127.0.0.1:{probe.local_port}" in line)


@pytest.mark.covers("server/shutdown-drain", "errors/shutting-down")
@pytest.mark.parametrize(
    ("sig", "loop"),
    [(signal.SIGTERM, "asyncio"), (signal.SIGINT, "asyncio"), (signal.SIGTERM, "uvloop")],
)
def test_signal_drains_in_flight_answers_idle_ones_and_refuses_new_connects(
    server_factory: ServerFactory, sig: signal.Signals, loop: str
) -> None:
    if loop == "uvloop":
        pytest.importorskip("uvloop")
    server = server_factory("--drain-timeout", "10", "--loop", loop)
    idle_line = Peer(server.endpoint("line"))
    idle_seed = Peer(server.endpoint("seed"))
    busy_frame = Peer(server.endpoint("frame"))
    for peer in (idle_line, idle_seed, busy_frame):
        peer.expect_greeting()
    rest = half_a_frame(busy_frame, b"in flight" * 100)
    wait_until_received(server, busy_frame)

    server.signal(sig)
    server.wait_for_event("shutdown", signal=sig.name)
    for framing in ("seed", "line", "frame"):
        assert connect_refused(server.endpoint(framing))
    assert idle_line.read_to_eof() == model.error("line", SHUTTING_DOWN)
    assert idle_seed.read_to_eof() == model.error("seed", SHUTTING_DOWN)
    idle_line.close()  # as a client does at EOF: the server need not linger any longer
    idle_seed.close()

    # The frame it was in the middle of is finished and answered, then it closes.
    assert busy_frame.nothing_arrives(0.1)
    busy_frame.send(rest)
    assert busy_frame.read_to_eof() == model.ack("frame", b"in flight" * 100) + model.error(
        "frame", SHUTTING_DOWN
    )
    assert server.wait(timeout=5) == 0
    assert server.events("drain")[0]["result"] == "complete"
    assert server.events("summary")[0]["exit_code"] == "0"
    assert server.stderr_text() == ""
    for peer in (idle_line, idle_seed, busy_frame):
        peer.close()


@pytest.mark.covers("server/shutdown-drain", "errors/lingering-close")
def test_a_peer_lingering_after_its_last_reply_is_not_told_shutting_down(
    server_factory: ServerFactory,
) -> None:
    # The seed answer is a last reply: the lingering close follows (docs/protocol.md),
    # and the drain has nothing more to say to that peer, nor an error to count.
    server = server_factory(listen=["seed"])
    with Peer(server.endpoint("seed")) as lingering:
        lingering.expect_greeting()
        lingering.send(b"hi")
        assert lingering.read_to_eof() == model.ack("seed", b"hi")  # FIN: it lingers now
        server.signal(signal.SIGTERM)
        assert server.wait_for_event("shutdown")["connections"] == "1"
    assert server.wait(timeout=5) == 0
    assert server.wait_for_event("close")["reason"] == "answered"
    assert server.events("error") == []
    assert server.events("summary")[0]["errors"] == ""


def tcp_queues(local_port: int, remote_port: int) -> tuple[int, int]:
    """(tx_queue, rx_queue) of this end of a loopback connection (/proc/net/tcp).

    tx_queue: bytes written but not yet acknowledged by the other end; rx_queue: bytes
    received but not yet read.
    """
    local, remote = f"0100007F:{local_port:04X}", f"0100007F:{remote_port:04X}"
    for row in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = row.split()
        if fields[1] == local and fields[2] == remote:
            tx, rx = fields[4].split(":")
            return int(tx, 16), int(rx, 16)
    raise AssertionError(f"no connection {local_port} -> {remote_port} in /proc/net/tcp")


@pytest.mark.covers("server/shutdown-drain", "server/idle-timeout")
def test_a_peer_dropped_at_its_idle_timeout_as_the_drain_begins_is_not_told_shutting_down(
    server_factory: ServerFactory,
) -> None:
    # A peer that reads none of its queued answers is aborted at its idle deadline (no
    # `ERR idle-timeout` could reach it). Here the deadline passes while the server sleeps
    # writing a log line to a full pipe, and a SIGTERM comes meanwhile: the server's next
    # loop turn has the signal's wake-up and the idle check together, so asyncio aborts
    # the peer, then begins the drain while the aborted connection is still in its set
    # (its connection_lost comes a turn later). It is gone already: the drain has
    # nothing to tell it, and no error to count. (SIGSTOP past the deadline does not make
    # that turn: a select whose timeout ran out while stopped returns no events at the
    # signal, so the abort's connection_lost comes first.)
    idle = 2.0
    stdout = HeldPipe()
    try:
        server = server_factory(
            "--loop", "asyncio", "--idle-timeout", str(idle),
            "--send-buffer-bytes", str(64 * 1024 * 1024),  # read it all: no message half-read
            ready=False, listen=["line"], stdout=stdout.write_fd,
        )  # fmt: skip
        stdout.read_event("ready", timeout=15)
        endpoint = parse_endpoint(stdout.events()[0]["listener"])
        stalled = Peer(endpoint)
        connected = time.monotonic()
        stalled.expect_greeting()
        # 16 MiB of whole lines, and it never reads: most of the answers wait in the
        # server's own buffer.
        stalled.send((b"w" * 1023 + b"\n") * 16384)
        ports = (stalled.local_port, endpoint.port)
        wait_until(lambda: tcp_queues(*ports)[0] == tcp_queues(*reversed(ports))[1] == 0)
        # The first idle check (idle s after the accept) counts the answers the kernel took
        # since as progress and sets the deadline idle s later: block the server between
        # the two checks, until past the second.
        time.sleep(max(0.0, connected + 1.5 * idle - time.monotonic()))
        stdout.fill()
        stdout.close_write_end()  # the server's copy is the only one left: EOF at its exit
        blocker = Peer(endpoint)  # its `open` line does not fit: the server sleeps writing it
        wait_blocked_writing_to_a_pipe(server.pid)
        time.sleep(max(0.0, connected + 2.5 * idle - time.monotonic()))
        server.signal(signal.SIGTERM)
        wait_until_signals_are_handled(server.pid)
        reader = threading.Thread(target=stdout.read_to_eof, args=(15,), daemon=True)
        reader.start()
        with stalled, blocker:
            blocker.expect_greeting()
            assert blocker.read_to_eof() == model.error("line", SHUTTING_DOWN)
        assert server.wait(timeout=15) == 0
        reader.join(15)
    finally:
        stdout.close()
    events = stdout.events()
    mine = [e for e in events if e.get("peer") == f"127.0.0.1:{stalled.local_port}"]
    assert [(e["event"], e["reason"]) for e in mine if e["event"] != "open"] == [
        ("error", "idle-timeout"),
        ("close", "idle-timeout"),
    ]
    shutdown = next(e for e in events if e["event"] == "shutdown")
    assert shutdown["connections"] == "2"  # the aborted one was still in the set
    summary = next(e for e in events if e["event"] == "summary")
    assert summary["errors"] == "idle-timeout:1,shutting-down:1"  # the blocker's


@pytest.mark.covers("server/drain-timeout", "server/exit-3")
def test_drain_timeout_aborts_what_is_left_and_exits_3(server_factory: ServerFactory) -> None:
    server = server_factory("--drain-timeout", "0.5", listen=["frame"])
    with Peer(server.endpoint("frame")) as stuck:
        stuck.expect_greeting()
        half_a_frame(stuck, b"never finished")
        wait_until_received(server, stuck)
        server.signal(signal.SIGTERM)
        assert server.wait(timeout=5) == 3
        try:
            leftover = stuck.read_to_eof()
        except ConnectionResetError:
            leftover = b""
        assert leftover == b""  # dropped: neither an answer nor `ERR shutting-down`
    drain = server.events("drain")[0]
    assert drain["result"] == "timeout"
    assert drain["aborted"] == "1"
    assert server.wait_for_event("close", peer=f"127.0.0.1:{stuck.local_port}")["reason"] == (
        "aborted"
    )


@contextlib.contextmanager
def draining_behind_a_busy_peer(server: RunningServer) -> Iterator[Peer]:
    """A line peer with half a line in the server's buffer (busy: the drain waits for it),
    and the drain SIGTERM began; the peer is closed on exit."""
    with Peer(server.endpoint("line")) as stuck:
        stuck.expect_greeting()
        stuck.send(b"a line without its end")
        wait_until_received(server, stuck)
        server.signal(signal.SIGTERM)
        server.wait_for_event("shutdown", signal="SIGTERM")
        yield stuck


@pytest.mark.covers("server/second-signal", "server/exit-3")
def test_second_signal_aborts_at_once(server_factory: ServerFactory) -> None:
    server = server_factory("--drain-timeout", "60", listen=["line"])
    with draining_behind_a_busy_peer(server):
        server.signal(signal.SIGINT)
        assert server.wait(timeout=5) == 3
    # Each signal is acted on once: the first drains, the second aborts (README: Signals).
    shutdowns = [(fields["signal"], fields["action"]) for fields in server.events("shutdown")]
    assert shutdowns == [("SIGTERM", "drain"), ("SIGINT", "abort")]
    assert server.events("drain")[0]["result"] == "aborted"


@pytest.mark.covers("server/second-signal", "server/log-drain")
def test_a_third_signal_during_the_abort_changes_nothing_and_one_drain_line_ends_it(
    server_factory: ServerFactory,
) -> None:
    # The second and third signals reach the server at one wake-up (both sent while it is
    # stopped): each is logged, the abort is the second's, and one `drain` line counts
    # the one connection aborted (before the fix, the third started a second abort: two
    # `drain` lines, the second counting the connection that was already going).
    server = server_factory("--drain-timeout", "60", listen=["line"])
    with draining_behind_a_busy_peer(server):
        with server.stopped():
            server.signal(signal.SIGINT)
            server.signal(signal.SIGTERM)
        assert server.wait(timeout=5) == 3
    shutdowns = [(fields["signal"], fields["action"]) for fields in server.events("shutdown")]
    assert shutdowns == [("SIGTERM", "drain"), ("SIGINT", "abort"), ("SIGTERM", "abort")]
    assert [(e["result"], e["aborted"]) for e in server.events("drain")] == [("aborted", "1")]
    assert [e["reason"] for e in server.events("error")] == ["aborted"]
    assert server.events()[-1]["event"] == "summary"


@pytest.mark.covers("server/exit-0", "server/shutdown-drain")
def test_signal_with_no_connections_exits_0_at_once(server_factory: ServerFactory) -> None:
    server = server_factory()
    server.signal(signal.SIGTERM)
    assert server.wait(timeout=5) == 0
    events = [fields["event"] for fields in server.events()]
    assert events[-3:] == ["shutdown", "drain", "summary"]


def wait_until_signals_are_handled(pid: int, timeout: float = 5.0) -> None:
    """Until no SIGTERM or SIGINT is pending for `pid` and it sleeps in a pipe write again.

    The kernel takes a signal off the pending set before it runs the handler, and the
    interrupted write starts again (SA_RESTART) only once the handler returned: so then
    the handler ran, and wrote the event loop's wake-up descriptor.
    """
    mask = 1 << (signal.SIGTERM - 1) | 1 << (signal.SIGINT - 1)
    deadline = time.monotonic() + timeout
    while True:
        with open(f"/proc/{pid}/status") as status:
            rows = [line.split() for line in status if line[:6] in ("SigPnd", "ShdPnd")]
        if not any(int(row[1], 16) & mask for row in rows):
            break
        if time.monotonic() > deadline:
            raise AssertionError(f"SIGTERM or SIGINT still pending for {pid} after {timeout} s")
        time.sleep(0.001)
    wait_blocked_writing_to_a_pipe(pid, timeout)


@pytest.mark.covers("server/second-signal", "server/log-drain")
def test_a_connection_accepted_with_both_signals_is_counted_in_the_aborted(
    server_factory: ServerFactory,
) -> None:
    # Both signals and a new connection reach the event loop at one wake-up, the signals
    # first: the connection is accepted, then the abort comes before its transport is
    # made. It is still aborted (a reset, no greeting), and counted: `drain aborted=`
    # counts the connections that were aborted (README "Logs"), one `error reason=aborted` each.
    stdout = HeldPipe()
    try:
        server = server_factory(
            "--drain-timeout", "60", ready=False, listen=["line"], stdout=stdout.write_fd
        )
        stdout.read_event("ready", timeout=15)
        endpoint = parse_endpoint(stdout.events()[0]["listener"])
        stdout.fill()
        stdout.close_write_end()  # the server's copy is the only one left: EOF at its exit
        first = Peer(endpoint)  # its `open` line does not fit: the server sleeps writing it
        wait_blocked_writing_to_a_pipe(server.pid)
        server.signal(signal.SIGTERM)
        server.signal(signal.SIGINT)
        wait_until_signals_are_handled(server.pid)
        # Ready after the wake-up descriptor: epoll reports them in that order.
        second = Peer(endpoint)
        reader = threading.Thread(target=stdout.read_to_eof, args=(15,), daemon=True)
        reader.start()
        assert server.wait(timeout=15) == 3
        reader.join(15)
    finally:
        stdout.close()
    with first, second:
        first.expect_greeting()
        assert first.read_to_eof() == model.error("line", SHUTTING_DOWN)  # not aborted
        try:
            nothing = second.read_to_eof()
        except ConnectionResetError:
            nothing = b""
        assert nothing == b""  # dropped before its greeting
    events = stdout.events()
    aborted = [e["peer"] for e in events if e["event"] == "error" and e["reason"] == "aborted"]
    assert aborted == [f"127.0.0.1:{second.local_port}"]
    drain = [e for e in events if e["event"] == "drain"]
    assert [(e["result"], e["aborted"]) for e in drain] == [("aborted", "1")]


@pytest.mark.covers("server/second-signal", "server/exit-3")
def test_a_second_signal_exits_3_even_when_only_a_lingering_peer_was_left(
    server_factory: ServerFactory,
) -> None:
    # README: a second signal aborts at once, exit 3. The one connection left lingers after
    # its `ERR shutting-down` (the kernel took it), so it is closed, not aborted: still 3,
    # unlike a drain timeout with only such connections left (exit 0).
    server = server_factory("--drain-timeout", "60", listen=["line"])
    with Peer(server.endpoint("line")) as lingering:
        lingering.expect_greeting()
        server.signal(signal.SIGTERM)
        assert lingering.read_raw_reply() == model.error("line", SHUTTING_DOWN)
        server.wait_for_event("error", reason=SHUTTING_DOWN)
        server.signal(signal.SIGINT)
        assert server.wait(timeout=5) == 3
    assert [(e["result"], e["aborted"]) for e in server.events("drain")] == [("aborted", "0")]
    assert server.events("summary")[0]["exit_code"] == "3"


@pytest.mark.covers("server/second-signal", "server/exit-3")
def test_a_third_signal_while_aborting_changes_nothing(server_factory: ServerFactory) -> None:
    # The third signal reaches the loop while the second one's abort still settles: the
    # server sleeps writing the second's `shutdown` line (a full pipe), the third comes
    # then, and its wake-up runs two loop turns after that abort began. The exit code is
    # decided once: no internal error, the summary last, exit 3.
    stdout = HeldPipe()
    try:
        server = server_factory(
            "--drain-timeout", "60", ready=False, listen=["line"], stdout=stdout.write_fd
        )
        stdout.read_event("ready", timeout=15)
        endpoint = parse_endpoint(stdout.events()[0]["listener"])
        with Peer(endpoint) as stuck, Peer(endpoint) as probe:
            stuck.expect_greeting()
            stuck.send(b"a line without its end")  # busy: the drain waits for it
            probe.expect_greeting()  # read after `stuck`'s bytes, in the loop's order
            stdout.read_until(lambda e: e.get("peer") == f"127.0.0.1:{probe.local_port}", 5)
            probe.close()
            stdout.read_until(lambda e: e.get("event") == "close", 5)
            server.signal(signal.SIGTERM)
            stdout.read_until(lambda e: e.get("action") == "drain", 5)
            stdout.fill()  # the next line, the second signal's `shutdown`, does not fit
            stdout.close_write_end()  # the server's copy is the only one left: EOF at its exit
            server.signal(signal.SIGINT)
            wait_blocked_writing_to_a_pipe(server.pid)
            server.signal(signal.SIGTERM)
            wait_until_signals_are_handled(server.pid)
            reader = threading.Thread(target=stdout.read_to_eof, args=(15,), daemon=True)
            reader.start()
            assert server.wait(timeout=15) == 3
            reader.join(15)
    finally:
        stdout.close()
    events = stdout.events()
    shutdowns = [(e["signal"], e["action"]) for e in events if e["event"] == "shutdown"]
    assert shutdowns == [("SIGTERM", "drain"), ("SIGINT", "abort"), ("SIGTERM", "abort")]
    assert [e for e in events if e["event"] == "error" and e["reason"] == "internal"] == []
    assert [(e["result"], e["aborted"]) for e in events if e["event"] == "drain"] == [
        ("aborted", "1")
    ]
    assert events[-1]["event"] == "summary"
    assert events[-1]["exit_code"] == "3"
    assert server.stderr_text() == ""


def wait_until_read(peer: Peer, port: int) -> None:
    """Until the server has read every byte `peer` sent (/proc/net/tcp: none unacknowledged
    on our side, none unread on the server's)."""
    ports = (peer.local_port, port)
    wait_until(lambda: tcp_queues(*ports)[0] == tcp_queues(*reversed(ports))[1] == 0)


@pytest.mark.covers("server/second-signal", "server/log-drain", "server/idle-timeout")
@pytest.mark.parametrize("dropped_by", ["idle-timeout", "lingering-close"])
def test_a_peer_that_dropped_itself_in_the_second_signals_loop_turn_is_not_aborted_again(
    server_factory: ServerFactory, dropped_by: str
) -> None:
    # A peer that reads none of its queued answers drops itself (an RST), at its idle
    # deadline (`error reason=idle-timeout`), or in its lingering close after
    # `ERR shutting-down` (no line of its own: the reply never left). Its connection_lost
    # comes a loop turn later, so the abort of a second signal whose wake-up runs in the
    # same turn, before the drop, meets it still in the server's set. It was not aborted
    # by the signal, and nothing more is lost: its own lines are all, and `drain
    # aborted=0` (before the fix: a second `error reason=aborted` line for it, `close
    # reason=aborted`, and `aborted=1`).
    #
    # The turn is made so: the server is stopped (before any deadline: its epoll wait
    # does not time out while stopped, see the idle test above), the other peer's FIN
    # and the second SIGTERM come meanwhile, and on SIGCONT one epoll wait reports
    # both. In that turn the FIN's `error reason=truncated` line does not fit the full
    # stdout pipe: the server sleeps writing it past the stalled peer's deadline, and
    # the wake-up the self-pipe queued in that turn runs first in the next, before the
    # timer that drops the peer.
    idle = 2.0
    stdout = HeldPipe()
    peers = contextlib.ExitStack()
    try:
        server = server_factory(
            "--loop", "asyncio", "--idle-timeout", str(idle), "--drain-timeout", "60",
            "--send-buffer-bytes", str(64 * 1024 * 1024),  # read it all: nothing paused
            ready=False, listen=["line"], stdout=stdout.write_fd,
        )  # fmt: skip
        stdout.read_event("ready", timeout=15)
        endpoint = parse_endpoint(stdout.events()[0]["listener"])
        stalled = peers.enter_context(Peer(endpoint))
        connected = time.monotonic()
        stalled_peer = f"127.0.0.1:{stalled.local_port}"
        stalled.expect_greeting()
        # 16 MiB of whole lines, and it never reads: most of the answers wait in the
        # server's own buffer. Dropped at its idle timeout, it is busy (half a line
        # more), so the drain does not tell it `shutting-down` and its timer runs on.
        lines = (b"w" * 1023 + b"\n") * 16384
        stalled.send(lines + b"half" if dropped_by == "idle-timeout" else lines)
        wait_until_read(stalled, endpoint.port)
        if dropped_by == "idle-timeout":
            # Its first idle check (idle s after the accept) counts the answers the
            # kernel took as progress: the deadline is idle s after that check.
            deadline = connected + 2 * idle
            # The other peer's own deadline (idle s after its half line) is past the stop.
            time.sleep(max(0.0, connected + idle - time.monotonic()))
        other = peers.enter_context(Peer(endpoint))
        other.expect_greeting()
        other.send(b"half a line")  # busy: the drain waits for it
        wait_until_read(other, endpoint.port)
        began = time.monotonic()
        server.signal(signal.SIGTERM)
        stdout.read_until(lambda e: e.get("action") == "drain", 5)
        if dropped_by == "lingering-close":
            # Idle: `ERR shutting-down`, queued behind the answers it does not read; the
            # lingering close aborts it if it takes none of them for idle s.
            stdout.read_until(lambda e: e.get("peer") == stalled_peer and e["event"] == "error", 5)
            deadline = began + idle
        stdout.fill()  # the next line, the other peer's `truncated`, does not fit
        stdout.close_write_end()  # the server's copy is the only one left: EOF at its exit
        time.sleep(max(0.0, deadline - idle / 2 - time.monotonic()))
        with server.stopped():
            other.sock.shutdown(socket.SHUT_WR)  # half a line, then EOF: `truncated`
            server.signal(signal.SIGTERM)
        continued = time.monotonic()  # SIGCONT is out: it must come before the deadline
        wait_until_signals_are_handled(server.pid)  # asleep in the `truncated` write
        time.sleep(max(0.0, deadline + idle / 2 - time.monotonic()))
        reader = threading.Thread(target=stdout.read_to_eof, args=(15,), daemon=True)
        reader.start()
        code = server.wait(timeout=15)
        reader.join(15)
    finally:
        stdout.close()
        peers.close()
    events = stdout.events()
    # The turn is made only if the server went on before the stalled peer's deadline; a
    # test process held up longer than idle / 2 (a loaded machine) tests nothing here.
    assert continued < deadline, (
        f"not the turn this test needs: SIGCONT came {continued - deadline:.2f} s after the"
        f" stalled peer's deadline (the test process was held up); exit {code}, events:"
        f" {[(e['event'], e.get('peer'), e.get('reason'), e.get('action')) for e in events]}"
    )
    assert code == 3  # a second signal came (README: Exit codes)
    mine = [e for e in events if e.get("peer") == stalled_peer and e["event"] != "open"]
    reason = "idle-timeout" if dropped_by == "idle-timeout" else SHUTTING_DOWN
    assert [(e["event"], e["reason"]) for e in mine] == [("error", reason), ("close", reason)]
    shutdowns = [(e["signal"], e["action"]) for e in events if e["event"] == "shutdown"]
    assert shutdowns == [("SIGTERM", "drain"), ("SIGTERM", "abort")]
    if dropped_by == "idle-timeout":
        # The turn was made: the second signal's wake-up ran before the idle check (had
        # it run a turn earlier, its abort would have come first: `reason=aborted`). The
        # lingering close's abort logs nothing to order by; without the fix that variant
        # fails as this one does, with its `error reason=aborted` after `shutting-down`.
        names = [(e["event"], e.get("peer"), e.get("action")) for e in events]
        assert names.index(("shutdown", None, "abort")) < names.index(
            ("error", stalled_peer, None)
        ), f"the idle check ran before the second signal's wake-up: {names}"
    assert [(e["result"], e["aborted"]) for e in events if e["event"] == "drain"] == [
        ("aborted", "0")
    ]
    assert events[-1]["event"] == "summary"
    assert events[-1]["errors"] == f"{reason}:1,truncated:1"
    assert events[-1]["exit_code"] == "3"
    assert server.stderr_text() == ""
