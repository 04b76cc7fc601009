"""socket-harness client: sync and asyncio APIs over `protocol/`, a CLI and a load generator.

    import client
    with client.connect("line://127.0.0.1:9001") as conn:
        conn.greeting()
        assert conn.request(b"hello") == b"hello"

`client.aio` mirrors this API with coroutines; `client.errors` holds the typed errors.
"""

from . import aio, errors
from .aio import AsyncConnection
from .errors import (
    ClientError,
    ClientTimeout,
    ClosedEarly,
    ConnectFailed,
    ServerRefused,
    UnexpectedBytes,
)
from .sync import Connection, connect, wait_ready

__all__ = [
    "AsyncConnection",
    "ClientError",
    "ClientTimeout",
    "ClosedEarly",
    "ConnectFailed",
    "Connection",
    "ServerRefused",
    "UnexpectedBytes",
    "aio",
    "connect",
    "errors",
    "wait_ready",
]
