"""faults/*: a peer that misbehaves ends its own connection, never the target's service."""

from __future__ import annotations

import pytest

from ..plugin import TargetPeer
from ..profile import Framing, Target
from ._helpers import exchange, greeted


@pytest.mark.check("faults/reset-then-serves")
def test_a_reset_mid_message_then_a_normal_exchange(
    target: Target, target_peer: TargetPeer
) -> None:
    """On each listener: half a message, then a TCP RST; then a new connection is served."""
    for listener in target.listeners:
        conn = greeted(target_peer, listener)
        if listener.framing is not Framing.SEED:  # seed answers any first read: send nothing
            conn.write(target_peer.expect.message(listener.framing, b"half of it")[:6])
        conn.reset()
        with greeted(target_peer, listener) as again:
            exchange(target_peer, again, listener, b"after the reset")
