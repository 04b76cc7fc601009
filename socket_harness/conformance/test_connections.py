"""max-connections/* and backlog/*: what a target does with connections beyond its slots."""

from __future__ import annotations

import contextlib
import time

import pytest

from ..observe import accept_queue_depth
from ..plugin import TargetPeer
from ..profile import Backlog, MaxConnections, Target
from ..wire import WirePeer
from ._helpers import assert_bytes, exchange, greeted, preferred, try_connect, wait_for

# How long a queued connection must stay without its greeting while every slot is held.
QUIET = 1.0  # seconds
SLOT_FREED_WITHIN = 5.0  # seconds
EXTRA = 2  # connects beyond what the accept queue holds


def _answered_busy(conn: WirePeer, busy: bytes) -> bool:
    """Whether the first bytes on `conn` are the `busy` error (they stay in conn.received)."""
    first = conn.await_bytes(1, "a greeting or busy")
    while busy.startswith(bytes(conn.received)) and len(conn.received) < len(busy):
        first = conn.await_bytes(len(conn.received) + 1, "a greeting or busy")
    return first[: len(busy)] == busy


def assert_no_bytes_within(conn: WirePeer, seconds: float) -> None:
    conn.sock.settimeout(seconds)
    with contextlib.suppress(TimeoutError):
        data = conn.sock.recv(1)
        raise AssertionError(f"a connection over the limit got {data!r} within {seconds} s")


@pytest.mark.check("max-connections/reject-busy")
@pytest.mark.covers("errors/busy", "server/overflow-reject", "server/max-connections")
@pytest.mark.promise("max_connections", overflow="reject")
def test_the_connection_over_the_limit_is_told_busy(
    target_peer: TargetPeer, target_promise: MaxConnections
) -> None:
    listener = preferred(target_peer)
    holders = [greeted(target_peer, listener) for _ in range(target_promise.limit)]
    try:
        with target_peer.connect(listener) as extra:
            expected = target_peer.expect.error(listener.framing, "busy")
            assert_bytes(expected, extra.read_until_close("busy"))
        holders.pop().close()
        # The target learns of that close a moment later: until then `busy` is still right.
        busy = target_peer.expect.error(listener.framing, "busy")
        deadline = time.monotonic() + SLOT_FREED_WITHIN
        while True:
            conn = target_peer.connect(listener)
            got = conn.read_until_close("busy") if _answered_busy(conn, busy) else None
            if got is None:
                break
            conn.close()
            assert time.monotonic() < deadline, f"still busy {SLOT_FREED_WITHIN} s after a close"
            time.sleep(0.05)
        with conn:  # a freed slot is taken again
            expected = target_peer.expect.greeting(listener.framing)
            assert_bytes(expected, conn.take(len(expected), "the greeting"))
            exchange(target_peer, conn, listener, b"after busy")
    finally:
        for holder in holders:
            holder.close()


@pytest.mark.check("max-connections/pause-queues")
@pytest.mark.covers("server/max-connections", "server/overflow-pause-backlog")
@pytest.mark.promise("max_connections", overflow="pause")
def test_the_connection_over_the_limit_waits_for_a_slot(
    target_peer: TargetPeer, target_promise: MaxConnections
) -> None:
    listener = preferred(target_peer)
    holders = [greeted(target_peer, listener) for _ in range(target_promise.limit)]
    try:
        with target_peer.connect(listener) as waiting:
            pid = target_peer.service.pid
            if pid is not None:  # the kernel holds it: one in the accept queue (/proc)
                wait_for(
                    lambda: accept_queue_depth(pid, listener.port) == 1,
                    QUIET,
                    "the connection over the limit in the accept queue",
                )
            assert_no_bytes_within(waiting, QUIET)
            holders.pop().close()
            expected = target_peer.expect.greeting(listener.framing)
            assert_bytes(expected, waiting.take(len(expected), "the greeting once a slot freed"))
            exchange(target_peer, waiting, listener, b"after the wait")
        for index, holder in enumerate(holders):  # the held ones were never disturbed
            exchange(target_peer, holder, listener, f"still held {index}".encode())
    finally:
        for holder in holders:
            holder.close()


@pytest.mark.check("backlog/queues-b-plus-one")
@pytest.mark.covers("server/backlog", "server/overflow-pause-backlog")
@pytest.mark.promise("backlog")
def test_backlog_queues_b_plus_one_and_serves_them_in_order(
    target: Target, target_peer: TargetPeer, target_promise: Backlog
) -> None:
    """With every slot held, B+1 connects complete, later ones time out (the kernel drops
    their SYN), the accept queue holds B+1 (read from /proc when there is a container), and
    the queued are greeted in connect order as slots free (as many as max_sessions allows)."""
    backlog = target_promise.backlog
    listener = preferred(target_peer)
    host, port = target_peer.service.address(listener)
    holders = [greeted(target_peer, listener) for _ in range(target_promise.max_connections)]
    outcomes = [try_connect(host, port) for _ in range(backlog + 1 + EXTRA)]
    queued = [sock for sock in outcomes if sock is not None]
    try:
        completed = [sock is not None for sock in outcomes]
        assert completed == [True] * (backlog + 1) + [False] * EXTRA, (
            f"connects completed, in order: {completed}"
        )
        pid = target_peer.service.pid
        if pid is not None:
            assert accept_queue_depth(pid, listener.port) == backlog + 1
        sessions = target.promises.max_sessions
        served = len(queued)
        if sessions is not None:
            served = min(served, sessions.limit - target_promise.max_connections)
        for holder in holders:
            holder.close()
        expected = target_peer.expect.greeting(listener.framing)
        for index, sock in enumerate(queued[:served]):
            conn = WirePeer.adopt(f"{target.name} queued {index}", sock)
            if expected:
                assert_bytes(expected, conn.take(len(expected), f"queued {index}'s greeting"))
            exchange(target_peer, conn, listener, f"queued {index}".encode())
            conn.close()
    finally:
        for holder in holders:
            holder.close()
        for sock in queued:
            with contextlib.suppress(OSError):
                sock.close()
