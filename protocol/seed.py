"""`seed` framing: the tutorial's exchange, byte for byte.

Server side: greeting, then ONE read of at most 8192 bytes, answered with
`收到的信息:` + those bytes + `\\n`, then close. There is no message boundary
on the wire: whatever the single read returns is the message.
"""

from __future__ import annotations

from dataclasses import dataclass

from .constants import ACK_PREFIX, ERR_PREFIX, GREETING, NEWLINE, SEED_READ_SIZE, ErrorReason
from .errors import MessageTooLarge, ProtocolError


class SeedDecoder:
    """Yields the first read (capped at 8192 bytes) as the one message; ignores the rest."""

    __slots__ = ("_done", "_max")

    def __init__(self, max_message_bytes: int) -> None:
        self._max = max_message_bytes
        self._done = False

    @property
    def buffered(self) -> int:
        return 0

    @property
    def done(self) -> bool:
        """True once the one message has been taken."""
        return self._done

    def feed(self, data: bytes) -> list[bytes]:
        if self._done or not data:
            return []
        self._done = True
        message = data[:SEED_READ_SIZE]
        if len(message) > self._max:
            raise MessageTooLarge(len(message), self._max)
        return [message]


@dataclass(frozen=True, slots=True)
class SeedResponse:
    """What a seed server sent before closing, taken apart."""

    greeted: bool
    answer: bytes | None  # the echoed payload, when an ack came
    error: ErrorReason | None  # the reason, when `ERR ...` came
    raw: bytes


def parse_seed_response(data: bytes) -> SeedResponse:
    """Split everything a seed server sent (read until EOF) into its parts.

    Raises ProtocolError on bytes that fit no documented reply.
    """
    greeted = data.startswith(GREETING)
    rest = data[len(GREETING) :] if greeted else data
    if not rest:
        return SeedResponse(greeted, None, None, data)
    if rest.startswith(ACK_PREFIX) and rest.endswith(NEWLINE):
        return SeedResponse(greeted, rest[len(ACK_PREFIX) : -1], None, data)
    if rest.startswith(ERR_PREFIX) and rest.endswith(NEWLINE):
        code = rest[len(ERR_PREFIX) : -1].decode("ascii", "replace")
        try:
            return SeedResponse(greeted, None, ErrorReason(code), data)
        except ValueError:
            pass
    raise ProtocolError(f"unexpected bytes from a seed server: {data[:80]!r}")
