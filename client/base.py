"""What the sync and asyncio connections share; no I/O happens here."""

from __future__ import annotations

import contextlib
import os
import socket
import struct
import time
from collections.abc import Sequence

from ..protocol import Ack, Codec, Endpoint, Greeting, Reply, ServerError, codec_for, parse_endpoint
from .errors import (
    ClientError,
    ClientTimeout,
    ClosedEarly,
    ConnectFailed,
    ServerRefused,
    UnexpectedBytes,
)
from .reader import ReplyReader
from .wire import DEFAULT_WIRE, Wire

# SO_LINGER on with a zero timeout: close() sends RST instead of FIN.
LINGER_ZERO = struct.pack("ii", 1, 0)
READ_SIZE = 256 * 1024


def parse_url(url: str | Endpoint) -> Endpoint:
    """An Endpoint from a URL; a bad URL is a ValueError with a plain message."""
    return url if isinstance(url, Endpoint) else parse_endpoint(url)


def split_chunks(data: bytes, chunks: Sequence[int] | None) -> list[bytes]:
    """`data` cut into pieces of the given sizes; what is left over is one last piece."""
    if not chunks:
        return [data]
    if any(size <= 0 for size in chunks):
        raise ValueError("chunk sizes must be positive")
    pieces: list[bytes] = []
    start = 0
    for size in chunks:
        if start >= len(data):
            break
        pieces.append(data[start : start + size])
        start += size
    if start < len(data):
        pieces.append(data[start:])
    return pieces


def connect_error(
    endpoint: Endpoint, exc: OSError | UnicodeError, connect_timeout: float
) -> ConnectFailed:
    """What a failed connect means. UnicodeError: a host name IDNA cannot encode
    (a label over 63 characters, an empty one), so it cannot be looked up."""
    if isinstance(exc, UnicodeError):
        return ConnectFailed(f"{endpoint}: not a valid host name ({exc})")
    if isinstance(exc, TimeoutError):
        return ConnectFailed(f"{endpoint}: no connection within {connect_timeout:g}s")
    if exc.errno and not isinstance(exc, socket.gaierror):
        # asyncio's message for a refused connect hides the reason; errno has it.
        return ConnectFailed(f"{endpoint}: {os.strerror(exc.errno)}")
    return ConnectFailed(f"{endpoint}: {exc.strerror or exc}")


def send_failed(exc: OSError) -> ClosedEarly:
    return ClosedEarly(f"the server closed the connection while we sent ({exc})")


def linger_zero(sock: socket.socket) -> None:
    """Make close() send RST; a socket the peer already closed needs nothing."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_ZERO)


def tune(sock: socket.socket) -> None:
    # Each write goes out at once: fragmentation tests rely on it.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


# A last attempt right at the wait_ready deadline still gets this long.
MIN_ATTEMPT_SECONDS = 0.1


class ReadyWait:
    """The schedule of a wait_ready: each attempt's timeouts, and the backoff between."""

    def __init__(self, timeout: float, connect_timeout: float, op_timeout: float) -> None:
        self.deadline = time.monotonic() + timeout  # asyncio's loop.time() is this clock too
        self.connect_timeout = connect_timeout
        self.op_timeout = op_timeout
        self._delay = 0.05

    def attempt_timeouts(self) -> tuple[float, float]:
        """(connect timeout, operation timeout) for the next attempt."""
        remaining = max(self.deadline - time.monotonic(), MIN_ATTEMPT_SECONDS)
        return min(self.connect_timeout, remaining), min(self.op_timeout, remaining)

    def pause_after(self, exc: ClientError) -> float:
        """Seconds to wait before the next attempt; raises `exc` when waiting is over.

        Unexpected bytes end the wait at once: that is not our server.
        """
        left = self.deadline - time.monotonic()
        if isinstance(exc, UnexpectedBytes) or left <= 0:
            raise exc
        pause, self._delay = min(self._delay, left), min(self._delay * 2, 1.0)
        return pause


class ConnectionBase:
    """Endpoint, codec, wire constants and reply reader of one connection, and what
    replies mean (ValueError: a greeting `wire` cannot have on the endpoint's framing)."""

    def __init__(
        self, endpoint: Endpoint, timeout: float, max_reply_bytes: int, wire: Wire = DEFAULT_WIRE
    ) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self.wire = wire
        self.codec: Codec = codec_for(endpoint.framing)
        self._reader = ReplyReader(endpoint.framing, max_reply_bytes, wire)
        # What error messages call this connection's first message: the CLI's seed://
        # opens one connection per message and numbers them over the whole run.
        self.first_message_number = 1
        self._messages_sent = 0

    @property
    def url(self) -> str:
        return str(self.endpoint)

    @property
    def reply_buffered(self) -> bool:
        """True when receive() would return at once, without waiting for the network."""
        return self._reader.reply_buffered

    def encode_all(self, bodies: Sequence[bytes]) -> bytes:
        return b"".join(self.codec.encode_message(body) for body in bodies)

    def wire_bytes(self, reply: Reply) -> bytes:
        """A reply as the server put it on the wire (replies are parsed exactly)."""
        framing = self.endpoint.framing
        if isinstance(reply, Greeting):
            return self.wire.greeting_bytes(framing)
        if isinstance(reply, Ack):
            return self.wire.ack_bytes(framing, reply.payload)
        return self.wire.error_bytes(framing, reply.reason)

    def _reply_timeout(self) -> ClientTimeout:
        """The greeting, or the answer to message N, did not come within `timeout`."""
        taken = self._reader.replies_taken
        hint = self._reader.stall_hint() or ""
        if taken == 0:
            waiting_for = "the greeting"
            if not hint and not self._reader.received_any:
                # Silence where a greeting was due: most often a target that greets nobody.
                hint = "nothing came (a target that greets nobody: --greeting none, greeting=None)"
        elif taken > self._messages_sent:  # only raw bytes sent, or nothing
            waiting_for = "a reply"
        else:
            waiting_for = f"the answer to message {self.first_message_number + taken - 1}"
        return ClientTimeout(waiting_for, self.timeout, hint)

    def _send_timeout(self, framed: bool) -> ClientTimeout:
        """The server took no more bytes within `timeout` (it reads nothing)."""
        number = self.first_message_number + self._messages_sent - 1
        what = f"message {number}" if framed else "more bytes"
        return ClientTimeout(f"the server to take {what}", self.timeout)

    def _fed(self, data: bytes) -> None:
        """Hand what a read returned to the reply reader (b"" = the server closed)."""
        if data:
            self._reader.feed(data)
        else:
            self._reader.feed_eof()


def expect_greeting(reply: Reply) -> None:
    if isinstance(reply, ServerError):
        raise ServerRefused(reply.reason)
    if not isinstance(reply, Greeting):
        raise UnexpectedBytes("expected the greeting, got an ack")


def expect_ack(reply: Reply) -> bytes:
    if isinstance(reply, ServerError):
        raise ServerRefused(reply.reason)
    if isinstance(reply, Greeting):
        raise UnexpectedBytes("expected an ack, got a second greeting")
    return reply.payload
