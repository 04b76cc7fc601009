"""The reference model: what docs/protocol.md says a server answers, as pure functions.

Written from the specification's prose, not from `protocol/`: it imports nothing
from `protocol/`, `server/` or `client/` (tests/unit/test_oracle_model.py checks
that, and checks the model against every golden exchange of docs/protocol.md).
A test that must predict a server's bytes asks here; the bytes it compares
against are then the specification's, never the codec under test's.

Framings are named by their URL scheme: "seed", "line", "frame". Sizes are in bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

# docs/protocol.md, the constants table: the tutorial's words, as UTF-8.
GREETING = bytes.fromhex("e6b58be8af95e68890e58a9f210a")  # 测试成功!\n
ACK_PREFIX = bytes.fromhex("e694b6e588b0e79a84e4bfa1e681af3a")  # 收到的信息: (ASCII colon)
ERR_PREFIX = b"ERR "
NEWLINE = b"\n"
# docs/protocol.md, `seed`: the server reads once, at most 8192 bytes.
SEED_READ_SIZE = 8192
# docs/protocol.md, `frame`: a 4-byte big-endian unsigned length, then the body.
FRAME_HEADER_SIZE = 4
FRAMINGS = ("seed", "line", "frame")
# docs/protocol.md, Errors: the reason codes.
REASONS = ("too-large", "busy", "idle-timeout", "shutting-down")


def _check_framing(framing: str) -> None:
    if framing not in FRAMINGS:
        raise ValueError(f"unknown framing {framing!r}: expected one of {FRAMINGS}")


def frame(body: bytes) -> bytes:
    """`length:uint32 big-endian | body` (ValueError over 2**32 - 1 bytes)."""
    return len(body).to_bytes(FRAME_HEADER_SIZE, "big") + body


def reply(framing: str, body: bytes) -> bytes:
    """A reply body as the server writes it: seed and line add `\\n`, frame a header."""
    _check_framing(framing)
    return frame(body) if framing == "frame" else body + NEWLINE


def greeting(framing: str) -> bytes:
    """The first bytes of every connection, in the listener's framing (docs/protocol.md):
    seed and line send `测试成功!\n` as it is, frame sends it as one frame's body."""
    _check_framing(framing)
    return frame(GREETING) if framing == "frame" else GREETING


def ack(framing: str, payload: bytes) -> bytes:
    """`收到的信息:` + payload, as a reply."""
    return reply(framing, ACK_PREFIX + payload)


def error(framing: str, reason: str) -> bytes:
    """`ERR <reason>`, as a reply (ValueError for a reason the specification does not name)."""
    if reason not in REASONS:
        raise ValueError(f"unknown reason {reason!r}: expected one of {REASONS}")
    return reply(framing, ERR_PREFIX + reason.encode("ascii"))


def message(framing: str, body: bytes) -> bytes:
    """One message as a client sends it (line: ValueError if `body` holds `\\n`)."""
    _check_framing(framing)
    if framing == "frame":
        return frame(body)
    if framing == "line":
        if NEWLINE in body:
            raise ValueError("a line body cannot hold b'\\n'")
        return body + NEWLINE
    return body


@dataclass(frozen=True)
class Reading:
    """What a server makes of the bytes a peer sent, by docs/protocol.md.

    `messages`: the complete messages, in order. `too_large`: a message broke
    the limit after them (the server answers them, then `ERR too-large`, and
    closes). `certain_at`: how many bytes the server needs to see to decide
    all that (the whole input, or the byte at which the limit is certainly
    broken: a sender that goes on past it races the server's close).
    `partial`: bytes of an incomplete message at the end (never a message).
    """

    messages: tuple[bytes, ...]
    too_large: bool
    certain_at: int
    partial: int


def read_lines(data: bytes, limit: int) -> Reading:
    """`line`: a message is the bytes before `\\n` (any other byte, `\\r` included, is
    body); too large as soon as the body held so far exceeds `limit`."""
    messages: list[bytes] = []
    start = 0
    while True:
        end = data.find(NEWLINE, start)
        body_end = len(data) if end < 0 else end
        if body_end - start > limit:
            return Reading(tuple(messages), True, start + limit + 1, 0)
        if end < 0:
            return Reading(tuple(messages), False, len(data), len(data) - start)
        messages.append(data[start:end])
        start = end + 1


def read_frames(data: bytes, limit: int) -> Reading:
    """`frame`: a 4-byte big-endian body length, then the body; too large as soon
    as a header announces more than `limit`."""
    messages: list[bytes] = []
    start = 0
    while len(data) - start >= FRAME_HEADER_SIZE:
        length = int.from_bytes(data[start : start + FRAME_HEADER_SIZE], "big")
        if length > limit:
            return Reading(tuple(messages), True, start + FRAME_HEADER_SIZE, 0)
        end = start + FRAME_HEADER_SIZE + length
        if end > len(data):
            break
        messages.append(data[start + FRAME_HEADER_SIZE : end])
        start = end
    return Reading(tuple(messages), False, len(data), len(data) - start)


def read_seed(first_read: bytes, limit: int) -> Reading:
    """`seed`: the one read (at most 8192 bytes) is the message; too large over `limit`.
    No read (the peer closed first) is no message."""
    taken = first_read[:SEED_READ_SIZE]
    if not taken:
        return Reading((), False, 0, 0)
    if len(taken) > limit:
        return Reading((), True, len(taken), 0)
    return Reading((taken,), False, len(taken), 0)


def read(framing: str, data: bytes, limit: int) -> Reading:
    """What a `framing` listener with `--max-message-bytes limit` makes of `data`.

    For seed, `data` is what the server's one read returns: all of a write
    when it reaches the server in one piece (one TCP segment, or every byte
    queued before the server reads), at most 8192 bytes of it.
    """
    _check_framing(framing)
    if framing == "line":
        return read_lines(data, limit)
    if framing == "frame":
        return read_frames(data, limit)
    return read_seed(data, limit)


def answers(framing: str, data: bytes, limit: int) -> bytes:
    """Every byte after the greeting a server sends a peer that sent `data` (for seed:
    whose one read returned `data`) and then half-closed, up to the server's close."""
    reading = read(framing, data, limit)
    out = b"".join(ack(framing, body) for body in reading.messages)
    if reading.too_large:
        out += error(framing, "too-large")
    return out


def exchange(framing: str, data: bytes, limit: int) -> bytes:
    """The whole of what a peer that sends `data`, then half-closes, reads: greeting + answers."""
    return greeting(framing) + answers(framing, data, limit)
