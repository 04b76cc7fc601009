"""--max-connections in both overflow modes, and --max-sessions, through a real container."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from socket_harness import client
from socket_harness.protocol import ErrorReason, Framing
from tests.containers.conftest import StartServer
from tests.harness.containers import ServerContainer
from tests.harness.waiting import wait_until

# Tighter than the suite-wide 120 s: nothing here should take long. The bound is on the
# test itself: starting its container, slow on a busy machine, has its own startup timeout.
pytestmark = pytest.mark.timeout(30, func_only=True)

TIMEOUT = 10.0
LIMIT = 2


@contextlib.contextmanager
def greeted(server: ServerContainer, count: int) -> Iterator[list[client.Connection]]:
    """`count` connections that each got their greeting (each holds a slot)."""
    conns: list[client.Connection] = []
    try:
        for _ in range(count):
            conn = client.connect(server.url(Framing.LINE), timeout=TIMEOUT)
            conns.append(conn)
            conn.greeting()
        yield conns
    finally:
        for conn in conns:
            conn.close()


def test_pause_holds_the_extra_connection_in_the_kernel_queue_until_a_slot_frees(
    start_server: StartServer,
) -> None:
    server = start_server(max_connections=LIMIT, overflow="pause")
    with greeted(server, LIMIT) as held:
        # The connect completes (the kernel holds it) but nobody accepts it yet.
        with client.connect(server.url(Framing.LINE), timeout=TIMEOUT) as extra:
            wait_until(
                lambda: server.accept_queue(Framing.LINE) == 1,
                timeout=5,
                what="the extra connection in the listener's accept queue",
            )
            held[0].close()
            extra.greeting()  # accepted as soon as the slot is free
            assert extra.request(b"served after the wait") == b"served after the wait"
            assert server.accept_queue(Framing.LINE) == 0
        # The held ones were never disturbed.
        assert held[1].request(b"still here") == b"still here"


def test_reject_answers_busy_and_serves_again_once_a_slot_frees(
    start_server: StartServer,
) -> None:
    server = start_server(max_connections=LIMIT, overflow="reject")
    with greeted(server, LIMIT) as held:
        with client.connect(server.url(Framing.LINE), timeout=TIMEOUT) as extra:
            with pytest.raises(client.ServerRefused) as refused:
                extra.greeting()
            assert refused.value.reason is ErrorReason.BUSY
            assert extra.read_until_eof() == b"", "the server closes after ERR busy"
        server.wait_for_event("error", reason="busy")
        held[0].close()

        def served() -> bool:
            # The server learns of the close asynchronously: until then it may still say busy.
            try:
                with client.connect(server.url(Framing.LINE), timeout=TIMEOUT) as conn:
                    conn.greeting()
                    return conn.request(b"a free slot") == b"a free slot"
            except client.ServerRefused:
                return False

        wait_until(served, timeout=5, what="a greeting once a slot is free")


def test_max_sessions_serves_that_many_then_exits_zero(start_server: StartServer) -> None:
    sessions = 3
    server = start_server(max_sessions=sessions)
    for index in range(sessions):
        with client.connect(server.url(Framing.SEED), timeout=TIMEOUT) as conn:
            assert conn.exchange(f"session {index}".encode()) == f"session {index}".encode()
    assert server.wait_exit(timeout=10) == 0
    summary = server.wait_for_event("summary")
    assert summary["connections"] == str(sessions)
    assert "Traceback" not in server.logs()
