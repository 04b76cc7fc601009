"""Many concurrent connections doing anything in any order, against one server container.

A hypothesis state machine opens connections, sends parts of messages,
finishes them, reads, half-closes and resets at random. It keeps a model of
what each connection is owed and checks, step by step:

- every complete message is answered exactly once and in order (and a
  partial message never is);
- open connections never exceed --max-connections: while the model holds
  LIMIT, the next connect must be refused `ERR busy`;
- the server stays healthy: running, and back to its baseline of open file
  descriptors once every connection is gone.

The model knows a connection is gone from the server's own `close` log line,
so it never races the server's bookkeeping. The bytes each connection is owed
come from the reference model (tests/oracle/model.py) and are read by a plain
socket peer, never decoded by protocol/ or client/.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from socket_harness.strategies import container_settings, payloads
from tests.containers.conftest import StartServer
from tests.harness.containers import ServerContainer
from tests.harness.logs import logged_peer
from tests.harness.waiting import wait_until
from tests.oracle import model
from tests.oracle.wire import WirePeer, first_difference

LIMIT = 4
MAX_BODY = 4096
TIMEOUT = 10.0


@dataclass
class Peer:
    """One open connection and what the server owes it."""

    conn: WirePeer
    framing: str
    peer: str  # as the server logs it
    owed: list[bytes] = field(default_factory=list)  # complete, not yet read
    partial: bytes = b""  # wire bytes of the message being sent
    partial_sent: int = 0


def assert_bytes(expected: bytes, got: bytes) -> None:
    assert got == expected, first_difference(expected, got)


@pytest.fixture(scope="module")
def server(start_module_server: StartServer) -> ServerContainer:
    return start_module_server(max_connections=LIMIT, overflow="reject", idle_timeout=0)


class ConnectionsMachine(RuleBasedStateMachine):
    server: ServerContainer
    baseline_fds: int

    def __init__(self) -> None:
        super().__init__()
        self.peers: list[Peer] = []

    # --- helpers ---------------------------------------------------------------

    def _gone(self, peer: Peer) -> None:
        """Wait until the server has logged this connection's close: its slot is free."""
        self.server.wait_for_event("close", peer=peer.peer)
        self.peers.remove(peer)

    # --- rules -----------------------------------------------------------------

    @rule(framing=st.sampled_from(["line", "frame"]))
    def open(self, framing: str) -> None:
        conn = WirePeer(self.server.name, *self.server.address(framing), timeout=TIMEOUT)
        if len(self.peers) < LIMIT:
            greeting = model.greeting(framing)
            assert_bytes(greeting, conn.take(len(greeting), "the greeting"))
            self.peers.append(Peer(conn, framing, logged_peer(conn.sock)))
            return
        with conn:  # over the limit: ERR busy instead of the greeting, then the close
            assert_bytes(model.error(framing, "busy"), conn.read_until_close("ERR busy"))

    @precondition(lambda self: self.peers)
    @rule(data=st.data(), body=payloads(MAX_BODY), cut=st.floats(0, 1))
    def send_part(self, data: st.DataObject, body: bytes, cut: float) -> None:
        peer = data.draw(st.sampled_from(self.peers), label="peer")
        if not peer.partial:
            if peer.framing == "line":
                body = body.replace(b"\n", b"")
            peer.partial, peer.partial_sent = model.message(peer.framing, body), 0
        remaining = len(peer.partial) - peer.partial_sent
        count = min(remaining - 1, int(remaining * cut))  # never the last byte
        if count > 0:
            peer.conn.write(peer.partial[peer.partial_sent : peer.partial_sent + count])
            peer.partial_sent += count

    @precondition(lambda self: any(p.partial for p in self.peers))
    @rule(data=st.data())
    def finish(self, data: st.DataObject) -> None:
        peer = data.draw(st.sampled_from([p for p in self.peers if p.partial]), label="peer")
        peer.conn.write(peer.partial[peer.partial_sent :])
        peer.owed.extend(model.read(peer.framing, peer.partial, len(peer.partial)).messages)
        peer.partial, peer.partial_sent = b"", 0

    @precondition(lambda self: any(p.owed for p in self.peers))
    @rule(data=st.data())
    def read(self, data: st.DataObject) -> None:
        peer = data.draw(st.sampled_from([p for p in self.peers if p.owed]), label="peer")
        expected = model.ack(peer.framing, peer.owed.pop(0))
        assert_bytes(expected, peer.conn.take(len(expected), "the answer it is owed"))

    @precondition(lambda self: self.peers)
    @rule(data=st.data())
    def half_close(self, data: st.DataObject) -> None:
        peer = data.draw(st.sampled_from(self.peers), label="peer")
        peer.conn.half_close()
        # Every answer owed and nothing more: not one twice, not one for the unfinished message.
        owed = b"".join(model.ack(peer.framing, body) for body in peer.owed)
        assert_bytes(owed, peer.conn.read_until_close("the answers owed, then the close"))
        peer.conn.close()
        self._gone(peer)

    @precondition(lambda self: self.peers)
    @rule(data=st.data())
    def reset(self, data: st.DataObject) -> None:
        peer = data.draw(st.sampled_from(self.peers), label="peer")
        peer.conn.reset()
        self._gone(peer)

    # --- invariants --------------------------------------------------------------

    @invariant()
    def within_the_limit(self) -> None:
        assert len(self.peers) <= LIMIT

    @invariant()
    def server_running(self) -> None:
        assert self.server.status() == "running"

    def teardown(self) -> None:
        for peer in list(self.peers):
            peer.conn.reset()
            self._gone(peer)
        wait_until(
            lambda: self.server.fd_count() == self.baseline_fds,
            timeout=5,
            what="the server's fd count back to baseline",
        )


@pytest.mark.covers("line/pipelined-in-order", "frame/pipelined-in-order")
@pytest.mark.hypothesis  # hypothesis marks @given tests itself; `make fuzz` selects on it
def test_concurrent_connections_behave_in_any_order(server: ServerContainer) -> None:
    ConnectionsMachine.server = server
    ConnectionsMachine.baseline_fds = server.fd_count()
    run_state_machine_as_test(
        ConnectionsMachine, settings=container_settings(10, stateful_step_count=25)
    )
