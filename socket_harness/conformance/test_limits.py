"""limit/*: the message limit exactly at its bound and one byte over it (max_message_bytes)."""

from __future__ import annotations

import pytest

from ..expect import FRAME_HEADER_SIZE, SEED_READ_SIZE
from ..plugin import TargetPeer
from ..profile import Framing, Listener, MaxMessageBytes, Target
from ._helpers import assert_bytes, exchange, greeted


def listeners_for(target: Target, limit: int) -> list[Listener]:
    """Listeners where the limit can be reached: a seed listener reads at most 8192 bytes."""
    return [
        item
        for item in target.listeners
        if item.framing is not Framing.SEED or limit + 1 <= SEED_READ_SIZE
    ]


def deciding_bytes(framing: Framing, limit: int) -> bytes:
    """A message one byte over `limit`, up to the byte that decides it: limit + 1 body bytes
    (line, seed), or the frame header announcing limit + 1 (docs/protocol.md, Framings)."""
    if framing is Framing.FRAME:
        return (limit + 1).to_bytes(FRAME_HEADER_SIZE, "big")
    return b"o" * (limit + 1)


@pytest.mark.check("limit/at-bound")
@pytest.mark.covers("limits/exact-bound", "server/max-message-bytes")
@pytest.mark.promise("max_message_bytes")
def test_a_message_of_exactly_the_limit_is_answered(
    target: Target, target_peer: TargetPeer, target_promise: MaxMessageBytes
) -> None:
    for listener in listeners_for(target, target_promise.limit):
        with greeted(target_peer, listener) as conn:
            exchange(target_peer, conn, listener, b"m" * target_promise.limit)


@pytest.mark.check("limit/one-over")
@pytest.mark.covers("errors/too-large", "server/max-message-bytes")
@pytest.mark.promise("max_message_bytes")
def test_one_byte_over_the_limit_is_too_large_and_closed(
    target: Target, target_peer: TargetPeer, target_promise: MaxMessageBytes
) -> None:
    """Only the bytes that decide it are sent: limit + 1 body bytes (line, seed) or the header
    announcing limit + 1 (frame). The answer is `too-large`, then the close."""
    limit = target_promise.limit
    expect = target_peer.expect
    for listener in listeners_for(target, limit):
        sent = deciding_bytes(listener.framing, limit)
        with greeted(target_peer, listener) as conn:
            conn.write(sent)
            assert_bytes(
                expect.error(listener.framing, "too-large"), conn.read_until_close("too-large")
            )
        with greeted(target_peer, listener) as conn:  # and it serves on
            exchange(target_peer, conn, listener, b"after")


@pytest.mark.check("limit/over-after-answers")
@pytest.mark.covers("errors/too-large", "server/max-message-bytes")
@pytest.mark.promise("max_message_bytes")
def test_over_the_limit_after_earlier_answers_gets_them_then_too_large(
    target: Target, target_peer: TargetPeer, target_promise: MaxMessageBytes
) -> None:
    """On each line and frame listener, one write: two small messages, then one over the
    limit, sent up to the byte that decides it (line: byte limit + 1 of the body; frame: its
    header). The two answers come first, then `too-large`, then the close."""
    limit = target_promise.limit
    expect = target_peer.expect
    earlier = [b"first", b"second"]
    for listener in target.listeners:
        framing = listener.framing
        if framing is Framing.SEED:
            continue  # one message per connection: nothing comes before
        stream = b"".join(expect.message(framing, body) for body in earlier)
        stream += deciding_bytes(framing, limit)
        expected = b"".join(expect.ack(framing, body) for body in earlier)
        expected += expect.error(framing, "too-large")
        with greeted(target_peer, listener) as conn:
            conn.write(stream)
            assert_bytes(expected, conn.read_until_close("two answers, too-large, the close"))
