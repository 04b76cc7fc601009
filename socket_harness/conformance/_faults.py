"""The faults a misbehaving peer commits, each as one action on a running target.

The faults/* checks assert what each must lead to; faults/fds-and-memory-back-to-baseline
commits them all and then looks at the target's process. Sizes are bytes, times seconds.
"""

from __future__ import annotations

import selectors
import socket
import time

import pytest

from ..plugin import TargetPeer
from ..profile import Framing, Listener, Target
from ..wire import ServerSilent, WirePeer
from ._helpers import greeted

FLOOD = 300  # connects at once: far past any backlog the shipped targets declare
FLOOD_SETTLE = 3.0  # seconds for the flood's connects to complete or time out
BLOCKED_AFTER = 1.0  # seconds a send may wait before the target counts as not reading
GIVE_UP_AFTER = 64 * 1024 * 1024  # bytes a never-reading peer sends before it gives up
NEVER_READ_BODY = 16 * 1024  # bytes per message of the never-reading peer (at most)
SEGMENT = 1024  # bytes one write may hold and still reach the target as one TCP segment


def persistent(target: Target) -> list[Listener]:
    """The target's line and frame listeners: where one connection carries many messages."""
    return [item for item in target.listeners if item.framing is not Framing.SEED]


def persistent_or_skip(target: Target) -> list[Listener]:
    """`persistent(target)`; skipped as not applicable to a seed-only target."""
    found = persistent(target)
    if not found:
        pytest.skip("not applicable: seed listeners only (one message per connection)")
    return found


@pytest.fixture
def many_sessions(target: Target) -> None:
    """Skip as not applicable when the target, started as it is, exits after a few sessions
    (a max_sessions promise with no setup of its own): a check that makes many connections
    would end it. Used as `@pytest.mark.usefixtures("many_sessions")`, so the skip comes
    before the target is started (and outside any hypothesis example)."""
    sessions = target.promises.max_sessions
    if sessions is not None and target.setup_for(sessions) == target.setup:
        pytest.skip(
            f"not applicable: the target exits after {sessions.limit} sessions (max_sessions)"
        )


def limit_of(target: Target) -> int | None:
    """The declared message limit in bytes (None: the target promises none)."""
    promise = target.promises.max_message_bytes
    return promise.limit if promise else None


def reset_mid_message(peer: TargetPeer, listener: Listener) -> None:
    """Greeted, half a message (none on seed: any first read is answered), then a TCP RST."""
    conn = greeted(peer, listener)
    if listener.framing is not Framing.SEED:
        conn.write(peer.expect.message(listener.framing, b"half of it")[:6])
    conn.reset()


def half_closed_answers(peer: TargetPeer, listener: Listener, bodies: list[bytes]) -> bytes:
    """Write `bodies` as messages at once (seed: the first only), half-close, and return
    every byte received after the greeting until the target closes."""
    sent = bodies[:1] if listener.framing is Framing.SEED else bodies
    with greeted(peer, listener) as conn:
        conn.write(b"".join(peer.expect.message(listener.framing, body) for body in sent))
        conn.half_close()
        return conn.read_until_close("every answer, then the close")


def never_reading(peer: TargetPeer, listener: Listener, limit: int | None) -> int | None:
    """Send messages on `listener` and read nothing, until a send blocks for BLOCKED_AFTER
    seconds or the target ends the connection: the bytes sent then. None: it took
    GIVE_UP_AFTER bytes without blocking. The connection is reset afterwards."""
    body = b"n" * min(NEVER_READ_BODY, limit if limit is not None else NEVER_READ_BODY)
    message = peer.expect.message(listener.framing, body)
    conn = greeted(peer, listener)
    conn.sock.settimeout(BLOCKED_AFTER)
    conn.timeout = BLOCKED_AFTER
    sent = 0
    try:
        while sent < GIVE_UP_AFTER:
            conn.write(message)
            sent += len(message)
        return None
    except (ServerSilent, ConnectionError):  # blocked, or the target ended it: bounded
        return sent
    finally:
        conn.reset()


def connect_flood(host: str, port: int, count: int = FLOOD) -> int:
    """`count` non-blocking connects at once, left FLOOD_SETTLE s to complete, then all
    closed: how many completed (the kernel drops SYNs past a full accept queue)."""
    selector = selectors.DefaultSelector()
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.setblocking(False)
            sock.connect_ex((host, port))
            selector.register(sock, selectors.EVENT_WRITE)
            socks.append(sock)
        pending = len(socks)
        deadline = time.monotonic() + FLOOD_SETTLE
        while pending and time.monotonic() < deadline:
            for key, _ in selector.select(timeout=0.2):
                selector.unregister(key.fileobj)
                pending -= 1
        return sum(1 for s in socks if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0)
    finally:
        selector.close()
        for sock in socks:
            sock.close()


def served_again(peer: TargetPeer, listener: Listener, within: float) -> WirePeer:
    """A new connection to `listener` that is greeted, retried until `within` seconds passed
    (a target may still be working through what a fault left it). The last failure is
    raised when none is."""
    deadline = time.monotonic() + within
    while True:
        try:
            return greeted(peer, listener)
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
