"""What a client puts on the wire: each framing's message encoder, against literal bytes.

docs/protocol.md: a line message is its body and `\\n` (a `\\r` is the body's); a frame
is a 4-byte big-endian length of the body, then the body; seed sends the payload as
it is. Found by `make mutation`: `encode_line` returning `body * b"\\n"` survived the
unit tier, because only the client's tests called the encoders.
"""

from __future__ import annotations

import pytest

from socket_harness.protocol import codec_for, encode_frame, encode_line


@pytest.mark.covers("line/message-body")
@pytest.mark.parametrize(
    ("body", "wire"),
    [(b"", b"\n"), (b"hi", b"hi\n"), (b"a\r", b"a\r\n"), (b"\x00\xff", b"\x00\xff\n")],
)
def test_a_line_message_is_its_body_and_a_newline(body: bytes, wire: bytes) -> None:
    assert encode_line(body) == wire
    assert codec_for("line").encode_message(body) == wire


@pytest.mark.covers("frame/length-prefix")
@pytest.mark.parametrize(
    ("body", "wire"),
    [
        (b"", b"\x00\x00\x00\x00"),
        (b"hi", b"\x00\x00\x00\x02hi"),
        (b"\r\n\x00\xff", b"\x00\x00\x00\x04\r\n\x00\xff"),
        (b"x" * 256, b"\x00\x00\x01\x00" + b"x" * 256),
    ],
)
def test_a_frame_is_a_big_endian_length_then_the_body(body: bytes, wire: bytes) -> None:
    assert encode_frame(body) == wire
    assert codec_for("frame").encode_message(body) == wire


def test_a_seed_message_is_the_payload_as_it_is() -> None:
    assert codec_for("seed").encode_message(b"Ho\r\nfirst blood\r\n") == b"Ho\r\nfirst blood\r\n"
