"""The seed exchange's parts and the naming of reply bodies.

What protocol/ must produce or accept is stated as literal bytes or built by the
reference model (tests/oracle/model.py), never by protocol/'s own encoders.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from socket_harness.protocol import (
    ACK_PREFIX,
    GREETING,
    Ack,
    ErrorReason,
    Framing,
    Greeting,
    MessageTooLarge,
    ProtocolError,
    SeedDecoder,
    ServerError,
    classify_body,
    codec_for,
    parse_seed_response,
)
from tests.oracle import model

TUTORIAL_MESSAGE = b"Ho\r\nfirst blood\r\n"


def test_tutorial_bytes_are_kept_exactly() -> None:
    assert GREETING == b"\xe6\xb5\x8b\xe8\xaf\x95\xe6\x88\x90\xe5\x8a\x9f!\n"
    assert ACK_PREFIX == b"\xe6\x94\xb6\xe5\x88\xb0\xe7\x9a\x84\xe4\xbf\xa1\xe6\x81\xaf:"
    seed = codec_for(Framing.SEED)
    assert seed.greeting == model.GREETING
    assert seed.encode_ack(TUTORIAL_MESSAGE) == "收到的信息:Ho\r\nfirst blood\r\n\n".encode()


@pytest.mark.covers("seed/one-read-8192", "seed/rest-ignored")
def test_seed_decoder_takes_one_read_only() -> None:
    decoder = SeedDecoder(8192)
    assert decoder.feed(b"") == []
    before = decoder.done  # an empty read is no message
    assert decoder.feed(TUTORIAL_MESSAGE) == [TUTORIAL_MESSAGE]
    assert (before, decoder.done) == (False, True)  # bools, not a method (always truthy)
    assert decoder.feed(b"more") == []


@pytest.mark.covers("seed/one-read-8192")
def test_seed_decoder_caps_the_read_at_8192_bytes() -> None:
    data = bytes(range(256)) * 40
    assert SeedDecoder(len(data)).feed(data) == [data[:8192]]


@pytest.mark.covers("errors/too-large", "limits/exact-bound")
def test_seed_decoder_refuses_a_read_over_the_limit() -> None:
    assert SeedDecoder(4).feed(b"1234") == [b"1234"]
    with pytest.raises(MessageTooLarge):
        SeedDecoder(4).feed(b"12345")


@pytest.mark.covers("seed/parse-response")
@given(st.binary(max_size=300))
def test_seed_response_round_trips_any_payload(payload: bytes) -> None:
    parsed = parse_seed_response(model.greeting("seed") + model.ack("seed", payload))
    assert parsed.greeted
    assert parsed.answer == payload
    assert parsed.error is None


@pytest.mark.covers("seed/parse-response")
@pytest.mark.parametrize("reason", list(ErrorReason))
def test_seed_response_names_every_error(reason: ErrorReason) -> None:
    parsed = parse_seed_response(model.error("seed", reason.value))
    assert (parsed.greeted, parsed.answer, parsed.error) == (False, None, reason)


@pytest.mark.covers("seed/parse-response")
def test_seed_response_greeting_only_is_a_close_without_answer() -> None:
    parsed = parse_seed_response(model.GREETING)
    assert (parsed.greeted, parsed.answer, parsed.error) == (True, None, None)


@pytest.mark.covers("seed/parse-response")
@pytest.mark.parametrize(
    "garbage", [b"hello", model.GREETING + b"ERR nonsense\n", model.GREETING + model.ACK_PREFIX]
)
def test_seed_response_refuses_bytes_that_fit_no_reply(garbage: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse_seed_response(garbage)


@pytest.mark.covers("replies/classify")
@pytest.mark.parametrize("framing", [Framing.LINE, Framing.FRAME])
@given(payload=st.binary(max_size=100).map(lambda b: b.replace(b"\n", b"")))
def test_reply_bodies_decode_to_what_was_sent(framing: Framing, payload: bytes) -> None:
    codec = codec_for(framing)
    decoder = codec.message_decoder(1 << 16)
    stream = model.greeting(framing) + model.ack(framing, payload) + model.error(framing, "busy")
    bodies = decoder.feed(stream)
    named = [classify_body(body, codec.greeting_body) for body in bodies]
    assert named == [Greeting(), Ack(payload), ServerError(ErrorReason.BUSY)]


@pytest.mark.covers("replies/classify", "errors/err-reply")
@given(st.binary(max_size=50))
def test_an_ack_is_never_taken_for_an_error(payload: bytes) -> None:
    # Even a payload that itself starts with "ERR " stays an ack.
    body = model.ACK_PREFIX + b"ERR " + payload
    assert classify_body(body, model.GREETING) == Ack(b"ERR " + payload)


@pytest.mark.covers("replies/classify")
@pytest.mark.parametrize("body", [b"ERR unheard-of", b"hello", b""])
def test_unknown_reply_bodies_are_protocol_errors(body: bytes) -> None:
    with pytest.raises(ProtocolError):
        classify_body(body, model.GREETING)
