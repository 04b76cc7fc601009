"""Blocking client API: one Connection per TCP connection, every operation timed out."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Sequence
from types import TracebackType

from ..protocol import ACK_PREFIX, ERR_PREFIX, GREETING, Endpoint, Reply
from .base import (
    READ_SIZE,
    ConnectionBase,
    ReadyWait,
    connect_error,
    expect_ack,
    expect_greeting,
    linger_zero,
    parse_url,
    send_failed,
    split_chunks,
    tune,
)
from .errors import ClientError, ClientTimeout, ClosedEarly
from .reader import DEFAULT_MAX_REPLY_BYTES
from .wire import DEFAULT_WIRE, Wire


def connect(
    url: str | Endpoint,
    *,
    connect_timeout: float = 5.0,
    timeout: float = 10.0,
    max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES,
    greeting: bytes | None = GREETING,
    ack_prefix: bytes = ACK_PREFIX,
    error_prefix: bytes = ERR_PREFIX,
) -> Connection:
    """Open a TCP connection to a seed://, line:// or frame:// URL (greeting not read yet).

    `greeting` (None: the target sends none), `ack_prefix` (b"": a plain echo) and
    `error_prefix` are the target's wire constants (docs/targets.md, `[wire]`); the
    defaults are docs/protocol.md's. Timeouts are seconds. Raises ValueError for wire
    constants that cannot be told apart (Wire), ConnectFailed when no connection is made.
    """
    endpoint = parse_url(url)
    wire = Wire(greeting, ack_prefix, error_prefix)
    wire.check_framing(endpoint.framing)
    try:
        sock = socket.create_connection((endpoint.host, endpoint.port), timeout=connect_timeout)
    except (OSError, UnicodeError) as exc:
        raise connect_error(endpoint, exc, connect_timeout) from None
    tune(sock)
    return Connection(sock, endpoint, timeout=timeout, max_reply_bytes=max_reply_bytes, wire=wire)


def wait_ready(
    url: str | Endpoint,
    timeout: float,
    *,
    connect_timeout: float = 5.0,
    op_timeout: float = 10.0,
    max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES,
    greeting: bytes | None = GREETING,
    ack_prefix: bytes = ACK_PREFIX,
    error_prefix: bytes = ERR_PREFIX,
) -> Connection:
    """Retry, with backoff, until the server accepts and greets; the greeted Connection.
    A target that sends no greeting (`greeting=None`) is ready once it accepts.
    The wire constants are connect()'s.

    Gives the last error once `timeout` seconds have passed. Unexpected bytes
    (not our server) end the wait at once.
    """
    endpoint = parse_url(url)
    schedule = ReadyWait(timeout, connect_timeout, op_timeout)
    while True:
        connect_seconds, op_seconds = schedule.attempt_timeouts()
        conn: Connection | None = None
        try:
            conn = connect(
                endpoint,
                connect_timeout=connect_seconds,
                timeout=op_seconds,
                max_reply_bytes=max_reply_bytes,
                greeting=greeting,
                ack_prefix=ack_prefix,
                error_prefix=error_prefix,
            )
            conn.greeting()
        except ClientError as exc:
            if conn is not None:
                conn.close()
            time.sleep(schedule.pause_after(exc))
            continue
        conn.timeout = op_timeout
        return conn


class Connection(ConnectionBase):
    """One client connection. Use as a context manager, or close() it."""

    def __init__(
        self,
        sock: socket.socket,
        endpoint: Endpoint,
        *,
        timeout: float = 10.0,
        max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES,
        wire: Wire = DEFAULT_WIRE,
    ) -> None:
        super().__init__(endpoint, timeout, max_reply_bytes, wire)
        self.sock = sock

    def __enter__(self) -> Connection:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- replies ---

    def greeting(self) -> None:
        """Read the greeting; ServerRefused when the server answers ERR instead (busy).
        Nothing to read for a target that sends none."""
        if self.wire.greets:
            expect_greeting(self.receive())

    def receive(self) -> Reply:
        """The next reply. A seed answer is complete only when the server closes."""
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._reader.next_reply()
            if reply is not None:
                return reply
            self._fed(self._recv(deadline, self._reply_timeout))

    def roundtrip(self, body: bytes) -> Reply:
        """Send one message and return the reply to it, whatever it is."""
        try:
            self.send(body)
        except ClosedEarly:
            # The server may have answered ERR (too-large) before closing.
            reply = self._reply_if_any()
            if reply is None:
                raise
            return reply
        return self.receive()

    def request(self, body: bytes) -> bytes:
        """Send one message and return the ack's payload; ServerRefused on ERR."""
        return expect_ack(self.roundtrip(body))

    def exchange(self, payload: bytes) -> bytes:
        """The whole greeting-message-answer exchange (seed: the tutorial's, in one write)."""
        self.greeting()
        return self.request(payload)

    def read_until_eof(self) -> bytes:
        """Every byte not taken as a reply yet, up to the server's close, raw."""
        deadline = time.monotonic() + self.timeout
        data = bytearray(self._reader.take_unparsed())
        while not self._reader.at_eof:
            chunk = self._recv(deadline, self._close_timeout)
            self._fed(chunk)
            data += self._reader.take_unparsed()
        return bytes(data)

    # --- sending ---

    def send(self, body: bytes, *, chunks: Sequence[int] | None = None, pause: float = 0.0) -> None:
        """Send one message framed for this URL, written in pieces of `chunks` bytes
        with `pause` seconds between them (pieces cut the framed bytes)."""
        self._messages_sent += 1
        self._write(self.codec.encode_message(body), chunks, pause, framed=True)

    def send_many(self, bodies: Sequence[bytes]) -> None:
        """Several messages in one write (pipelining)."""
        self._messages_sent += len(bodies)
        self._write(self.encode_all(bodies), None, 0.0, framed=True)

    def send_raw(
        self, data: bytes, *, chunks: Sequence[int] | None = None, pause: float = 0.0
    ) -> None:
        """Bytes as given, no framing (garbage and fault tests)."""
        self._write(data, chunks, pause, framed=False)

    # --- ending ---

    def shutdown_write(self) -> None:
        """Half-close: the server sees EOF, replies still come."""
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError as exc:
            raise ClosedEarly(f"cannot half-close: {exc}") from None

    def close(self) -> None:
        self.sock.close()

    def reset(self) -> None:
        """Abort with RST instead of FIN."""
        linger_zero(self.sock)
        self.sock.close()

    # --- internals ---

    def _write(
        self, data: bytes, chunks: Sequence[int] | None, pause: float, *, framed: bool
    ) -> None:
        for index, piece in enumerate(split_chunks(data, chunks)):
            if index and pause:
                time.sleep(pause)
            self.sock.settimeout(self.timeout)
            try:
                self.sock.sendall(piece)
            except TimeoutError:
                raise self._send_timeout(framed) from None
            except OSError as exc:
                raise send_failed(exc) from None

    def _close_timeout(self) -> ClientTimeout:
        return ClientTimeout("the server to close", self.timeout)

    def _recv(self, deadline: float, timed_out: Callable[[], ClientTimeout]) -> bytes:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise timed_out()
        self.sock.settimeout(remaining)
        try:
            return self.sock.recv(READ_SIZE)
        except TimeoutError:
            raise timed_out() from None
        except OSError as exc:
            raise ClosedEarly(f"the connection broke: {exc.strerror or exc}") from None

    def _reply_if_any(self) -> Reply | None:
        """A reply already sent to us, if any, without waiting long."""
        saved, self.timeout = self.timeout, min(self.timeout, 1.0)
        try:
            return self.receive()
        except ClientError:
            return None
        finally:
            self.timeout = saved
