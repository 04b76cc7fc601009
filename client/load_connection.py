"""One load-generator connection as an asyncio Protocol, driven by its own callbacks.

Streams plus a timeout per operation cost the load generator more CPU per exchange
than the servers it measures spend, so it, not they, set the ceiling. Here replies
are taken as they arrive, each line/frame ack checked by one comparison with the
reply expected, and one stall timer per connection stands in for the timeouts.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import cast

from ..protocol import Decoder, Framing, MessageTooLarge, Reply, codec_for
from .base import expect_ack, expect_greeting
from .errors import ClientError, ClientTimeout, ClosedEarly, UnexpectedBytes
from .reader import DEFAULT_MAX_REPLY_BYTES, ReplyReader, name_body, reply_too_large
from .wire import DEFAULT_WIRE, Wire


class LoadConnection(asyncio.Protocol):
    """Greeting (when `wire` has one), then `messages` messages, at most `window`
    unanswered at a time; each ack is `wire.ack_prefix` + the message sent.

    `done` ends with None when every ack came back and matched, or with the
    ClientError that stopped the connection; `closed` when the socket is gone.
    A connection that receives nothing for `timeout` seconds fails with ClientTimeout.
    """

    def __init__(
        self,
        framing: Framing,
        *,
        messages: int,
        window: int,
        timeout: float,
        payload: Callable[[int], bytes],
        on_ack: Callable[[float], None],
        wire: Wire = DEFAULT_WIRE,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        codec = codec_for(framing)
        self._encode = codec.encode_message
        self._wire = wire
        self._ack_prefix = wire.ack_prefix
        self._greeting_body = wire.greeting_body(framing)
        # A seed answer ends only at the close: the library's ReplyReader knows that.
        # Line/frame bodies come straight from the decoder.
        seed = framing is Framing.SEED
        self._reader = ReplyReader(framing, wire=wire) if seed else None
        self._decoder = None if seed else codec.message_decoder(DEFAULT_MAX_REPLY_BYTES)
        self._messages = messages
        self._window = window
        self._timeout = timeout
        self._payload = payload
        self._on_ack = on_ack
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._last_progress = 0.0
        self._greeted = not wire.greets  # no greeting due: the first message goes at once
        self._unanswered: deque[tuple[bytes, float]] = deque()  # (ack body expected, sent at)
        self._sent = 0
        self._acked = 0
        self.done: asyncio.Future[None] = self._loop.create_future()
        self.closed: asyncio.Future[None] = self._loop.create_future()

    # --- asyncio callbacks -------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A cast, never an isinstance check: uvloop's transports are not asyncio subclasses.
        self._transport = cast(asyncio.Transport, transport)
        self._last_progress = self._loop.time()
        self._timer = self._loop.call_later(self._timeout, self._check_stall)
        if self._greeted:
            self._send_more()

    def data_received(self, data: bytes) -> None:
        self._last_progress = self._loop.time()
        try:
            if self._decoder is not None:
                self._take_bodies(self._decoder, data)
            elif self._reader is not None:
                self._reader.feed(data)
                self._take_replies(self._reader)
        except ClientError as exc:
            self._fail(exc)

    def eof_received(self) -> bool:
        self._at_eof()
        return False  # let the transport close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if exc is not None:
            self._fail(ClosedEarly(f"the connection broke: {exc}"))
        self._at_eof()
        self.closed.set_result(None)

    def close(self) -> None:
        """Stop now, finished or not (a cancelled run): `done` is left cancelled."""
        self.done.cancel()  # a no-op once it has a result
        self._close()

    # --- replies -----------------------------------------------------------------

    def _take_bodies(self, decoder: Decoder, data: bytes) -> None:
        try:
            bodies = decoder.feed(data)
        except MessageTooLarge as exc:
            self._take(exc.complete)
            raise reply_too_large(exc) from None
        self._take(bodies)

    def _take(self, bodies: Iterable[bytes]) -> None:
        unanswered = self._unanswered
        for body in bodies:
            if self.done.done():
                return
            if unanswered and body == unanswered[0][0]:  # the usual case: the ack expected
                self._ack(unanswered.popleft()[1])
            else:
                first = not self._greeted
                self._handle(name_body(self._wire, body, self._greeting_body, first=first))
        self._send_more()  # every reply that came is taken: refill the window

    def _take_replies(self, reader: ReplyReader) -> None:
        while not self.done.done() and (reply := reader.next_reply()) is not None:
            self._handle(reply)

    def _handle(self, reply: Reply) -> None:
        if not self._greeted:
            expect_greeting(reply)
            self._greeted = True
            self._send_more()
            return
        answer = expect_ack(reply)
        if not self._unanswered:
            raise UnexpectedBytes("an ack with no message unanswered", answer)
        expected, sent_at = self._unanswered.popleft()
        if self._ack_prefix + answer != expected:
            raise UnexpectedBytes(f"the ack does not echo message {self._acked}", answer)
        self._ack(sent_at)

    def _ack(self, sent_at: float) -> None:
        self._on_ack(sent_at)
        self._acked += 1
        if self._acked == self._messages:
            self.done.set_result(None)
            self._close()

    def _at_eof(self) -> None:
        if self.done.done():
            return
        try:
            if self._reader is not None and not self._reader.at_eof:
                self._reader.feed_eof()  # a seed answer is complete only now
                self._take_replies(self._reader)
        except ClientError as exc:
            self._fail(exc)
        self._fail(ClosedEarly("the server closed the connection before every reply came"))

    # --- sending and stopping ----------------------------------------------------

    def _send_more(self) -> None:
        room = min(self._window - (self._sent - self._acked), self._messages - self._sent)
        if room <= 0 or self.done.done():
            return
        bodies = [self._payload(seq) for seq in range(self._sent, self._sent + room)]
        sent_at = time.perf_counter()
        prefix = self._ack_prefix
        self._unanswered.extend((prefix + body, sent_at) for body in bodies)
        self._sent += room
        assert self._transport is not None  # replies only follow connection_made
        self._transport.write(b"".join([self._encode(body) for body in bodies]))

    def _fail(self, error: ClientError) -> None:
        if not self.done.done():
            self.done.set_exception(error)
            self._close()

    def _close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def _check_stall(self) -> None:
        idle = self._loop.time() - self._last_progress
        if idle < self._timeout:
            self._timer = self._loop.call_later(self._timeout - idle, self._check_stall)
            return
        waiting_for = "the greeting"
        if self._greeted:
            waiting_for = f"the answer to message {self._acked + 1}"
        self._fail(ClientTimeout(waiting_for, self._timeout))
        assert self._transport is not None  # the timer starts in connection_made
        self._transport.abort()  # nothing more will come, not even the close
