"""What the spec says a server answers: the fuzzer's oracle, written from docs/protocol.md.

Independent of protocol/ on purpose (the code under test): the bytes below are
the spec's literals, and the framing rules are re-read from the spec, so a bug
in protocol/'s codecs cannot hide itself by also being in the expectation.
"""

from __future__ import annotations

from dataclasses import dataclass

# docs/protocol.md, "Two constants carry the tutorial's words".
GREETING = "测试成功!\n".encode()
ACK_PREFIX = "收到的信息:".encode()
# docs/protocol.md, "Errors": `ERR ` + a reason code.
TOO_LARGE = b"ERR too-large"
# docs/protocol.md, seed: the server reads once, at most 8192 bytes.
SEED_READ_SIZE = 8192


def frame(body: bytes) -> bytes:
    """docs/protocol.md, frame: a 4-byte big-endian length of the body, then the body."""
    return len(body).to_bytes(4, "big") + body


def greeting(framing: str) -> bytes:
    """The greeting on the wire: every connection starts with it, in its framing."""
    return frame(GREETING) if framing == "frame" else GREETING


def ack(framing: str, body: bytes) -> bytes:
    """The answer to one message `body` on the wire."""
    return frame(ACK_PREFIX + body) if framing == "frame" else ACK_PREFIX + body + b"\n"


def too_large(framing: str) -> bytes:
    """The `too-large` error on the wire."""
    return frame(TOO_LARGE) if framing == "frame" else TOO_LARGE + b"\n"


def encode(framing: str, body: bytes) -> bytes:
    """One message from a client: line adds `\\n`, frame a length; seed sends it raw."""
    if framing == "line":
        if b"\n" in body:
            raise ValueError("a line body cannot hold b'\\n'")
        return body + b"\n"
    return frame(body) if framing == "frame" else body


@dataclass(frozen=True, slots=True)
class Reading:
    """What a stream of client bytes means to a spec-abiding server.

    `messages`: the complete messages, in order, each answered; `too_large`:
    a message broke the limit (answered with the error after them, then close);
    `consumed`: bytes up to where the limit is certain (the rest races the close);
    `partial`: bytes of an unfinished message at the end (dropped at EOF).
    """

    messages: tuple[bytes, ...]
    too_large: bool
    consumed: int
    partial: int


def read_line(stream: bytes, limit: int) -> Reading:
    """docs/protocol.md, line and "Limits": a body over `limit` (without its `\\n`) is too
    large as soon as its buffered part is over the limit."""
    messages: list[bytes] = []
    start = 0
    while True:
        end = stream.find(b"\n", start)
        body_end = len(stream) if end < 0 else end
        if body_end - start > limit:
            return Reading(tuple(messages), True, start + limit + 1, 0)
        if end < 0:
            return Reading(tuple(messages), False, len(stream), len(stream) - start)
        messages.append(stream[start:end])
        start = end + 1


def read_frame(stream: bytes, limit: int) -> Reading:
    """docs/protocol.md, frame and "Limits": a header announcing more than `limit` is too
    large as soon as the header is complete."""
    messages: list[bytes] = []
    start = 0
    while len(stream) - start >= 4:
        length = int.from_bytes(stream[start : start + 4], "big")
        if length > limit:
            return Reading(tuple(messages), True, start + 4, 0)
        if len(stream) - start - 4 < length:
            break
        messages.append(stream[start + 4 : start + 4 + length])
        start += 4 + length
    return Reading(tuple(messages), False, len(stream), len(stream) - start)


def read_seed(first_read: bytes, limit: int) -> Reading:
    """docs/protocol.md, seed: the one read (at most 8192 bytes) is the message."""
    message = first_read[:SEED_READ_SIZE]
    if len(message) > limit:
        return Reading((), True, len(message), 0)
    return Reading((message,) if message else (), False, len(message), 0)


def read(framing: str, stream: bytes, limit: int) -> Reading:
    """The Reading of `stream` on a `framing` listener with --max-message-bytes `limit`."""
    if framing == "line":
        return read_line(stream, limit)
    if framing == "frame":
        return read_frame(stream, limit)
    return read_seed(stream, limit)


def idle_timeout(framing: str) -> bytes:
    """docs/protocol.md, "Errors": the `idle-timeout` error on the wire."""
    body = b"ERR idle-timeout"
    return frame(body) if framing == "frame" else body + b"\n"
