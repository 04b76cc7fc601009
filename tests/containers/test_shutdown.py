"""`docker stop` during in-flight exchanges: a clean drain, or the documented code if it cannot."""

from __future__ import annotations

import socket
import time

import pytest

from socket_harness import client
from socket_harness.protocol import Framing, parse_endpoint
from tests.containers.conftest import StartServer
from tests.harness.containers import ServerContainer
from tests.harness.waiting import wait_until
from tests.oracle import model
from tests.oracle.wire import WirePeer, first_difference

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
    in_flight: list[tuple[str, WirePeer, bytes]] = []
    idle: list[tuple[str, WirePeer]] = []
    for framing in ("line", "frame"):
        body = f"in flight on {framing}".encode()
        conn = WirePeer(server.name, *server.address(framing), timeout=TIMEOUT)
        greeting = model.greeting(framing)
        assert conn.take(len(greeting), "the greeting") == greeting
        wire = model.message(framing, body)
        conn.write(wire[: len(wire) // 2])  # the server now holds half a message
        in_flight.append((framing, conn, body))
        idle_conn = WirePeer(server.name, *server.address(framing), timeout=TIMEOUT)
        assert idle_conn.take(len(greeting), "the greeting") == greeting
        idle.append((framing, idle_conn))
    server.wait_for_events("open", 4)  # all four reached the server before the signal

    stopped_at = time.monotonic()
    stopper = server.stop_in_background(grace=GRACE)
    server.wait_for_event("shutdown", signal="SIGTERM", action="drain")

    wait_until(lambda: refused(server, Framing.LINE), timeout=5, what="new connects refused")
    for framing, conn in idle:
        got = conn.read_until_close("ERR shutting-down and the close")
        expected = model.error(framing, "shutting-down")
        assert got == expected, first_difference(expected, got)
        conn.close()
    for framing, conn, body in in_flight:
        wire = model.message(framing, body)
        conn.write(wire[len(wire) // 2 :])  # the rest of the message, after the signal
        # An in-flight message gets its whole answer, then the shutdown reply.
        got = conn.read_until_close("the in-flight answer and the close")
        expected = model.ack(framing, body) + model.error(framing, "shutting-down")
        assert got == expected, first_difference(expected, got)
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
