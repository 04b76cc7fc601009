"""One accepted connection: greeting, decoded messages in, acks out, errors, idle timer."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Protocol, cast

from ..protocol import ErrorReason, Framing, MessageTooLarge, codec_for
from .logs import EventLog
from .outbox import Outbox
from .stats import Stats


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
    too-large, idle-timeout, shutting-down, reset, aborted, timed-out, os-error.
    Everything it sends goes through its Outbox: `bytes_out` and `messages` are
    what the kernel took (bytes; answers whose every byte it took).
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
        "_out",
        "_owner",
        "_peer_eof",
        "_reason",
        "_sent_at_check",
        "_started",
        "_time",
        "_timer",
        "_transport",
        "bytes_in",
        "codec",
        "listener",
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
        self._out: Outbox | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._closing = False
        self._abort_requested = False
        self._peer_eof = False
        self._reason: str | None = None
        self._started = self._loop.time()
        self._last_activity = self._started
        self._sent_at_check = 0
        self.bytes_in = 0

    @property
    def bytes_out(self) -> int:
        """Bytes the kernel took from us (send() accepted them)."""
        return 0 if self._out is None else self._out.sent

    @property
    def messages(self) -> int:
        """Messages answered: those whose whole answer the kernel took."""
        return 0 if self._out is None else self._out.answers

    # --- asyncio callbacks -------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        settings = self._owner.settings
        # Over send_buffer_bytes queued, the peer is no longer read until they drain.
        self._out = Outbox(
            self._transport,
            high_water=settings.send_buffer_bytes,
            idle_timeout=settings.idle_timeout,
        )
        self._owner.log.peer_info("open", listener=self.listener, peer=self.peer)
        if self._abort_requested:
            self.abort()
            return
        self._out.send(self.codec.greeting)
        # The kernel taking the greeting is not the peer draining: not idle-check activity.
        self._sent_at_check = self._out.sent
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
                self._close("answered")
                return
        if self._owner.draining and not self._decoder.buffered:
            # The message it was in the middle of is answered: now it may go.
            self._fail(ErrorReason.SHUTTING_DOWN)

    def eof_received(self) -> bool:
        self._peer_eof = True
        if self._closing:
            if self._out is not None:
                self._out.close()  # lingering after our last reply: the peer is done too
            return True
        buffered = self._decoder.buffered
        if buffered:
            self.log_error("truncated", bytes=buffered)
        self._close("peer-closed")
        return True  # we close it ourselves (after the queued answers are sent)

    def pause_writing(self) -> None:
        pass  # the Outbox pauses reading the peer itself (see resume_writing)

    def resume_writing(self) -> None:
        if self._out is not None:
            self._out.progress()  # the loop sent more of its buffer

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
        if self._out is not None:
            self._out.lost(exc)
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

    def abort(self) -> bool:
        """Drop the connection now (drain timeout or second signal); False if nothing is lost.

        One in its lingering close whose last reply the kernel already took is
        closed instead (no RST that could still destroy that reply). One that already
        dropped itself (its idle timeout, or its lingering close giving up on a peer that
        took none of its reply), whose connection_lost is still queued, is left as it is:
        this abort loses nothing more, and its own lines said why it ended.
        """
        if self._transport is None or self._out is None:
            self._abort_requested = True
            return True
        if self._reason == "aborted":
            return True  # a second signal after the drain timeout: already going
        if self._out.aborted:
            return False  # it dropped itself, its connection_lost still queued: not ours
        if self._out.replied:
            self._out.close()  # its reply is out: stop lingering, but no RST
            return False
        self._drop("aborted")
        return True

    # --- internals ---------------------------------------------------------------

    def _answer(self, messages: list[bytes]) -> None:
        if not messages:
            return
        encode = self._encode_ack
        out = self._out
        assert out is not None  # answers only follow connection_made
        # Small pipelined messages: one write per batch (one send() call, not one each).
        # Large ones: one write each, since joining them would copy every byte once more.
        if len(messages) == 1 or len(messages[0]) > _JOIN_BELOW:
            for message in messages:
                if not out.send(encode(message), 1):
                    return  # the peer is gone: nothing more is written
            return
        out.send_joined([encode(message) for message in messages])

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
        assert self._out is not None
        self._out.send(self.codec.encode_error(reason))
        self._close(reason.value)

    def _drop(self, reason: str, **fields: str | int) -> None:
        """Abort at once (RST): what is still queued for the peer is lost (and not counted)."""
        assert self._out is not None
        self.log_error(reason, **fields)
        self._reason = reason
        self._closing = True
        self._cancel_timer()
        self._out.abort()

    def _close(self, reason: str) -> None:
        """After the last reply: the lingering close (Outbox.finish), so no reset destroys it."""
        out = self._out
        if self._closing or out is None or self._transport is None:
            return
        self._closing = True
        self._cancel_timer()
        if self._transport.is_closing():
            return  # lost under us (a reset): connection_lost names the reason
        self._reason = reason
        out.finish(peer_done=self._peer_eof)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _check_idle(self) -> None:
        self._timer = None
        out = self._out
        if out is None or self._closing:
            return
        now = self._loop.time()
        if out.sent > self._sent_at_check:
            self._last_activity = now  # the peer took some of our answers: not idle
        self._sent_at_check = out.sent
        pending = out.pending
        deadline = self._last_activity + self._owner.settings.idle_timeout
        if now < deadline:
            self._timer = self._loop.call_at(deadline, self._check_idle)
        elif pending:
            # It neither sends nor reads: even `ERR idle-timeout` could not reach it.
            self._drop(ErrorReason.IDLE_TIMEOUT.value, pending=pending)
        else:
            self._fail(ErrorReason.IDLE_TIMEOUT)
