"""`load`'s count options: their defaults, their bounds, and the window on the wire.

The numbers are README's ("Load generator", the options table), written out here. The
defaults are seen by the server (each connection's bytes in its `close` line); the
window by a peer that reads messages and never answers them.
"""

from __future__ import annotations

import json
import socket
import threading

import pytest

from tests.fast.client.helpers import run_cli
from tests.fast.client.peers import ScriptedPeer
from tests.fast.server.process import ServerFactory

GREETING = "测试成功!\n".encode()


@pytest.mark.covers(
    "load/connections-option",
    "load/concurrency-option",
    "load/messages-option",
    "load/size-option",
    "load/window-option",
)
def test_the_defaults_are_100_connections_of_100_messages_of_64_bytes(
    server_factory: ServerFactory,
) -> None:
    server = server_factory(listen=["line"])
    done = run_cli("load", server.url("line"), "--json")
    assert done.returncode == 0, done.stderr
    planned = json.loads(done.stdout)["planned"]
    assert (planned["connections"], planned["concurrency"]) == (100, 10)
    assert (planned["messages_per_connection"], planned["size"]) == (100, 64)
    assert planned["window"] == 16
    # On the wire: 100 connections, each 100 lines of 64 bytes and a newline.
    server.wait_for_log(lambda _: len(server.events("close")) == 100, timeout=10)
    assert {e["bytes_in"] for e in server.events("close")} == {str(100 * 65)}


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--connections", "1000000001"], "--connections: must be from 1 to 1000000000"),
        (["--concurrency", "100001"], "--concurrency: must be from 1 to 100000"),
        (["--messages", "1000000001"], "--messages: must be from 0 to 1000000000"),
        (["--size", "16777217"], "--size: must be from 0 to 16777216"),  # 16 MiB + 1
        (["--window", "65537"], "--window: must be from 1 to 65536"),
        (["--size", "8193", "seed"], "seed:// needs 1 <= --size <= 8192"),
        (["--size", "0", "seed"], "seed:// needs 1 <= --size <= 8192"),
    ],
)
@pytest.mark.covers(
    "load/connections-option",
    "load/concurrency-option",
    "load/messages-option",
    "load/size-option",
    "load/window-option",
)
def test_one_past_each_bound_is_a_usage_error(args: list[str], says: str) -> None:
    scheme = "seed" if args[-1] == "seed" else "line"
    options = args[:-1] if scheme == "seed" else args
    done = run_cli("load", f"{scheme}://127.0.0.1:9", *options)  # nothing is sent: port 9
    assert done.returncode == 2, done.stderr
    assert says.encode() in done.stderr
    assert done.stderr.count(b"\n") == 1


class SilentLineReader:
    """A line peer that greets, then reads messages and answers none: counts them."""

    def __init__(self) -> None:
        self.received = b""
        self.closed = threading.Event()

    def __call__(self, sock: socket.socket) -> None:
        sock.sendall(GREETING)
        while chunk := sock.recv(65536):  # until the client gives up and closes
            self.received += chunk
        self.closed.set()


@pytest.mark.parametrize(("window", "unanswered"), [(None, 16), ("3", 3)])
@pytest.mark.covers("load/window-option")
def test_at_most_window_messages_are_unanswered(window: str | None, unanswered: int) -> None:
    reader = SilentLineReader()
    with ScriptedPeer(reader) as peer:
        done = run_cli(
            "load",
            peer.url("line"),
            *("--connections", "1", "--messages", "40", "--size", "5", "--timeout", "1"),
            *(["--window", window] if window else []),
            "--json",
        )
        assert reader.closed.wait(timeout=10), "the client never closed its connection"
    assert done.returncode == 1, done.stderr
    assert json.loads(done.stdout)["errors"] == {"timeout": 1}
    # Every message ends with a newline; with no ack, the window's worth and no more.
    assert reader.received.count(b"\n") == unanswered
    assert len(reader.received) == unanswered * 6
