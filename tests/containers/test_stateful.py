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
so it never races the server's bookkeeping.
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

from socket_harness import client
from socket_harness.protocol import Ack, ErrorReason, Framing
from tests.containers.conftest import StartServer
from tests.harness.containers import ServerContainer
from tests.harness.logs import logged_peer
from tests.harness.strategies import container_settings, payloads
from tests.harness.waiting import wait_until

LIMIT = 4
MAX_BODY = 4096
TIMEOUT = 10.0


@dataclass
class Peer:
    """One open connection and what the server owes it."""

    conn: client.Connection
    peer: str  # as the server logs it
    owed: list[bytes] = field(default_factory=list)  # complete, not yet read
    partial: bytes = b""  # wire bytes of the message being sent
    partial_sent: int = 0


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

    @rule(framing=st.sampled_from([Framing.LINE, Framing.FRAME]))
    def open(self, framing: Framing) -> None:
        conn = client.connect(self.server.url(framing), timeout=TIMEOUT)
        if len(self.peers) < LIMIT:
            conn.greeting()
            self.peers.append(Peer(conn, logged_peer(conn.sock)))
            return
        with conn:
            with pytest.raises(client.ServerRefused) as refused:
                conn.greeting()
            assert refused.value.reason is ErrorReason.BUSY, "over the limit must be busy"
            assert conn.read_until_eof() == b""

    @precondition(lambda self: self.peers)
    @rule(data=st.data(), body=payloads(MAX_BODY), cut=st.floats(0, 1))
    def send_part(self, data: st.DataObject, body: bytes, cut: float) -> None:
        peer = data.draw(st.sampled_from(self.peers), label="peer")
        if not peer.partial:
            if peer.conn.endpoint.framing is Framing.LINE:
                body = body.replace(b"\n", b"")
            peer.partial, peer.partial_sent = peer.conn.codec.encode_message(body), 0
        remaining = len(peer.partial) - peer.partial_sent
        count = min(remaining - 1, int(remaining * cut))  # never the last byte
        if count > 0:
            peer.conn.send_raw(peer.partial[peer.partial_sent : peer.partial_sent + count])
            peer.partial_sent += count

    @precondition(lambda self: any(p.partial for p in self.peers))
    @rule(data=st.data())
    def finish(self, data: st.DataObject) -> None:
        peer = data.draw(st.sampled_from([p for p in self.peers if p.partial]), label="peer")
        peer.conn.send_raw(peer.partial[peer.partial_sent :])
        decoded = peer.conn.codec.message_decoder(len(peer.partial)).feed(peer.partial)
        peer.owed.extend(decoded)
        peer.partial, peer.partial_sent = b"", 0

    @precondition(lambda self: any(p.owed for p in self.peers))
    @rule(data=st.data())
    def read(self, data: st.DataObject) -> None:
        peer = data.draw(st.sampled_from([p for p in self.peers if p.owed]), label="peer")
        assert peer.conn.receive() == Ack(peer.owed.pop(0))

    @precondition(lambda self: self.peers)
    @rule(data=st.data())
    def half_close(self, data: st.DataObject) -> None:
        peer = data.draw(st.sampled_from(self.peers), label="peer")
        peer.conn.shutdown_write()
        for body in peer.owed:
            assert peer.conn.receive() == Ack(body)
        # Nothing more: not an answer twice, not one for the unfinished message.
        assert peer.conn.read_until_eof() == b""
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


@pytest.mark.hypothesis  # hypothesis marks @given tests itself; `make fuzz` selects on it
def test_concurrent_connections_behave_in_any_order(server: ServerContainer) -> None:
    ConnectionsMachine.server = server
    ConnectionsMachine.baseline_fds = server.fd_count()
    run_state_machine_as_test(
        ConnectionsMachine, settings=container_settings(10, stateful_step_count=25)
    )
