"""The sync and asyncio libraries against the real server, every framing."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from socket_harness import client
from socket_harness.client import aio
from socket_harness.protocol import Ack, ErrorReason, Framing, Greeting
from tests.fast.client.helpers import free_port
from tests.fast.server.process import RunningServer, ServerFactory, start_server
from tests.oracle import model

TUTORIAL_MESSAGE = b"Ho\r\nfirst blood\r\n"
# Per framing, a payload it can carry (a line holds no newline).
PAYLOADS = {
    Framing.SEED: TUTORIAL_MESSAGE,
    Framing.LINE: "测试 \r\0\xff".encode("utf-8", "surrogatepass"),
    Framing.FRAME: bytes(range(256)) + b"\n\n",
}


@pytest.mark.parametrize("framing", list(Framing))
def test_sync_exchange_echoes_the_payload(server: RunningServer, framing: Framing) -> None:
    with client.connect(server.url(framing), timeout=5) as conn:
        assert conn.exchange(PAYLOADS[framing]) == PAYLOADS[framing]


@pytest.mark.parametrize("framing", list(Framing))
def test_async_exchange_echoes_the_payload(server: RunningServer, framing: Framing) -> None:
    async def talk() -> bytes:
        async with await aio.connect(server.url(framing), timeout=5) as conn:
            return await conn.exchange(PAYLOADS[framing])

    assert asyncio.run(talk()) == PAYLOADS[framing]


def test_seed_raw_bytes_are_the_tutorials(server: RunningServer) -> None:
    """The tutorial's client: one write, no half-close, read until the server closes."""
    with client.connect(server.url("seed"), timeout=5) as conn:
        conn.send_raw(TUTORIAL_MESSAGE)
        assert conn.read_until_eof() == "测试成功!\n收到的信息:Ho\r\nfirst blood\r\n\n".encode()


@pytest.mark.parametrize("framing", [Framing.LINE, Framing.FRAME])
def test_pipelined_messages_are_answered_in_order(server: RunningServer, framing: Framing) -> None:
    bodies = [b"message %d" % n for n in range(50)]
    with client.connect(server.url(framing), timeout=5) as conn:
        conn.greeting()
        conn.send_many(bodies)
        assert [conn.receive() for _ in bodies] == [Ack(body) for body in bodies]


@pytest.mark.parametrize(
    ("framing", "chunks"),
    [
        (Framing.FRAME, [1, 1, 1, 1, 3]),  # the length header itself arrives byte by byte
        (Framing.FRAME, [2, 5]),
        (Framing.LINE, [1, 4, 2]),
    ],
)
def test_fragmented_message_is_one_message(
    server: RunningServer, framing: Framing, chunks: list[int]
) -> None:
    with client.connect(server.url(framing), timeout=5) as conn:
        conn.greeting()
        conn.send(b"fragmented body", chunks=chunks, pause=0.05)
        conn.send(b"next")
        assert conn.receive() == Ack(b"fragmented body")
        assert conn.receive() == Ack(b"next")


def test_async_fragmented_frame_is_one_message(server: RunningServer) -> None:
    async def talk() -> list[object]:
        async with await aio.connect(server.url("frame"), timeout=5) as conn:
            await conn.greeting()
            await conn.send(b"in pieces", chunks=[1, 2, 3], pause=0.05)
            return [await conn.receive()]

    assert asyncio.run(talk()) == [Ack(b"in pieces")]


@pytest.mark.parametrize("framing", [Framing.LINE, Framing.FRAME])
def test_half_close_still_gets_every_answer_then_eof(
    server: RunningServer, framing: Framing
) -> None:
    with client.connect(server.url(framing), timeout=5) as conn:
        conn.greeting()
        conn.send_many([b"a", b"b"])
        conn.shutdown_write()
        assert conn.read_until_eof() == model.ack(framing, b"a") + model.ack(framing, b"b")


def test_receive_after_the_server_closed_is_closed_early(server: RunningServer) -> None:
    async def talk() -> None:
        async with await aio.connect(server.url("line"), timeout=5) as conn:
            await conn.greeting()
            await conn.shutdown_write()
            await conn.receive()

    with pytest.raises(client.ClosedEarly):
        asyncio.run(talk())


def test_receive_with_nothing_to_answer_times_out(server: RunningServer) -> None:
    with client.connect(server.url("line"), timeout=0.3) as conn:
        conn.greeting()
        started = time.monotonic()
        with pytest.raises(client.ClientTimeout, match=r"^waited 0\.3s for a reply$"):
            conn.receive()
        assert time.monotonic() - started < 3


@pytest.fixture(scope="module")
def small_server() -> Iterator[RunningServer]:
    """The real server with a 16-byte message limit."""
    running = start_server("--max-message-bytes", "16")
    yield running
    running.stop()


@pytest.mark.parametrize("framing", list(Framing))
def test_too_large_is_server_refused(small_server: RunningServer, framing: Framing) -> None:
    with client.connect(small_server.url(framing), timeout=5) as conn:
        conn.greeting()
        with pytest.raises(client.ServerRefused) as caught:
            conn.request(b"x" * 17)
    assert caught.value.reason is ErrorReason.TOO_LARGE
    assert caught.value.exit_code == 6


def test_busy_instead_of_greeting_is_server_refused(server_factory: ServerFactory) -> None:
    full = server_factory("--max-connections", "1", "--overflow", "reject", listen=["line"])
    with client.connect(full.url("line"), timeout=5) as holder:
        holder.greeting()
        with (
            client.connect(full.url("line"), timeout=5) as late,
            pytest.raises(client.ServerRefused) as caught,
        ):
            late.greeting()
    assert caught.value.reason is ErrorReason.BUSY


@pytest.mark.parametrize("use_async", [False, True])
def test_reset_sends_rst(server: RunningServer, use_async: bool) -> None:
    if use_async:

        async def talk() -> None:
            conn = await aio.connect(server.url("frame"), timeout=5)
            await conn.greeting()
            await conn.reset()

        asyncio.run(talk())
        framing = "frame"
    else:
        conn = client.connect(server.url("line"), timeout=5)
        conn.greeting()
        conn.reset()
        framing = "line"
    server.wait_for_event("close", reason="reset", listener=server.url(framing))


def test_nothing_listening_is_connect_failed() -> None:
    with pytest.raises(client.ConnectFailed, match="refused"):
        client.connect(f"line://127.0.0.1:{free_port()}", connect_timeout=2)


def test_async_nothing_listening_is_connect_failed() -> None:
    with pytest.raises(client.ConnectFailed, match="refused"):
        asyncio.run(aio.connect(f"line://127.0.0.1:{free_port()}", connect_timeout=2))


def test_bad_url_is_a_plain_value_error() -> None:
    with pytest.raises(ValueError, match="scheme"):
        client.connect("http://127.0.0.1:80")


def test_wait_ready_gives_a_greeted_connection(server: RunningServer) -> None:
    with client.wait_ready(server.url("line"), 5) as conn:
        assert conn.request(b"ready") == b"ready"


def test_async_wait_ready_gives_up_with_the_last_error() -> None:
    started = time.monotonic()
    with pytest.raises(client.ConnectFailed):
        asyncio.run(aio.wait_ready(f"frame://127.0.0.1:{free_port()}", 0.5))
    assert 0.4 < time.monotonic() - started < 3


def test_greeting_constants_are_what_the_server_sends(server: RunningServer) -> None:
    with client.connect(server.url("frame"), timeout=5) as conn:
        assert conn.receive() == Greeting()
        assert conn.codec.greeting.endswith(model.GREETING)
        assert conn.request(b"") == b""
        assert model.ACK_PREFIX in conn.wire_bytes(Ack(b""))


def test_async_wait_ready_gives_a_greeted_connection(server: RunningServer) -> None:
    async def talk() -> bytes:
        async with await aio.wait_ready(server.url("seed"), 5) as conn:
            return await conn.request(b"ready")

    assert asyncio.run(talk()) == b"ready"
