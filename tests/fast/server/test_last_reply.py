"""A last reply is not destroyed by the close that follows it (the lingering close).

Closing a socket that holds unread input makes the kernel send a reset (RST),
which discards a reply still on its way. So every path that writes a last reply
and closes is tried the same way: the peer sends bytes the server will not read,
waits until the server has closed its side, which must be a clean close (FIN, no
RST), then reads, and must get the whole reply and an EOF. Expected bytes are
the specification's literals (docs/protocol.md; README "Health").
"""

from __future__ import annotations

import signal
import socket
import struct
import time

import pytest

from socket_harness.observe import fd_count
from tests.fast.server.peer import (
    STALL_LINE,
    LineLedger,
    Peer,
    small_receive_buffer,
    wait_until,
)
from tests.fast.server.process import ServerFactory
from tests.harness.tcp import wait_for_server_close

UNREAD = b"bytes the server never reads\n"
GREETING = "测试成功!\n".encode()
ACK_PREFIX = "收到的信息:".encode()


def read_to_eof(sock: socket.socket) -> bytes:
    """Everything until EOF; a reset raises ConnectionResetError, which fails the test."""
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_health_answer_survives_an_http_check_that_sends_a_request(
    server_factory: ServerFactory, loop: str
) -> None:
    if loop == "uvloop":
        pytest.importorskip("uvloop")
    server = server_factory("--loop", loop, listen=["line", "frame"])
    assert server.health is not None
    with socket.create_connection(server.health, timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.0\r\n\r\n")  # as curl, wget or an orchestrator sends
        assert wait_for_server_close(sock) == "fin"
        assert read_to_eof(sock) == b"OK connections=0 listeners=2\n"
    assert server.stderr_text() == ""


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_err_busy_survives_a_message_sent_before_it_arrived(
    server_factory: ServerFactory, loop: str
) -> None:
    if loop == "uvloop":
        pytest.importorskip("uvloop")
    server = server_factory(
        "--max-connections", "1", "--overflow", "reject", "--loop", loop, listen=["line"]
    )
    with Peer(server.endpoint("line")) as holder:
        holder.expect_greeting()
        with Peer(server.endpoint("line")) as refused:
            refused.send(UNREAD)  # a client that speaks first, before any greeting
            assert refused.wait_for_server_close() == "fin"
            assert refused.read_to_eof() == b"ERR busy\n"
    assert server.wait_for_event("error", reason="busy")
    assert server.stderr_text() == ""


def test_a_refused_peer_that_closes_frees_its_socket_at_once_not_after_the_linger(
    server_factory: ServerFactory,
) -> None:
    # After a last reply the server waits for the peer's FIN (up to 2 s, the lingering
    # close); a peer that has read `ERR busy` and closes its side ends that wait at once.
    server = server_factory("--max-connections", "1", "--overflow", "reject", listen=["line"])
    with Peer(server.endpoint("line")) as holder:
        holder.expect_greeting()
        before = fd_count(server.pid)
        endpoint = server.endpoint("line")
        with socket.create_connection((endpoint.host, endpoint.port), timeout=5) as refused:
            assert read_to_eof(refused) == b"ERR busy\n"
            assert fd_count(server.pid) == before + 1  # still lingering: it waits for our FIN
            refused.shutdown(socket.SHUT_WR)
            started = time.monotonic()
            wait_until(lambda: fd_count(server.pid) == before, timeout=1.2)
            assert time.monotonic() - started < 1.2


def test_err_idle_timeout_survives_a_message_sent_just_after_it(
    server_factory: ServerFactory,
) -> None:
    server = server_factory("--idle-timeout", "0.3", listen=["line"])
    with Peer(server.endpoint("line")) as peer:
        peer.expect_greeting()
        assert peer.wait_for_server_close() == "fin"  # after `ERR idle-timeout`
        peer.send(UNREAD)  # it was about to speak after all
        assert peer.wait_for_server_close() == "fin"
        assert peer.read_to_eof() == b"ERR idle-timeout\n"
    assert server.wait_for_event("close")["reason"] == "idle-timeout"


def test_err_shutting_down_survives_a_message_sent_just_after_it(
    server_factory: ServerFactory,
) -> None:
    server = server_factory("--drain-timeout", "10", listen=["frame"])
    with Peer(server.endpoint("frame")) as peer:
        peer.expect_greeting()
        server.signal(signal.SIGTERM)
        assert peer.wait_for_server_close() == "fin"
        peer.send(struct.pack(">I", len(UNREAD)) + UNREAD)
        assert peer.wait_for_server_close() == "fin"
        assert peer.read_to_eof() == struct.pack(">I", 17) + b"ERR shutting-down"
    assert server.wait() == 0
    assert server.events("drain")[0]["result"] == "complete"


def test_seed_answer_survives_a_second_write_it_never_reads(server_factory: ServerFactory) -> None:
    server = server_factory(listen=["seed"])
    with Peer(server.endpoint("seed")) as peer:
        peer.expect_greeting()
        peer.send(b"Ho\r\n")
        assert peer.wait_for_server_close() == "fin"  # one read, the answer, the FIN
        peer.send(UNREAD)
        assert peer.wait_for_server_close() == "fin"
        assert peer.read_to_eof() == ACK_PREFIX + b"Ho\r\n" + b"\n"
    assert server.wait_for_event("close")["reason"] == "answered"


def test_err_too_large_survives_the_rest_of_the_message(server_factory: ServerFactory) -> None:
    server = server_factory("--max-message-bytes", "100", listen=["line"])
    with Peer(server.endpoint("line")) as peer:
        peer.expect_greeting()
        peer.send(b"x" * 101)
        assert peer.wait_for_server_close() == "fin"
        peer.send(b"the rest of that line\n")
        assert peer.wait_for_server_close() == "fin"
        assert peer.read_to_eof() == b"ERR too-large\n"
    assert server.wait_for_event("close")["reason"] == "too-large"


def test_drain_timeout_closes_a_connection_lingering_after_its_reply_without_a_reset(
    server_factory: ServerFactory,
) -> None:
    # The peer reads `ERR shutting-down` only after the drain timeout, which is
    # shorter than the linger: the server closes it (its reply is out), aborts
    # nothing, and the drain is complete.
    server = server_factory("--drain-timeout", "0.3", listen=["line"])
    with Peer(server.endpoint("line")) as peer:
        peer.expect_greeting()
        server.signal(signal.SIGTERM)
        assert server.wait(timeout=5) == 0
        assert peer.wait_for_server_close() == "fin"
        assert peer.read_to_eof() == b"ERR shutting-down\n"
    drain = server.events("drain")[0]
    assert drain["result"] == "complete"
    assert server.events("close")[0]["reason"] == "shutting-down"
    assert not [e for e in server.events("error") if e.get("reason") == "aborted"]


@pytest.mark.covers("errors/lingering-close")
@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_a_seed_peer_that_closes_after_the_answer_ends_the_linger_at_once(
    server_factory: ServerFactory, loop: str
) -> None:
    # docs/protocol.md: closed at the peer's EOF or 2 s after the reply. This peer reads
    # the answer and the server's FIN, then closes its side: the server closes at once,
    # not when the 2 s are over.
    if loop == "uvloop":
        pytest.importorskip("uvloop")
    server = server_factory("--loop", loop, listen=["seed"])
    with Peer(server.endpoint("seed")) as peer:
        peer.expect_greeting()
        peer.send(b"Ho")
        assert peer.read_to_eof() == ACK_PREFIX + b"Ho\n"
        peer.sock.shutdown(socket.SHUT_WR)
        started = time.monotonic()
        close = server.wait_for_event("close", timeout=5)
        waited = time.monotonic() - started
    assert close["reason"] == "answered"
    assert waited < 1.2, f"closed {waited:.2f} s after the peer's FIN: it waited out the linger"


@pytest.mark.covers("errors/lingering-close")
def test_a_peer_that_neither_closes_nor_sends_is_closed_2_s_after_the_reply(
    server_factory: ServerFactory,
) -> None:
    # docs/protocol.md: closed at the peer's EOF or 2 s after the reply was handed to
    # the kernel; this peer reads the reply and its FIN, and then does nothing.
    server = server_factory(listen=["seed"])
    connecting = time.monotonic()  # the server accepts after this
    with Peer(server.endpoint("seed")) as peer:
        peer.expect_greeting()
        asked = time.monotonic()  # the reply can only be handed over after this
        peer.send(b"Ho\r\n")
        assert peer.read_exactly(len(ACK_PREFIX) + 5) == ACK_PREFIX + b"Ho\r\n" + b"\n"
        replied = time.monotonic()  # the reply was handed over before this
        assert peer.wait_for_server_close() == "fin"  # its FIN follows the reply at once
        assert peer.read_to_eof() == b""
        close = server.wait_for_event("close", timeout=10)
        closed = time.monotonic()  # the line is out once the socket is closed
    assert close["reason"] == "answered"
    assert closed - asked >= 2.0
    # The server's own clock runs from its accept to its close(), which nothing on the
    # wire shows (it has sent its FIN): at most the accept-to-reply time seen here, the
    # 2 s and the timer's wake-up delay (milliseconds when idle; 0.5 s of slack).
    duration = float(close["duration"])
    assert duration >= 2.0
    assert duration < (replied - connecting) + 2.0 + 0.5, f"closed {duration:.3f} s after accept"


@pytest.mark.covers("errors/lingering-close")
def test_a_peer_that_takes_none_of_a_queued_last_reply_is_aborted_after_the_idle_timeout(
    server_factory: ServerFactory,
) -> None:
    # docs/protocol.md: while the reply is still queued, a peer that takes none of it
    # for --idle-timeout is aborted. 32 MiB of answers (more than the kernels' buffers
    # hold; reading is never paused under 64 MiB), then a line over the limit: `ERR
    # too-large` waits behind them, and this peer never reads.
    server = server_factory(
        "--send-buffer-bytes", str(64 * 1024 * 1024),
        "--max-message-bytes", "65536",
        "--idle-timeout", "0.5",
        listen=["line"],
    )  # fmt: skip
    with Peer(server.endpoint("line"), timeout=10) as peer:
        peer.expect_greeting()
        peer.send(STALL_LINE * 512 + b"x" * 65537)
        close = server.wait_for_event("close", peer=f"127.0.0.1:{peer.local_port}", timeout=10)
    assert close["reason"] == "too-large"
    # What was still queued was dropped, not counted: fewer than the 512 answers.
    assert int(close["messages"]) < 512
    assert int(close["bytes_out"]) < len(GREETING) + 512 * (len(ACK_PREFIX) + len(STALL_LINE))
    assert server.stderr_text() == ""


@pytest.mark.covers("errors/lingering-close")
@pytest.mark.parametrize("half_closed", [False, True], ids=["open", "half-closed"])
def test_a_peer_that_reads_a_queued_last_reply_slowly_gets_all_of_it(
    server_factory: ServerFactory, half_closed: bool
) -> None:
    # docs/protocol.md: only a peer that takes *none* of a still-queued reply for
    # --idle-timeout is aborted. This one takes 1 MiB of it every 1/8 s, so some in every
    # 0.3 s: 12 MiB of answers, then `ERR too-large`, all of it, then the FIN. Half-closed:
    # its EOF comes while the reply is queued, so the server closes once the queue is
    # sent, and must still count what the peer takes as progress.
    server = server_factory(
        "--send-buffer-bytes", str(64 * 1024 * 1024),
        "--max-message-bytes", "65536",
        "--idle-timeout", "0.3",
        listen=["line"],
    )  # fmt: skip
    with Peer(server.endpoint("line"), timeout=10) as peer:
        small_receive_buffer(peer)  # most of the reply waits in the server, not the kernels
        peer.expect_greeting()
        peer.send(STALL_LINE * 192 + b"x" * 65537)
        if half_closed:
            peer.sock.shutdown(socket.SHUT_WR)
        received = bytearray()
        while chunk := peer.read_exactly_up_to(1024 * 1024):
            received += chunk
            time.sleep(0.125)  # pacing a slow reader, not a wait for readiness
        assert received == (ACK_PREFIX + STALL_LINE) * 192 + b"ERR too-large\n"
        close = server.wait_for_event("close", peer=f"127.0.0.1:{peer.local_port}")
    assert (close["reason"], close["messages"]) == ("too-large", "192")
    assert [error["reason"] for error in server.events("error")] == ["too-large"]  # no abort
    assert server.stderr_text() == ""


@pytest.mark.covers("errors/lingering-close")
def test_a_peer_sending_while_a_last_reply_over_the_send_buffer_is_queued_is_still_read(
    server_factory: ServerFactory,
) -> None:
    # docs/protocol.md: after a last reply the server reads and discards what still
    # arrives; --send-buffer-bytes pauses reading a peer only while it is answered. A
    # 16 MiB answer, most of it queued (reading this peer paused), then SIGTERM: `ERR
    # shutting-down` after it. The peer takes 1 MiB (more of it leaves the server,
    # over 1 MiB still queued), then sends: read at once.
    server = server_factory(
        "--send-buffer-bytes", str(1024 * 1024),
        "--max-message-bytes", str(16 * 1024 * 1024),
        "--drain-timeout", "10",
        listen=["line"],
    )  # fmt: skip
    line = b"b" * (16 * 1024 * 1024 - 1) + b"\n"
    with Peer(server.endpoint("line"), timeout=10) as peer:
        small_receive_buffer(peer)
        peer.expect_greeting()
        ledger = LineLedger(peer, server.endpoint("line").port)
        ledger.send(line)
        wait_until(ledger.all_read)
        server.signal(signal.SIGTERM)
        server.wait_for_event("error", reason="shutting-down")
        queued = ledger.settled_queue()
        assert queued > 4 * 1024 * 1024
        ledger.take(1024 * 1024)
        wait_until(lambda: ledger.queued() < queued - 512 * 1024)  # a step of the loop
        peer.send(UNREAD * 2000)
        wait_until(ledger.all_read, timeout=2)
        received = peer.read_to_eof()
        assert len(received) == len(ACK_PREFIX) + len(line) + len(b"ERR shutting-down\n") - (
            ledger.taken - len(GREETING)
        )
        assert received.endswith(b"b\nERR shutting-down\n")
    assert server.wait() == 0
    assert server.stderr_text() == ""
