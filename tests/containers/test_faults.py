"""Bad input and misbehaving peers: each has its documented outcome, and the server recovers.

One server serves the module. After every fault the server must answer a
normal exchange, its open file descriptors (/proc/1/fd) must return to the
baseline taken at start, and its memory must stay within MEMORY_BOUND_KIB of
the baseline: a fault may cost a little memory, never a leak that grows.
The bytes the server must send come from the reference model (tests/oracle/model.py)
and are read by a plain socket peer, never decoded by protocol/ or client/.
"""

from __future__ import annotations

import selectors
import socket
import time
from collections.abc import Iterator

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from socket_harness import client
from socket_harness.protocol import Framing, parse_endpoint
from socket_harness.strategies import container_settings, payloads
from tests.containers.conftest import StartServer
from tests.harness.containers import ServerContainer
from tests.harness.logs import logged_peer
from tests.harness.waiting import wait_until
from tests.oracle import model
from tests.oracle.target import stopped
from tests.oracle.wire import WirePeer, first_difference

LIMIT = 16 * 1024
IDLE_TIMEOUT = 1.0
SEND_BUFFER = 64 * 1024
BACKLOG = 16
FLOOD = 300  # connects at once: many times the backlog
TIMEOUT = 10.0
# What the server may hold beyond its start: buffers of one connection at the send
# limit, the allocator's slack, the flood's connection objects. A leak passes it.
MEMORY_BOUND_KIB = 16 * 1024


class Baseline:
    def __init__(self, server: ServerContainer) -> None:
        self.server = server
        self.fds = server.fd_count()
        self.rss_kib = server.rss_kib()


@pytest.fixture(scope="module")
def baseline(start_module_server: StartServer) -> Baseline:
    server = start_module_server(
        max_message_bytes=LIMIT,
        idle_timeout=IDLE_TIMEOUT,
        send_buffer_bytes=SEND_BUFFER,
        backlog=BACKLOG,
    )
    return Baseline(server)


@pytest.fixture
def server(baseline: Baseline) -> Iterator[ServerContainer]:
    """The module's server; after the test, proof that it recovered."""
    yield baseline.server
    assert_recovered(baseline)


def connect(server: ServerContainer, framing: str) -> WirePeer:
    return WirePeer(server.name, *server.address(framing), timeout=TIMEOUT)


def assert_bytes(expected: bytes, got: bytes) -> None:
    assert got == expected, first_difference(expected, got)


def assert_recovered(baseline: Baseline) -> None:
    server = baseline.server
    with connect(server, "line") as peer:
        peer.write(b"after the fault\n")
        peer.half_close()
        got = peer.read_until_close("the answer after the fault")
    assert_bytes(model.exchange("line", b"after the fault\n", LIMIT), got)
    wait_until(
        lambda: server.fd_count() == baseline.fds,
        timeout=IDLE_TIMEOUT + 5,
        what=f"the server's fd count back to its baseline of {baseline.fds}",
    )
    grown = server.rss_kib() - baseline.rss_kib
    assert grown < MEMORY_BOUND_KIB, f"RSS grew by {grown} KiB"
    assert "Traceback" not in server.logs()


@pytest.mark.covers("errors/too-large", "server/peer-misbehaviour")
@pytest.mark.parametrize("framing", ["line", "frame"])
def test_oversize_gets_too_large(server: ServerContainer, framing: str) -> None:
    with connect(server, framing) as peer:
        # The whole of it, far past the limit: the server drains what follows its
        # error (a lingering close), so no reset overtakes `ERR too-large`.
        peer.write(model.message(framing, b"o" * (64 * LIMIT)))
        got = peer.read_until_close("ERR too-large and the close")
    assert_bytes(model.greeting(framing) + model.error(framing, "too-large"), got)


@pytest.mark.covers("frame/truncated-at-eof")
def test_truncated_frame_then_eof_is_dropped_without_an_answer(server: ServerContainer) -> None:
    with connect(server, "frame") as peer:
        peer.write(model.frame(b"t" * 100)[:50])
        peer.half_close()
        got = peer.read_until_close("the close after EOF")
        assert_bytes(model.greeting("frame"), got)  # a truncated frame is not a message
        server.wait_for_event("close", peer=logged_peer(peer.sock))


@pytest.mark.covers("server/peer-misbehaviour")
def test_reset_in_the_middle_of_a_message_is_logged_as_reset(server: ServerContainer) -> None:
    conn = client.connect(server.url(Framing.LINE), timeout=TIMEOUT)
    conn.greeting()
    conn.send_raw(b"half a mess")
    peer = logged_peer(conn.sock)
    conn.reset()
    server.wait_for_event("close", peer=peer, reason="reset")


@pytest.mark.covers("line/half-close")
def test_half_close_still_gets_every_answer(server: ServerContainer) -> None:
    bodies = [b"one", b"two", b"three"]
    with connect(server, "line") as peer:
        peer.write(b"one\ntwo\nthree\n")
        peer.half_close()
        got = peer.read_until_close("every answer, then the close")
    assert_bytes(model.greeting("line") + b"".join(model.ack("line", b) for b in bodies), got)


@pytest.mark.covers("server/idle-timeout", "errors/idle-timeout")
def test_a_slow_sender_lives_while_it_sends_and_times_out_when_silent(
    server: ServerContainer,
) -> None:
    with connect(server, "line") as peer:
        # One byte at a time, each gap well under the idle timeout: longer than it in total.
        for index, byte in enumerate(b"slow\n"):
            if index:
                time.sleep(IDLE_TIMEOUT / 3)
            peer.write(bytes([byte]))
        answered = model.greeting("line") + model.ack("line", b"slow")
        assert_bytes(answered, peer.take(len(answered), "the answer to the slow message"))
        silent_since = time.monotonic()
        got = peer.read_until_close("ERR idle-timeout and the close")
        waited = time.monotonic() - silent_since
    assert_bytes(model.error("line", "idle-timeout"), got)
    assert IDLE_TIMEOUT * 0.9 <= waited < IDLE_TIMEOUT + 2, f"idle timeout after {waited:.2f} s"


@pytest.mark.covers("server/idle-timeout")
def test_a_byte_per_gap_longer_than_the_idle_timeout_is_cut_off(server: ServerContainer) -> None:
    with connect(server, "line") as peer:
        peer.write(b"s")  # then silence longer than the idle timeout
        got = peer.read_until_close("ERR idle-timeout and the close")
    assert_bytes(model.greeting("line") + model.error("line", "idle-timeout"), got)
    server.wait_for_event("error", reason="idle-timeout")


@pytest.mark.covers("server/backpressure")
def test_a_peer_that_never_reads_cannot_grow_the_server(server: ServerContainer) -> None:
    message = b"n" * (LIMIT - 1)
    with client.connect(server.url(Framing.LINE), timeout=1.0) as conn:
        conn.greeting()
        # Send until the server stops reading us (its answers pile up unread).
        sent = send_until_blocked(conn, message, give_up_after=256 * 1024 * 1024)
        peak = server.peak_rss_kib()
        conn.reset()
    assert sent is not None, "the server kept reading a peer that never reads"
    assert peak - server.rss_kib() < MEMORY_BOUND_KIB, f"peak RSS {peak} KiB"


def send_until_blocked(conn: client.Connection, message: bytes, give_up_after: int) -> int | None:
    """Bytes sent before a send timed out (or the server closed); None if it never blocked."""
    sent = 0
    while sent < give_up_after:
        try:
            conn.send(message)
        except (client.ClientTimeout, client.ClosedEarly):
            return sent
        sent += len(message)
    return None


@pytest.mark.covers("server/peer-misbehaviour", "line/message-body")
@container_settings(15)
@given(
    framing=st.sampled_from(model.FRAMINGS),
    garbage=st.one_of(st.binary(max_size=512), payloads(2 * LIMIT, bounds=(LIMIT,))),
)
@example(framing="line", garbage=b"x" * LIMIT + b"\r\n" + b"y" * (LIMIT + 1))
@example(framing="frame", garbage=b"\0\0\0\0" + (LIMIT + 1).to_bytes(4, "big"))
@example(framing="seed", garbage=b"z" * (LIMIT + 1))
def test_garbage_gets_exactly_what_the_model_says(
    server: ServerContainer, framing: str, garbage: bytes
) -> None:
    """Random bytes, whatever they mean in a framing: the answers the reference model
    predicts, then the close. Sent up to where a fault is certain (a sender that goes
    on past it races the server's close); seed's bytes are all queued for its one read."""
    reading = model.read(framing, garbage, LIMIT)
    sent = garbage[: reading.certain_at]
    with connect(server, framing) as peer:
        if framing == "seed":
            with stopped(server):
                peer.write_acknowledged(sent)
        elif sent:
            peer.write(sent)
        peer.half_close()
        got = peer.read_until_close("the answers and the close")
    assert_bytes(model.exchange(framing, sent, LIMIT), got)


@pytest.mark.covers("server/backlog")
def test_a_connect_flood_far_past_the_backlog(server: ServerContainer) -> None:
    endpoint = parse_endpoint(server.url(Framing.LINE))
    selector = selectors.DefaultSelector()
    socks: list[socket.socket] = []
    try:
        for _ in range(FLOOD):
            sock = socket.socket()
            sock.setblocking(False)
            sock.connect_ex((endpoint.host, endpoint.port))
            selector.register(sock, selectors.EVENT_WRITE)
            socks.append(sock)
        # Until every connect has finished or the deadline passes (dropped SYNs retry).
        pending = len(socks)
        deadline = time.monotonic() + 3
        while pending and time.monotonic() < deadline:
            for key, _ in selector.select(timeout=0.2):
                selector.unregister(key.fileobj)
                pending -= 1
        connected = sum(1 for s in socks if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0)
        assert connected > BACKLOG + 1, "the server kept accepting during the flood"
    finally:
        selector.close()
        for sock in socks:
            sock.close()
