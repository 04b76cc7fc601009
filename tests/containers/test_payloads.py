"""Any payload, cut anywhere, sent with pauses or pipelined: the server answers exactly, in order.

One server container serves the whole module (starting one per example would
cost the budget); every example opens its own connection to it.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from socket_harness import client
from socket_harness.protocol import SEED_READ_SIZE, Ack, ErrorReason, Framing, ServerError
from tests.containers.conftest import StartServer
from tests.harness.containers import ServerContainer
from tests.harness.expect import up_to_the_fault
from tests.harness.strategies import chunk_plans, container_settings, pauses, payloads

# The module's --max-message-bytes: many TCP segments per message, yet cheap per example.
LIMIT = 32 * 1024
# A second server with a limit under the seed's one read, so seed can be over it too.
SMALL_LIMIT = 1000
TIMEOUT = 10.0
# A seed payload that one TCP segment carries whole (the bridge's MSS is 1448), so
# the server's one read gets all of it.
ONE_SEGMENT = 1024


@pytest.fixture(scope="module")
def server(start_module_server: StartServer) -> ServerContainer:
    return start_module_server(max_message_bytes=LIMIT)


@pytest.fixture(scope="module")
def small_server(start_module_server: StartServer) -> ServerContainer:
    return start_module_server(max_message_bytes=SMALL_LIMIT)


def assert_answered_in_order(conn: client.Connection, bodies: list[bytes]) -> None:
    """Each body's ack, in order, then nothing more: the server closes after our EOF."""
    conn.shutdown_write()
    for index, body in enumerate(bodies):
        reply = conn.receive()
        assert reply == Ack(body), f"answer {index} of {len(bodies)} differs"
    assert conn.read_until_eof() == b"", "bytes after the last answer"


@st.composite
def framed_batches(draw: st.DrawFn, max_messages: int) -> tuple[Framing, list[bytes]]:
    """A line or frame listener and 1..max_messages bodies it can carry (line: no `\n`)."""
    framing = draw(st.sampled_from([Framing.LINE, Framing.FRAME]))
    body = payloads(LIMIT, without_newline=framing is Framing.LINE)
    return framing, draw(st.lists(body, min_size=1, max_size=max_messages))


@container_settings(30)
@given(framed=framed_batches(max_messages=6), chunks=chunk_plans, pause=pauses)
def test_pipelined_batches_are_answered_exactly_in_order(
    server: ServerContainer, framed: tuple[Framing, list[bytes]], chunks: list[int], pause: float
) -> None:
    framing, batch = framed
    with client.connect(server.url(framing), timeout=TIMEOUT) as conn:
        conn.greeting()
        # The whole batch as one byte stream, cut into `chunks` regardless of message bounds.
        conn.send_raw(conn.encode_all(batch), chunks=chunks, pause=pause)
        assert_answered_in_order(conn, batch)


@container_settings(20)
@given(framed=framed_batches(max_messages=4), chunks=chunk_plans, pause=pauses)
def test_messages_one_by_one_on_one_connection(
    server: ServerContainer, framed: tuple[Framing, list[bytes]], chunks: list[int], pause: float
) -> None:
    framing, bodies = framed
    with client.connect(server.url(framing), timeout=TIMEOUT) as conn:
        conn.greeting()
        for body in bodies:
            conn.send(body, chunks=chunks, pause=pause)
            assert conn.receive() == Ack(body)


@container_settings(20)
@given(payload=payloads(ONE_SEGMENT).filter(bool))
def test_seed_answers_a_write_of_one_segment_exactly(
    server: ServerContainer, payload: bytes
) -> None:
    with client.connect(server.url(Framing.SEED), timeout=TIMEOUT) as conn:
        assert conn.exchange(payload) == payload
        assert conn.read_until_eof() == b""


@container_settings(20)
@given(payload=payloads(SEED_READ_SIZE).filter(bool))
def test_seed_answers_what_its_one_read_of_a_larger_write_returned(
    server: ServerContainer, payload: bytes
) -> None:
    # Several segments may reach the server's one read in part (docs/protocol.md):
    # the answer is then a start of the payload, never other bytes, and the server closes.
    with client.connect(server.url(Framing.SEED), timeout=TIMEOUT) as conn:
        answer = conn.exchange(payload)
        assert answer
        assert payload.startswith(answer)
        assert conn.read_until_eof() == b""


@pytest.mark.parametrize("framing", [Framing.LINE, Framing.FRAME])
def test_a_message_of_exactly_the_limit_is_answered(
    server: ServerContainer, framing: Framing
) -> None:
    body = b"x" * LIMIT
    with client.connect(server.url(framing), timeout=TIMEOUT) as conn:
        conn.greeting()
        assert conn.request(body) == body


@pytest.mark.parametrize("framing", [Framing.LINE, Framing.FRAME])
def test_over_limit_is_refused_after_earlier_answers_and_the_server_serves_on(
    server: ServerContainer, framing: Framing
) -> None:
    earlier = [b"first", b"second"]
    with client.connect(server.url(framing), timeout=TIMEOUT) as conn:
        conn.greeting()
        stream = conn.encode_all([*earlier, b"y" * (LIMIT + 1)])
        # Up to where the limit is certain (frame: the header; line: byte LIMIT + 1).
        sent, complete, too_large = up_to_the_fault(framing, stream, LIMIT)
        assert (complete, too_large) == (earlier, True)
        conn.send_raw(sent)
        assert [conn.receive() for _ in earlier] == [Ack(body) for body in earlier]
        assert conn.receive() == ServerError(ErrorReason.TOO_LARGE)
        assert conn.read_until_eof() == b"", "the server must close after the error"
    with client.connect(server.url(framing), timeout=TIMEOUT) as conn:
        conn.greeting()
        assert conn.request(b"still serving") == b"still serving"


def test_seed_over_limit_is_refused_and_the_server_serves_on(small_server: ServerContainer) -> None:
    url = small_server.url(Framing.SEED)
    with client.connect(url, timeout=TIMEOUT) as conn:
        assert conn.exchange(b"s" * SMALL_LIMIT) == b"s" * SMALL_LIMIT
    with client.connect(url, timeout=TIMEOUT) as conn:
        conn.greeting()
        conn.send_raw(b"s" * (SMALL_LIMIT + 1))
        assert conn.receive() == ServerError(ErrorReason.TOO_LARGE)
    with client.connect(url, timeout=TIMEOUT) as conn:
        assert conn.exchange(b"next") == b"next"
    small_server.wait_for_event("error", reason="too-large")
