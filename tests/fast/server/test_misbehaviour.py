"""Peer misbehaviour is normal input: a log line, never a traceback, and serving goes on."""

from __future__ import annotations

import socket

import pytest

from tests.fast.server.peer import STALL_LINE, Peer, stall_with_unread_answers, wait_until
from tests.fast.server.process import RunningServer, ServerFactory
from tests.oracle import model
from tests.oracle.model import ACK_PREFIX


def still_serves(server: RunningServer, framing: str) -> None:
    with Peer(server.endpoint(framing)) as peer:
        peer.expect_greeting()
        peer.expect_answer(b"still there?")


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


def test_garbage_on_line_is_just_messages(server_factory: ServerFactory) -> None:
    server = server_factory(listen=["line"])
    garbage = bytes(range(256)).replace(b"\n", b"") * 4
    with Peer(server.endpoint("line")) as peer:
        peer.expect_greeting()
        peer.send(garbage + b"\n")
        assert peer.read_line() == ACK_PREFIX + garbage + b"\n"


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
