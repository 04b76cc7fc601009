"""A peer that is gone gets no more writes, and the counters say what was really sent.

`bytes_out` is what the kernel took (README "Logs"); `messages` counts the answers
whose every byte it took. What the event loop still held in its own buffer when a
peer reset was never sent. And whatever asyncio would log by itself about it goes
to the event log, never to stderr.
"""

from __future__ import annotations

import fcntl
import os
import signal
import struct
import termios
from pathlib import Path

import pytest

from tests.fast.server.peer import STALL_LINE, Peer, stall_with_unread_answers, wait_until
from tests.fast.server.process import RunningServer, ServerFactory

GREETING = "测试成功!\n".encode()  # docs/protocol.md: 14 bytes
ACK_PREFIX = "收到的信息:".encode()
FRAME_GREETING_BYTES = 4 + len(GREETING)  # a frame: 4-byte length, then the body


def connection_is_gone(server_port: int, peer_port: int) -> bool:
    """The kernel dropped the server's side of this loopback connection (after our RST).

    /proc/net/tcp lists a connection while it has a state other than CLOSE.
    """
    local, remote = f"0100007F:{server_port:04X}", f"0100007F:{peer_port:04X}"
    rows = [line.split() for line in Path("/proc/net/tcp").read_text().splitlines()[1:]]
    return not any(row[1] == local and row[2] == remote for row in rows)


def error_lines(server: RunningServer) -> list[tuple[str, str]]:
    """(reason, peer) of every `error` line: asyncio's own complaints would be here too."""
    return [(e["reason"], e.get("peer", "")) for e in server.events("error")]


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
    os.kill(server.pid, signal.SIGSTOP)
    try:
        peer.sock.send((struct.pack(">I", len(body)) + body) * 6)
        peer.reset()
        wait_until(lambda: connection_is_gone(endpoint.port, port))  # the RST has landed
    finally:
        os.kill(server.pid, signal.SIGCONT)

    close = server.wait_for_event("close", peer=f"127.0.0.1:{port}")
    assert close["reason"] == "reset"
    assert (close["messages"], close["bytes_out"]) == ("0", str(FRAME_GREETING_BYTES))
    assert error_lines(server) == [("reset", f"127.0.0.1:{port}")]  # one line, and only it
    server.signal(signal.SIGTERM)
    assert server.wait() == 0
    summary = server.events("summary")[0]
    assert (summary["messages"], summary["bytes_out"]) == ("0", str(FRAME_GREETING_BYTES))
    assert summary["errors"] == "reset:1"
    assert server.stderr_text() == ""


def test_answers_still_queued_in_the_server_when_the_peer_resets_are_not_counted(
    server_factory: ServerFactory,
) -> None:
    # With a send buffer far larger than the kernel's, most answers wait in the
    # event loop's buffer when the peer (which never reads) resets.
    server = server_factory(
        "--send-buffer-bytes", str(16 * 1024 * 1024), "--idle-timeout", "0", listen=["line"]
    )
    peer = Peer(server.endpoint("line"))
    peer.expect_greeting()
    stall_with_unread_answers(peer)
    # What reached us, unread; the server's kernel may hold up to tcp_wmem's maximum more.
    received = struct.unpack("i", fcntl.ioctl(peer.sock.fileno(), termios.FIONREAD, b"\0" * 4))[0]
    kernel_send_max = int(Path("/proc/sys/net/ipv4/tcp_wmem").read_text().split()[2])
    port = peer.local_port
    peer.reset()

    close = server.wait_for_event("close", peer=f"127.0.0.1:{port}", timeout=10)
    assert close["reason"] == "reset"
    bytes_out = int(close["bytes_out"])
    answers = bytes_out - len(GREETING)
    assert received <= answers <= received + kernel_send_max
    # An answer counts once all of it was sent (each is the prefix and a 64 KiB line).
    assert int(close["messages"]) == answers // (len(ACK_PREFIX) + len(STALL_LINE))
    assert error_lines(server) == [("reset", f"127.0.0.1:{port}")]
    assert server.stderr_text() == ""
