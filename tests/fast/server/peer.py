"""A plain blocking socket peer for server tests: every operation has a timeout.

Deliberately independent of the `client` package and of `protocol/`: the server is
checked against the specification's bytes (the reference model, tests/oracle/model.py),
not against another component under test.
"""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Callable

from socket_harness.protocol import Endpoint, Framing
from tests.harness.tcp import wait_for_server_close
from tests.oracle import model

TIMEOUT = 5.0


class Peer:
    """One connection to a listener, with a read buffer and framing-aware reads."""

    def __init__(self, endpoint: Endpoint, timeout: float = TIMEOUT) -> None:
        self.endpoint = endpoint
        self.framing = endpoint.framing.value  # "seed", "line" or "frame"
        self.sock = socket.create_connection((endpoint.host, endpoint.port), timeout=timeout)
        self._buffer = bytearray()
        self.local_port: int = self.sock.getsockname()[1]  # the server logs it as peer=

    def __enter__(self) -> Peer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send_message(self, body: bytes) -> None:
        self.send(model.message(self.framing, body))

    def _fill(self) -> bool:
        chunk = self.sock.recv(65536)
        self._buffer += chunk
        return bool(chunk)

    def read_exactly(self, size: int) -> bytes:
        while len(self._buffer) < size:
            if not self._fill():
                raise EOFError(f"closed after {len(self._buffer)} of {size} bytes")
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def read_line(self) -> bytes:
        """Up to and including the next `\\n`."""
        while (end := self._buffer.find(b"\n")) < 0:
            if not self._fill():
                raise EOFError(f"closed inside a line: {bytes(self._buffer[:80])!r}")
        return self.read_exactly(end + 1)

    def read_raw_reply(self) -> bytes:
        """One reply exactly as it is on the wire (a line, or a frame with its header)."""
        if self.endpoint.framing is Framing.FRAME:
            header = self.read_exactly(4)  # the length: uint32, big-endian
            (length,) = struct.unpack(">I", header)
            return header + self.read_exactly(length)
        return self.read_line()

    def expect_answer(self, body: bytes) -> None:
        """Send one message and check that its ack comes back."""
        self.send_message(body)
        assert self.read_raw_reply() == model.ack(self.framing, body)

    def expect_greeting(self) -> None:
        expected = model.greeting(self.framing)
        assert self.read_exactly(len(expected)) == expected

    def read_to_eof(self) -> bytes:
        """Everything until the server closes (raises on timeout: it must close)."""
        while self._fill():
            pass
        data = bytes(self._buffer)
        self._buffer.clear()
        return data

    def nothing_arrives(self, within: float) -> bool:
        """True if no byte (and no close) arrives for `within` seconds."""
        if self._buffer:
            return False
        timeout = self.sock.gettimeout()  # this peer's own, which may not be TIMEOUT
        self.sock.settimeout(within)
        try:
            self._fill()
        except TimeoutError:
            return True
        finally:
            self.sock.settimeout(timeout)
        return False

    def wait_for_server_close(self, timeout: float = TIMEOUT) -> str:
        """`fin` or `reset`, once the server has closed its side (see below)."""
        return wait_for_server_close(self.sock, timeout)

    def reset(self) -> None:
        """Close with a TCP RST instead of a FIN."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()

    def close(self) -> None:
        self.sock.close()


STALL_LINE = b"s" * (64 * 1024 - 1) + b"\n"


def stall_with_unread_answers(peer: Peer, line: bytes = STALL_LINE) -> int:
    """Send `line` (64 KiB) over and over, never reading, until the server stops
    reading us; bytes sent.

    The server's answers pile up: in the kernel's buffers, then in its own.

    Fails if the server swallows 256 MiB without stalling: it would buffer without bound.
    """
    sent = 0
    peer.sock.settimeout(1.0)
    try:
        while sent < 256 * 1024 * 1024:
            sent += peer.sock.send(line[sent % len(line) :])
    except (TimeoutError, ConnectionError):
        return sent  # no progress for a second (or it gave up on us): it stopped reading
    finally:
        peer.sock.settimeout(5.0)
    raise AssertionError(f"the server kept reading a peer that never reads ({sent} bytes)")


def connect_refused(endpoint: Endpoint, timeout: float = TIMEOUT) -> bool:
    """True if a connect is refused (nobody listens), False if it completes."""
    try:
        sock = socket.create_connection((endpoint.host, endpoint.port), timeout=timeout)
    except ConnectionRefusedError:
        return True
    with sock:
        # Linux may pick the closed listener's (ephemeral) port as our own local port
        # and connect the socket to itself: that, too, means nobody listens there.
        return bool(sock.getsockname() == sock.getpeername())


def wait_until(condition: Callable[[], bool], timeout: float = TIMEOUT) -> None:
    """Poll `condition()` until true; AssertionError after `timeout`."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(0.02)
