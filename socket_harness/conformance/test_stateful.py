"""stateful/*: many connections doing anything in any order, against one running target.

A hypothesis state machine opens connections on the target's line and frame listeners,
sends parts of messages, finishes them, reads answers, half-closes and resets, in any
order and interleaving. It keeps what each connection is owed (the profile's wire
constants, socket_harness.expect) and checks step by step that every complete message
is answered exactly once, in order, and a message still being sent never is.

Each example starts with no connection and its teardown resets every one it opened:
examples share nothing but the target, so a failure replays as itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    precondition,
    rule,
    run_state_machine_as_test,
)

from ..expect import read
from ..plugin import TargetPeer
from ..profile import Framing, Listener, Target
from ..strategies import conformance_settings
from ..wire import WirePeer
from ._faults import limit_of, many_sessions, persistent_or_skip  # noqa: F401 (a fixture)
from ._helpers import assert_bytes, greeted

MAX_BODY = 4096  # bytes: a message body, at most (or the declared limit, if smaller)
MAX_OPEN = 6  # connections open at once, at most (or a connection limit the target keeps)
STEPS = 40  # steps per example
EXAMPLES = 15  # examples under HYPOTHESIS_PROFILE=ci (socket_harness.strategies scales it)


def bodies(max_size: int) -> st.SearchStrategy[bytes]:
    """Message bodies: short random ones, and long ones of any size up to `max_size` bytes
    repeating a random pattern (so a long body costs hypothesis few bytes to draw)."""
    long = st.tuples(st.integers(0, max_size), st.binary(min_size=1, max_size=16)).map(
        lambda drawn: (drawn[1] * (drawn[0] // len(drawn[1]) + 1))[: drawn[0]]
    )
    return st.one_of(st.binary(max_size=64), long)


@dataclass
class Open:
    """One open connection and what the target owes it."""

    conn: WirePeer
    listener: Listener
    owed: list[bytes] = field(default_factory=list)  # complete messages not yet answered
    partial: bytes = b""  # the wire bytes of the message being sent
    partial_sent: int = 0

    def __repr__(self) -> str:  # a failing example's steps: sizes, not the bytes
        return (
            f"Open({self.listener.name}, owed {[len(body) for body in self.owed]} bytes, "
            f"{self.partial_sent} of {len(self.partial)} bytes of a message sent)"
        )


def open_at_most(target: Target) -> int:
    """MAX_OPEN, or fewer: a max_connections limit the target keeps as it is started."""
    kept = [
        item.limit
        for item in target.promises.max_connections
        if target.setup_for(item) == target.setup
    ]
    return min([MAX_OPEN, *kept])


class Connections(RuleBasedStateMachine):
    """The model: `peer` (the running target) and its `listeners`, set before a run."""

    peer: TargetPeer
    listeners: list[Listener]
    max_body: int
    max_open: int

    def __init__(self) -> None:
        super().__init__()
        self.open_: list[Open] = []

    @initialize()
    def first_connections(self) -> None:
        """One connection on each listener to begin with: steps go to messages, not connects."""
        for listener in self.listeners[: self.max_open]:
            self.open_.append(Open(greeted(self.peer, listener), listener))

    @precondition(lambda self: len(self.open_) < self.max_open)
    @rule(data=st.data())
    def connect(self, data: st.DataObject) -> None:
        listener = data.draw(st.sampled_from(self.listeners), label="listener")
        self.open_.append(Open(greeted(self.peer, listener), listener))

    @precondition(lambda self: self.open_)
    @rule(data=st.data(), cut=st.floats(0, 1))
    def send_part(self, data: st.DataObject, cut: float) -> None:
        """Some of the current message's bytes, never its last one."""
        item = data.draw(st.sampled_from(self.open_), label="connection")
        if not item.partial:
            body = data.draw(bodies(self.max_body), label="body")
            if item.listener.framing is Framing.LINE:
                body = body.replace(b"\n", b"")
            item.partial = self.peer.expect.message(item.listener.framing, body)
            item.partial_sent = 0
        remaining = len(item.partial) - item.partial_sent
        count = min(remaining - 1, int(remaining * cut))
        if count > 0:
            item.conn.write(item.partial[item.partial_sent : item.partial_sent + count])
            item.partial_sent += count

    @precondition(lambda self: any(item.partial for item in self.open_))
    @rule(data=st.data())
    def finish(self, data: st.DataObject) -> None:
        pending = [item for item in self.open_ if item.partial]
        item = data.draw(st.sampled_from(pending), label="connection")
        item.conn.write(item.partial[item.partial_sent :])
        framing = item.listener.framing
        item.owed.extend(read(framing, item.partial, None).messages)
        item.partial, item.partial_sent = b"", 0

    @precondition(lambda self: any(item.owed for item in self.open_))
    @rule(data=st.data())
    def answer(self, data: st.DataObject) -> None:
        item = data.draw(st.sampled_from([i for i in self.open_ if i.owed]), label="connection")
        expected = self.peer.expect.ack(item.listener.framing, item.owed.pop(0))
        assert_bytes(expected, item.conn.take(len(expected), "the answer it is owed"))

    # A half-close with a message half sent is left out: what that one gets is
    # faults/truncated-frame-dropped's, and a plain echo (socat) rightly echoes it.
    @precondition(lambda self: any(not item.partial for item in self.open_))
    @rule(data=st.data())
    def half_close(self, data: st.DataObject) -> None:
        """Every answer owed and nothing more (none twice), then the close."""
        whole = [item for item in self.open_ if not item.partial]
        item = data.draw(st.sampled_from(whole), label="connection")
        item.conn.half_close()
        framing = item.listener.framing
        owed = b"".join(self.peer.expect.ack(framing, body) for body in item.owed)
        assert_bytes(owed, item.conn.read_until_close("the answers owed, then the close"))
        item.conn.close()
        self.open_.remove(item)

    @precondition(lambda self: self.open_)
    @rule(data=st.data())
    def reset(self, data: st.DataObject) -> None:
        item = data.draw(st.sampled_from(self.open_), label="connection")
        item.conn.reset()
        self.open_.remove(item)

    def teardown(self) -> None:
        """Every answer still owed arrives (a lost one fails here); then every connection is
        reset, whatever happened: the next example starts with none."""
        try:
            for item in self.open_:
                framing = item.listener.framing
                owed = b"".join(self.peer.expect.ack(framing, body) for body in item.owed)
                assert_bytes(owed, item.conn.take(len(owed), "the answers still owed"))
        finally:
            for item in self.open_:
                item.conn.reset()
            self.open_.clear()


@pytest.mark.check("stateful/many-connections-any-order")
@pytest.mark.covers("line/pipelined-in-order", "frame/pipelined-in-order")
@pytest.mark.usefixtures("many_sessions")
def test_many_connections_in_any_order_get_exactly_their_answers(
    target: Target, target_peer: TargetPeer
) -> None:
    """The state machine above: EXAMPLES examples of STEPS steps (`conformance_settings`)."""
    listeners = persistent_or_skip(target)
    limit = limit_of(target)
    Connections.peer = target_peer
    Connections.listeners = listeners
    Connections.max_body = min(MAX_BODY, limit if limit is not None else MAX_BODY)
    Connections.max_open = open_at_most(target)
    budget = settings(conformance_settings(EXAMPLES), stateful_step_count=STEPS)
    run_state_machine_as_test(Connections, settings=budget)
