"""A plain socket peer: bytes out, bytes in, every operation timed out.

The oracle tests (tests/oracle) and the conformance suite both talk to a target
through it. No framing code at all: what it sends is given as bytes and what it receives is
returned as bytes, for the caller to compare with the specification's. When the
server does not answer, resets the connection before the bytes awaited, or sends more
than one read keeps (MAX_RECEIVED), the AssertionError (one line) says which server,
what the peer was waiting for, and the bytes it saw.
"""

from __future__ import annotations

import array
import fcntl
import socket
import struct
import termios
import time
from collections import deque
from types import TracebackType

TIMEOUT = 5.0
# How much of what was received a failure message shows (its end: the last bytes seen).
SHOW_BYTES = 64
TRANSCRIPT_ENTRIES = 32  # the last writes and reads of one connection, for a failure report
# The most one read keeps (bytes): far above any answer a check expects (a message is at most
# a profile's max_message_bytes, answers of a check add up to a few MiB), far below what a
# target that floods its peer sends in the TIMEOUT a read waits (hundreds of MB on loopback).
MAX_RECEIVED = 16 * 1024 * 1024


def show(data: bytes, limit: int = SHOW_BYTES) -> str:
    """`data` for a failure message: its size and its last `limit` bytes as a Python bytes
    literal (`13 bytes: b'first\\nsecond\\n'`; `...` before a cut)."""
    if not data:
        return "0 bytes"
    cut = "..." if len(data) > limit else ""
    return f"{len(data)} bytes: {cut}{data[-limit:]!r}"


CONTEXT = 16  # bytes shown before a first difference
AFTER = 24  # bytes shown from a first difference on


def _excerpt(data: bytes, start: int, end: int) -> str:
    """data[start:end] as a bytes literal, `...` marking what was left out at either end."""
    before = "..." if start > 0 else ""
    after = "..." if end < len(data) else ""
    return f"{before}{data[start:end]!r}{after}"


def first_difference(expected: bytes, got: bytes) -> str:
    """Where two byte strings part, as two lines for a failure message.

    The first line (what a one-line table shows) gives both as bytes literals from up to
    CONTEXT bytes before the first differing byte (`...` where bytes are left out):
    `expected b'\\r\\nERR too-large\\n' (16 bytes), got b'\\r\\n\\x00...' (19 bytes);
    they differ from byte 2 on`. The second gives the same bytes in hex, with the offset of
    the first one shown. "equal" when they are."""
    if expected == got:
        return "equal"
    at = next(
        (i for i, (a, b) in enumerate(zip(expected, got, strict=False)) if a != b),
        min(len(expected), len(got)),
    )
    start, end = max(0, at - CONTEXT), at + AFTER
    if at == len(got):
        where = f"got is the first {at} expected bytes, then the end"
    elif at == len(expected):
        where = f"got is all {at} expected bytes, then more"
    else:
        where = f"they differ from byte {at} on"
    last = min(end, max(len(expected), len(got))) - 1
    return (
        f"expected {_excerpt(expected, start, end)} ({len(expected)} bytes), "
        f"got {_excerpt(got, start, end)} ({len(got)} bytes); {where}\n"
        f"in hex, bytes {start} to {last}: expected {expected[start:end].hex(' ')!s} | "
        f"got {got[start:end].hex(' ')!s}"
    )


def unacknowledged(sock: socket.socket) -> int:
    """Bytes this socket sent that the peer's kernel has not acknowledged yet (SIOCOUTQ)."""
    count = array.array("i", [0])
    fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, count)
    return count[0]


class ServerSilent(AssertionError):
    """The server did not answer (or close) within the time allowed."""


class WirePeer:
    """One TCP connection to `host:port` of the server named `server` (for messages).

    Nagle is off, so each `write` leaves at once; `write_acknowledged` also waits
    until the server's kernel acknowledged it (the bytes sit in its receive queue).
    `transcript` keeps the last TRANSCRIPT_ENTRIES writes and reads, in order, as
    ("sent" | "received", bytes): what a failure report shows (`exchange()`).
    """

    def __init__(self, server: str, host: str, port: int, timeout: float = TIMEOUT) -> None:
        self.server = server
        self.where = f"{host}:{port}"
        self.timeout = timeout
        self.received = bytearray()
        self.transcript: deque[tuple[str, bytes]] = deque(maxlen=TRANSCRIPT_ENTRIES)
        try:
            self.sock = socket.create_connection((host, port), timeout=timeout)
        except OSError as exc:
            raise ServerSilent(f"{server}: cannot connect to {self.where}: {exc}") from None
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    @classmethod
    def adopt(cls, server: str, sock: socket.socket, timeout: float = TIMEOUT) -> WirePeer:
        """A peer on `sock`, a connection made elsewhere (e.g. one queued in a backlog)."""
        peer = cls.__new__(cls)
        host, port = sock.getpeername()[:2]
        peer.server, peer.where, peer.timeout = server, f"{host}:{port}", timeout
        peer.received = bytearray()
        peer.transcript = deque(maxlen=TRANSCRIPT_ENTRIES)
        peer.sock = sock
        sock.settimeout(timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return peer

    def __enter__(self) -> WirePeer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def write(self, data: bytes) -> None:
        self.transcript.append(("sent", data))
        try:
            self.sock.sendall(data)
        except TimeoutError:
            raise ServerSilent(
                f"{self.server} ({self.where}) took none of {len(data)} bytes for "
                f"{self.timeout:.0f} s; received so far: {show(bytes(self.received))}"
            ) from None
        except (ConnectionResetError, BrokenPipeError) as exc:
            raise AssertionError(
                f"{self.server} ({self.where}) closed the connection ({exc.strerror}) while the "
                f"peer wrote {len(data)} bytes; received so far: {show(bytes(self.received))}"
            ) from None

    def write_acknowledged(self, data: bytes) -> None:
        """Write, then wait until the server's kernel has acknowledged every byte."""
        self.write(data)
        deadline = time.monotonic() + self.timeout
        while (left := unacknowledged(self.sock)) > 0:
            if time.monotonic() > deadline:
                raise ServerSilent(
                    f"{self.server} ({self.where}): {left} of {len(data)} bytes still "
                    f"unacknowledged after {self.timeout:.0f} s"
                )
            time.sleep(0.001)

    def half_close(self) -> None:
        self.sock.shutdown(socket.SHUT_WR)

    def read_until_close(self, waiting_for: str = "its close", limit: int = MAX_RECEIVED) -> bytes:
        """Every byte until the server closes; ServerSilent after `timeout` s without it,
        AssertionError once more than `limit` bytes came (a target that floods its peer).

        A reset after the server sent its bytes ends the read too: the bytes are
        then compared like any others.
        """
        deadline = time.monotonic() + self.timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ServerSilent(
                    f"{self.server} ({self.where}) did not close within {self.timeout:.0f} s "
                    f"while the peer waited for {waiting_for}; "
                    f"received {show(bytes(self.received))}"
                )
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                continue
            except ConnectionResetError:
                break
            if not chunk:
                break
            self._keep(chunk, limit, waiting_for)
        return bytes(self.received)

    def _keep(self, chunk: bytes, limit: int, waiting_for: str) -> None:
        self.received += chunk
        self.transcript.append(("received", chunk))
        if len(self.received) > limit:
            raise AssertionError(
                f"{self.server} ({self.where}) sent more than {limit} bytes while the peer "
                f"waited for {waiting_for}; received {show(bytes(self.received))}"
            )

    def _reset(self, size: int, waiting_for: str) -> AssertionError:
        return AssertionError(
            f"{self.server} ({self.where}) reset the connection after {len(self.received)} of "
            f"{size} bytes while the peer waited for {waiting_for}; "
            f"received {show(bytes(self.received))}"
        )

    def await_bytes(self, size: int, waiting_for: str) -> bytes:
        """Wait until `size` bytes have arrived in all; what arrived so far (kept, so
        `read_until_close` still returns it). ServerSilent if they do not come in
        time, AssertionError (one line) if the server closes or resets first."""
        deadline = time.monotonic() + self.timeout
        while len(self.received) < size:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ServerSilent(
                    f"{self.server} ({self.where}) sent {len(self.received)} of {size} bytes "
                    f"in {self.timeout:.0f} s while the peer waited for {waiting_for}; "
                    f"received {show(bytes(self.received))}"
                )
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(max(1, min(65536, size - len(self.received))))
            except TimeoutError:
                continue
            except ConnectionResetError:
                raise self._reset(size, waiting_for) from None
            if not chunk:
                raise AssertionError(
                    f"{self.server} ({self.where}) closed after {len(self.received)} of {size} "
                    f"bytes while the peer waited for {waiting_for}; "
                    f"received {show(bytes(self.received))}"
                )
            self._keep(chunk, MAX_RECEIVED, waiting_for)
        return bytes(self.received)

    def take(self, size: int, waiting_for: str) -> bytes:
        """The next `size` bytes received (waiting as `await_bytes` does), consumed."""
        self.await_bytes(size, waiting_for)
        taken = bytes(self.received[:size])
        del self.received[:size]
        return taken

    def reset(self) -> None:
        """Close with a TCP RST instead of a FIN (SO_LINGER with a zero timeout)."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()

    def close(self) -> None:
        self.sock.close()

    def exchange(self, limit: int = 160) -> str:
        """The transcript as lines `sent 5 bytes: b'hello'` (escaped, each cut to `limit` bytes)."""
        lines = [f"{self.server} {self.where}:"]
        for direction, data in self.transcript:
            shown = repr(data[:limit]) + (" ..." if len(data) > limit else "")
            lines.append(f"  {direction} {len(data)} bytes: {shown}")
        return "\n".join(lines)
