"""idle-timeout/*, graceful-stop/*, max-sessions/*: how a target ends connections and itself."""

from __future__ import annotations

import socket
import time

import pytest

from ..plugin import TargetPeer
from ..profile import GracefulStop, IdleTimeout, MaxSessions, Target
from ._helpers import CONNECT_TIMEOUT, assert_bytes, exchange, greeted, preferred

SLACK = 5.0  # seconds a target may take beyond what it promised, on a busy machine


def refuses(host: str, port: int) -> bool:
    """True once a connect to host:port is refused or times out (nothing accepts there)."""
    try:
        socket.create_connection((host, port), timeout=CONNECT_TIMEOUT).close()
    except OSError:
        return True
    return False


@pytest.mark.check("idle-timeout/closes-silent-peer")
@pytest.mark.promise("idle_timeout")
def test_a_silent_peer_is_told_idle_timeout_and_closed(
    target_peer: TargetPeer, target_promise: IdleTimeout
) -> None:
    listener = preferred(target_peer)
    with greeted(target_peer, listener) as conn:
        conn.timeout = target_promise.seconds + SLACK
        started = time.monotonic()
        got = conn.read_until_close("idle-timeout")
        waited = time.monotonic() - started
    assert_bytes(target_peer.expect.error(listener.framing, "idle-timeout"), got)
    assert waited >= target_promise.seconds * 0.9, f"closed after {waited:.2f} s"


@pytest.mark.check("graceful-stop/drains-and-exits", container=True)
@pytest.mark.promise("graceful_stop")
def test_a_graceful_stop_answers_in_flight_tells_idle_and_exits(
    target: Target, target_peer: TargetPeer, target_promise: GracefulStop
) -> None:
    """A message sent before the signal is answered; the idle peer is then told
    `shutting-down` and closed; new connects fail; the exit code is drained_exit_code."""
    listener = preferred(target_peer)
    host, port = target_peer.service.address(listener)
    with greeted(target_peer, listener) as conn:
        conn.write(target_peer.expect.message(listener.framing, b"in flight"))
        target_peer.service.send_signal(target_promise.signal)
        conn.timeout = target_promise.drain_timeout + SLACK
        expected = target_peer.expect.ack(listener.framing, b"in flight")
        expected += target_peer.expect.error(listener.framing, "shutting-down")
        assert_bytes(expected, conn.read_until_close("the answer, then shutting-down"))
    code = target_peer.service.wait_exit(target_promise.drain_timeout + SLACK)
    assert code == target_promise.drained_exit_code
    assert refuses(host, port)


@pytest.mark.check("max-sessions/exits-after-n", container=True)
@pytest.mark.promise("max_sessions")
def test_after_n_sessions_the_target_exits(
    target: Target, target_peer: TargetPeer, target_promise: MaxSessions
) -> None:
    """N connections, one after another, each served; then the target exits `exit_code`."""
    listener = preferred(target_peer)
    for index in range(target_promise.limit):
        with greeted(target_peer, listener) as conn:
            exchange(target_peer, conn, listener, f"session {index}".encode())
    code = target_peer.service.wait_exit(SLACK * 2)
    assert code == target_promise.exit_code
