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
