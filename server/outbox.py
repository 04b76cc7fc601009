"""What the server sends on one connection, what the kernel took of it, and how it ends.

Every connection the server writes to (sessions, health answers, `ERR busy`)
sends through an Outbox, which keeps three promises:

* Nothing is written to a transport that is closing or lost.
* `sent` and `answers` count what the kernel took (send() accepted it). The
  event loop keeps what the kernel did not take yet in its own write buffer and
  empties that buffer when a connection is reset or aborted, so those bytes
  were never sent and are not counted.
* `finish()` is the one close path after a last reply: a lingering close
  (docs/protocol.md, "Lingering close"), so a reset cannot destroy that reply.
"""

from __future__ import annotations

import asyncio
from collections import deque

# After a last reply to a peer that may still be sending, closing with its bytes
# unread makes the kernel send RST, which can destroy the reply in flight. So
# half-close, discard what comes, and close at the peer's EOF or after this long.
LINGER_SECONDS = 2.0


class Outbox:
    """The sending side of one transport; its protocol forwards three callbacks.

    The protocol must call `progress()` from `resume_writing()`, `lost(exc)`
    from `connection_lost()`, and `close()` from `eof_received()` once
    `finishing`; while finishing it discards what `data_received()` gets.

    Counting: after each write, and at each step in which the event loop hands
    more of its buffer to the kernel, `sent = written - get_write_buffer_size()`.
    To hear of each such step, the write-buffer limits are re-armed just below
    the current size whenever something is buffered, so the loop calls
    `resume_writing()` as soon as the buffer shrinks (asyncio does so after every
    send(); uvloop after every completed write request, so there `sent` may lag
    behind by one request, and never runs ahead).

    `high_water` (bytes, or None for no backpressure): queued bytes above it
    pause reading the peer until they drain to a quarter of it (asyncio's own
    default ratio). `idle_timeout` (seconds, 0 = none): during the lingering
    close, a peer that takes none of a still-queued reply for that long is
    aborted.
    """

    __slots__ = (
        "_aborted",
        "_closed_by_us",
        "_high",
        "_idle",
        "_loop",
        "_marks",
        "_pending_at_arm",
        "_reading_paused",
        "_sent_at_arm",
        "_timer",
        "_transport",
        "_written",
        "answers",
        "finishing",
        "sent",
    )

    def __init__(
        self, transport: asyncio.Transport, *, high_water: int | None, idle_timeout: float
    ) -> None:
        self._transport = transport
        self._loop = asyncio.get_running_loop()
        self._high = high_water
        self._idle = idle_timeout
        self._written = 0
        # (end offset, answers it completes) of answers still in the loop's buffer.
        self._marks: deque[tuple[int, int]] = deque()
        self._reading_paused = False
        self._closed_by_us = False
        self._aborted = False
        self._timer: asyncio.TimerHandle | None = None
        self._pending_at_arm = 0
        self._sent_at_arm = 0
        self.sent = 0  # bytes the kernel took
        self.answers = 0  # answers whose every byte the kernel took
        self.finishing = False  # the last reply is written: lingering close under way

    # --- sending -------------------------------------------------------------------

    @property
    def pending(self) -> int:
        """Bytes written but still in the event loop's buffer (not yet taken by the kernel)."""
        return self._transport.get_write_buffer_size()

    def send(self, data: bytes, answers: int = 0) -> bool:
        """Write `data`, which completes `answers` answers; False if nothing could be written.

        False once the transport is closing or lost, after `finish()`, or when
        the kernel refused this write (the peer reset): nothing more should be
        sent on this connection then.
        """
        transport = self._transport
        if self.finishing or transport.is_closing():
            return False
        self._written += len(data)
        transport.write(data)
        if transport.is_closing():  # send() failed at once: the peer is gone
            self._written -= len(data)
            return False
        pending = transport.get_write_buffer_size()
        if not (pending or self._marks or self._reading_paused):
            self.sent = self._written  # the common case: the kernel took all of it
            self.answers += answers
            return True
        if answers:
            self._marks.append((self._written, answers))
        self._observe(pending)
        return True

    def send_joined(self, parts: list[bytes]) -> bool:
        """Write `parts` (one answer each) in one write: one send() call, not one each."""
        data = b"".join(parts)
        if not self.send(data):
            return False
        if self.sent == self._written:
            self.answers += len(parts)
            return True
        # Some of them wait in the loop's buffer: each counts once its last byte is sent.
        end = self._written - len(data)
        for part in parts:
            end += len(part)
            if end <= self.sent:
                self.answers += 1
            else:
                self._marks.append((end, 1))
        return True

    def progress(self) -> None:
        """The event loop handed more of its buffer to the kernel (from `resume_writing`)."""
        self._observe(self._transport.get_write_buffer_size())

    def _observe(self, pending: int) -> None:
        self.sent = self._written - pending
        self._settle()
        transport = self._transport
        high = self._high
        if high is not None and not self.finishing:
            if pending > high and not self._reading_paused:
                self._reading_paused = True  # the peer reads slower than it sends
                transport.pause_reading()
            elif self._reading_paused and pending <= high // 4:
                self._reading_paused = False
                transport.resume_reading()
        if pending and (self._closed_by_us or not transport.is_closing()):
            # Just below the current size: the next send() the loop makes calls
            # resume_writing(), and so progress().
            transport.set_write_buffer_limits(high=pending - 1, low=pending - 1)

    def _settle(self) -> None:
        marks = self._marks
        sent = self.sent
        while marks and marks[0][0] <= sent:
            self.answers += marks.popleft()[1]

    # --- ending --------------------------------------------------------------------

    def finish(self, *, peer_done: bool = False) -> None:
        """The last reply is written: the lingering close, the one way a reply ends.

        FIN after the queued bytes, keep reading (the protocol discards it), and
        close at the peer's EOF (`close()`) or LINGER_SECONDS after the reply
        is all handed to the kernel. A peer that takes none of a still-queued
        reply for `idle_timeout` is aborted (with 0, it is waited for). With
        `peer_done` (its EOF already came) nothing more can arrive: close once
        the queue is sent.
        """
        transport = self._transport
        if self.finishing or transport.is_closing():
            return  # already ending, or lost: nothing to protect
        self.finishing = True
        if peer_done or not transport.can_write_eof():
            self.close()
        else:
            transport.write_eof()
            if self._reading_paused or not transport.is_reading():
                self._reading_paused = False
                transport.resume_reading()  # read (and discard) so no reset is provoked
        self._arm()

    def close(self) -> None:
        """Close once the loop's buffer is sent: the peer's EOF came while we linger
        (it has read our reply), or lingering is no longer wanted."""
        self._closed_by_us = True
        self._transport.close()

    @property
    def replied(self) -> bool:
        """Finishing, and every byte of the last reply was handed to the kernel."""
        return self.finishing and not self._aborted and not self.pending

    @property
    def aborted(self) -> bool:
        """`abort()` ran: by the protocol, or by the lingering close itself (a peer that took
        none of its reply for `idle_timeout`)."""
        return self._aborted

    def abort(self) -> None:
        """Reset (RST) now: what is still queued is dropped and not counted."""
        if self._aborted:
            return
        if not self._transport.is_closing():  # once closing, progress() kept `sent` current
            self.sent = self._written - self.pending
            self._settle()
        self._aborted = True
        self._closed_by_us = True
        self._cancel_timer()
        self._transport.abort()

    def lost(self, exc: Exception | None) -> None:
        """The transport is gone (from `connection_lost`): settle the counts."""
        self._cancel_timer()
        if exc is None and not self._aborted:
            # A close the loop completed itself: it empties its buffer first.
            self.sent = self._written
            self._settle()
        self._marks.clear()

    def _arm(self) -> None:
        pending = self.pending
        self._pending_at_arm = pending
        self._sent_at_arm = self.sent
        delay = self._idle if pending and self._idle else LINGER_SECONDS
        self._timer = self._loop.call_later(delay, self._linger_check)

    def _linger_check(self) -> None:
        self._timer = None
        pending = self.pending
        if not pending:
            if self._pending_at_arm:
                self._arm()  # the reply just left: the peer still gets the whole linger
            else:
                self.close()
        elif self._idle and self.sent == self._sent_at_arm:
            self.abort()  # it took none of our reply for idle_timeout: give up
        else:
            self._arm()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
