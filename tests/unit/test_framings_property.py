"""Property tests: the line and frame decoders are indifferent to how the stream is cut.

Streams are built by the reference model (tests/oracle/model.py), not by protocol/'s
own encoders: the decoders are checked against the specification.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from socket_harness.protocol import (
    Decoder,
    FrameDecoder,
    LineDecoder,
    MessageTooLarge,
    encode_frame,
    encode_line,
)
from socket_harness.strategies import bodies_for, cut_points
from tests.oracle import model

LIMIT = 64


def decode_all(decoder: Decoder, chunks: list[bytes]) -> list[bytes]:
    out: list[bytes] = []
    for chunk in chunks:
        out.extend(decoder.feed(chunk))
    return out


@pytest.mark.covers("decoders/feed", "line/message-body")
@given(st.lists(bodies_for("line", LIMIT), max_size=10), st.data())
def test_line_any_split_decodes_to_the_same_messages(
    bodies: list[bytes], data: st.DataObject
) -> None:
    stream = b"".join(model.message("line", b) for b in bodies)
    chunks = data.draw(cut_points(stream))
    decoder = LineDecoder(LIMIT)
    assert decode_all(decoder, chunks) == bodies
    assert decoder.buffered == 0


@pytest.mark.covers("decoders/feed", "frame/length-prefix")
@given(st.lists(bodies_for("frame", LIMIT), max_size=10), st.data())
def test_frame_any_split_decodes_to_the_same_messages(
    bodies: list[bytes], data: st.DataObject
) -> None:
    stream = b"".join(model.frame(b) for b in bodies)
    chunks = data.draw(cut_points(stream))
    decoder = FrameDecoder(LIMIT)
    assert decode_all(decoder, chunks) == bodies
    assert decoder.buffered == 0


@pytest.mark.covers("line/partial-at-eof", "decoders/feed")
@given(
    bodies_for("line", LIMIT),
    st.binary(min_size=1, max_size=LIMIT).filter(lambda b: b"\n" not in b),
)
def test_line_partial_tail_is_held_not_emitted(body: bytes, tail: bytes) -> None:
    decoder = LineDecoder(LIMIT)
    assert decoder.feed(model.message("line", body) + tail) == [body]
    assert decoder.buffered == len(tail)


@pytest.mark.covers("frame/truncated-at-eof", "decoders/feed")
@given(bodies_for("frame", LIMIT), st.integers(1, 4 + LIMIT))
def test_frame_truncated_tail_is_held_not_emitted(body: bytes, cut: int) -> None:
    decoder = FrameDecoder(LIMIT)
    frame = model.frame(body)
    truncated = frame[: max(0, len(frame) - cut)]
    assert decoder.feed(truncated) == []
    assert decoder.buffered == len(truncated)


@pytest.mark.covers("limits/exact-bound", "errors/too-large")
@pytest.mark.parametrize("limit", [0, 1, 7, 64])
def test_line_limit_is_enforced_at_exactly_its_bound(limit: int) -> None:
    assert LineDecoder(limit).feed(b"x" * limit + b"\n") == [b"x" * limit]
    with pytest.raises(MessageTooLarge) as complete_line:
        LineDecoder(limit).feed(b"x" * (limit + 1) + b"\n")
    assert complete_line.value.size == limit + 1
    # Without its newline the line is refused as soon as it is certainly too long.
    assert LineDecoder(limit).feed(b"x" * limit) == []
    with pytest.raises(MessageTooLarge):
        LineDecoder(limit).feed(b"x" * (limit + 1))


@pytest.mark.covers("limits/exact-bound", "errors/too-large")
@pytest.mark.parametrize("limit", [0, 1, 7, 64])
def test_frame_limit_is_enforced_at_exactly_its_bound(limit: int) -> None:
    assert FrameDecoder(limit).feed(model.frame(b"y" * limit)) == [b"y" * limit]
    # The header alone is enough to refuse: no body byte is waited for.
    with pytest.raises(MessageTooLarge) as too_large:
        FrameDecoder(limit).feed(model.frame(b"y" * (limit + 1))[:4])
    assert too_large.value.size == limit + 1


@pytest.mark.covers("decoders/feed", "errors/too-large")
@given(st.lists(bodies_for("line", 8), min_size=1, max_size=5))
def test_line_messages_before_an_oversize_one_are_kept(bodies: list[bytes]) -> None:
    stream = b"".join(model.message("line", b) for b in bodies) + b"z" * 9 + b"\n"
    with pytest.raises(MessageTooLarge) as too_large:
        LineDecoder(8).feed(stream)
    assert too_large.value.complete == bodies


@pytest.mark.covers("decoders/feed", "errors/too-large")
@given(st.lists(bodies_for("frame", 8), min_size=1, max_size=5))
def test_frame_messages_before_an_oversize_one_are_kept(bodies: list[bytes]) -> None:
    stream = b"".join(model.frame(b) for b in bodies) + model.frame(b"z" * 9)
    with pytest.raises(MessageTooLarge) as too_large:
        FrameDecoder(8).feed(stream)
    assert too_large.value.complete == bodies


def test_encode_line_refuses_a_newline_in_the_body() -> None:
    with pytest.raises(ValueError, match="cannot contain"):
        encode_line(b"a\nb")


@pytest.mark.covers("frame/length-prefix")
def test_frame_header_is_four_bytes_big_endian() -> None:
    assert encode_frame(b"") == b"\x00\x00\x00\x00"
    assert encode_frame(b"\x01" * 258)[:4] == b"\x00\x00\x01\x02"
