"""The wire constants a target speaks: its greeting (or none), ack prefix and error prefix.

The defaults are docs/protocol.md's (`protocol/constants.py`), so a client made
without any speaks to this project's server byte for byte. Other targets declare
their own in their profile's `[wire]` table (docs/targets.md), e.g. a plain line
echo such as `socat TCP-LISTEN:9000,fork EXEC:cat`: no greeting, an empty ack
prefix. The framings (where a reply ends, the frame header) stay docs/protocol.md's.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..protocol import (
    ACK_PREFIX,
    ERR_PREFIX,
    GREETING,
    Ack,
    ErrorReason,
    Framing,
    Greeting,
    ProtocolError,
    Reply,
    ServerError,
    encode_frame,
)

NEWLINE = b"\n"


@dataclass(frozen=True, slots=True)
class Wire:
    """`greeting`: the bytes a target sends first on every connection (as-is on seed and
    line listeners, as one frame's body on frame listeners), or None for one that greets
    nobody. `ack_prefix`: what every answer has before the message (b"" for a plain
    echo). `error_prefix`: what an error reply has before its reason.

    Raises ValueError for an empty error prefix or an ack prefix that starts with the
    error prefix (docs/targets.md, `[wire]`: replies could not be told apart).
    """

    greeting: bytes | None = GREETING
    ack_prefix: bytes = ACK_PREFIX
    error_prefix: bytes = ERR_PREFIX

    def __post_init__(self) -> None:
        if not self.error_prefix:
            raise ValueError("the error prefix may not be empty")
        if self.ack_prefix.startswith(self.error_prefix):
            raise ValueError(
                f"the ack prefix {self.ack_prefix!r} starts with the error prefix "
                f"{self.error_prefix!r}: answers and errors could not be told apart"
            )
        if self.greeting == b"":
            raise ValueError("an empty greeting is no greeting: use None")

    @property
    def greets(self) -> bool:
        return self.greeting is not None

    def check_framing(self, framing: Framing) -> None:
        """ValueError when a line:// greeting does not end with `\\n`: a line reader could
        not tell where it ends and the first answer starts."""
        greeting = self.greeting
        if framing is Framing.LINE and greeting is not None and not greeting.endswith(NEWLINE):
            raise ValueError(f"on line:// the greeting must end with \\n: {self.greeting!r}")

    # --- bytes as sent on a `framing` listener (docs/protocol.md, "Framings") ---

    def _reply(self, framing: Framing, body: bytes) -> bytes:
        return encode_frame(body) if framing is Framing.FRAME else body + NEWLINE

    def greeting_bytes(self, framing: Framing) -> bytes:
        """The greeting as sent (b"" when there is none)."""
        if self.greeting is None:
            return b""
        return encode_frame(self.greeting) if framing is Framing.FRAME else self.greeting

    def greeting_body(self, framing: Framing) -> bytes | None:
        """The greeting as a line/frame reply decoder yields it (line: without its `\\n`)."""
        if self.greeting is None or framing is not Framing.LINE:
            return self.greeting
        return self.greeting.removesuffix(NEWLINE)

    def ack_bytes(self, framing: Framing, payload: bytes) -> bytes:
        return self._reply(framing, self.ack_prefix + payload)

    def error_bytes(self, framing: Framing, reason: ErrorReason) -> bytes:
        return self._reply(framing, self.error_prefix + reason.value.encode())

    # --- what bytes mean ---

    def name_body(self, body: bytes, greeting_body: bytes | None, *, first: bool) -> Reply:
        """One line/frame reply body named; ProtocolError when it fits no reply.

        `first`: the connection's first reply, where a greeting is due. An error
        (error prefix + a reason of docs/protocol.md) wins over an empty ack prefix's
        echo of the same bytes: an echo target cannot be told an error's bytes apart.
        """
        if first and greeting_body is not None and body == greeting_body:
            return Greeting()
        error = self._error(body)
        if error is not None:
            return error
        if body.startswith(self.ack_prefix):
            return Ack(body[len(self.ack_prefix) :])
        if body.startswith(self.error_prefix):
            code = body[len(self.error_prefix) :].decode("ascii", "replace")
            raise ProtocolError(f"unknown error reason {code!r}")
        if greeting_body is not None and body == greeting_body:
            return Greeting()  # a second one: the caller says so
        raise ProtocolError(f"unexpected reply body {body[:80]!r}")

    def _error(self, body: bytes) -> ServerError | None:
        if not body.startswith(self.error_prefix):
            return None
        try:
            return ServerError(ErrorReason(body[len(self.error_prefix) :].decode("ascii")))
        except (UnicodeDecodeError, ValueError):
            return None

    def seed_answer(self, rest: bytes) -> Reply:
        """What a seed server sent after its greeting, up to its close, named
        (docs/protocol.md, `seed`: the answer or the error, then `\\n`).

        Raises ProtocolError for bytes that fit neither.
        """
        if rest.endswith(NEWLINE):
            try:
                named: Reply | None = self.name_body(rest[:-1], None, first=False)
            except ProtocolError:
                named = None
            if isinstance(named, Ack | ServerError):
                return named
        raise ProtocolError(f"unexpected bytes from a seed server: {rest[:80]!r}")

    def could_start_answer(self, data: bytes | bytearray) -> bool:
        """Whether `data` may still become a seed answer or error (garbage fails sooner)."""
        return _could_start(data, self.ack_prefix) or _could_start(data, self.error_prefix)


def _could_start(data: bytes | bytearray, prefix: bytes) -> bool:
    n = min(len(data), len(prefix))
    return data[:n] == prefix[:n]


DEFAULT_WIRE = Wire()
