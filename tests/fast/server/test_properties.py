"""Properties of the real server process, predicted by the reference model.

Whatever a peer sends (messages at and around every bound, special bytes at
their edges, cut anywhere), the server answers exactly what tests/oracle/model.py
says docs/protocol.md requires: the expected bytes never come from protocol/.
One server serves the module; every example has a connection of its own.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from socket_harness.strategies import (
    batches,
    chunk_plans,
    cuts_at_edges,
    payloads,
)
from tests.fast.server.process import RunningServer, start_server
from tests.oracle import model
from tests.oracle.wire import WirePeer, first_difference

# The server's --max-message-bytes: past loopback's segment and the 64 KiB buffers.
LIMIT = 70_000
BOUNDS = (LIMIT, 8192)
# Module-scoped server, per-example connections: the fixture is not reset between examples.
SHARED = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    running = start_server("--max-message-bytes", str(LIMIT))
    yield running
    running.stop()


def connect(server: RunningServer, framing: str) -> WirePeer:
    endpoint = server.endpoint(framing)
    return WirePeer(f"server process {server.pid}", endpoint.host, endpoint.port)


def assert_exchange(expected: bytes, got: bytes) -> None:
    assert got == expected, first_difference(expected, got)


def split(data: bytes, plan: list[int]) -> list[bytes]:
    """`data` cut into writes of the plan's sizes, the rest in one last write."""
    pieces, start = [], 0
    for size in plan:
        pieces.append(data[start : start + size])
        start += size
    return [piece for piece in [*pieces, data[start:]] if piece]


Case = tuple[str, list[bytes], list[bytes]]


@st.composite
def pipelined(draw: st.DrawFn) -> Case:
    """(framing, bodies, the writes): up to 5 messages in one stream, cut at their edges."""
    framing = draw(st.sampled_from(["line", "frame"]))
    bodies = draw(batches(framing, LIMIT, 5, BOUNDS), label="bodies")
    writes = draw(cuts_at_edges([model.message(framing, body) for body in bodies]))
    return framing, bodies, writes


def whole(framing: str, *bodies: bytes) -> Case:
    """An example: the bodies in one write."""
    return framing, list(bodies), [b"".join(model.message(framing, b) for b in bodies)]


@pytest.mark.covers("line/pipelined-in-order", "frame/pipelined-in-order")
@SHARED
@given(case=pipelined())
@example(case=whole("line", b"a\r"))
@example(case=whole("line", b"\r", b"", b"x" * LIMIT))
@example(case=("line", [b"\xe6\xb5", b"\x8b\r"], [b"\xe6", b"\xb5\n\x8b\r", b"\n"]))
@example(case=whole("frame", b"", b"\0\xff", b"y" * 65536))
@example(
    case=("frame", [b"z" * 8192, b"\r\n"], [b"\0\0", b"\x20\0" + b"z" * 8192 + b"\0\0\0\2\r\n"])
)
def test_pipelined_messages_cut_anywhere_are_answered_as_the_model_says(
    server: RunningServer, case: Case
) -> None:
    framing, bodies, writes = case
    with connect(server, framing) as peer:
        for data in writes:
            if data:
                peer.write(data)
        peer.half_close()
        got = peer.read_until_close(f"answers to {len(bodies)} messages")
    stream = b"".join(writes)
    assert list(model.read(framing, stream, LIMIT).messages) == bodies  # the model agrees
    assert_exchange(model.exchange(framing, stream, LIMIT), got)


@pytest.mark.covers("line/message-body", "frame/length-prefix")
@SHARED
@given(framing=st.sampled_from(model.FRAMINGS), garbage=payloads(2 * LIMIT, bounds=BOUNDS))
@example(framing="line", garbage=b"x" * LIMIT + b"\r\n")
@example(framing="line", garbage=b"x" * (LIMIT + 1))
@example(framing="frame", garbage=(LIMIT + 1).to_bytes(4, "big"))
@example(framing="frame", garbage=b"\0\0\0")
def test_any_bytes_get_what_the_model_says(
    server: RunningServer, framing: str, garbage: bytes
) -> None:
    """Bytes in any framing, up to where the server is certain of a fault, then EOF."""
    reading = model.read(framing, garbage, LIMIT)
    sent = garbage[: reading.certain_at]
    with connect(server, framing) as peer:
        if framing == "seed":
            queued_write(server, peer, sent)  # one read, all of it (at most 8192 bytes)
        elif sent:
            peer.write(sent)
        peer.half_close()
        got = peer.read_until_close("the answers and the close")
    assert_exchange(model.exchange(framing, sent, LIMIT), got)


def queued_write(server: RunningServer, peer: WirePeer, data: bytes) -> None:
    """Write `data` while the server is stopped: its first read finds every byte queued."""
    server.signal(signal.SIGSTOP)
    try:
        if data:
            peer.write_acknowledged(data)
    finally:
        server.signal(signal.SIGCONT)


@pytest.mark.covers("seed/one-read-8192", "seed/rest-ignored")
@SHARED
@given(payload=payloads(4 * 8192, bounds=(8192, 2 * 8192)).filter(bool), chunks=chunk_plans)
@example(payload=b"x" * 8192 + b"y", chunks=[])
@example(payload=b"x" * 4096 + b"y" * 4097, chunks=[4096])
@example(payload=b"\r", chunks=[])
def test_seed_answers_exactly_the_first_8192_bytes_of_what_was_queued(
    server: RunningServer, payload: bytes, chunks: list[int]
) -> None:
    with connect(server, "seed") as peer:
        server.signal(signal.SIGSTOP)
        try:
            for piece in split(payload, chunks):
                peer.write_acknowledged(piece)
        finally:
            server.signal(signal.SIGCONT)
        got = peer.read_until_close("the answer to its one read")
    assert_exchange(model.exchange("seed", payload[:8192], LIMIT), got)
