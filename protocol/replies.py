"""Replies a server sends, as values: what a reply body means."""

from __future__ import annotations

from dataclasses import dataclass

from .constants import ACK_PREFIX, ERR_PREFIX, ErrorReason
from .errors import ProtocolError


@dataclass(frozen=True, slots=True)
class Greeting:
    """The server's `测试成功!` hello."""


@dataclass(frozen=True, slots=True)
class Ack:
    """`收到的信息:` + payload: the server received `payload`."""

    payload: bytes


@dataclass(frozen=True, slots=True)
class ServerError:
    """`ERR <reason>`: the server refused or gave up."""

    reason: ErrorReason


Reply = Greeting | Ack | ServerError


def classify_body(body: bytes, greeting_body: bytes) -> Reply:
    """Name one reply body (line without `\\n`, or frame body).

    An ack always starts with `收到的信息:` and an error with `ERR `, so the
    two can never be confused. Anything else raises ProtocolError.
    """
    if body.startswith(ACK_PREFIX):
        return Ack(body[len(ACK_PREFIX) :])
    if body.startswith(ERR_PREFIX):
        code = body[len(ERR_PREFIX) :].decode("ascii", "replace")
        try:
            return ServerError(ErrorReason(code))
        except ValueError:
            raise ProtocolError(f"unknown error reason {code!r}") from None
    if body == greeting_body:
        return Greeting()
    raise ProtocolError(f"unexpected reply body {body[:80]!r}")
