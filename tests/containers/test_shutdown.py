"""`docker stop` during in-flight exchanges: a clean drain, or the documented code if it cannot."""

from __future__ import annotations

import socket
import time

import pytest

from socket_harness import client
from socket_harness.protocol import Ack, ErrorReason, Framing, ServerError, parse_endpoint
from tests.containers.conftest import StartServer
from tests.harness.containers import ServerContainer
from tests.harness.waiting import wait_until

# Tighter than the suite-wide 120 s: nothing here should take long. The bound is on the
# test itself: starting its container, slow on a busy machine, has its own startup timeout.
pytestmark = pytest.mark.timeout(40, func_only=True)

TIMEOUT = 10.0
GRACE = 20  # docker stop's wait before SIGKILL: far above any drain timeout here
EXIT_DRAIN_TIMED_OUT = 3


def refused(server: ServerContainer, framing: Framing) -> bool:
    """True once a connect is actively refused (RST): not merely slow, not accepted."""
    endpoint = parse_endpoint(server.url(framing))
    try:
        socket.create_connection((endpoint.host, endpoint.port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    except TimeoutError:
        return False
    return False


def test_docker_stop_answers_in_flight_messages_and_exits_zero(start_server: StartServer) -> None:
    drain_timeout = 5.0
    server = start_server(drain_timeout=drain_timeout)
    in_flight: dict[Framing, tuple[client.Connection, bytes, int]] = {}
    idle: list[client.Connection] = []
    for framing in (Framing.LINE, Framing.FRAME):
        body = f"in flight on {framing}".encode()
        conn = client.connect(server.url(framing), timeout=TIMEOUT)
        conn.greeting()
        wire = conn.codec.encode_message(body)
        half = len(wire) // 2
        conn.send_raw(wire[:half])  # the server now holds half a message
        in_flight[framing] = (conn, wire, half)
        idle_conn = client.connect(server.url(framing), timeout=TIMEOUT)
        idle_conn.greeting()
        idle.append(idle_conn)
    server.wait_for_events("open", 4)  # all four reached the server before the signal

    stopped_at = time.monotonic()
    stopper = server.stop_in_background(grace=GRACE)
    server.wait_for_event("shutdown", signal="SIGTERM", action="drain")

    wait_until(lambda: refused(server, Framing.LINE), timeout=5, what="new connects refused")
    for conn in idle:
        assert conn.receive() == ServerError(ErrorReason.SHUTTING_DOWN)
        assert conn.read_until_eof() == b""
    for conn, wire, half in in_flight.values():
        conn.send_raw(wire[half:])  # the rest of the message, after the signal
        body = conn.codec.message_decoder(len(wire)).feed(wire)[0]
        assert conn.receive() == Ack(body), "an in-flight message gets its whole answer"
        conn.close()

    assert server.wait_exit(timeout=drain_timeout + 5) == 0
    stopper.join(timeout=GRACE)
    assert time.monotonic() - stopped_at < drain_timeout + 2, "exit within the drain timeout"
    logs = server.logs()
    assert "Traceback" not in logs
    summary = server.wait_for_event("summary")
    assert int(summary["connections"]) >= 4
    assert server.events("drain") == [server.wait_for_event("drain", result="complete")]


def test_a_drain_that_cannot_finish_ends_with_code_3(start_server: StartServer) -> None:
    drain_timeout = 1.0
    server = start_server(drain_timeout=drain_timeout)
    stuck = client.connect(server.url(Framing.LINE), timeout=TIMEOUT)
    stuck.greeting()
    stuck.send_raw(b"never finished")  # no newline: the message stays in flight
    server.wait_for_event("open")

    stopped_at = time.monotonic()
    stopper = server.stop_in_background(grace=GRACE)
    assert server.wait_exit(timeout=drain_timeout + 10) == EXIT_DRAIN_TIMED_OUT
    stopper.join(timeout=GRACE)
    elapsed = time.monotonic() - stopped_at
    assert drain_timeout <= elapsed < drain_timeout + 5, f"gave up after {elapsed:.1f} s"
    with pytest.raises(client.ClosedEarly):
        stuck.receive()  # aborted: no answer will ever come
    stuck.close()
    drain = server.wait_for_event("drain", result="timeout")
    assert drain["aborted"] == "1"
    assert server.events("summary")
    assert "Traceback" not in server.logs()
