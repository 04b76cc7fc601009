"""faults/*: a peer that misbehaves ends its own connection, never the target's service.

Resets, half-closes, truncated messages, garbage, a peer that never reads and a connect
flood: each has the outcome docs/protocol.md gives it, and the target serves the next
peer. What the target must answer comes from the profile (socket_harness.expect).
"""

from __future__ import annotations

import time

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from ..expect import FRAME_HEADER_SIZE, frame, read
from ..observe import fd_count, peak_rss_bytes, rss_bytes
from ..plugin import TargetPeer
from ..profile import Framing, Listener, Target
from ..strategies import conformance_settings
from ._faults import (
    SEGMENT,
    connect_flood,
    half_closed_answers,
    limit_of,
    many_sessions,  # noqa: F401 (a fixture, used by name)
    never_reading,
    persistent,
    persistent_or_skip,
    reset_mid_message,
    served_again,
)
from ._helpers import assert_bytes, exchange, greeted

# What a target may hold beyond its start after the faults (or at its peak while a peer
# never reads): buffers of a few connections, the allocator's slack. A leak that grows
# with the bytes sent (64 MiB by a never-reading peer) does not fit.
MEMORY_BOUND = 16 * 1024 * 1024  # bytes
BACK_WITHIN = 15.0  # seconds for descriptors to return: a lingering close takes 2 s
RECOVER_WITHIN = 10.0  # seconds after a flood until a new connection is greeted
SENTINEL = b"end of garbage"  # a message after the garbage: no partial line is left at EOF


@pytest.mark.check("faults/reset-then-serves")
def test_a_reset_mid_message_then_a_normal_exchange(
    target: Target, target_peer: TargetPeer
) -> None:
    """On each listener: half a message, then a TCP RST; then a new connection is served."""
    for listener in target.listeners:
        reset_mid_message(target_peer, listener)
        with greeted(target_peer, listener) as again:
            exchange(target_peer, again, listener, b"after the reset")


@pytest.mark.check("faults/half-close-gets-every-answer")
@pytest.mark.covers("line/half-close")
def test_a_half_closed_peer_gets_every_answer_then_the_close(
    target: Target, target_peer: TargetPeer
) -> None:
    """docs/protocol.md, `line` (and `frame` alike): a peer that half-closes
    (shutdown(SHUT_WR)) after pipelined messages gets the answer to each, then the close.
    On seed: one message, then the half-close: its answer, then the close."""
    bodies = [b"one", b"", b"three \xff"]
    for listener in target.listeners:
        sent = bodies[:1] if listener.framing is Framing.SEED else bodies
        expected = b"".join(target_peer.expect.ack(listener.framing, body) for body in sent)
        assert_bytes(expected, half_closed_answers(target_peer, listener, bodies))


@pytest.mark.check("faults/truncated-frame-dropped")
@pytest.mark.covers("frame/truncated-at-eof")
def test_a_truncated_frame_at_eof_is_dropped(target: Target, target_peer: TargetPeer) -> None:
    """docs/protocol.md, `frame`: a frame cut short (in its body, or in its 4-byte header)
    and then EOF is no message: no answer, only the close. Then the next peer is served."""
    listeners = target_peer.listeners(Framing.FRAME)
    if not listeners:
        pytest.skip("not applicable: the target has no frame listener")
    whole = frame(b"t" * 100)
    for listener in listeners:
        for cut in (whole[:50], whole[: FRAME_HEADER_SIZE - 1]):
            with greeted(target_peer, listener) as conn:
                conn.write(cut)
                conn.half_close()
                assert_bytes(b"", conn.read_until_close("the close after EOF, no answer"))
        with greeted(target_peer, listener) as conn:
            exchange(target_peer, conn, listener, b"after the truncated frame")


def garbage_for(framing: Framing, limit: int | None) -> st.SearchStrategy[bytes]:
    """Bytes as a misbehaving peer sends them on a `framing` listener. Seed: up to SEGMENT
    bytes, one write (one TCP segment: one read takes it all). Frame: random headers only
    when a limit is declared (a header announcing 4 GiB is then `too-large`; without one
    the target would rightly wait for the body): else frames of random bodies."""
    if framing is Framing.SEED:
        return st.binary(min_size=1, max_size=SEGMENT)
    if framing is Framing.FRAME:
        frames = st.lists(st.binary(max_size=256), max_size=8).map(
            lambda bodies: b"".join(frame(body) for body in bodies)
        )
        if limit is None:
            return frames
        return st.one_of(st.binary(max_size=SEGMENT), frames, frames.map(lambda b: b + b"\xff"))
    lines = st.lists(st.binary(max_size=64), max_size=16).map(b"\n".join)
    choices = [st.binary(max_size=SEGMENT), lines]
    if limit is not None:  # bodies at the bound and one over it
        around = st.integers(max(0, limit - 1), limit + 1).map(lambda n: b"g" * n + b"\n")
        choices.append(around)
    return st.one_of(*choices)


@pytest.mark.check("faults/garbage-answered-per-framing")
@pytest.mark.covers("server/peer-misbehaviour", "line/message-body", "errors/too-large")
@pytest.mark.usefixtures("many_sessions")
@conformance_settings(15)
@given(data=st.data())
@example(data=None)  # the fixed cases below, before any random one
def test_garbage_gets_what_its_framing_makes_of_it(
    target: Target, target_peer: TargetPeer, data: st.DataObject | None
) -> None:
    """Random bytes on a listener, then (line, frame) one normal message, then the
    half-close: the answers docs/protocol.md's framing makes of those bytes (an ack per
    complete message; past a declared limit `too-large`), then the close. Sent only up to
    where a `too-large` is certain: a sender that goes on past it races the close."""
    limit = limit_of(target)
    if data is None:  # the fixed cases first
        cases = [(item, edge) for item in target.listeners for edge in edges(item, limit)]
    else:
        listener = data.draw(st.sampled_from(target.listeners), label="listener")
        cases = [(listener, data.draw(garbage_for(listener.framing, limit), label="garbage"))]
    for listener, garbage in cases:
        check_garbage(target_peer, listener, garbage, limit)


def edges(listener: Listener, limit: int | None) -> list[bytes]:
    """Garbage each framing treats specially: `\\r`, NUL, 0xff, a UTF-8 character cut; on
    line a body at the limit then one over it, on frame an empty frame then a header one
    over the limit (with a declared limit)."""
    cases = [b"\r\n\0\xff\xe6\xb5\r"]
    if limit is not None and listener.framing is Framing.LINE:
        cases.append(b"x" * (limit - 1) + b"\r\n" + b"y" * (limit + 1))  # `\r` counts
    if limit is not None and listener.framing is Framing.FRAME:
        cases.append(frame(b"") + (limit + 1).to_bytes(FRAME_HEADER_SIZE, "big"))
    return cases


def garbage_stream(peer: TargetPeer, listener: Listener, garbage: bytes) -> bytes:
    """`garbage`, then on line and frame the SENTINEL message (no partial line at EOF)."""
    if listener.framing is Framing.SEED:
        return garbage
    return garbage + peer.expect.message(listener.framing, SENTINEL)


def send_garbage(peer: TargetPeer, listener: Listener, garbage: bytes, limit: int | None) -> bytes:
    """Send `garbage_stream` up to where the reading is certain, half-close, and return
    every byte after the greeting until the close."""
    stream = garbage_stream(peer, listener, garbage)
    with greeted(peer, listener) as conn:
        conn.write(stream[: read(listener.framing, stream, limit).certain_at])
        conn.half_close()
        return conn.read_until_close("the answers, then the close")


def check_garbage(peer: TargetPeer, listener: Listener, garbage: bytes, limit: int | None) -> None:
    """`send_garbage`, and the answers compared with what the framing makes of those bytes."""
    reading = read(listener.framing, garbage_stream(peer, listener, garbage), limit)
    got = send_garbage(peer, listener, garbage, limit)
    assert_bytes(peer.expect.answers(listener.framing, reading), got)


@pytest.mark.check("faults/never-reading-peer-bounded")
@pytest.mark.covers("server/backpressure")
def test_a_peer_that_never_reads_cannot_grow_the_target(
    target: Target, target_peer: TargetPeer
) -> None:
    """A peer that sends messages and reads none of the answers: the target stops reading
    it (a send blocks) before it took 64 MiB; with a container, the target's peak resident
    memory (VmHWM of its main process, /proc) grew by less than MEMORY_BOUND meanwhile.
    Then the next peer is served."""
    listener = persistent_or_skip(target)[0]
    pid = target_peer.service.pid
    before = rss_bytes(pid) if pid is not None else 0
    sent = never_reading(target_peer, listener, limit_of(target))
    assert sent is not None, "the target kept reading a peer that never reads (64 MiB)"
    if pid is not None:
        grown = peak_rss_bytes(pid) - before
        assert grown < MEMORY_BOUND, f"peak RSS grew by {grown} bytes after {sent} bytes sent"
    with served_again(target_peer, listener, RECOVER_WITHIN) as conn:
        exchange(target_peer, conn, listener, b"after the never-reading peer")


@pytest.mark.check("faults/connect-flood-then-serves")
@pytest.mark.usefixtures("many_sessions")
def test_a_connect_flood_far_past_the_backlog_then_serves(
    target: Target, target_peer: TargetPeer
) -> None:
    """FLOOD connects at once on each listener, then all closed; a new connection is
    then greeted and served within RECOVER_WITHIN seconds."""
    for listener in target.listeners:
        connected = connect_flood(*target_peer.service.address(listener))
        assert connected > 0, "no connect of the flood completed"
        with served_again(target_peer, listener, RECOVER_WITHIN) as conn:
            exchange(target_peer, conn, listener, b"after the flood")


@pytest.mark.check("faults/fds-and-memory-back-to-baseline", container=True)
@pytest.mark.covers("server/peer-misbehaviour")
@pytest.mark.usefixtures("many_sessions")
def test_after_every_fault_fds_and_memory_return_to_baseline(
    target: Target, target_peer: TargetPeer
) -> None:
    """Every fault above, on every listener; then the target's main process (read from the
    host through /proc/PID) has no more file descriptors open than before them, within
    BACK_WITHIN seconds, and its resident memory grew by less than MEMORY_BOUND."""
    pid = target_peer.service.pid
    assert pid is not None
    fds, rss = fd_count(pid), rss_bytes(pid)
    limit = limit_of(target)
    for listener in target.listeners:
        reset_mid_message(target_peer, listener)
        half_closed_answers(target_peer, listener, [b"a", b"b"])
        send_garbage(target_peer, listener, b"\0\xff\r garbage", limit)  # answers: not here
        host, port = target_peer.service.address(listener)
        connect_flood(host, port, count=64)
    for listener in persistent(target):
        never_reading(target_peer, listener, limit)
    for listener in target.listeners:
        with served_again(target_peer, listener, RECOVER_WITHIN) as conn:
            exchange(target_peer, conn, listener, b"after the faults")
    deadline = time.monotonic() + BACK_WITHIN
    while (now := fd_count(pid)) > fds:
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{now} file descriptors open {BACK_WITHIN} s after the faults; {fds} before"
            )
        time.sleep(0.1)
    grown = rss_bytes(pid) - rss
    assert grown < MEMORY_BOUND, f"RSS grew by {grown} bytes across the faults"
