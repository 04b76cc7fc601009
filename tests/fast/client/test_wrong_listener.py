"""A client at a listener of another framing, or at a silent peer: the error says what it
most likely is, and what was waited for.

Oracle: the greetings and errors of docs/protocol.md, as literal bytes: seed and line greet
`测试成功!\\n`; frame greets the same text in a frame (4-byte big-endian length 14).
"""

from __future__ import annotations

import asyncio
import socket

import pytest

from socket_harness import client
from socket_harness.client import aio
from socket_harness.client.diagnose import first_bytes_hint
from socket_harness.protocol import Framing
from tests.fast.client.helpers import run_cli
from tests.fast.client.peers import ScriptedPeer, hold_until_client_closes, never_greets
from tests.fast.server.process import RunningServer

LINE_GREETING = "测试成功!\n".encode()
FRAME_GREETING = b"\x00\x00\x00\x0e" + LINE_GREETING
ACK = "收到的信息:".encode()

SEED_OR_LINE_GREETING = b"the first bytes look like the greeting of a seed:// or line:// listener"
FRAME_LISTENER_GREETING = b"the first bytes look like the greeting of a frame:// listener"


@pytest.mark.covers("client/wrong-listener", "troubleshooting/wrong-scheme")
@pytest.mark.parametrize(
    ("ours", "theirs", "words"),
    [
        ("frame", "line", SEED_OR_LINE_GREETING + b", not a frame:// one"),
        ("frame", "seed", SEED_OR_LINE_GREETING + b", not a frame:// one"),
        ("line", "frame", FRAME_LISTENER_GREETING + b", not a line:// one"),
        ("seed", "frame", FRAME_LISTENER_GREETING + b", not a seed:// one"),
    ],
)
def test_another_framings_greeting_is_named(
    server: RunningServer, ours: str, theirs: str, words: bytes
) -> None:
    url = f"{ours}://127.0.0.1:{server.endpoint(theirs).port}"
    done = run_cli(url, "hello")
    assert done.returncode == 7
    assert done.stderr.startswith(b"client: unexpected-bytes: " + words)
    assert b"exceeds" not in done.stderr  # not the byte count a wrong length prefix makes
    assert done.stderr.count(b"\n") == 1


@pytest.mark.covers("client/wrong-listener", "troubleshooting/wrong-scheme")
def test_seed_client_at_a_line_listener_names_the_open_connection(server: RunningServer) -> None:
    """The line listener answers a line and keeps the connection open; seed waits for a close."""
    url = f"seed://127.0.0.1:{server.endpoint('line').port}"
    done = run_cli(url, r"hello\n", "--timeout", "0.5")
    assert done.returncode == 4
    assert done.stdout == LINE_GREETING
    assert done.stderr == (
        b"client: timeout: waited 0.5s for the answer to message 1; an answer came but the "
        b"server kept the connection open, as a line:// listener does (a seed:// server "
        b"closes after its answer)\n"
    )


@pytest.mark.covers("client/wrong-listener", "troubleshooting/wrong-scheme")
def test_seed_client_at_a_line_listener_without_a_newline(server: RunningServer) -> None:
    url = f"seed://127.0.0.1:{server.endpoint('line').port}"
    done = run_cli(url, "hello", "--timeout", "0.5")
    assert done.returncode == 4
    assert done.stderr == (
        b"client: timeout: waited 0.5s for the answer to message 1; nothing came after the "
        b"greeting; a line:// listener, which greets the same way, waits for a newline before "
        b"it answers\n"
    )


@pytest.mark.covers("client/wrong-listener", "troubleshooting/wrong-scheme")
def test_line_client_at_a_seed_listener_names_the_seed_answer(server: RunningServer) -> None:
    """A seed listener answers once, what it read plus a newline: an empty line follows."""
    url = f"line://127.0.0.1:{server.endpoint('seed').port}"
    done = run_cli(url, "one", "two")
    assert done.returncode == 7
    assert done.stdout == LINE_GREETING + ACK + b"one\n"
    assert done.stderr == (
        b"client: unexpected-bytes: an empty line after an answer, as a seed:// listener sends "
        b"(it answers once, what it read plus a newline, and closes), not a line:// one\n"
    )


@pytest.mark.parametrize(
    ("ours", "first", "named"),
    [
        (Framing.FRAME, LINE_GREETING, "the greeting of a seed:// or line:// listener"),
        (Framing.FRAME, b"ERR busy\n", "ERR busy of a seed:// or line:// listener"),
        (Framing.FRAME, LINE_GREETING[:5], "the greeting of a seed:// or line:// listener"),
        (Framing.LINE, b"\x00\x00\x00\x08ERR busy", "ERR busy of a frame:// listener"),
        (Framing.SEED, FRAME_GREETING[:6], "the greeting of a frame:// listener"),
    ],
)
def test_first_bytes_of_another_listener_are_recognised(
    ours: Framing, first: bytes, named: str
) -> None:
    assert (
        first_bytes_hint(ours, first) == f"the first bytes look like {named}, not a {ours}:// one"
    )


@pytest.mark.parametrize(
    ("ours", "first"),
    [
        (Framing.FRAME, b"HTTP/1.1 400 Bad Request\r\n"),
        (Framing.LINE, LINE_GREETING),  # our own greeting: no mismatch
        (Framing.SEED, b"ERR busy\n"),
        (Framing.FRAME, LINE_GREETING[:3]),  # too few bytes to tell
    ],
)
def test_other_bytes_are_not_named(ours: Framing, first: bytes) -> None:
    assert first_bytes_hint(ours, first) is None


# --- silent peers: the timeout names what it waited for ---------------------------------


def answers_lines(count: int) -> ScriptedPeer:
    """A line peer that greets, acks the first `count` lines, then says nothing."""

    def script(sock: socket.socket) -> None:
        sock.sendall(LINE_GREETING)
        received = b""
        for _ in range(count):
            while b"\n" not in received:
                chunk = sock.recv(65536)
                if not chunk:
                    return
                received += chunk
            line, _, received = received.partition(b"\n")
            sock.sendall(ACK + line + b"\n")
        hold_until_client_closes(sock)

    return ScriptedPeer(script)


def greets_then_silent_from_connection(number: int) -> ScriptedPeer:
    """A seed peer: the tutorial's exchange on the first connections; from connection
    `number` on it greets and then says nothing."""
    connections = iter(range(1, 1000))

    def script(sock: socket.socket) -> None:
        sock.sendall(LINE_GREETING)
        if next(connections) >= number:
            hold_until_client_closes(sock)
            return
        sock.sendall(ACK + sock.recv(8192) + b"\n")

    return ScriptedPeer(script)


# README (CLI): the timeout names what it waited for, and silence says what it most likely means.
GREETING_TIMEOUT = (
    "waited 0.3s for the greeting; nothing came"
    " (a target that greets nobody: --greeting none, greeting=None)"
)


@pytest.mark.covers("client/timeout-names")
@pytest.mark.parametrize("framing", list(Framing))
def test_timeout_before_the_greeting_names_the_greeting(framing: Framing) -> None:
    with ScriptedPeer(never_greets) as peer:
        done = run_cli(peer.url(framing), "hello", "--timeout", "0.3")
    assert done.returncode == 4
    assert done.stderr == b"client: timeout: " + GREETING_TIMEOUT.encode() + b"\n"


def test_library_timeout_names_the_greeting_sync_and_async() -> None:
    async def greet(url: str) -> None:
        async with await aio.connect(url, timeout=0.3) as conn:
            await conn.greeting()

    with ScriptedPeer(never_greets) as peer:
        with (
            client.connect(peer.url("line"), timeout=0.3) as conn,
            pytest.raises(client.ClientTimeout) as caught,
        ):
            conn.greeting()
        assert str(caught.value) == GREETING_TIMEOUT
        with pytest.raises(client.ClientTimeout) as caught:
            asyncio.run(greet(peer.url("frame")))
        assert str(caught.value) == GREETING_TIMEOUT


@pytest.mark.covers("client/timeout-names")
def test_timeout_after_an_answer_names_the_next_message() -> None:
    with answers_lines(1) as peer:
        done = run_cli(peer.url("line"), "one", "two", "--timeout", "0.3")
    assert done.returncode == 4
    assert done.stdout == LINE_GREETING + ACK + b"one\n"
    assert done.stderr == b"client: timeout: waited 0.3s for the answer to message 2\n"


@pytest.mark.covers("client/timeout-names")
def test_seed_timeout_numbers_the_message_over_its_connections() -> None:
    """seed:// opens a connection per message; the second one's answer never comes."""
    with greets_then_silent_from_connection(2) as peer:
        done = run_cli(peer.url("seed"), "one", "two", "--timeout", "0.3")
    assert done.returncode == 4
    assert done.stdout == LINE_GREETING + ACK + b"one\n" + LINE_GREETING
    assert done.stderr.startswith(b"client: timeout: waited 0.3s for the answer to message 2;")


def test_async_timeout_names_the_answer_it_waited_for() -> None:
    async def talk(url: str) -> None:
        async with await aio.connect(url, timeout=0.3) as conn:
            await conn.greeting()
            assert await conn.request(b"one") == b"one"
            await conn.request(b"two")

    with answers_lines(1) as peer, pytest.raises(client.ClientTimeout) as caught:
        asyncio.run(talk(peer.url("line")))
    assert str(caught.value) == "waited 0.3s for the answer to message 2"
