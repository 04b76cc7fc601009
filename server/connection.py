"""One accepted connection: greeting, decoded messages in, acks out, errors, idle timer."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Protocol, cast

from ..protocol import ErrorReason, Framing, MessageTooLarge, codec_for
from .logs import EventLog
from .stats import Stats

# After a last reply to a peer that may still be sending (oversize message, seed's
# one read), closing with its bytes unread makes the kernel send RST, which can
# destroy the reply in flight. So half-close, discard what comes, and close at the
# peer's EOF or after this long.
LINGER_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class Settings:
    idle_timeout: float  # 0 disables
    max_message_bytes: int
    send_buffer_bytes: int


# Acks of messages up to this size are joined into one write; larger ones are written alone.
_JOIN_BELOW = 16 * 1024


class Owner(Protocol):
    """What a connection needs from the server that accepted it."""

    log: EventLog
    stats: Stats
    settings: Settings
    draining: bool

    def connection_closed(self, connection: Connection) -> None: ...


class Connection(asyncio.Protocol):
    """asyncio Protocol for one peer on one listener.

    Close reasons (the `close` event's `reason`): answered (seed done), peer-closed,
    too-large, idle-timeout, shutting-down, reset, aborted, os-error.
    """

    __slots__ = (
        "_abort_requested",
        "_closing",
        "_decoder",
        "_encode_ack",
        "_feed",
        "_last_activity",
        "_loop",
        "_one_shot",
        "_owner",
        "_pending_at_check",
        "_reason",
        "_started",
        "_time",
        "_timer",
        "_transport",
        "bytes_in",
        "bytes_out",
        "codec",
        "listener",
        "messages",
        "peer",
    )

    def __init__(self, owner: Owner, listener: str, framing: Framing, peer: str) -> None:
        self._owner = owner
        self._loop = asyncio.get_running_loop()
        self.listener = listener
        self.peer = peer
        self.codec = codec_for(framing)
        self._encode_ack = self.codec.encode_ack
        self._decoder = self.codec.message_decoder(owner.settings.max_message_bytes)
        self._feed = self._decoder.feed  # bound once: data_received is the hot path
        self._time = self._loop.time
        self._one_shot = framing is Framing.SEED
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._closing = False
        self._abort_requested = False
        self._reason: str | None = None
        self._started = self._loop.time()
        self._last_activity = self._started
        self._pending_at_check = 0
        self.bytes_in = 0
        self.bytes_out = 0
        self.messages = 0

    # --- asyncio callbacks -------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        self._owner.log.peer_info("open", listener=self.listener, peer=self.peer)
        if self._abort_requested:
            self.abort()
            return
        # Over this many queued bytes asyncio calls pause_writing(): stop reading the peer.
        self._transport.set_write_buffer_limits(high=self._owner.settings.send_buffer_bytes)
        self._write(self.codec.greeting)
        idle = self._owner.settings.idle_timeout
        if idle:
            self._timer = self._loop.call_later(idle, self._check_idle)
        if self._owner.draining:
            self.begin_drain()

    def data_received(self, data: bytes) -> None:
        if self._closing:
            return
        self.bytes_in += len(data)
        self._last_activity = self._time()
        try:
            messages = self._feed(data)
        except MessageTooLarge as exc:
            # Messages completed before the oversize one are still answered first.
            self._answer(exc.complete)
            self._fail(ErrorReason.TOO_LARGE, size=exc.size, limit=exc.limit)
            return
        if messages:
            self._answer(messages)
            if self._one_shot:
                self._close("answered", linger=True)
                return
        if self._owner.draining and not self._decoder.buffered:
            # The message it was in the middle of is answered: now it may go.
            self._fail(ErrorReason.SHUTTING_DOWN)

    def eof_received(self) -> bool:
        if self._closing and self._transport is not None:
            self._transport.close()  # lingering after our last reply: the peer is done too
            return True
        buffered = self._decoder.buffered
        if buffered:
            self.log_error("truncated", bytes=buffered)
        self._close("peer-closed")
        return True  # we closed it ourselves (after the queued answers are sent)

    def pause_writing(self) -> None:
        # The peer reads slower than it sends: stop reading until our answers drain.
        if self._transport is not None and not self._closing:
            self._transport.pause_reading()

    def resume_writing(self) -> None:
        if self._transport is not None and not self._closing:
            self._transport.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        reason = self._reason
        if reason is None:
            if exc is None:
                reason = "peer-closed"
            elif isinstance(exc, ConnectionError):
                reason = "reset"
            elif isinstance(exc, TimeoutError):
                reason = "timed-out"
            else:
                reason = "os-error"
            if exc is not None:
                self.log_error(reason, detail=str(exc) or type(exc).__name__)
        owner = self._owner
        stats = owner.stats
        stats.messages += self.messages
        stats.bytes_in += self.bytes_in
        stats.bytes_out += self.bytes_out
        owner.log.peer_info(
            "close",
            listener=self.listener,
            peer=self.peer,
            bytes_in=self.bytes_in,
            bytes_out=self.bytes_out,
            messages=self.messages,
            reason=reason,
            duration=self._loop.time() - self._started,
        )
        self._transport = None
        owner.connection_closed(self)

    # --- called by the server ---------------------------------------------------

    def begin_drain(self) -> None:
        """Shutdown began: idle connections get `ERR shutting-down`; busy ones finish first."""
        if self._transport is None or self._closing:
            return  # not yet made (connection_made checks `draining`) or already going
        if not self._decoder.buffered:
            self._fail(ErrorReason.SHUTTING_DOWN)

    def abort(self) -> None:
        """Drop the connection now (drain timeout or second signal)."""
        if self._transport is None:
            self._abort_requested = True
            return
        if self._reason == "aborted":
            return  # a second signal after the drain timeout: already going
        self._drop("aborted")

    # --- internals ---------------------------------------------------------------

    def _write(self, data: bytes) -> None:
        assert self._transport is not None
        self._transport.write(data)
        self.bytes_out += len(data)

    def _answer(self, messages: list[bytes]) -> None:
        if not messages:
            return
        encode = self._encode_ack
        transport = self._transport
        assert transport is not None  # answers only follow connection_made
        self.messages += len(messages)
        # Small pipelined messages: one write per batch (one send() call, not one each).
        # Large ones: one write each, since joining them would copy every byte once more.
        if len(messages) == 1 or len(messages[0]) > _JOIN_BELOW:
            for message in messages:
                out = encode(message)
                transport.write(out)
                self.bytes_out += len(out)
            return
        out = b"".join([encode(message) for message in messages])
        transport.write(out)
        self.bytes_out += len(out)

    def log_error(self, reason: str, **fields: str | int) -> None:
        """Count an `error` event for the summary and log it with this peer's names."""
        self._owner.stats.errors[reason] += 1
        log = self._owner.log
        # Being told to go at shutdown is expected: an info line, not a warning.
        report = log.peer_info if reason == ErrorReason.SHUTTING_DOWN else log.warning
        report("error", listener=self.listener, peer=self.peer, reason=reason, **fields)

    def _fail(self, reason: ErrorReason, **fields: str | int) -> None:
        """Send `ERR <reason>` in the listener's framing and close."""
        self.log_error(reason.value, **fields)
        self._write(self.codec.encode_error(reason))
        self._close(reason.value, linger=reason is ErrorReason.TOO_LARGE)

    def _drop(self, reason: str, **fields: str | int) -> None:
        """Abort at once (RST): what is still queued for the peer is lost."""
        assert self._transport is not None
        self.log_error(reason, **fields)
        self._reason = reason
        self._closing = True
        self._transport.abort()

    def _close(self, reason: str, *, linger: bool = False) -> None:
        """Close after the queued bytes are sent; abort if the peer never takes them.

        With `linger`, send FIN after them instead and keep reading (discarding)
        until the peer's EOF or LINGER_SECONDS, so our last reply is not reset.
        """
        if self._closing or self._transport is None:
            return
        self._closing = True
        self._reason = reason
        if linger and self._transport.can_write_eof():
            self._linger(self._transport)
            return
        self._transport.close()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        idle = self._owner.settings.idle_timeout
        # Nothing queued: the transport is gone on the next loop turn, no timer needed.
        if idle and self._transport.get_write_buffer_size():
            self._timer = self._loop.call_later(idle, self._transport.abort)

    def _linger(self, transport: asyncio.Transport) -> None:
        if self._timer is not None:
            self._timer.cancel()
        transport.write_eof()
        if not transport.is_reading():
            transport.resume_reading()  # reading was paused for backpressure: drain the peer
        # A peer still reading a large queued reply gets the idle timeout's grace, too.
        pending = transport.get_write_buffer_size()
        delay = max(LINGER_SECONDS, self._owner.settings.idle_timeout if pending else 0.0)
        self._timer = self._loop.call_later(delay, self._end_linger)

    def _end_linger(self) -> None:
        self._timer = None
        transport = self._transport
        if transport is None:
            return
        if transport.get_write_buffer_size():
            transport.abort()  # it never took our reply
        else:
            transport.close()

    def _check_idle(self) -> None:
        self._timer = None
        transport = self._transport
        if transport is None or self._closing:
            return
        now = self._loop.time()
        pending = transport.get_write_buffer_size()
        if pending < self._pending_at_check:
            self._last_activity = now  # the peer took some of our answers: not idle
        self._pending_at_check = pending
        deadline = self._last_activity + self._owner.settings.idle_timeout
        if now < deadline:
            self._timer = self._loop.call_at(deadline, self._check_idle)
        elif pending:
            # It neither sends nor reads: even `ERR idle-timeout` could not reach it.
            self._drop(ErrorReason.IDLE_TIMEOUT.value, pending=pending)
        else:
            self._fail(ErrorReason.IDLE_TIMEOUT)
