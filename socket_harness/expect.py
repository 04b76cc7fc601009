"""What a target must send, from its profile's wire constants and docs/protocol.md's framings.

The conformance suite's oracle: literal rules of the specification applied to
the constants the profile declares (`Wire`), never the codecs of
`socket_harness.protocol`, which this module does not import. Sizes are bytes.

docs/protocol.md, "Framings": `seed` and `line` replies end in `\\n`; a `frame`
is a 4-byte big-endian body length, then the body. The greeting is sent as-is
on seed and line listeners and as one frame's body on frame listeners.
"""

from __future__ import annotations

from dataclasses import dataclass

from .profile import Framing, Wire

NEWLINE = b"\n"
FRAME_HEADER_SIZE = 4  # docs/protocol.md, `frame`: uint32, big-endian
SEED_READ_SIZE = 8192  # docs/protocol.md, `seed`: one read of at most 8192 bytes


def frame(body: bytes) -> bytes:
    """`length:uint32 big-endian | body` (OverflowError over 2**32 - 1 bytes)."""
    return len(body).to_bytes(FRAME_HEADER_SIZE, "big") + body


@dataclass(frozen=True)
class Reading:
    """What a target makes of the bytes a peer sent, by docs/protocol.md's framings.

    `messages`: the complete messages, in order. `too_large`: a message broke
    the limit after them (the target answers them, then `too-large`, and
    closes). `certain_at`: how many bytes the target needs to see to decide
    all that (the whole input, or the byte at which the limit is certainly
    broken: a sender that goes on past it races the target's close).
    `partial`: bytes of an incomplete message at the end (never a message).
    """

    messages: tuple[bytes, ...]
    too_large: bool
    certain_at: int
    partial: int


def _over(size: int, limit: int | None) -> bool:
    return limit is not None and size > limit


def read_lines(data: bytes, limit: int | None) -> Reading:
    """`line`: a message is the bytes before `\\n` (any other byte, `\\r` included, is
    body); too large as soon as the body held so far exceeds `limit` (None: no limit)."""
    messages: list[bytes] = []
    start = 0
    while True:
        end = data.find(NEWLINE, start)
        body_end = len(data) if end < 0 else end
        if limit is not None and body_end - start > limit:
            return Reading(tuple(messages), True, start + limit + 1, 0)
        if end < 0:
            return Reading(tuple(messages), False, len(data), len(data) - start)
        messages.append(data[start:end])
        start = end + 1


def read_frames(data: bytes, limit: int | None) -> Reading:
    """`frame`: a 4-byte big-endian body length, then the body; too large as soon
    as a header announces more than `limit` (None: no limit)."""
    messages: list[bytes] = []
    start = 0
    while len(data) - start >= FRAME_HEADER_SIZE:
        length = int.from_bytes(data[start : start + FRAME_HEADER_SIZE], "big")
        if _over(length, limit):
            return Reading(tuple(messages), True, start + FRAME_HEADER_SIZE, 0)
        end = start + FRAME_HEADER_SIZE + length
        if end > len(data):
            break
        messages.append(data[start + FRAME_HEADER_SIZE : end])
        start = end
    return Reading(tuple(messages), False, len(data), len(data) - start)


def read_seed(first_read: bytes, limit: int | None) -> Reading:
    """`seed`: the one read (at most 8192 bytes) is the message; too large over `limit`.
    No read (the peer closed first) is no message."""
    taken = first_read[:SEED_READ_SIZE]
    if not taken:
        return Reading((), False, 0, 0)
    if _over(len(taken), limit):
        return Reading((), True, len(taken), 0)
    return Reading((taken,), False, len(taken), 0)


def read(framing: Framing, data: bytes, limit: int | None) -> Reading:
    """What a `framing` listener with message limit `limit` (bytes; None: none) makes of
    `data`. For seed, `data` is what the target's one read returns: all of a write when it
    reaches the target in one piece (one TCP segment, or every byte queued before it
    reads), at most 8192 bytes of it."""
    if framing is Framing.LINE:
        return read_lines(data, limit)
    if framing is Framing.FRAME:
        return read_frames(data, limit)
    return read_seed(data, limit)


@dataclass(frozen=True)
class Expect:
    """The bytes a target with wire constants `wire` exchanges on a `framing` listener."""

    wire: Wire

    def reply(self, framing: Framing, body: bytes) -> bytes:
        """A reply body as sent: seed and line add `\\n`, frame adds its header."""
        return frame(body) if framing is Framing.FRAME else body + NEWLINE

    def greeting(self, framing: Framing) -> bytes:
        """The first bytes of every connection (b"" for a target that greets nobody)."""
        greeting = self.wire.greeting
        if greeting is None:
            return b""
        return frame(greeting) if framing is Framing.FRAME else greeting

    def message(self, framing: Framing, body: bytes) -> bytes:
        """One message as a client sends it (line: ValueError if `body` holds `\\n`)."""
        if framing is Framing.FRAME:
            return frame(body)
        if framing is Framing.LINE:
            if NEWLINE in body:
                raise ValueError("a line body cannot hold b'\\n'")
            return body + NEWLINE
        return body

    def ack(self, framing: Framing, body: bytes) -> bytes:
        """The answer to message `body`: the ack prefix, the body, as a reply."""
        return self.reply(framing, self.wire.ack_prefix + body)

    def error(self, framing: Framing, reason: str) -> bytes:
        """The error reply `reason` (`too-large`, `busy`, `idle-timeout`, `shutting-down`)."""
        return self.reply(framing, self.wire.error_prefix + reason.encode("ascii"))

    def answers(self, framing: Framing, reading: Reading) -> bytes:
        """Every byte after the greeting a target sends for `reading` (see `read`): an ack
        per complete message, then `too-large` if the limit was broken."""
        out = b"".join(self.ack(framing, body) for body in reading.messages)
        return out + (self.error(framing, "too-large") if reading.too_large else b"")
