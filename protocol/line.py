"""`line` framing: each message ends with `\\n`; pipelining allowed."""

from __future__ import annotations

from .constants import NEWLINE
from .errors import MessageTooLarge


def encode_line(body: bytes) -> bytes:
    """One line on the wire. The body must not contain `\\n`."""
    if NEWLINE in body:
        raise ValueError("a line body cannot contain b'\\n'")
    return body + NEWLINE


class LineDecoder:
    """Bytes in, complete line bodies (without `\\n`) out.

    A body longer than `max_message_bytes` raises MessageTooLarge as soon as
    that is certain, without waiting for its end. A partial line is kept
    until more data arrives; at EOF it is simply not a message.
    """

    __slots__ = ("_buffer", "_max", "_scan_from")

    def __init__(self, max_message_bytes: int) -> None:
        self._buffer = bytearray()
        self._max = max_message_bytes
        self._scan_from = 0

    @property
    def buffered(self) -> int:
        """Bytes of an incomplete message held so far."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[bytes]:
        buffer = self._buffer
        buffer += data
        messages: list[bytes] = []
        start = 0
        scan = self._scan_from
        while True:
            end = buffer.find(NEWLINE, scan)
            if end < 0:
                break
            if end - start > self._max:
                raise MessageTooLarge(end - start, self._max, messages)
            messages.append(bytes(buffer[start:end]))
            start = scan = end + 1
        if start:
            del buffer[:start]
        if len(buffer) > self._max:
            raise MessageTooLarge(len(buffer), self._max, messages)
        self._scan_from = len(buffer)
        return messages
