"""asyncio client API: the sync API's mirror, every operation timed out."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
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
)
from .errors import ClientError, ClientTimeout, ClosedEarly
from .reader import DEFAULT_MAX_REPLY_BYTES
from .wire import DEFAULT_WIRE, Wire


async def connect(
    url: str | Endpoint,
    *,
    connect_timeout: float = 5.0,
    timeout: float = 10.0,  # noqa: ASYNC109 - per operation, mirrors client.connect
    max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES,
    greeting: bytes | None = GREETING,
    ack_prefix: bytes = ACK_PREFIX,
    error_prefix: bytes = ERR_PREFIX,
) -> AsyncConnection:
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
        async with asyncio.timeout(connect_timeout):
            # asyncio sets TCP_NODELAY itself, so each write goes out at once.
            reader, writer = await asyncio.open_connection(endpoint.host, endpoint.port)
    except (OSError, UnicodeError) as exc:  # TimeoutError included
        raise connect_error(endpoint, exc, connect_timeout) from None
    return AsyncConnection(
        reader, writer, endpoint, timeout=timeout, max_reply_bytes=max_reply_bytes, wire=wire
    )


async def wait_ready(
    url: str | Endpoint,
    timeout: float,  # noqa: ASYNC109 - mirrors client.wait_ready
    *,
    connect_timeout: float = 5.0,
    op_timeout: float = 10.0,
    max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES,
    greeting: bytes | None = GREETING,
    ack_prefix: bytes = ACK_PREFIX,
    error_prefix: bytes = ERR_PREFIX,
) -> AsyncConnection:
    """Retry, with backoff, until the server accepts and greets; the greeted connection.
    A target that sends no greeting (`greeting=None`) is ready once it accepts.
    The wire constants are connect()'s."""
    endpoint = parse_url(url)
    schedule = ReadyWait(timeout, connect_timeout, op_timeout)
    while True:
        connect_seconds, op_seconds = schedule.attempt_timeouts()
        conn: AsyncConnection | None = None
        try:
            conn = await connect(
                endpoint,
                connect_timeout=connect_seconds,
                timeout=op_seconds,
                max_reply_bytes=max_reply_bytes,
                greeting=greeting,
                ack_prefix=ack_prefix,
                error_prefix=error_prefix,
            )
            await conn.greeting()
        except ClientError as exc:
            if conn is not None:
                await conn.close()
            await asyncio.sleep(schedule.pause_after(exc))
            continue
        conn.timeout = op_timeout
        return conn


class AsyncConnection(ConnectionBase):
    """One client connection. Use as an async context manager, or close() it."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        endpoint: Endpoint,
        *,
        timeout: float = 10.0,
        max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES,
        wire: Wire = DEFAULT_WIRE,
    ) -> None:
        super().__init__(endpoint, timeout, max_reply_bytes, wire)
        self.stream_reader = reader
        self.writer = writer

    async def __aenter__(self) -> AsyncConnection:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # --- replies ---

    async def greeting(self) -> None:
        """Read the greeting; ServerRefused when the server answers ERR instead (busy).
        Nothing to read for a target that sends none."""
        if self.wire.greets:
            expect_greeting(await self.receive())

    async def receive(self) -> Reply:
        """The next reply. A seed answer is complete only when the server closes."""
        reply = self._reader.next_reply()
        if reply is not None:
            return reply
        try:
            async with asyncio.timeout(self.timeout):
                while reply is None:
                    self._fed(await self._read())
                    reply = self._reader.next_reply()
        except TimeoutError:
            raise self._reply_timeout() from None
        return reply

    async def roundtrip(self, body: bytes) -> Reply:
        """Send one message and return the reply to it, whatever it is."""
        try:
            await self.send(body)
        except ClosedEarly:
            # The server may have answered ERR (too-large) before closing.
            reply = await self._reply_if_any()
            if reply is None:
                raise
            return reply
        return await self.receive()

    async def request(self, body: bytes) -> bytes:
        """Send one message and return the ack's payload; ServerRefused on ERR."""
        return expect_ack(await self.roundtrip(body))

    async def exchange(self, payload: bytes) -> bytes:
        """The whole greeting-message-answer exchange (seed: the tutorial's, in one write)."""
        await self.greeting()
        return await self.request(payload)

    async def read_until_eof(self) -> bytes:
        """Every byte not taken as a reply yet, up to the server's close, raw."""
        data = bytearray(self._reader.take_unparsed())
        try:
            async with asyncio.timeout(self.timeout):
                while not self._reader.at_eof:
                    self._fed(await self._read())
                    data += self._reader.take_unparsed()
        except TimeoutError:
            raise ClientTimeout("the server to close", self.timeout) from None
        return bytes(data)

    # --- sending ---

    async def send(
        self, body: bytes, *, chunks: Sequence[int] | None = None, pause: float = 0.0
    ) -> None:
        """Send one message framed for this URL, written in pieces of `chunks` bytes
        with `pause` seconds between them (pieces cut the framed bytes)."""
        self._messages_sent += 1
        await self._write(self.codec.encode_message(body), chunks, pause, framed=True)

    async def send_many(self, bodies: Sequence[bytes]) -> None:
        """Several messages in one write (pipelining)."""
        self._messages_sent += len(bodies)
        await self._write(self.encode_all(bodies), None, 0.0, framed=True)

    async def send_raw(
        self, data: bytes, *, chunks: Sequence[int] | None = None, pause: float = 0.0
    ) -> None:
        """Bytes as given, no framing (garbage and fault tests)."""
        await self._write(data, chunks, pause, framed=False)

    async def _write(
        self, data: bytes, chunks: Sequence[int] | None, pause: float, *, framed: bool
    ) -> None:
        for index, piece in enumerate(split_chunks(data, chunks)):
            if index and pause:
                await asyncio.sleep(pause)
            try:
                async with asyncio.timeout(self.timeout):
                    self.writer.write(piece)
                    await self.writer.drain()
            except TimeoutError:
                raise self._send_timeout(framed) from None
            except OSError as exc:
                raise send_failed(exc) from None

    # --- ending ---

    async def shutdown_write(self) -> None:
        """Half-close: the server sees EOF, replies still come."""
        try:
            self.writer.write_eof()
        except OSError as exc:
            raise ClosedEarly(f"cannot half-close: {exc}") from None

    async def close(self) -> None:
        self.writer.close()
        try:
            async with asyncio.timeout(self.timeout):
                await self.writer.wait_closed()
        except (OSError, TimeoutError):
            pass  # closing is all we wanted; a reset on the way does not matter

    async def reset(self) -> None:
        """Abort with RST instead of FIN."""
        sock = self.writer.get_extra_info("socket")
        if sock is not None:
            linger_zero(sock)
        self.writer.transport.abort()

    # --- internals ---

    async def _read(self) -> bytes:
        try:
            return await self.stream_reader.read(READ_SIZE)
        except OSError as exc:
            raise ClosedEarly(f"the connection broke: {exc.strerror or exc}") from None

    async def _reply_if_any(self) -> Reply | None:
        """A reply already sent to us, if any, without waiting long."""
        saved, self.timeout = self.timeout, min(self.timeout, 1.0)
        try:
            return await self.receive()
        except ClientError:
            return None
        finally:
            self.timeout = saved
