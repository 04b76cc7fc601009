"""payload/*: bytes in, the exact answer out, in order (docs/protocol.md, Framings)."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
from hypothesis import Phase, example, given
from hypothesis import strategies as st

from ..expect import SEED_READ_SIZE
from ..plugin import TargetPeer
from ..profile import Framing, Listener, Target
from ..strategies import (
    SEGMENT_BRIDGE,
    batches,
    chunk_plans,
    conformance_settings,
    examples,
    pauses,
    sizes,
)
from ._helpers import assert_bytes, exchange, greeted, paused, write_in_pieces

# Bodies any target must answer exactly: text, every byte value, a few KiB. Line bodies
# leave out `\n` (it ends a line); all fit in one read of a seed listener (8192 bytes).
EVERY_BYTE = bytes(range(256))
BODIES = (b"hello", "测试 ünïcode".encode(), EVERY_BYTE, bytes(range(7, 250)) * 16)


def bodies_for(target: Target, framing: Framing) -> list[bytes]:
    """BODIES, without `\\n` on a line listener, cut to a declared message limit."""
    limit = target.promises.max_message_bytes
    found = []
    for body in BODIES:
        if framing is Framing.LINE:
            body = body.replace(b"\n", b"")
        found.append(body[: limit.limit] if limit else body)
    return found


@pytest.mark.check("payload/echo-exact")
@pytest.mark.covers("line/message-body", "frame/length-prefix")
def test_every_listener_answers_each_message_exactly(
    target: Target, target_peer: TargetPeer
) -> None:
    """Each body in its own connection (seed) or one after another on one connection."""
    for listener in target.listeners:
        bodies = bodies_for(target, listener.framing)
        if listener.framing is Framing.SEED:
            for body in bodies:
                with greeted(target_peer, listener) as conn:
                    exchange(target_peer, conn, listener, body)
            continue
        with greeted(target_peer, listener) as conn:
            for body in bodies:
                exchange(target_peer, conn, listener, body)


@pytest.mark.check("payload/pipelined-in-order")
def test_pipelined_messages_are_answered_in_order(target: Target, target_peer: TargetPeer) -> None:
    """Every message written at once, in one write; the answers come back in that order."""
    expect = target_peer.expect
    persistent = [item for item in target.listeners if item.framing is not Framing.SEED]
    if not persistent:
        pytest.skip("not applicable: seed listeners only (one message per connection)")
    for listener in persistent:
        bodies = [*bodies_for(target, listener.framing), b"last"]
        expected = b"".join(expect.ack(listener.framing, body) for body in bodies)
        with greeted(target_peer, listener) as conn:
            conn.write(b"".join(expect.message(listener.framing, body) for body in bodies))
            assert_bytes(expected, conn.take(len(expected), "the answers in order"))


# The largest body the chunking property sends: many TCP segments per message, past the
# 64 KiB socket buffers (or the declared message limit, if smaller).
MAX_BODY = 66_000  # bytes
MAX_MESSAGES = 6  # bodies in one property example, written as one stream
CHUNKING_EXAMPLES = 20  # under hypothesis' ci and default profiles (half under dev)
SPLIT_EXAMPLES = 10
SPLIT_SIZES = (4 * 8192, 8192 + 1, 2 * 8192)  # bytes: writes longer than one read

Cut = tuple[int, list[bytes], list[int], float]  # listener index, bodies, write sizes, pause


def largest_body(target: Target) -> int:
    """MAX_BODY, or the declared max_message_bytes limit if that is smaller."""
    limit = target.promises.max_message_bytes
    return min(limit.limit, MAX_BODY) if limit else MAX_BODY


def persistent_listeners(target: Target) -> list[Listener]:
    """The line and frame listeners (seed answers one message per connection)."""
    found = [item for item in target.listeners if item.framing is not Framing.SEED]
    if not found:
        pytest.skip("not applicable: seed listeners only (one message per connection)")
    return found


@st.composite
def cuts(draw: st.DrawFn, listeners: list[Listener], max_size: int) -> Cut:
    """A listener, 1..MAX_MESSAGES bodies at the boundaries (socket_harness.strategies), the
    sizes of the writes their stream is cut into, and the pause between writes."""
    index = draw(st.integers(0, len(listeners) - 1))
    framing = listeners[index].framing.value
    bodies = draw(batches(framing, max_size, MAX_MESSAGES, bounds=(max_size,)))
    return index, bodies, draw(chunk_plans), draw(pauses)


def cut_examples(listeners: list[Listener], max_size: int) -> list[Cut]:
    """The cases every run tries first: a `\r` ending a line body and an empty body, a body
    of the largest size then half a UTF-8 character, a 64 KiB frame cut inside its header."""
    found: list[Cut] = []
    for index, listener in enumerate(listeners):
        if listener.framing is Framing.LINE:
            found.append((index, [b"a\r", b"\r", b""], [2, 1], 0.0))
            found.append((index, [b"x" * max_size, b"\xe6\xb5"], [SEGMENT_BRIDGE], 0.0))
        else:
            big = b"y" * min(65536, max_size)
            found.append((index, [big, b"\0\xff", b""], [1, 3, 8192], 0.0))
    return found


@pytest.mark.check("payload/any-chunking")
@pytest.mark.covers(
    "line/pipelined-in-order",
    "frame/pipelined-in-order",
    "line/message-body",
    "frame/length-prefix",
)
def test_any_bytes_cut_anywhere_are_answered_exactly_in_order(
    target: Target, target_peer: TargetPeer
) -> None:
    """A hypothesis property on each line and frame listener: any bodies (every byte value;
    line bodies without `\n`), sizes at the boundaries (0, 1, segment and buffer sizes, the
    limit), pipelined as one stream cut into writes of any size, sometimes with pauses. The
    answers come back exact and in order."""
    listeners = persistent_listeners(target)
    max_size = largest_body(target)
    expect = target_peer.expect

    def check(cut: Cut) -> None:
        index, bodies, plan, pause = cut
        framing = listeners[index].framing
        stream = b"".join(expect.message(framing, body) for body in bodies)
        expected = b"".join(expect.ack(framing, body) for body in bodies)
        with greeted(target_peer, listeners[index]) as conn:
            write_in_pieces(conn, stream, plan, pause)
            assert_bytes(expected, conn.take(len(expected), f"{len(bodies)} answers in order"))

    run: Callable[..., None] = given(cut=cuts(listeners, max_size))(check)
    for case in cut_examples(listeners, max_size):
        run = example(cut=case)(run)
    conformance_settings(CHUNKING_EXAMPLES)(run)()


def seed_listeners(target: Target) -> list[Listener]:
    found = [item for item in target.listeners if item.framing is Framing.SEED]
    if not found:
        pytest.skip("not applicable: no seed listener")
    return found


def sessions_left(target: Target, wanted: int) -> int:
    """`wanted`, or fewer if the target exits after max_sessions connections."""
    sessions = target.promises.max_sessions
    return min(wanted, sessions.limit) if sessions else wanted


def seed_answer(target_peer: TargetPeer, target: Target, read: bytes) -> bytes:
    """The answer to one read of `read` on a seed listener: its ack, or `too-large` when a
    declared message limit is below it."""
    limit = target.promises.max_message_bytes
    if limit is not None and len(read) > limit.limit:
        return target_peer.expect.error(Framing.SEED, "too-large")
    return target_peer.expect.ack(Framing.SEED, read)


def seed_payloads() -> list[bytes]:
    """Writes around seed's one read of 8192 bytes, the most telling first (random bytes from
    a fixed seed, so every run sends the same)."""
    noise = random.Random(8192).randbytes
    return [
        noise(SEED_READ_SIZE),
        noise(SEED_READ_SIZE + 1),
        noise(SEED_READ_SIZE - 1) + b"\r",
        noise(3 * SEED_READ_SIZE),
        b"\r",
    ]


@pytest.mark.check("payload/seed-one-read-8192", container=True, framing="seed")
@pytest.mark.covers("seed/one-read-8192", "seed/rest-ignored")
def test_seed_answers_exactly_the_first_8192_bytes_of_one_read(
    target: Target, target_peer: TargetPeer
) -> None:
    """docs/protocol.md, `seed`: one read of at most 8192 bytes. The target is stopped
    (SIGSTOP) while the bytes arrive, so its one read finds them all queued whatever the
    segments: the answer is the ack of exactly min(len, 8192) bytes, then the close."""
    for listener in seed_listeners(target):
        for payload in seed_payloads()[: sessions_left(target, len(seed_payloads()))]:
            with greeted(target_peer, listener) as conn:
                with paused(target_peer.service):
                    conn.write_acknowledged(payload)
                got = conn.read_until_close(f"the answer to one read of {len(payload)} bytes")
            assert_bytes(seed_answer(target_peer, target, payload[:SEED_READ_SIZE]), got)


@pytest.mark.check("payload/seed-split-write")
@pytest.mark.covers("seed/split-payload")
def test_seed_answers_a_start_of_a_write_that_arrives_in_pieces(
    target: Target, target_peer: TargetPeer
) -> None:
    """A hypothesis property on the first seed listener: one write of up to 4 x 8192 bytes,
    not paused, may reach the one read in part (docs/protocol.md): the answer acks a
    non-empty start of it, at most 8192 bytes, then the close."""
    listener = seed_listeners(target)[0]
    prefix = len(target_peer.expect.ack(Framing.SEED, b""))
    limit = target.promises.max_message_bytes  # under 8192: a read can be no larger
    largest = min(4 * SEED_READ_SIZE, limit.limit) if limit else 4 * SEED_READ_SIZE

    def check(size: int, seed: int) -> None:
        # Sizes and a PRNG seed, not the bytes: a failing example prints in one line.
        payload = random.Random(seed).randbytes(size)
        with greeted(target_peer, listener) as conn:
            conn.write(payload)
            got = conn.read_until_close("the answer to its one read")
        read = len(got) - prefix  # the bytes the answer echoes
        assert 0 < read <= SEED_READ_SIZE, f"the answer echoes {read} bytes: {got[:80]!r}"
        assert_bytes(seed_answer(target_peer, target, payload[:read]), got)

    # Generated examples start small: the sizes past one read come first, as examples.
    left = sessions_left(target, examples(SPLIT_EXAMPLES) + len(SPLIT_SIZES))
    explicit = [min(size, largest) for size in SPLIT_SIZES][:left]
    run: Callable[..., None] = given(
        size=sizes(largest, (SEED_READ_SIZE,)).filter(bool), seed=st.integers(0, 2**32 - 1)
    )(check)
    for size in explicit:
        run = example(size=size, seed=size)(run)
    settings = conformance_settings(SPLIT_EXAMPLES)
    generated = left - len(explicit)
    phases = settings.phases if generated else (Phase.explicit,)
    type(settings)(settings, max_examples=max(1, generated), phases=phases)(run)()
