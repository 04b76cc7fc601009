"""The listen backlog, measured: with the one slot held, the kernel queues exactly backlog + 1.

Linux keeps up to backlog + 1 completed connections in a listener's accept
queue; past that it drops the SYN, so a further connect times out rather than
being refused. The depth is read inside the container from /proc/net/tcp.
"""

from __future__ import annotations

import socket

import pytest

from socket_harness import client
from socket_harness.protocol import Framing, parse_endpoint
from tests.containers.conftest import StartServer

# Tighter than the suite-wide 120 s: nothing here should take long. The bound is on the
# test itself: starting its container, slow on a busy machine, has its own startup timeout.
pytestmark = pytest.mark.timeout(30, func_only=True)

BACKLOG = 3
EXTRA = 3  # connects beyond what the queue can hold
# Long enough for a connect on a bridge (well under a millisecond), short enough to be cheap.
CONNECT_TIMEOUT = 0.5
TIMEOUT = 10.0


def try_connect(url: str) -> socket.socket | None:
    """A connected socket, or None when the connect timed out. Refused raises: it must not be."""
    endpoint = parse_endpoint(url)
    try:
        return socket.create_connection((endpoint.host, endpoint.port), timeout=CONNECT_TIMEOUT)
    except TimeoutError:
        return None


def test_backlog_queues_exactly_backlog_plus_one_and_serves_them_in_order(
    start_server: StartServer,
) -> None:
    server = start_server(max_connections=1, overflow="pause", backlog=BACKLOG)
    url = server.url(Framing.LINE)
    holder = client.connect(url, timeout=TIMEOUT)
    holder.greeting()

    outcomes = [try_connect(url) for _ in range(BACKLOG + 1 + EXTRA)]
    queued = [sock for sock in outcomes if sock is not None]
    try:
        # In connect order: the first backlog + 1 complete, every later one times out.
        assert [sock is not None for sock in outcomes] == [True] * (BACKLOG + 1) + [False] * EXTRA
        assert server.accept_queue(Framing.LINE) == BACKLOG + 1

        holder.close()
        # The slot frees one at a time: each queued connection must be the next one greeted.
        endpoint = parse_endpoint(url)
        for index, sock in enumerate(queued):
            conn = client.Connection(sock, endpoint, timeout=TIMEOUT)
            conn.greeting()
            body = f"queued {index}".encode()
            assert conn.request(body) == body
            conn.close()
        assert server.accept_queue(Framing.LINE) == 0
    finally:
        for sock in queued:
            sock.close()
        holder.close()
