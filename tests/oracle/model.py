"""The reference model: what docs/protocol.md says a server answers, as pure functions.

Written from the specification's prose, not from `protocol/`: it imports nothing
from `protocol/`, `server/` or `client/` (tests/unit/test_oracle_model.py checks
that, and checks the model against every golden exchange of docs/protocol.md).
How bytes read as messages (`read`) is the conformance suite's own
(socket_harness/expect.py), so those golden checks cover it too.
A test that must predict a server's bytes asks here; the bytes it compares
against are then the specification's, never the codec under test's.

Framings are named by their URL scheme: "seed", "line", "frame". Sizes are in bytes.
"""

from __future__ import annotations

from socket_harness import expect
from socket_harness.expect import Reading as Reading  # re-exported: the one reading
from socket_harness.expect import read_frames as read_frames
from socket_harness.expect import read_lines as read_lines
from socket_harness.expect import read_seed as read_seed
from socket_harness.profile import Framing

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


def read(framing: str, data: bytes, limit: int) -> Reading:
    """What a `framing` listener with `--max-message-bytes limit` makes of `data`.

    For seed, `data` is what the server's one read returns: all of a write
    when it reaches the server in one piece (one TCP segment, or every byte
    queued before the server reads), at most 8192 bytes of it.
    """
    _check_framing(framing)
    return expect.read(Framing(framing), data, limit)


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
