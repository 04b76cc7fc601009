"""`frame` framing: a 4-byte unsigned big-endian body length, then the body."""

from __future__ import annotations

import struct

from .constants import FRAME_HEADER_SIZE, FRAME_MAX_LENGTH
from .errors import MessageTooLarge

_HEADER = struct.Struct(">I")


def encode_frame(body: bytes) -> bytes:
    """One frame on the wire; any bytes, zero length allowed."""
    if len(body) > FRAME_MAX_LENGTH:
        raise ValueError("a frame body cannot exceed 2**32 - 1 bytes")
    return _HEADER.pack(len(body)) + body


class FrameDecoder:
    """Bytes in, complete frame bodies out.

    An announced length over `max_message_bytes` raises MessageTooLarge as
    soon as the header is complete, before any of the body is read.
    """

    __slots__ = ("_buffer", "_max")

    def __init__(self, max_message_bytes: int) -> None:
        self._buffer = bytearray()
        self._max = max_message_bytes

    @property
    def buffered(self) -> int:
        """Bytes of an incomplete frame (header included) held so far."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[bytes]:
        buffer = self._buffer
        if buffer:
            buffer += data
            source: bytes | bytearray = buffer
        else:
            source = data  # nothing held: parse `data` in place, keep only its tail
        messages: list[bytes] = []
        start = 0
        available = len(source)
        # Slices of a memoryview copy each body once (a bytearray slice would copy twice).
        with memoryview(source) as view:
            while available - start >= FRAME_HEADER_SIZE:
                (length,) = _HEADER.unpack_from(view, start)
                if length > self._max:
                    if source is data:
                        buffer += data  # hold what an always-buffering decoder would
                    raise MessageTooLarge(length, self._max, messages)
                end = start + FRAME_HEADER_SIZE + length
                if end > available:
                    break
                messages.append(bytes(view[start + FRAME_HEADER_SIZE : end]))
                start = end
            if source is data:
                buffer += view[start:]
        if source is buffer and start:
            del buffer[:start]
        return messages
