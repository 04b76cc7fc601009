"""Any payload, cut anywhere, sent with pauses or pipelined: the server answers exactly, in order.

What it must answer comes from the reference model (tests/oracle/model.py), written
from docs/protocol.md; the peer is a plain socket (tests/oracle/wire.py), so neither
the expected bytes nor the reading of the answers goes through protocol/ or client/.
One server container serves the whole module (starting one per example would
cost the budget); every example opens its own connection to it.
"""

from __future__ import annotations

import socket
import time

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tests.containers.conftest import StartServer
from tests.harness.containers import ServerContainer
from tests.harness.strategies import (
    SEGMENT_BRIDGE,
    batches,
    chunk_plans,
    container_settings,
    pauses,
    payloads,
)
from tests.oracle import model
from tests.oracle.target import stopped
from tests.oracle.wire import WirePeer, first_difference

# The module's --max-message-bytes: many TCP segments per message, past the 64 KiB buffers.
LIMIT = 66_000
BOUNDS = (LIMIT, 8192)
# A second server with a limit under the seed's one read, so seed can be over it too.
SMALL_LIMIT = 1000

Batch = tuple[str, list[bytes]]


@pytest.fixture(scope="module")
def server(start_module_server: StartServer) -> ServerContainer:
    return start_module_server(max_message_bytes=LIMIT)


@pytest.fixture(scope="module")
def small_server(start_module_server: StartServer) -> ServerContainer:
    return start_module_server(max_message_bytes=SMALL_LIMIT)


def connect(server: ServerContainer, framing: str) -> WirePeer:
    return WirePeer(server.name, *server.address(framing))


def assert_bytes(expected: bytes, got: bytes) -> None:
    assert got == expected, first_difference(expected, got)


def write_in_pieces(peer: WirePeer, data: bytes, plan: list[int], pause: float) -> None:
    """`data` in writes of the plan's sizes (the rest in one), `pause` s apart."""
    start = 0
    for size in [*plan, len(data)]:
        piece = data[start : start + size]
        if not piece:
            break
        if start and pause:
            time.sleep(pause)
        peer.write(piece)
        start += size


@st.composite
def framed_batches(draw: st.DrawFn, max_messages: int) -> Batch:
    """A line or frame listener and 1..max_messages bodies, small and large mixed."""
    framing = draw(st.sampled_from(["line", "frame"]))
    return framing, draw(batches(framing, LIMIT, max_messages, BOUNDS))


@container_settings(30)
@given(framed=framed_batches(max_messages=6), chunks=chunk_plans, pause=pauses)
@example(framed=("line", [b"a\r", b"\r", b""]), chunks=[2, 1], pause=0.0)
@example(framed=("line", [b"x" * LIMIT, b"\xe6\xb5"]), chunks=[SEGMENT_BRIDGE], pause=0.0)
@example(framed=("frame", [b"y" * 65536, b"\0\xff", b""]), chunks=[1, 3, 8192], pause=0.0)
def test_pipelined_batches_are_answered_exactly_in_order(
    server: ServerContainer, framed: Batch, chunks: list[int], pause: float
) -> None:
    framing, batch = framed
    # The whole batch as one byte stream, cut into `chunks` regardless of message bounds.
    stream = b"".join(model.message(framing, body) for body in batch)
    with connect(server, framing) as peer:
        write_in_pieces(peer, stream, chunks, pause)
        peer.half_close()
        got = peer.read_until_close(f"answers to {len(batch)} messages")
    assert_bytes(model.exchange(framing, stream, LIMIT), got)


@container_settings(20)
@given(framed=framed_batches(max_messages=4), chunks=chunk_plans, pause=pauses)
@example(framed=("line", [b"\r", b"b\r"]), chunks=[1], pause=0.0)
def test_messages_one_by_one_on_one_connection(
    server: ServerContainer, framed: Batch, chunks: list[int], pause: float
) -> None:
    framing, bodies = framed
    with connect(server, framing) as peer:
        expected = model.greeting(framing)
        assert_bytes(expected, peer.take(len(expected), "the greeting"))
        for index, body in enumerate(bodies):
            write_in_pieces(peer, model.message(framing, body), chunks, pause)
            expected = model.ack(framing, body)
            assert_bytes(expected, peer.take(len(expected), f"the answer to message {index}"))
        peer.half_close()
        assert peer.read_until_close("the close after the last answer") == b""


@container_settings(20)
@given(payload=payloads(SEGMENT_BRIDGE, bounds=(SEGMENT_BRIDGE,)).filter(bool))
@example(payload=b"\r")
@example(payload=b"x" * SEGMENT_BRIDGE)
def test_seed_answers_a_write_of_one_segment_exactly(
    server: ServerContainer, payload: bytes
) -> None:
    with connect(server, "seed") as peer:
        # A write no longer than the connection's segment size leaves in one segment:
        # the server's one read gets all of it.
        payload = payload[: peer.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG)]
        peer.write(payload)
        got = peer.read_until_close("the answer to one segment")
    assert_bytes(model.exchange("seed", payload, LIMIT), got)


@container_settings(20)
@given(payload=payloads(4 * 8192, bounds=(8192, 2 * 8192)).filter(bool))
@example(payload=b"x" * 8192)
@example(payload=b"x" * 8192 + b"y")
@example(payload=b"x" * 8191 + b"\r")
def test_seed_answers_exactly_the_first_8192_bytes_of_what_was_queued(
    server: ServerContainer, payload: bytes
) -> None:
    # `docker kill --signal SIGSTOP` while the bytes arrive: the server's first read
    # finds them all queued, whatever the segments, and must take min(len, 8192).
    with connect(server, "seed") as peer:
        with stopped(server):
            peer.write_acknowledged(payload)
        got = peer.read_until_close("the answer to its one read")
    assert_bytes(model.exchange("seed", payload[:8192], LIMIT), got)


@container_settings(10)
@given(payload=payloads(4 * 8192, bounds=(8192,)).filter(bool))
def test_seed_answers_a_start_of_a_write_that_arrives_in_pieces(
    server: ServerContainer, payload: bytes
) -> None:
    # Segments may reach the server's one read in part (docs/protocol.md): the answer
    # is then the ack of a start of the payload, at most 8192 bytes, then the close.
    with connect(server, "seed") as peer:
        peer.write(payload)
        got = peer.read_until_close("the answer to its one read")
    prefix = len(model.exchange("seed", b"", LIMIT)) + len(model.ACK_PREFIX)
    read = len(got) - prefix - 1  # the bytes the answer echoes
    assert 0 < read <= 8192, f"the answer echoes {read} bytes"
    assert_bytes(model.exchange("seed", payload[:read], LIMIT), got)


@pytest.mark.parametrize("framing", ["line", "frame"])
def test_a_message_of_exactly_the_limit_is_answered(server: ServerContainer, framing: str) -> None:
    body = b"x" * LIMIT
    with connect(server, framing) as peer:
        peer.write(model.message(framing, body))
        peer.half_close()
        got = peer.read_until_close("the answer at the limit")
    assert_bytes(model.greeting(framing) + model.ack(framing, body), got)


@pytest.mark.parametrize("framing", ["line", "frame"])
def test_over_limit_is_refused_after_earlier_answers_and_the_server_serves_on(
    server: ServerContainer, framing: str
) -> None:
    earlier = [b"first", b"second"]
    stream = b"".join(model.message(framing, body) for body in [*earlier, b"y" * (LIMIT + 1)])
    # Up to where the limit is certain (frame: the header; line: byte LIMIT + 1).
    reading = model.read(framing, stream, LIMIT)
    assert (list(reading.messages), reading.too_large) == (earlier, True)
    with connect(server, framing) as peer:
        peer.write(stream[: reading.certain_at])
        got = peer.read_until_close("ERR too-large and the close")
    expected = model.greeting(framing) + b"".join(model.ack(framing, b) for b in earlier)
    assert_bytes(expected + model.error(framing, "too-large"), got)
    with connect(server, framing) as peer:
        peer.write(model.message(framing, b"still serving"))
        peer.half_close()
        got = peer.read_until_close("the answer after the refusal")
    assert_bytes(model.greeting(framing) + model.ack(framing, b"still serving"), got)


def test_seed_over_limit_is_refused_and_the_server_serves_on(small_server: ServerContainer) -> None:
    for payload, answer in [
        (b"s" * SMALL_LIMIT, model.ack("seed", b"s" * SMALL_LIMIT)),
        (b"s" * (SMALL_LIMIT + 1), model.error("seed", "too-large")),
        (b"next", model.ack("seed", b"next")),
    ]:
        with connect(small_server, "seed") as peer:
            peer.write(payload)  # under one segment: the one read gets all of it
            got = peer.read_until_close(f"the answer to {len(payload)} bytes")
        assert_bytes(model.greeting("seed") + answer, got)
    small_server.wait_for_event("error", reason="too-large")
