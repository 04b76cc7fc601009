"""A plain blocking socket peer for server tests: every operation has a timeout.

Deliberately independent of the `client` package and of `protocol/`: the server is
checked against the specification's bytes (the reference model, tests/oracle/model.py),
not against another component under test.
"""

from __future__ import annotations

import bisect
import fcntl
import socket
import struct
import termios
import time
from collections.abc import Callable
from pathlib import Path

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

    def read_exactly_up_to(self, size: int) -> bytes:
        """`size` bytes, or fewer if the server closes first (b"" at EOF)."""
        while len(self._buffer) < size and self._fill():
            pass
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

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


def stall_with_unread_answers(
    peer: Peer, line: bytes = STALL_LINE, most: int = 256 * 1024 * 1024
) -> int:
    """Send `line` (64 KiB) over and over, never reading, until the server stops
    reading us; bytes sent.

    The server's answers pile up: in the kernel's buffers, then in its own.

    Fails if the server swallows `most` bytes (256 MiB) without stalling: it would
    buffer without bound.
    """
    sent = 0
    peer.sock.settimeout(1.0)
    try:
        while sent < most:
            sent += peer.sock.send(line[sent % len(line) :])
    except (TimeoutError, ConnectionError):
        return sent  # no progress for a second (or it gave up on us): it stopped reading
    finally:
        peer.sock.settimeout(5.0)
    raise AssertionError(f"the server kept reading a peer that never reads ({sent} bytes)")


def small_receive_buffer(peer: Peer) -> None:
    """A fixed 256 KiB receive buffer (the kernel doubles it, and no longer grows it): what
    the kernels hold of the server's answers stays a few MiB."""
    peer.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 256 * 1024)


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


def _queue_sizes(*sides: tuple[int, int]) -> list[tuple[int, int]]:
    """(send queue, receive queue) of each side (local port, remote port) of loopback
    connections, from one read of /proc/net/tcp: bytes its kernel took that the other
    side has not acknowledged; bytes it received that its process has not read."""
    rows = {}
    for row in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = row.split()
        rows[fields[1], fields[2]] = fields[4]
    sizes = []
    for local, remote in sides:
        queues = rows.get((f"0100007F:{local:04X}", f"0100007F:{remote:04X}"))
        assert queues is not None, f"no connection 127.0.0.1:{local} -> {remote} listed"
        send_queue, receive_queue = queues.split(":")
        sizes.append((int(send_queue, 16), int(receive_queue, 16)))
    return sizes


class LineLedger:
    """The lines a peer sent on a line listener and what it read back, to see from
    outside the server how much it has read and how much of its answers it still holds.

    Each line's answer is the ack prefix (16 bytes) and the line (docs/protocol.md),
    after the greeting (14 bytes). What the server's kernel took is what it has not
    had acknowledged, plus what we have not read, plus what we read; the rest of what
    it wrote waits in its event loop's buffer. Exact while neither side moves (the
    server stopped, and its peer's window full or the server's reading paused).
    Made once the peer read the greeting, and nothing else yet.
    """

    def __init__(self, peer: Peer, server_port: int) -> None:
        self.peer = peer
        self.server_port = server_port
        self.ends: list[int] = []  # where each line sent ends, in bytes sent
        self.sent = 0
        self.taken = 14  # bytes the peer read: the greeting so far

    def sent_lines(self, line: bytes, count: int) -> None:
        """Record `count` lines `line` that the peer sent (line ends with b"\\n")."""
        for _ in range(count):
            self.sent += len(line)
            self.ends.append(self.sent)

    def sent_stream(self, line: bytes, total: int) -> None:
        """Record `total` bytes the peer sent of `line` over and over (the last may be cut)."""
        self.sent_lines(line, total // len(line))
        self.sent += total % len(line)

    def send(self, line: bytes) -> None:
        """Send one line and record it."""
        self.peer.send(line)
        self.sent_lines(line, 1)

    def take(self, size: int) -> None:
        """Read `size` bytes of answers (the peer's own buffer must be empty)."""
        while size > 0:
            chunk = self.peer.sock.recv(min(size, 256 * 1024))
            assert chunk, "the server closed"
            self.taken += len(chunk)
            size -= len(chunk)

    def queues(self) -> tuple[int, int, int]:
        """One reading of (bytes we sent that the server's kernel has not acknowledged,
        bytes its kernel holds that its process has not read, bytes its kernel took that
        ours has not acknowledged)."""
        (not_acknowledged, _), (in_flight, unread) = _queue_sizes(
            (self.peer.local_port, self.server_port), (self.server_port, self.peer.local_port)
        )
        return not_acknowledged, unread, in_flight

    def unread_by_server(self) -> int:
        """Bytes the server's kernel received from us that its process has not read:
        this shrinks only when the server reads."""
        return self.queues()[1]

    def all_read(self) -> bool:
        """The server has read every byte we sent."""
        not_acknowledged, unread, _ = self.queues()
        return not_acknowledged == unread == 0

    def server_read(self) -> int:
        """Bytes of ours the server has read: exact once its kernel acknowledged what it
        received (a delayed ACK counts those bytes twice, as unacknowledged and unread)."""
        not_acknowledged, unread, _ = self.queues()
        return self.sent - not_acknowledged - unread

    def queued(self) -> int:
        """Bytes of answers the server wrote that its kernel has not taken yet."""
        not_acknowledged, unread, in_flight = self.queues()
        read = self.sent - not_acknowledged - unread
        answered = bisect.bisect_right(self.ends, read)  # lines read whole
        written = 14 + 16 * answered + (self.ends[answered - 1] if answered else 0)
        (waiting,) = struct.unpack(
            "i", fcntl.ioctl(self.peer.sock.fileno(), termios.FIONREAD, b"\0" * 4)
        )
        return written - (in_flight + int(waiting) + self.taken)

    def settled_queue(self, timeout: float = TIMEOUT) -> int:
        """`queued()` once it stays the same for 0.2 s: the kernels' buffers are full."""
        deadline = time.monotonic() + timeout
        last, since = self.queued(), time.monotonic()
        while time.monotonic() - since < 0.2:
            if time.monotonic() > deadline:
                raise AssertionError(f"the server's queue still moves after {timeout} s")
            time.sleep(0.02)
            now = self.queued()
            if now != last:
                last, since = now, time.monotonic()
        return last
