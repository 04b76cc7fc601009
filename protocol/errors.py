"""Protocol-level errors raised by the sans-IO decoders."""

from __future__ import annotations


class ProtocolError(Exception):
    """The byte stream broke a rule of its framing."""


class MessageTooLarge(ProtocolError):
    """A message (or a frame header's announced length) exceeds the limit."""

    def __init__(self, size: int, limit: int, complete: list[bytes] | None = None) -> None:
        super().__init__(f"message of {size} bytes exceeds the limit of {limit}")
        self.size = size
        self.limit = limit
        # Messages completed in the same feed before the oversize one: still owed answers.
        self.complete = complete or []
