"""One codec per framing: how greetings, acks, errors and messages look on the wire."""

from __future__ import annotations

import struct
from typing import Protocol

from .constants import ACK_PREFIX, ERR_PREFIX, GREETING, NEWLINE, ErrorReason, Framing
from .frame import FrameDecoder, encode_frame
from .line import LineDecoder, encode_line
from .seed import SeedDecoder

_ACK_HEADER = struct.Struct(">I")


class Decoder(Protocol):
    """Bytes in, complete message bodies out (raises MessageTooLarge)."""

    @property
    def buffered(self) -> int: ...

    def feed(self, data: bytes) -> list[bytes]: ...


class Codec(Protocol):
    framing: Framing
    greeting: bytes  # the greeting as sent on the wire
    greeting_body: bytes  # the greeting as a reply decoder yields it

    def encode_message(self, body: bytes) -> bytes: ...
    def encode_ack(self, body: bytes) -> bytes: ...
    def encode_error(self, reason: ErrorReason) -> bytes: ...
    def message_decoder(self, max_message_bytes: int) -> Decoder: ...


class SeedCodec:
    framing = Framing.SEED
    greeting = GREETING
    greeting_body = GREETING

    def encode_message(self, body: bytes) -> bytes:
        return body

    def encode_ack(self, body: bytes) -> bytes:
        return ACK_PREFIX + body + NEWLINE

    def encode_error(self, reason: ErrorReason) -> bytes:
        return ERR_PREFIX + reason.value.encode() + NEWLINE

    def message_decoder(self, max_message_bytes: int) -> Decoder:
        return SeedDecoder(max_message_bytes)


class LineCodec:
    framing = Framing.LINE
    greeting = GREETING
    greeting_body = GREETING[:-1]

    def encode_message(self, body: bytes) -> bytes:
        return encode_line(body)

    def encode_ack(self, body: bytes) -> bytes:
        # The acked body came from a decoded line, so it holds no newline.
        return ACK_PREFIX + body + NEWLINE

    def encode_error(self, reason: ErrorReason) -> bytes:
        return ERR_PREFIX + reason.value.encode() + NEWLINE

    def message_decoder(self, max_message_bytes: int) -> Decoder:
        return LineDecoder(max_message_bytes)


class FrameCodec:
    framing = Framing.FRAME
    greeting = encode_frame(GREETING)
    greeting_body = GREETING

    def encode_message(self, body: bytes) -> bytes:
        return encode_frame(body)

    def encode_ack(self, body: bytes) -> bytes:
        # One copy of the body, not two (prefix + body, then header + that).
        return b"".join((_ACK_HEADER.pack(len(ACK_PREFIX) + len(body)), ACK_PREFIX, body))

    def encode_error(self, reason: ErrorReason) -> bytes:
        return encode_frame(ERR_PREFIX + reason.value.encode())

    def message_decoder(self, max_message_bytes: int) -> Decoder:
        return FrameDecoder(max_message_bytes)


CODECS: dict[Framing, Codec] = {
    Framing.SEED: SeedCodec(),
    Framing.LINE: LineCodec(),
    Framing.FRAME: FrameCodec(),
}


def codec_for(framing: Framing | str) -> Codec:
    return CODECS[Framing(framing)]


def reply_limit(max_message_bytes: int) -> int:
    """Largest reply body an ack of a `max_message_bytes` message can have."""
    return len(ACK_PREFIX) + max_message_bytes
