"""ReplyReader, sans-IO: replies out of server bytes however they are cut.

The server bytes are the reference model's (tests/oracle/model.py), not protocol/'s.
"""

from __future__ import annotations

import pytest

from socket_harness.client.errors import ClosedEarly, UnexpectedBytes
from socket_harness.client.reader import ReplyReader
from socket_harness.protocol import Ack, ErrorReason, Framing, Greeting, Reply, ServerError
from tests.oracle import model


def replies_from(framing: Framing, data: bytes, step: int, eof: bool = True) -> list[Reply]:
    """Feed `data` in pieces of `step` bytes; every reply that comes out, in order."""
    reader = ReplyReader(framing)
    out: list[Reply] = []
    for start in range(0, len(data), step):
        reader.feed(data[start : start + step])
        while (reply := reader.next_reply()) is not None:
            out.append(reply)
    if eof:
        reader.feed_eof()
        try:
            while (reply := reader.next_reply()) is not None:
                out.append(reply)
        except ClosedEarly:
            pass
    return out


@pytest.mark.parametrize("step", [1, 3, 1000])
@pytest.mark.parametrize("framing", [Framing.LINE, Framing.FRAME])
def test_persistent_framings_yield_every_reply_however_cut(framing: Framing, step: int) -> None:
    wire = (
        model.greeting(framing)
        + model.ack(framing, b"one")
        + model.ack(framing, b"")
        + model.error(framing, ErrorReason.IDLE_TIMEOUT.value)
    )
    assert replies_from(framing, wire, step) == [
        Greeting(),
        Ack(b"one"),
        Ack(b""),
        ServerError(ErrorReason.IDLE_TIMEOUT),
    ]


@pytest.mark.parametrize("step", [1, 5, 1000])
def test_seed_answer_with_newlines_is_complete_only_at_eof(step: int) -> None:
    wire = model.greeting(Framing.SEED) + model.ack(Framing.SEED, b"Ho\r\nfirst blood\r\n")
    assert replies_from(Framing.SEED, wire, step, eof=False) == [Greeting()]
    assert replies_from(Framing.SEED, wire, step) == [Greeting(), Ack(b"Ho\r\nfirst blood\r\n")]


def test_seed_busy_instead_of_greeting() -> None:
    wire = model.error(Framing.SEED, ErrorReason.BUSY.value)
    assert replies_from(Framing.SEED, wire, 1) == [ServerError(ErrorReason.BUSY)]


@pytest.mark.parametrize(
    ("framing", "wire", "words"),
    [
        (Framing.SEED, model.greeting(Framing.SEED), "before replying"),
        (Framing.SEED, model.greeting(Framing.SEED)[:5], "5 bytes"),
        (Framing.LINE, model.greeting(Framing.LINE) + b"half a li", "9 bytes"),
        (Framing.FRAME, model.greeting(Framing.FRAME) + b"\0\0\0\x09abc", "7 bytes"),
    ],
)
def test_eof_before_a_whole_reply_is_closed_early(
    framing: Framing, wire: bytes, words: str
) -> None:
    reader = ReplyReader(framing)
    reader.feed(wire)
    if reader.next_reply() is not None:  # the greeting, when it came whole
        assert reader.next_reply() is None
    reader.feed_eof()
    with pytest.raises(ClosedEarly, match=words):
        reader.next_reply()


@pytest.mark.parametrize("framing", list(Framing))
def test_bytes_that_fit_no_reply_are_unexpected(framing: Framing) -> None:
    reader = ReplyReader(framing)
    reader.feed(model.message(framing, b"HTTP/1.1 400 Bad Request"))
    reader.feed_eof()
    with pytest.raises(UnexpectedBytes):
        reader.next_reply()


def test_seed_garbage_is_caught_before_eof() -> None:
    reader = ReplyReader(Framing.SEED)
    reader.feed(b"HTTP/1.1 400")
    with pytest.raises(UnexpectedBytes, match="HTTP"):
        reader.next_reply()


@pytest.mark.parametrize("framing", [Framing.LINE, Framing.FRAME])
def test_a_reply_over_the_limit_is_unexpected(framing: Framing) -> None:
    reader = ReplyReader(framing, max_reply_bytes=20)
    reader.feed(model.ack(framing, b"x" * 50))
    with pytest.raises(UnexpectedBytes, match="exceeds 20"):
        reader.next_reply()


@pytest.mark.parametrize("framing", list(Framing))
def test_take_unparsed_gives_back_the_exact_bytes(framing: Framing) -> None:
    rest = model.ack(framing, b"a") + model.ack(framing, b"partial")[:-2]
    reader = ReplyReader(framing)
    reader.feed(model.greeting(framing) + rest[:3])
    reader.feed(rest[3:])
    assert reader.next_reply() == Greeting()
    assert reader.take_unparsed() == rest
    assert reader.take_unparsed() == b""


@pytest.mark.parametrize("framing", list(Framing))
@pytest.mark.parametrize("cut", [1, 2, 5, 17])
def test_raw_takes_add_up_to_every_byte_once(framing: Framing, cut: int) -> None:
    answers = model.ack(framing, b"first") + model.ack(framing, b"second one")
    wire = model.greeting(framing) + answers
    reader = ReplyReader(framing)
    reader.feed(wire[:cut])
    taken = reader.take_unparsed()
    for start in range(cut, len(wire), 3):
        reader.feed(wire[start : start + 3])
        taken += reader.take_unparsed()
    assert taken == wire


@pytest.mark.parametrize("framing", [Framing.LINE, Framing.FRAME])
def test_unparsed_after_an_oversize_reply_keeps_its_bytes(framing: Framing) -> None:
    oversize = model.ack(framing, b"x" * 50)
    reader = ReplyReader(framing, max_reply_bytes=40)
    reader.feed(model.greeting(framing) + oversize)
    assert reader.next_reply() == Greeting()
    assert reader.take_unparsed() == oversize
