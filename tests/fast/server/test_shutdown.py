"""Graceful shutdown on SIGTERM/SIGINT: drain, drain timeout, second signal."""

from __future__ import annotations

import signal

import pytest

from tests.fast.server.peer import Peer, connect_refused
from tests.fast.server.process import RunningServer, ServerFactory
from tests.oracle import model

SHUTTING_DOWN = "shutting-down"


def half_a_frame(peer: Peer, body: bytes) -> bytes:
    """Send a frame's header and the first half of its body; return the rest."""
    wire = model.frame(body)
    cut = 4 + len(body) // 2  # the 4-byte header, then half the body
    peer.send(wire[:cut])
    return wire[cut:]


def wait_until_received(server: RunningServer, peer: Peer) -> None:
    """The server has read what `peer` sent: it answers a probe on another connection.

    A connection's data is read in order with every other event of the loop, so a
    fresh greeting proves the loop got past our earlier send.
    """
    with Peer(peer.endpoint) as probe:
        probe.expect_greeting()
    server.wait_for_log(lambda line: f"peer=127.0.0.1:{probe.local_port}" in line)


@pytest.mark.parametrize(
    ("sig", "loop"),
    [(signal.SIGTERM, "asyncio"), (signal.SIGINT, "asyncio"), (signal.SIGTERM, "uvloop")],
)
def test_signal_drains_in_flight_answers_idle_ones_and_refuses_new_connects(
    server_factory: ServerFactory, sig: signal.Signals, loop: str
) -> None:
    if loop == "uvloop":
        pytest.importorskip("uvloop")
    server = server_factory("--drain-timeout", "10", "--loop", loop)
    idle_line = Peer(server.endpoint("line"))
    idle_seed = Peer(server.endpoint("seed"))
    busy_frame = Peer(server.endpoint("frame"))
    for peer in (idle_line, idle_seed, busy_frame):
        peer.expect_greeting()
    rest = half_a_frame(busy_frame, b"in flight" * 100)
    wait_until_received(server, busy_frame)

    server.signal(sig)
    server.wait_for_event("shutdown", signal=sig.name)
    for framing in ("seed", "line", "frame"):
        assert connect_refused(server.endpoint(framing))
    assert idle_line.read_to_eof() == model.error("line", SHUTTING_DOWN)
    assert idle_seed.read_to_eof() == model.error("seed", SHUTTING_DOWN)
    idle_line.close()  # as a client does at EOF: the server need not linger any longer
    idle_seed.close()

    # The frame it was in the middle of is finished and answered, then it closes.
    assert busy_frame.nothing_arrives(0.1)
    busy_frame.send(rest)
    assert busy_frame.read_to_eof() == model.ack("frame", b"in flight" * 100) + model.error(
        "frame", SHUTTING_DOWN
    )
    assert server.wait(timeout=5) == 0
    assert server.events("drain")[0]["result"] == "complete"
    assert server.events("summary")[0]["exit_code"] == "0"
    assert server.stderr_text() == ""
    for peer in (idle_line, idle_seed, busy_frame):
        peer.close()


def test_drain_timeout_aborts_what_is_left_and_exits_3(server_factory: ServerFactory) -> None:
    server = server_factory("--drain-timeout", "0.5", listen=["frame"])
    with Peer(server.endpoint("frame")) as stuck:
        stuck.expect_greeting()
        half_a_frame(stuck, b"never finished")
        wait_until_received(server, stuck)
        server.signal(signal.SIGTERM)
        assert server.wait(timeout=5) == 3
        try:
            leftover = stuck.read_to_eof()
        except ConnectionResetError:
            leftover = b""
        assert leftover == b""  # dropped: neither an answer nor `ERR shutting-down`
    drain = server.events("drain")[0]
    assert drain["result"] == "timeout"
    assert drain["aborted"] == "1"
    assert server.wait_for_event("close", peer=f"127.0.0.1:{stuck.local_port}")["reason"] == (
        "aborted"
    )


def test_second_signal_aborts_at_once(server_factory: ServerFactory) -> None:
    server = server_factory("--drain-timeout", "60", listen=["line"])
    with Peer(server.endpoint("line")) as stuck:
        stuck.expect_greeting()
        stuck.send(b"a line without its end")
        wait_until_received(server, stuck)
        server.signal(signal.SIGTERM)
        server.wait_for_event("shutdown", signal="SIGTERM")
        server.signal(signal.SIGINT)
        assert server.wait(timeout=5) == 3
    assert server.events("shutdown")[1]["action"] == "abort"
    assert server.events("drain")[0]["result"] == "aborted"


def test_signal_with_no_connections_exits_0_at_once(server_factory: ServerFactory) -> None:
    server = server_factory()
    server.signal(signal.SIGTERM)
    assert server.wait(timeout=5) == 0
    events = [fields["event"] for fields in server.events()]
    assert events[-3:] == ["shutdown", "drain", "summary"]
