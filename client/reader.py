"""Sans-IO reading of server replies, shared by the sync and asyncio connections.

Bytes from the socket go in with `feed` / `feed_eof`; `next_reply` names the
next reply (protocol.Greeting, Ack or ServerError) or says more bytes are
needed. The framing rules themselves live in `protocol/`.
"""

from __future__ import annotations

from collections import deque

from ..protocol import (
    Decoder,
    Framing,
    MessageTooLarge,
    ProtocolError,
    Reply,
    codec_for,
    reply_limit,
)
from ..protocol import Greeting as GreetingReply
from .diagnose import empty_line_hint, first_bytes_hint, seed_stall_hint
from .errors import ClientError, ClosedEarly, UnexpectedBytes
from .wire import DEFAULT_WIRE, Wire

# Large enough for the ack of any message a server would accept, yet bounded.
DEFAULT_MAX_REPLY_BYTES = reply_limit(64 * 1024 * 1024)


def name_body(wire: Wire, body: bytes, greeting_body: bytes | None, *, first: bool) -> Reply:
    """One line/frame reply body named (Wire.name_body); UnexpectedBytes when it fits no reply."""
    try:
        return wire.name_body(body, greeting_body, first=first)
    except ProtocolError as exc:
        raise UnexpectedBytes(str(exc)) from None


def reply_too_large(exc: MessageTooLarge) -> UnexpectedBytes:
    return UnexpectedBytes(f"a reply of {exc.size} bytes exceeds {exc.limit}")


# The first bytes a connection received, kept to say what they most likely are.
FIRST_BYTES_KEPT = 64


class ReplyReader:
    """Replies out of the bytes one connection received, in order, as a target speaking
    `wire` sends them (ValueError: a greeting `wire` cannot have on `framing`)."""

    def __init__(
        self,
        framing: Framing,
        max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES,
        wire: Wire = DEFAULT_WIRE,
    ) -> None:
        wire.check_framing(framing)
        self.framing = framing
        self.wire = wire
        self._greeting_body = wire.greeting_body(framing)
        self._codec = codec_for(framing)
        self._max = max_reply_bytes
        self._eof = False
        self._bodies: deque[bytes] = deque()  # complete line/frame bodies, not yet named
        self._failure: ClientError | None = None
        self._decoder: Decoder | None = None
        # seed: everything received and not yet parsed; line/frame: the bytes
        # of the incomplete message the decoder holds (kept for take_unparsed).
        self._pending = bytearray()
        self._seed_greeting_due = framing is Framing.SEED and wire.greets
        self._raw = False  # set by take_unparsed: bytes are collected, no longer parsed
        self._first = bytearray()  # the first FIRST_BYTES_KEPT bytes received
        # Replies next_reply() gave: the greeting (taken at once when none is due), then
        # one per message.
        self._taken = 0 if wire.greets else 1
        if framing is not Framing.SEED:
            self._decoder = self._codec.message_decoder(max_reply_bytes)

    @property
    def at_eof(self) -> bool:
        return self._eof

    @property
    def replies_taken(self) -> int:
        """Replies taken so far: 0 before the greeting, then 1 + the messages answered."""
        return self._taken

    @property
    def received_any(self) -> bool:
        """True once any byte has arrived on the connection."""
        return bool(self._first)

    @property
    def reply_buffered(self) -> bool:
        """True when next_reply() would return a reply without more bytes."""
        return bool(self._bodies)

    def feed(self, data: bytes) -> None:
        if not data:
            return
        if len(self._first) < FIRST_BYTES_KEPT:
            self._first += data[: FIRST_BYTES_KEPT - len(self._first)]
        self._pending += data
        if self._decoder is None or self._failure is not None or self._raw:
            return
        try:
            bodies = self._decoder.feed(data)
        except MessageTooLarge as exc:
            self._bodies.extend(exc.complete)
            self._failure = reply_too_large(exc)
            # Only the complete replies leave _pending: the rest stays raw.
            del self._pending[: sum(len(self._codec.encode_message(b)) for b in exc.complete)]
            return
        self._bodies.extend(bodies)
        del self._pending[: len(self._pending) - self._decoder.buffered]

    def feed_eof(self) -> None:
        self._eof = True

    def next_reply(self) -> Reply | None:
        """The next reply, or None when more bytes are needed.

        Raises ClosedEarly at EOF with no reply left, UnexpectedBytes for bytes
        that fit no reply (saying which listener they most likely came from, when
        they look like the opening of another framing's).
        """
        try:
            reply = self._next_reply()
        except UnexpectedBytes as exc:
            raise self._explained(exc) from None
        if reply is not None:
            self._taken += 1
        return reply

    def stall_hint(self) -> str | None:
        """What waiting in vain for the next reply most likely means, if anything is known."""
        if self._decoder is None and self._taken == 1 and not self._raw:
            return seed_stall_hint(bytes(self._pending), self.wire)
        return None

    def _explained(self, exc: UnexpectedBytes) -> UnexpectedBytes:
        first = bytes(self._first)
        hint = first_bytes_hint(self.framing, first, self.wire) if self._taken == 0 else None
        return exc if hint is None else UnexpectedBytes(hint, bytes(self._first))

    def _next_reply(self) -> Reply | None:
        if self._decoder is None:
            return self._next_seed_reply()
        if self._bodies:
            body = self._bodies.popleft()
            if not body and self._taken and (hint := empty_line_hint(self.framing, self.wire)):
                raise UnexpectedBytes(hint)
            return name_body(self.wire, body, self._greeting_body, first=self._taken == 0)
        if self._failure is not None:
            raise self._failure
        if self._eof:
            raise self._closed_early(len(self._pending))
        return None

    def take_unparsed(self) -> bytes:
        """The received bytes no reply was taken from yet, exactly as they came.

        From then on the reader only collects bytes: later calls give what came since.
        """
        self._raw = True
        if self._decoder is None:
            data = bytes(self._pending)
        else:
            framed = b"".join(self._codec.encode_message(body) for body in self._bodies)
            data = framed + self._pending
            self._bodies.clear()
        self._pending.clear()
        return data

    def _next_seed_reply(self) -> Reply | None:
        pending = self._pending
        greeting = self.wire.greeting
        if self._seed_greeting_due and greeting is not None:
            if pending.startswith(greeting):
                self._seed_greeting_due = False
                del pending[: len(greeting)]
                return GreetingReply()
            if greeting.startswith(pending):
                if not self._eof:
                    return None
                raise self._closed_early(len(pending))
            self._seed_greeting_due = False
        # A seed answer ends only when the server closes; reject garbage sooner.
        if not self.wire.could_start_answer(pending):
            raise UnexpectedBytes("unexpected bytes from a seed server", bytes(pending))
        if len(pending) > self._max + 1:
            raise UnexpectedBytes(f"a seed answer longer than {self._max} bytes")
        if not self._eof:
            return None
        if not pending:
            raise self._closed_early(0)
        data = bytes(pending)
        pending.clear()
        try:
            return self.wire.seed_answer(data)
        except ProtocolError as exc:
            raise UnexpectedBytes(str(exc)) from None

    @staticmethod
    def _closed_early(partial: int) -> ClosedEarly:
        if partial:
            return ClosedEarly(
                f"the server closed the connection in the middle of a reply "
                f"({partial} bytes of it came)"
            )
        return ClosedEarly("the server closed the connection before replying")
