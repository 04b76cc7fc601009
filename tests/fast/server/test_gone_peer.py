"""A peer that is gone gets no more writes, and the counters say what was really sent.

`bytes_out` is what the kernel took (README "Logs"); `messages` counts the answers
whose every byte it took. What the event loop still held in its own buffer when a
peer reset was never sent. And whatever asyncio would log by itself about it goes
to the event log, never to stderr. A peer that stays, reads its piled-up answers
late and closes is counted every byte it received.
"""

from __future__ import annotations

import fcntl
import signal
import socket
import struct
import termios
from pathlib import Path

import pytest

from tests.fast.server.peer import (
    STALL_LINE,
    LineLedger,
    Peer,
    small_receive_buffer,
    stall_with_unread_answers,
    wait_until,
)
from tests.fast.server.process import RunningServer, ServerFactory

GREETING = "测试成功!\n".encode()  # docs/protocol.md: 14 bytes
ACK_PREFIX = "收到的信息:".encode()
FRAME_GREETING_BYTES = 4 + len(GREETING)  # a frame: 4-byte length, then the body


def server_side(server_port: int, peer_port: int) -> list[str] | None:
    """The /proc/net/tcp row of the server's side of this loopback connection, if listed.

    A connection is listed while its state is not CLOSE (a reset removes it).
    """
    local, remote = f"0100007F:{server_port:04X}", f"0100007F:{peer_port:04X}"
    for row in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = row.split()
        if fields[1] == local and fields[2] == remote:
            return fields
    return None


def unacknowledged(server_port: int, peer_port: int) -> int:
    """Bytes the server's kernel took that ours has not acknowledged yet (tx_queue)."""
    row = server_side(server_port, peer_port)
    assert row is not None
    return int(row[4].split(":")[0], 16)


def waiting_to_be_read(peer: Peer) -> int:
    (size,) = struct.unpack("i", fcntl.ioctl(peer.sock.fileno(), termios.FIONREAD, b"\0" * 4))
    return int(size)


def error_lines(server: RunningServer) -> list[tuple[str, str]]:
    """(reason, peer) of every `error` line: asyncio's own complaints would be here too."""
    return [(e["reason"], e.get("peer", "")) for e in server.events("error")]


@pytest.mark.covers("server/log-error-detail", "server/counters")
@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_answers_to_a_peer_that_reset_while_the_server_was_stopped_are_neither_written_nor_counted(
    server_factory: ServerFactory, loop: str
) -> None:
    if loop == "uvloop":
        pytest.importorskip("uvloop")
    server = server_factory("--loop", loop, listen=["frame"])
    endpoint = server.endpoint("frame")
    peer = Peer(endpoint)
    peer.expect_greeting()
    port = peer.local_port
    # Six frames of 16,385 bytes each (each answer is one write), then a reset, all
    # while the server is stopped (standing in for a busy loop): it wakes to read
    # six messages from a peer that is already gone.
    body = b"m" * 16385
    with server.stopped():
        peer.sock.send((struct.pack(">I", len(body)) + body) * 6)
        peer.reset()
        wait_until(lambda: server_side(endpoint.port, port) is None)  # the RST has landed

    close = server.wait_for_event("close", peer=f"127.0.0.1:{port}")
    assert close["reason"] == "reset"
    assert (close["messages"], close["bytes_out"]) == ("0", str(FRAME_GREETING_BYTES))
    assert error_lines(server) == [("reset", f"127.0.0.1:{port}")]  # one line, and only it
    # README "Logs": detail is the OS's error as Python words it (ECONNRESET is 104).
    assert server.events("error")[0]["detail"] == "[Errno 104] Connection reset by peer"
    server.signal(signal.SIGTERM)
    assert server.wait() == 0
    summary = server.events("summary")[0]
    assert (summary["messages"], summary["bytes_out"]) == ("0", str(FRAME_GREETING_BYTES))
    assert summary["errors"] == "reset:1"
    assert server.stderr_text() == ""


@pytest.mark.covers("server/counters")
@pytest.mark.parametrize(
    "line",
    [STALL_LINE, b"j" * 1023 + b"\n"],
    ids=["64KiB-lines-one-write-each", "1KiB-lines-joined-per-read"],
)
def test_answers_still_queued_in_the_server_when_the_peer_resets_are_not_counted(
    server_factory: ServerFactory, line: bytes
) -> None:
    # With a send buffer far larger than the kernel's, most answers wait in the
    # event loop's buffer when the peer resets.
    server = server_factory(
        "--send-buffer-bytes", str(16 * 1024 * 1024), "--idle-timeout", "0", listen=["line"]
    )
    peer = Peer(server.endpoint("line"))
    peer.expect_greeting()
    stall_with_unread_answers(peer, line)
    server_port, port = server.endpoint("line").port, peer.local_port

    def kernel_took() -> int:
        """What the server's kernel took from it and we have not read: acked or not.

        Read in this order, no byte moving between the two reads escapes both.
        """
        return unacknowledged(server_port, port) + waiting_to_be_read(peer)

    stalled = kernel_took()  # no progress for a second: nothing moves
    # Take 4 MiB: the loop hands more of its buffer to the kernel, with no write of
    # the server's own to notice that by (reading this peer stays paused).
    taken = 0
    while taken < 4 * 1024 * 1024:
        taken += len(peer.sock.recv(65536))
    wait_until(lambda: taken + kernel_took() > stalled + 1024 * 1024)
    # Stopped, the server hands its kernel nothing more: every byte the kernel took
    # from it is then with us (read, or waiting) or not yet acknowledged by us.
    with server.stopped():
        in_flight = unacknowledged(server_port, port)
        received = taken + waiting_to_be_read(peer)
        peer.reset()

    close = server.wait_for_event("close", peer=f"127.0.0.1:{port}", timeout=10)
    assert close["reason"] == "reset"
    answers = int(close["bytes_out"]) - len(GREETING)
    assert received <= answers <= received + in_flight
    # An answer counts once all of it was sent (each is the prefix and the line).
    assert int(close["messages"]) == answers // (len(ACK_PREFIX) + len(line))
    assert error_lines(server) == [("reset", f"127.0.0.1:{port}")]
    assert server.stderr_text() == ""


@pytest.mark.covers("server/counters")
@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_answers_that_piled_up_and_were_read_late_are_all_counted_at_a_clean_close(
    server_factory: ServerFactory, loop: str
) -> None:
    # The counters of a connection that ends with a close, not a reset: the answers
    # first wait in the event loop's buffer (the peer does not read), then the peer
    # reads every byte and closes its side. README "Counters": bytes_out is what the
    # kernel took, which is then exactly what the peer received.
    if loop == "uvloop":
        pytest.importorskip("uvloop")
    server = server_factory("--loop", loop, "--idle-timeout", "0", listen=["line"])
    peer = Peer(server.endpoint("line"), timeout=10)
    peer.expect_greeting()
    sent = stall_with_unread_answers(peer)  # may end inside a line: that one is truncated
    peer.sock.shutdown(socket.SHUT_WR)
    received = peer.read_to_eof()
    answered = sent // len(STALL_LINE)
    assert received == (ACK_PREFIX + STALL_LINE) * answered

    close = server.wait_for_event("close", peer=f"127.0.0.1:{peer.local_port}", timeout=10)
    assert close["reason"] == "peer-closed"
    assert close["bytes_in"] == str(sent)
    assert close["bytes_out"] == str(len(GREETING) + len(received))
    assert close["messages"] == str(answered)
    server.signal(signal.SIGTERM)
    assert server.wait() == 0
    summary = server.events("summary")[0]
    assert (summary["bytes_out"], summary["messages"]) == (close["bytes_out"], str(answered))
    assert server.stderr_text() == ""


@pytest.mark.covers("server/counters")
@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_a_peer_dropped_with_answers_queued_is_counted_exactly_what_the_kernel_took(
    server_factory: ServerFactory, loop: str
) -> None:
    # README "Counters": when a connection is aborted, what the event loop still held is
    # dropped and not counted; `bytes_out` is what the kernel took (the uvloop caveat is
    # for a peer that reset, not for the server's own abort).
    if loop == "uvloop":
        pytest.importorskip("uvloop")
    server = server_factory(
        "--loop", loop, "--send-buffer-bytes", "65536", "--idle-timeout", "4", listen=["line"]
    )
    peer = Peer(server.endpoint("line"))
    peer.expect_greeting()
    stall_with_unread_answers(peer)  # nothing moves now: every buffer on the way is full
    server_port, port = server.endpoint("line").port, peer.local_port
    with server.stopped():
        took = unacknowledged(server_port, port) + waiting_to_be_read(peer)
    # The idle timeout (4 s after it last read us) drops it, answers still queued.
    close = server.wait_for_event("close", peer=f"127.0.0.1:{port}", timeout=10)
    assert close["reason"] == "idle-timeout"
    assert int(close["bytes_out"]) == len(GREETING) + took
    assert int(close["messages"]) == took // (len(ACK_PREFIX) + len(STALL_LINE))
    peer.close()
    assert server.stderr_text() == ""


@pytest.mark.covers("server/counters")
def test_each_step_in_which_the_loop_hands_a_stalled_queue_to_the_kernel_is_counted(
    server_factory: ServerFactory,
) -> None:
    # The server no longer writes (it stopped reading this peer); the loop then hands
    # its buffer to the kernel in steps, as the peer reads. Every step counts: at the
    # peer's reset, `bytes_out` covers all the peer received.
    server = server_factory(
        "--send-buffer-bytes", str(16 * 1024 * 1024), "--idle-timeout", "0", listen=["line"]
    )
    peer = Peer(server.endpoint("line"))
    peer.expect_greeting()
    stall_with_unread_answers(peer)
    server_port, port = server.endpoint("line").port, peer.local_port

    def kernel_took() -> int:
        """Taken by the server's kernel and not yet read by us (see above)."""
        return unacknowledged(server_port, port) + waiting_to_be_read(peer)

    taken = 0

    def take(size: int) -> None:
        nonlocal taken
        while size > 0:
            chunk = peer.sock.recv(min(size, 65536))
            assert chunk, "the server closed"
            taken += len(chunk)
            size -= len(chunk)

    take(kernel_took())  # all the kernel held at the stall
    wait_until(lambda: kernel_took() > 0)  # a first step of the loop since
    first_steps = taken + kernel_took()  # everything the kernel took so far
    take(first_steps - taken + 1)  # past it: only a later step can have given that byte
    with server.stopped():
        in_flight = unacknowledged(server_port, port)
        received = taken + waiting_to_be_read(peer)
        peer.reset()

    close = server.wait_for_event("close", peer=f"127.0.0.1:{port}", timeout=10)
    assert close["reason"] == "reset"
    answers = int(close["bytes_out"]) - len(GREETING)
    assert received <= answers <= received + in_flight
    assert server.stderr_text() == ""


@pytest.mark.covers("server/counters")
def test_a_peer_that_reset_before_its_greeting_was_written_is_counted_no_bytes(
    server_factory: ServerFactory,
) -> None:
    # Connected and reset while the server is stopped: it accepts a socket that is
    # already gone, and the greeting's one write fails at once. Nothing was sent.
    server = server_factory("--max-sessions", "1", listen=["line"])
    endpoint = server.endpoint("line")
    with server.stopped():
        peer = Peer(endpoint)
        port = peer.local_port
        peer.reset()
        wait_until(lambda: server_side(endpoint.port, port) is None)  # the RST has landed
    close = server.wait_for_event("close", peer=f"127.0.0.1:{port}")
    assert close["reason"] == "reset"
    assert (close["bytes_out"], close["messages"]) == ("0", "0")
    assert server.wait() == 0  # --max-sessions 1: that was the one
    summary = server.events("summary")[0]
    assert (summary["bytes_out"], summary["messages"]) == ("0", "0")
    assert server.stderr_text() == ""


@pytest.mark.covers("server/counters")
def test_pipelined_answers_to_a_peer_that_reset_while_the_server_was_stopped_are_not_counted(
    server_factory: ServerFactory,
) -> None:
    # As the frame test above, with small pipelined lines: their answers go out as one
    # write of them all, which fails at once; not one of them counts.
    server = server_factory(listen=["line"])
    endpoint = server.endpoint("line")
    peer = Peer(endpoint)
    peer.expect_greeting()
    port = peer.local_port
    with server.stopped():
        peer.sock.send(b"pipelined\n" * 6)
        peer.reset()
        wait_until(lambda: server_side(endpoint.port, port) is None)  # the RST has landed

    close = server.wait_for_event("close", peer=f"127.0.0.1:{port}")
    assert close["reason"] == "reset"
    assert (close["messages"], close["bytes_out"]) == ("0", str(len(GREETING)))
    assert server.stderr_text() == ""


@pytest.mark.covers("server/counters")
@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_a_peer_dropped_while_one_long_answer_is_half_sent_is_counted_what_the_kernel_took(
    server_factory: ServerFactory, loop: str
) -> None:
    # As above, with one 8 MiB answer: the peer takes 1 MiB of it and then nothing. uvloop
    # hands such an answer to the kernel as one write request and tells of it only when
    # all of it is written, so the server's count of it must be made at the drop itself.
    if loop == "uvloop":
        pytest.importorskip("uvloop")
    server = server_factory(
        "--loop", loop,
        "--max-message-bytes", str(16 * 1024 * 1024),
        "--send-buffer-bytes", str(64 * 1024 * 1024),
        "--idle-timeout", "2",
        listen=["line"],
    )  # fmt: skip
    peer = Peer(server.endpoint("line"))
    small_receive_buffer(peer)
    peer.expect_greeting()
    ledger = LineLedger(peer, server.endpoint("line").port)
    ledger.send(b"l" * (8 * 1024 * 1024 - 1) + b"\n")
    wait_until(ledger.all_read)
    ledger.settled_queue()
    ledger.take(1024 * 1024)
    ledger.settled_queue()  # the kernels' buffers full again
    with server.stopped():
        # Settled again with the server stopped: bytes the peer's kernel received but has
        # not acknowledged yet (a delayed ACK) would count twice, in flight and unread.
        ledger.settled_queue()
        not_acknowledged, _, in_flight = ledger.queues()
        took = in_flight + waiting_to_be_read(peer) + ledger.taken
    assert not_acknowledged == 0
    close = server.wait_for_event("close", peer=f"127.0.0.1:{peer.local_port}", timeout=10)
    assert close["reason"] == "idle-timeout"
    assert (close["bytes_out"], close["messages"]) == (str(took), "0")
    peer.close()
    assert server.stderr_text() == ""
