"""The health endpoint: every connection gets `OK ...\n` and a close, from the event loop itself.

An answer proves the loop runs and the server is serving (not merely that a port
is open). Health connections are not sessions, take no slot and log nothing.
The close is the lingering one (server/outbox.py): a check that sends a request
first (`GET / HTTP/1.0`, as curl, wget or an orchestrator's HTTP check does)
still reads the whole answer and an EOF, not a reset.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from .config import HostPort
from .last_reply import LastReply

HEALTHY = b"OK"


async def start_health(address: HostPort, status: Callable[[], str]) -> asyncio.Server:
    """Listen on `address` (port 0 = ephemeral); raises OSError when it cannot.

    `status()` gives the text after `OK ` (e.g. `connections=2 listeners=3`).
    """
    loop = asyncio.get_running_loop()

    def answer() -> bytes:
        return HEALTHY + b" " + status().encode() + b"\n"

    return await loop.create_server(
        lambda: LastReply(answer), address.host, address.port, backlog=16
    )
