"""Typed client errors: each names what went wrong and the CLI exit code for it."""

from __future__ import annotations

from typing import ClassVar

from ..protocol import ErrorReason
from .streams import BROKEN_PIPE_EXIT, INTERRUPTED_EXIT, OUTPUT_FAILED_EXIT


class ClientError(Exception):
    """Base of every error the client raises for a peer's behaviour."""

    exit_code: ClassVar[int] = 1
    kind: ClassVar[str] = "client-error"

    @property
    def label(self) -> str:
        """A short name to count errors by (the load report groups on it)."""
        return self.kind


class ConnectFailed(ClientError):
    """The TCP connection could not be made (refused, unreachable, timed out)."""

    exit_code = 3
    kind = "connect-failed"


class ClientTimeout(ClientError):
    """Connected, but what we waited for did not come in time.

    `waiting_for` names it ("the greeting", "the answer to message 2"); `hint`,
    when given, says what the silence most likely means.
    """

    exit_code = 4
    kind = "timeout"

    def __init__(self, waiting_for: str, seconds: float, hint: str = "") -> None:
        message = f"waited {seconds:g}s for {waiting_for}"
        super().__init__(f"{message}; {hint}" if hint else message)
        self.waiting_for = waiting_for
        self.seconds = seconds


# The name the shared contract uses; ClientTimeout avoids shadowing the builtin.
Timeout = ClientTimeout


class ClosedEarly(ClientError):
    """The server closed (or reset) the connection before the reply we waited for."""

    exit_code = 5
    kind = "closed-early"


class ServerRefused(ClientError):
    """The server answered `ERR <reason>`."""

    exit_code = 6
    kind = "server-error"

    def __init__(self, reason: ErrorReason) -> None:
        super().__init__(f"the server answered ERR {reason.value}")
        self.reason = reason

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.reason.value}"


class UnexpectedBytes(ClientError):
    """The server sent bytes that fit no documented reply (or the wrong one)."""

    exit_code = 7
    kind = "unexpected-bytes"

    def __init__(self, message: str, data: bytes = b"") -> None:
        super().__init__(f"{message}: {data[:80]!r}" if data else message)
        self.data = data


EXIT_CODES: dict[int, str] = {
    0: "success",
    2: "usage error (one line on stderr)",
    ConnectFailed.exit_code: "could not connect",
    ClientTimeout.exit_code: "timed out (connected, but no reply in time)",
    ClosedEarly.exit_code: "the server closed the connection early",
    ServerRefused.exit_code: "the server answered ERR <reason>",
    UnexpectedBytes.exit_code: "unexpected bytes from the server",
    OUTPUT_FAILED_EXIT: "stdout could not be written (closed at start, or a write failed)",
    INTERRUPTED_EXIT: "interrupted (Ctrl-C, SIGINT)",
    BROKEN_PIPE_EXIT: "stdout's reader closed the pipe (as `| head`): nothing more printed",
}
