"""The plain socket peer, as the oracle tests name it: its one copy is socket_harness/wire.py."""

from socket_harness.wire import (
    SHOW_BYTES,
    TIMEOUT,
    ServerSilent,
    WirePeer,
    first_difference,
    show,
    unacknowledged,
)

__all__ = [
    "SHOW_BYTES",
    "TIMEOUT",
    "ServerSilent",
    "WirePeer",
    "first_difference",
    "show",
    "unacknowledged",
]
