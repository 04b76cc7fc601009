"""Peer misbehaviour is normal input: a log line, never a traceback, and serving goes on."""

from __future__ import annotations

import socket
import time

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
from tests.oracle import model
from tests.oracle.model import ACK_PREFIX


def still_serves(server: RunningServer, framing: str) -> None:
    with Peer(server.endpoint(framing)) as peer:
        peer.expect_greeting()
        peer.expect_answer(b"still there?")


@pytest.mark.covers("server/peer-misbehaviour")
@pytest.mark.parametrize("framing", ["seed", "line", "frame"])
def test_reset_mid_message_is_logged_and_serving_goes_on(
    server_factory: ServerFactory, framing: str
) -> None:
    server = server_factory(listen=[framing])
    peer = Peer(server.endpoint(framing))
    peer.expect_greeting()
    if framing != "seed":
        peer.send(model.message(peer.framing, b"half of a message")[:-3])
    port = peer.local_port
    peer.reset()
    close = server.wait_for_event("close", peer=f"127.0.0.1:{port}")
    # A reset that lands after the peer's FIN-less close is a reset; on an idle seed
    # connection the kernel may report it as a plain end of stream.
    assert close["reason"] in ({"reset"} if framing != "seed" else {"reset", "peer-closed"})
    still_serves(server, framing)
    assert server.stderr_text() == ""
    assert "Traceback" not in "\n".join(server.log_lines())


@pytest.mark.covers("server/peer-misbehaviour")
def test_reset_while_answers_are_queued_is_a_reset(server_factory: ServerFactory) -> None:
    server = server_factory("--send-buffer-bytes", "65536", listen=["line"])
    peer = Peer(server.endpoint("line"))
    peer.expect_greeting()
    stall_with_unread_answers(peer)  # our answers pile up in the server
    port = peer.local_port
    peer.reset()
    close = server.wait_for_event("close", peer=f"127.0.0.1:{port}")
    assert close["reason"] == "reset"
    still_serves(server, "line")
    assert server.stderr_text() == ""


@pytest.mark.covers("server/peer-misbehaviour", "seed/close-before-sending")
@pytest.mark.parametrize("framing", ["seed", "line", "frame"])
def test_close_right_after_connect_is_a_plain_close(
    server_factory: ServerFactory, framing: str
) -> None:
    server = server_factory(listen=[framing])
    for _ in range(20):
        socket.create_connection(
            (server.endpoint(framing).host, server.endpoint(framing).port), timeout=5
        ).close()
    wait_until(lambda: len(server.events("close")) == 20)
    reasons = {fields["reason"] for fields in server.events("close")}
    assert reasons <= {"peer-closed", "reset"}
    still_serves(server, framing)
    assert server.stderr_text() == ""


@pytest.mark.covers("server/peer-misbehaviour")
def test_garbage_on_line_is_just_messages(server_factory: ServerFactory) -> None:
    server = server_factory(listen=["line"])
    garbage = bytes(range(256)).replace(b"\n", b"") * 4
    with Peer(server.endpoint("line")) as peer:
        peer.expect_greeting()
        peer.send(garbage + b"\n")
        assert peer.read_line() == ACK_PREFIX + garbage + b"\n"


@pytest.mark.covers("server/backpressure")
def test_never_reading_peer_is_paused_and_server_memory_stays_bounded(
    server_factory: ServerFactory,
) -> None:
    send_buffer = 256 * 1024
    server = server_factory(
        "--send-buffer-bytes", str(send_buffer), "--idle-timeout", "0", listen=["line"]
    )
    rss_before = resident_kib(server.pid)
    with Peer(server.endpoint("line")) as peer:
        peer.expect_greeting()
        sent = stall_with_unread_answers(peer)
        # Kernel buffers on both sides plus one send buffer: tens of MiB at most.
        assert sent < 64 * 1024 * 1024
        growth = resident_kib(server.pid) - rss_before
        assert growth < 16 * 1024, f"server grew by {growth} KiB for {sent} bytes sent"

        # Once the peer reads, every answer arrives, in order, and reading resumes.
        complete, partial = divmod(sent, len(STALL_LINE))
        peer.sock.settimeout(10.0)
        for _ in range(complete):
            assert peer.read_line() == ACK_PREFIX + STALL_LINE
        peer.send(STALL_LINE[partial:])
        assert peer.read_line() == ACK_PREFIX + STALL_LINE
    assert server.stderr_text() == ""


@pytest.mark.covers("server/backpressure")
def test_a_peer_is_read_again_once_its_queue_is_empty_and_paused_again_at_the_next_pile_up(
    server_factory: ServerFactory,
) -> None:
    # README: reading resumes once at most a quarter of --send-buffer-bytes is queued;
    # a quarter of 3 bytes is 0, so here only once the peer took every answer. And it
    # is paused again each time answers pile up past the limit, not only the first.
    server = server_factory("--send-buffer-bytes", "3", "--idle-timeout", "0", listen=["line"])
    with Peer(server.endpoint("line")) as peer:
        peer.expect_greeting()
        for _ in range(2):
            sent = stall_with_unread_answers(peer, most=64 * 1024 * 1024)
            complete, partial = divmod(sent, len(STALL_LINE))
            for _ in range(complete):
                assert peer.read_line() == ACK_PREFIX + STALL_LINE
            peer.send(STALL_LINE[partial:])  # read only if reading resumed
            assert peer.read_line() == ACK_PREFIX + STALL_LINE
    assert server.stderr_text() == ""


def server_reads_nothing_for(ledger: LineLedger, seconds: float) -> bool:
    """True if the server reads none of what its kernel holds of ours for `seconds`."""
    before = ledger.unread_by_server()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if ledger.unread_by_server() < before:
            return False
        time.sleep(0.02)  # polling, not a wait for readiness
    return True


@pytest.mark.covers("server/backpressure")
def test_a_paused_peer_is_read_again_once_a_quarter_of_the_limit_or_less_is_queued(
    server_factory: ServerFactory,
) -> None:
    # README: reading pauses once the queued answers pass --send-buffer-bytes and resumes
    # once they drain to a quarter of it. The peer takes answers until under a third
    # is queued (still paused), then until under a quarter (read again).
    limit = 64 * 1024 * 1024
    server = server_factory(
        "--send-buffer-bytes", str(limit), "--idle-timeout", "0", listen=["line"]
    )
    with Peer(server.endpoint("line"), timeout=10) as peer:
        small_receive_buffer(peer)
        peer.expect_greeting()
        ledger = LineLedger(peer, server.endpoint("line").port)
        ledger.sent_stream(STALL_LINE, stall_with_unread_answers(peer))
        with server.stopped():
            read_at_pause, unread_at_pause = ledger.server_read(), ledger.unread_by_server()
            assert ledger.queued() > limit
        while ledger.queued() > limit * 0.3:
            ledger.take(256 * 1024)
        assert server_reads_nothing_for(ledger, 0.5)
        with server.stopped():
            assert ledger.queued() > limit // 4  # it was so all along: still paused
            assert ledger.server_read() == read_at_pause
        while ledger.queued() > limit * 0.24:
            ledger.take(256 * 1024)
        wait_until(lambda: ledger.unread_by_server() < unread_at_pause, timeout=2)
    assert server.stderr_text() == ""


@pytest.mark.covers("server/backpressure")
def test_a_peer_is_read_with_exactly_the_limit_queued_and_paused_once_past_it(
    server_factory: ServerFactory,
) -> None:
    # README: a peer is no longer read once its queued answers *pass* --send-buffer-bytes.
    # Answers are added until exactly that many bytes are queued (the kernels' buffers
    # full first, so each later answer stays queued whole): its next line is still
    # read; the one after, with the limit passed, is not.
    limit = 16 * 1024 * 1024
    answer = len(ACK_PREFIX) + len(STALL_LINE)
    server = server_factory(
        "--send-buffer-bytes", str(limit), "--idle-timeout", "0", listen=["line"]
    )
    with Peer(server.endpoint("line"), timeout=10) as peer:
        small_receive_buffer(peer)
        peer.expect_greeting()
        ledger = LineLedger(peer, server.endpoint("line").port)
        for _ in range(128):  # 8 MiB of answers: more than the kernels hold
            ledger.send(STALL_LINE)
        wait_until(ledger.all_read)
        queued = ledger.settled_queue()
        assert 0 < queued < limit - 2 * answer
        lines, last = divmod(limit - queued, answer)
        for _ in range(lines - 1):
            ledger.send(STALL_LINE)
        ledger.send(b"e" * (last + answer - len(ACK_PREFIX) - 1) + b"\n")
        wait_until(ledger.all_read)
        with server.stopped():
            assert ledger.queued() == limit
        ledger.send(b"at the limit\n")
        wait_until(ledger.all_read, timeout=2)
        past = b"past it\n"
        ledger.send(past)
        wait_until(lambda: ledger.queues()[0] == 0)  # all in the server's kernel
        assert ledger.unread_by_server() == len(past)
        assert server_reads_nothing_for(ledger, 0.5)
    assert server.stderr_text() == ""


@pytest.mark.covers("server/idle-timeout", "server/peer-misbehaviour")
def test_peer_that_neither_reads_nor_sends_is_dropped_after_the_idle_timeout(
    server_factory: ServerFactory,
) -> None:
    server = server_factory(
        "--send-buffer-bytes", "65536", "--idle-timeout", "0.5", listen=["line"]
    )
    with Peer(server.endpoint("line")) as peer:
        peer.expect_greeting()
        stall_with_unread_answers(peer)
        # `ERR idle-timeout` cannot reach a peer whose buffers are full: it is dropped.
        close = server.wait_for_event("close", peer=f"127.0.0.1:{peer.local_port}")
    assert close["reason"] == "idle-timeout"
    assert server.wait_for_event("error", reason="idle-timeout")["pending"] != "0"
    still_serves(server, "line")


def resident_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for row in status:
            if row.startswith("VmRSS:"):
                return int(row.split()[1])
    raise AssertionError("no VmRSS")


def test_many_peers_at_once_each_get_their_answers(server_factory: ServerFactory) -> None:
    server = server_factory(listen=["frame"])
    peers = [Peer(server.endpoint("frame")) for _ in range(50)]
    try:
        for index, peer in enumerate(peers):
            peer.expect_greeting()
            peer.send_message(f"peer {index}".encode())
        for index, peer in enumerate(peers):
            assert peer.read_raw_reply() == model.ack(peer.framing, f"peer {index}".encode())
    finally:
        for peer in peers:
            peer.close()
    wait_until(lambda: len(server.events("close")) == 50)
    assert len(server.events("open")) == 50
