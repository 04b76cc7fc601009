"""payload/*: bytes in, the exact answer out, in order (docs/protocol.md, Framings)."""

from __future__ import annotations

import pytest

from ..plugin import TargetPeer
from ..profile import Framing, Target
from ._helpers import assert_bytes, exchange, greeted

# Bodies any target must answer exactly: text, every byte value, a few KiB. Line bodies
# leave out `\n` (it ends a line); all fit in one read of a seed listener (8192 bytes).
EVERY_BYTE = bytes(range(256))
BODIES = (b"hello", "测试 ünïcode".encode(), EVERY_BYTE, bytes(range(7, 250)) * 16)


def bodies_for(target: Target, framing: Framing) -> list[bytes]:
    """BODIES, without `\\n` on a line listener, cut to a declared message limit."""
    limit = target.promises.max_message_bytes
    found = []
    for body in BODIES:
        if framing is Framing.LINE:
            body = body.replace(b"\n", b"")
        found.append(body[: limit.limit] if limit else body)
    return found


@pytest.mark.check("payload/echo-exact")
def test_every_listener_answers_each_message_exactly(
    target: Target, target_peer: TargetPeer
) -> None:
    """Each body in its own connection (seed) or one after another on one connection."""
    for listener in target.listeners:
        bodies = bodies_for(target, listener.framing)
        if listener.framing is Framing.SEED:
            for body in bodies:
                with greeted(target_peer, listener) as conn:
                    exchange(target_peer, conn, listener, body)
            continue
        with greeted(target_peer, listener) as conn:
            for body in bodies:
                exchange(target_peer, conn, listener, body)


@pytest.mark.check("payload/pipelined-in-order")
def test_pipelined_messages_are_answered_in_order(target: Target, target_peer: TargetPeer) -> None:
    """Every message written at once, in one write; the answers come back in that order."""
    expect = target_peer.expect
    persistent = [item for item in target.listeners if item.framing is not Framing.SEED]
    if not persistent:
        pytest.skip("not applicable: seed listeners only (one message per connection)")
    for listener in persistent:
        bodies = [*bodies_for(target, listener.framing), b"last"]
        expected = b"".join(expect.ack(listener.framing, body) for body in bodies)
        with greeted(target_peer, listener) as conn:
            conn.write(b"".join(expect.message(listener.framing, body) for body in bodies))
            assert_bytes(expected, conn.take(len(expected), "the answers in order"))
