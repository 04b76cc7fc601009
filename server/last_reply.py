"""A connection that gets one reply and the lingering close: health answers, `ERR busy`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import cast

from .outbox import LINGER_SECONDS, Outbox


class LastReply(asyncio.Protocol):
    """Writes `reply()` (bytes) as soon as the connection is made, then ends it via
    Outbox.finish: whatever the peer sends (an HTTP check's request, a client's
    first message) is read and discarded, so the close cannot reset the reply away.
    """

    __slots__ = ("_out", "_reply")

    def __init__(self, reply: Callable[[], bytes]) -> None:
        self._reply = reply
        self._out: Outbox | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio subclasses, hence the cast.
        out = Outbox(
            cast(asyncio.Transport, transport), high_water=None, idle_timeout=LINGER_SECONDS
        )
        self._out = out
        out.send(self._reply())
        out.finish()

    def data_received(self, data: bytes) -> None:
        pass  # never read: the reply does not depend on it

    def eof_received(self) -> bool:
        if self._out is not None:
            self._out.close()  # the peer is done: it has our reply
        return True

    def resume_writing(self) -> None:
        if self._out is not None:
            self._out.progress()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._out is not None:
            self._out.lost(exc)
