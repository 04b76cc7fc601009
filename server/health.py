"""The health endpoint: every connection gets `OK ...\n` and a close, from the event loop itself.

An answer proves the loop runs and the server is serving (not merely that a port
is open). Health connections are not sessions, take no slot and log nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import cast

from .config import HostPort

HEALTHY = b"OK"


class HealthProtocol(asyncio.Protocol):
    __slots__ = ("_status",)

    def __init__(self, status: Callable[[], str]) -> None:
        self._status = status

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A probe that already left makes the write fail quietly: asyncio logs
        # OSErrors of a transport only in debug mode.
        transport = cast(asyncio.Transport, transport)  # uvloop's are not asyncio subclasses
        transport.write(HEALTHY + b" " + self._status().encode() + b"\n")
        transport.close()


async def start_health(address: HostPort, status: Callable[[], str]) -> asyncio.Server:
    """Listen on `address` (port 0 = ephemeral); raises OSError when it cannot."""
    loop = asyncio.get_running_loop()
    return await loop.create_server(
        lambda: HealthProtocol(status), address.host, address.port, backlog=16
    )
