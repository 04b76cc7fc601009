"""What several checks share: choosing a listener, one message's exchange, cut writes."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest

from ..plugin import TargetPeer
from ..profile import Framing, Listener
from ..wire import WirePeer, first_difference

CONNECT_TIMEOUT = 0.5  # seconds: a connect on a bridge takes well under a millisecond


def assert_bytes(expected: bytes, got: bytes) -> None:
    """`got == expected`, said as where they part (escaped, in hex) when not."""
    assert got == expected, first_difference(expected, got)


def preferred(peer: TargetPeer, *order: Framing) -> Listener:
    """The first listener of the first framing in `order` the target has (default: line,
    frame, seed): a persistent connection where there is one."""
    for framing in order or (Framing.LINE, Framing.FRAME, Framing.SEED):
        found = peer.listeners(framing)
        if found:
            return found[0]
    pytest.fail("the target declares no listener", pytrace=False)


def greeted(peer: TargetPeer, listener: Listener) -> WirePeer:
    """A new connection to `listener` whose greeting (if the profile declares one) arrived."""
    conn = peer.connect(listener)
    expected = peer.expect.greeting(listener.framing)
    if expected:
        assert_bytes(expected, conn.take(len(expected), "the greeting"))
    return conn


def exchange(peer: TargetPeer, conn: WirePeer, listener: Listener, body: bytes) -> None:
    """Send `body` as one message on `conn` and check its answer (seed: and the close)."""
    conn.write(peer.expect.message(listener.framing, body))
    expected = peer.expect.ack(listener.framing, body)
    if listener.framing is Framing.SEED:
        assert_bytes(expected, conn.read_until_close("the answer"))
    else:
        assert_bytes(expected, conn.take(len(expected), "the answer"))


def try_connect(host: str, port: int) -> socket.socket | None:
    """A connected socket, or None when the connect timed out (refused raises)."""
    try:
        return socket.create_connection((host, port), timeout=CONNECT_TIMEOUT)
    except TimeoutError:
        return None


def write_in_pieces(conn: WirePeer, data: bytes, plan: Sequence[int], pause: float) -> None:
    """`data` in writes of the plan's sizes (bytes; the rest in one), `pause` seconds apart.

    Nagle is off on a WirePeer, so each write leaves as its own segment(s)."""
    start = 0
    for size in [*plan, len(data)]:
        piece = data[start : start + size]
        if not piece:
            break
        if start and pause:
            time.sleep(pause)
        conn.write(piece)
        start += size


@contextlib.contextmanager
def paused(service: Any) -> Iterator[None]:
    """The target's main process stopped (SIGSTOP) for the block, continued (SIGCONT) after
    it, even on error: bytes sent meanwhile wait in its receive queue, so its next read
    finds them all at once whatever the segments. Needs a container (TargetProblem)."""
    service.send_signal("SIGSTOP")
    try:
        yield
    finally:
        service.send_signal("SIGCONT")


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    """Poll `condition` every 20 ms until it holds; AssertionError naming `what` after
    `seconds`."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {seconds:.1f} s")
        time.sleep(0.02)
