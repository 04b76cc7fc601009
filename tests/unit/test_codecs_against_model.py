"""protocol/'s codecs against the reference model: the bytes they write and what they
decode, for payloads aimed at the boundaries (tests/harness/strategies.py).

The server and the client are built on these codecs, so a codec that strays from
docs/protocol.md fails here first, in a second, before the tiers that drive the
real server say so over sockets.
"""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from socket_harness.protocol import ErrorReason, MessageTooLarge, codec_for
from socket_harness.strategies import batches, cuts_at_edges, payloads
from tests.oracle import model

LIMIT = 64
FRAMINGS = list(model.FRAMINGS)


@pytest.mark.covers("proto/greeting", "errors/err-reply")
@pytest.mark.parametrize("framing", FRAMINGS)
def test_greeting_and_errors_are_the_specifications(framing: str) -> None:
    codec = codec_for(framing)
    assert codec.greeting == model.greeting(framing)
    for reason in ErrorReason:
        assert codec.encode_error(reason) == model.error(framing, reason.value)


@pytest.mark.covers("line/message-body", "frame/length-prefix")
@pytest.mark.parametrize("framing", FRAMINGS)
@given(payload=payloads(LIMIT))
@example(payload=b"a\r")
@example(payload=b"\r")
@example(payload=b"")
@example(payload=b"\xe6\xb5")
@example(payload=b"\0\xff")
def test_acks_are_the_specifications(framing: str, payload: bytes) -> None:
    if framing == "line":
        payload = payload.replace(b"\n", b"")  # an acked line body never holds one
    assert codec_for(framing).encode_ack(payload) == model.ack(framing, payload)


def check_decoding(framing: str, bodies: list[bytes], chunks: list[bytes]) -> None:
    decoder = codec_for(framing).message_decoder(LIMIT)
    decoded = [message for chunk in chunks for message in decoder.feed(chunk)]
    assert decoded == list(model.read(framing, b"".join(chunks), LIMIT).messages) == bodies
    assert decoder.buffered == 0


@pytest.mark.covers("line/message-body", "frame/length-prefix", "decoders/feed")
@pytest.mark.parametrize("framing", ["line", "frame"])
@pytest.mark.parametrize(
    "bodies", [[b"a\r"], [b"\r", b"", b"x" * LIMIT], [b"\xe6\xb5", b"\x8b"]], ids=repr
)
def test_decoders_keep_edge_bytes_cut_anywhere(framing: str, bodies: list[bytes]) -> None:
    wire = b"".join(model.message(framing, body) for body in bodies)
    for cut in range(len(wire) + 1):
        check_decoding(framing, bodies, [wire[:cut], wire[cut:]])


@pytest.mark.covers("decoders/feed", "line/pipelined-in-order", "frame/pipelined-in-order")
@pytest.mark.parametrize("framing", ["line", "frame"])
@given(data=st.data())
def test_decoders_find_the_models_messages_however_the_stream_is_cut(
    framing: str, data: st.DataObject
) -> None:
    bodies = data.draw(batches(framing, LIMIT, 6), label="bodies")
    wire = [model.message(framing, body) for body in bodies]
    check_decoding(framing, bodies, data.draw(cuts_at_edges(wire), label="chunks"))


@pytest.mark.parametrize("framing", FRAMINGS)
@given(data=payloads(3 * LIMIT, bounds=(LIMIT,)))
@example(data=b"x" * LIMIT + b"\n")
@example(data=b"x" * (LIMIT - 1) + b"\r\n")
@example(data=b"x" * LIMIT + b"\r\n")
@example(data=b"x" * (LIMIT + 1))
@example(data=b"\x00\x00\x00\x41")
@example(data=b"\x00\x00\x00\x40" + b"y" * LIMIT)
def test_any_bytes_mean_to_the_decoder_what_they_mean_to_the_model(
    framing: str, data: bytes
) -> None:
    expected = model.read(framing, data, LIMIT)
    decoder = codec_for(framing).message_decoder(LIMIT)
    if expected.too_large:
        with pytest.raises(MessageTooLarge) as too_large:
            decoder.feed(data)
        assert too_large.value.complete == list(expected.messages)
        return
    assert decoder.feed(data) == list(expected.messages)
    assert decoder.buffered == expected.partial
