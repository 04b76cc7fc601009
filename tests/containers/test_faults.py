"""Bad input and misbehaving peers: what only this project's server does about them.

The target-generic fault checks (resets, half-close, truncated frames, garbage, a peer
that never reads, a connect flood, file descriptors and memory back to baseline) are the
conformance suite's (socket_harness/conformance/test_faults.py, run against
targets/socket-harness.toml by tests/containers/test_conformance.py). What stays here is
this server's own: its JSON log events (a reset is logged reason=reset, an idle peer
reason=idle-timeout), its lingering close after `too-large`, its idle timer, and its
promise never to log a traceback for a peer's misbehaviour (checked after every test).
The bytes the server must send come from the reference model (tests/oracle/model.py).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from socket_harness import client
from socket_harness.protocol import Framing
from tests.containers.conftest import StartServer
from tests.harness.containers import ServerContainer
from tests.harness.logs import logged_peer
from tests.oracle import model
from tests.oracle.wire import WirePeer, first_difference

LIMIT = 16 * 1024
IDLE_TIMEOUT = 1.0
TIMEOUT = 10.0


@pytest.fixture(scope="module")
def module_server(start_module_server: StartServer) -> ServerContainer:
    return start_module_server(max_message_bytes=LIMIT, idle_timeout=IDLE_TIMEOUT)


@pytest.fixture
def server(module_server: ServerContainer) -> Iterator[ServerContainer]:
    """The module's server; after the test, proof that no fault was logged as a traceback."""
    yield module_server
    assert "Traceback" not in module_server.logs()


def connect(server: ServerContainer, framing: str) -> WirePeer:
    return WirePeer(server.name, *server.address(framing), timeout=TIMEOUT)


def assert_bytes(expected: bytes, got: bytes) -> None:
    assert got == expected, first_difference(expected, got)


@pytest.mark.covers("errors/too-large", "server/peer-misbehaviour")
@pytest.mark.parametrize("framing", ["line", "frame"])
def test_oversize_gets_too_large(server: ServerContainer, framing: str) -> None:
    with connect(server, framing) as peer:
        # The whole of it, far past the limit: the server drains what follows its
        # error (a lingering close), so no reset overtakes `ERR too-large`.
        peer.write(model.message(framing, b"o" * (64 * LIMIT)))
        got = peer.read_until_close("ERR too-large and the close")
    assert_bytes(model.greeting(framing) + model.error(framing, "too-large"), got)


@pytest.mark.covers("server/peer-misbehaviour")
def test_reset_in_the_middle_of_a_message_is_logged_as_reset(server: ServerContainer) -> None:
    conn = client.connect(server.url(Framing.LINE), timeout=TIMEOUT)
    conn.greeting()
    conn.send_raw(b"half a mess")
    peer = logged_peer(conn.sock)
    conn.reset()
    server.wait_for_event("close", peer=peer, reason="reset")


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
