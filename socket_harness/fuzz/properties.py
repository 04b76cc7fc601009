"""The fuzzed properties: each draws a plan (a reproducer) whose expected bytes are the spec's.

A property is a one-line statement, a strategy of plans, and the framings it
needs. Each plan carries the labels of what was drawn (hypothesis `event`s, so
a campaign's summary shows the distribution) and the values the campaign
steers with `hypothesis.target`. Running a plan is replaying it: a failure is
already a reproducer.
"""

from __future__ import annotations

import functools
import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass, replace

from hypothesis import strategies as st

from . import model
from .reproducer import Expect, ExpectEof, Pause, Reproducer, Reset, Send, Shutdown, Step

# Seed answers what ONE read returns: a write this small is one TCP segment on any
# link here (a container bridge's MSS is 1448), so the read gets all of it.
SEED_ONE_SEGMENT = 1024
# Generated bodies stay this small against a target with a large limit: cheap examples.
GENERATED_MAX = 4096
PAUSES = (0.0, 0.0, 0.001, 0.01)


@dataclass(frozen=True, slots=True)
class Target:
    """What the properties must know of a target: its limits (bytes, seconds)."""

    max_message_bytes: int
    idle_timeout: float = 0.0  # 0: unknown or off, the idle property is not run
    framings: tuple[str, ...] = ("seed", "line", "frame")


@dataclass(frozen=True, slots=True)
class Plan:
    """A drawn reproducer, the labels of what was drawn, and values to steer by."""

    reproducer: Reproducer
    labels: tuple[str, ...]
    targets: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True, slots=True)
class Property:
    """A fuzzed property: `name`, what it checks in one line, its plans for a target."""

    name: str
    statement: str
    framings: tuple[str, ...]
    plans: Callable[[Target], st.SearchStrategy[Plan]]
    steered: bool = False  # added after measuring coverage (docs/fuzzing.md)
    needs_idle_timeout: bool = False

    def runs_on(self, target: Target) -> bool:
        if self.needs_idle_timeout and not 0 < target.idle_timeout <= 5:
            return False
        return any(framing in target.framings for framing in self.framings)


# --- bodies ---------------------------------------------------------------------------


def _random_bytes(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


@functools.cache  # built once per limit: building and validating it costs more than a draw
def bodies(limit: int, framing: str) -> st.SearchStrategy[tuple[str, bytes]]:
    """(kind, body): bodies of every kind a message may be, up to `limit` bytes."""
    high = min(limit, GENERATED_MAX)
    kinds: list[st.SearchStrategy[tuple[str, bytes]]] = [
        st.just(("empty", b"")),
        st.text(st.characters(codec="ascii", exclude_categories=["Cc"]), max_size=40).map(
            lambda text: ("ascii", text.encode())
        ),
        st.text(max_size=40).map(lambda text: ("utf8", text.encode())),
        st.binary(max_size=64).map(lambda data: ("binary", data)),
        st.binary(max_size=20).map(lambda data: ("trailing-cr", data + b"\r")),
        st.binary(max_size=20).map(lambda data: ("nul", data + b"\x00" + data)),
        st.sampled_from([model.ACK_PREFIX, model.GREETING, b"ERR too-large", b"\x00\x00\x00\x05"])
        .flatmap(lambda reply: st.binary(max_size=8).map(lambda tail: reply + tail))
        .map(lambda data: ("reply-lookalike", data)),
        st.builds(
            _random_bytes, st.integers(max(0, high - 64), high), st.integers(0, 2**32 - 1)
        ).map(lambda data: ("near-limit" if high == limit else "large", data)),
    ]
    if high > 65:
        kinds.append(
            st.builds(_random_bytes, st.integers(65, high), st.integers(0, 2**32 - 1)).map(
                lambda data: ("large", data)
            )
        )
    if high == limit:
        kinds.append(st.just(("at-limit", b"L" * limit)))
    drawn = st.one_of(kinds)
    if framing == "line":
        return drawn.map(lambda pair: (pair[0], pair[1].replace(b"\n", b"")[:limit]))
    return drawn.map(lambda pair: (pair[0], pair[1][:limit]))


def _count_label(count: int) -> str:
    return "1" if count == 1 else "2-5" if count <= 5 else "6+"


@st.composite
def writes(draw: st.DrawFn, stream: bytes) -> tuple[list[bytes], str]:
    """`stream` cut into writes anywhere, and a label of how: one, few, many, per-byte."""
    if len(stream) <= 1:
        return [stream], "one"
    how = draw(st.sampled_from(["one", "few", "many", "per-byte"]))
    if how == "one" or (how == "per-byte" and len(stream) > 64):
        return [stream], "one"
    if how == "per-byte":
        return [stream[i : i + 1] for i in range(len(stream))], "per-byte"
    count = 3 if how == "few" else 12
    cuts = draw(st.lists(st.integers(1, len(stream) - 1), max_size=count, unique=True))
    bounds = [0, *sorted(cuts), len(stream)]
    return [stream[a:b] for a, b in itertools.pairwise(bounds)], how


def _cut_labels(framing: str, stream: bytes, parts: list[bytes]) -> list[str]:
    """Where the writes were cut: inside a UTF-8 character, inside a frame header."""
    labels: set[str] = set()
    offset = 0
    header_ends = _frame_headers(stream) if framing == "frame" else []
    for part in parts[:-1]:
        offset += len(part)
        if 0x80 <= stream[offset] < 0xC0 and stream[offset - 1] >= 0x80:
            labels.add("cut:inside-utf8")
        if any(start < offset < start + 4 for start in header_ends):
            labels.add("cut:inside-frame-header")
    return sorted(labels)


def _frame_headers(stream: bytes) -> list[int]:
    starts: list[int] = []
    at = 0
    while at + 4 <= len(stream):
        starts.append(at)
        at += 4 + int.from_bytes(stream[at : at + 4], "big")
    return starts


def _sends(conn: int, parts: list[bytes], pause: float) -> list[Step]:
    steps: list[Step] = []
    for index, part in enumerate(parts):
        if index and pause:
            steps.append(Pause(pause))
        steps.append(Send(conn, part))
    return steps


def _reproducer(
    framing: str, target: Target, title: str, name: str, steps: list[Step]
) -> Reproducer:
    return Reproducer(
        title=title,
        framing=framing,
        steps=tuple(steps),
        max_message_bytes=target.max_message_bytes,
        property=name,
    )


# --- the properties ---------------------------------------------------------------------


@st.composite
def _seed_plans(draw: st.DrawFn, target: Target) -> Plan:
    limit = target.max_message_bytes
    over = limit < SEED_ONE_SEGMENT and draw(st.booleans())
    if over:
        size = draw(st.integers(limit + 1, SEED_ONE_SEGMENT))
        kind, body = "over-limit", _random_bytes(size, draw(st.integers(0, 2**32 - 1)))
    else:
        kind, body = draw(bodies(min(limit, SEED_ONE_SEGMENT), "seed").filter(_nonempty))
    answer = model.too_large("seed") if over else model.ack("seed", body)
    steps: list[Step] = [Expect(1, model.greeting("seed")), Send(1, body), Expect(1, answer)]
    steps.append(ExpectEof(1))
    labels = (f"body:{kind}", "seed:too-large" if over else "seed:answered")
    title = "seed: one write is answered byte for byte, then the server closes"
    return Plan(_reproducer("seed", target, title, "seed_exchange", steps), labels)


def _nonempty(kind_body: tuple[str, bytes]) -> bool:
    return bool(kind_body[1])


@st.composite
def _stream_plans(draw: st.DrawFn, target: Target, framing: str) -> Plan:
    drawn = draw(st.lists(bodies(target.max_message_bytes, framing), min_size=1, max_size=8))
    kinds = sorted({kind for kind, _ in drawn})
    messages = [body for _, body in drawn]
    mode = draw(st.sampled_from(["pipelined", "pipelined", "lockstep"]))
    pause = draw(st.sampled_from(PAUSES))
    steps: list[Step] = [Expect(1, model.greeting(framing))]
    labels = [f"body:{kind}" for kind in kinds]
    labels += [f"messages:{_count_label(len(messages))}", f"mode:{mode}", f"pause:{pause:g}"]
    if mode == "pipelined":
        stream = b"".join(model.encode(framing, body) for body in messages)
        parts, how = draw(writes(stream))
        labels += [f"writes:{how}", *_cut_labels(framing, stream, parts)]
        steps += _sends(1, parts, pause)
        steps.append(Shutdown(1))
        steps += [Expect(1, model.ack(framing, body)) for body in messages]
    else:
        for body in messages:
            parts, how = draw(writes(model.encode(framing, body)))
            steps += _sends(1, parts, pause)
            steps.append(Expect(1, model.ack(framing, body)))
        steps.append(Shutdown(1))
    steps.append(ExpectEof(1))
    title = f"{framing}: every message is answered exactly, in order; half-close gets FIN after"
    plan = _reproducer(framing, target, title, f"{framing}_messages", steps)
    steer = (
        ("messages", float(len(messages))),
        ("writes", float(sum(isinstance(s, Send) for s in steps))),
    )
    return Plan(plan, tuple(labels), steer)


@st.composite
def _limit_plans(draw: st.DrawFn, target: Target) -> Plan:
    framing = draw(st.sampled_from(["line", "frame"]))
    limit = target.max_message_bytes
    earlier = [body for _, body in draw(st.lists(bodies(min(limit, 64), framing), max_size=3))]
    ending = draw(st.sampled_from(["over-limit", "partial-at-eof"]))
    stream = b"".join(model.encode(framing, body) for body in earlier)
    labels = [f"ending:{ending}", f"framing:{framing}", f"earlier:{len(earlier)}"]
    if ending == "over-limit":
        size = draw(st.integers(limit + 1, limit + 64))
        tail = model.encode(framing, b"o" * size)
        reading = model.read(framing, stream + tail, limit)
        # Up to where the limit is certain, or past it: the lingering close discards the rest.
        how_far = draw(st.sampled_from(["to-the-fault", "whole-message", "and-a-message-more"]))
        labels.append(f"sent:{how_far}")
        sent = (stream + tail)[: reading.consumed]
        if how_far != "to-the-fault":
            sent = stream + tail
        if how_far == "and-a-message-more":
            sent += model.encode(framing, b"never answered")
        replies = [model.ack(framing, body) for body in reading.messages]
        replies.append(model.too_large(framing))
    else:
        whole = model.encode(framing, draw(bodies(limit, framing).filter(_nonempty))[1])
        cut = draw(st.integers(1, len(whole) - 1)) if len(whole) > 1 else 0
        labels.append("partial:inside-header" if framing == "frame" and cut < 4 else "partial:body")
        sent = stream + whole[:cut]
        replies = [model.ack(framing, body) for body in earlier]
    parts, how = draw(writes(sent))
    steps: list[Step] = [Expect(1, model.greeting(framing)), *_sends(1, parts, 0.0)]
    steps.append(Shutdown(1))
    steps += [Expect(1, reply) for reply in replies]
    steps.append(ExpectEof(1))
    labels.append(f"writes:{how}")
    title = f"{framing}: messages before the {ending} end are answered, then the server closes"
    return Plan(_reproducer(framing, target, title, "limit_and_eof", steps), tuple(labels))


@st.composite
def _connection_plans(draw: st.DrawFn, target: Target) -> Plan:
    framing = draw(st.sampled_from([f for f in ("line", "frame") if f in target.framings]))
    count = draw(st.integers(2, 4))
    fates = [
        draw(st.sampled_from(["answered", "reset-mid-message", "reset-idle"])) for _ in range(count)
    ]
    scripts: dict[int, list[Step]] = {}
    for conn, fate in enumerate(fates, 1):
        body = draw(bodies(min(target.max_message_bytes, 256), framing))[1]
        message = model.encode(framing, body)
        script: list[Step] = [Expect(conn, model.greeting(framing))]
        if fate == "answered":
            script += [Send(conn, message), Expect(conn, model.ack(framing, body))]
            script += [Shutdown(conn), ExpectEof(conn)]
        elif fate == "reset-mid-message":
            if len(message) > 1:
                script.append(Send(conn, message[:-1]))
            script.append(Reset(conn))
        else:
            script.append(Reset(conn))
        scripts[conn] = script
    # Interleave the connections' scripts in a drawn order (each keeps its own order).
    order = draw(st.permutations([conn for conn, s in scripts.items() for _ in s]))
    steps: list[Step] = []
    cursor = dict.fromkeys(scripts, 0)
    for conn in order:
        steps.append(scripts[conn][cursor[conn]])
        cursor[conn] += 1
    # Whatever the others did, a new connection is served.
    last = count + 1
    steps += [Expect(last, model.greeting(framing)), Send(last, model.encode(framing, b"after"))]
    steps += [Expect(last, model.ack(framing, b"after")), Shutdown(last), ExpectEof(last)]
    labels = [f"fate:{fate}" for fate in sorted(set(fates))] + [
        f"connections:{count}",
        f"framing:{framing}",
    ]
    title = (
        f"{framing}: interleaved connections are each answered on their own; resets hurt no other"
    )
    plan = _reproducer(framing, target, title, "connections", steps)
    return Plan(plan, tuple(labels), (("resets", float(fates.count("reset-mid-message"))),))


@st.composite
def _idle_plans(draw: st.DrawFn, target: Target) -> Plan:
    framing = draw(st.sampled_from([f for f in ("line", "frame") if f in target.framings]))
    how = draw(st.sampled_from(["silent", "partial-message", "after-activity"]))
    steps: list[Step] = [Expect(1, model.greeting(framing))]
    if how == "partial-message":
        steps.append(Send(1, model.encode(framing, b"unfinished")[:-1]))
    elif how == "after-activity":
        # Active half-way through: the idle clock restarts from there (docs/protocol.md).
        steps.append(Pause(target.idle_timeout / 2))
        steps += [Send(1, model.encode(framing, b"alive")), Expect(1, model.ack(framing, b"alive"))]
    steps += [Expect(1, model.idle_timeout(framing)), ExpectEof(1)]
    title = f"{framing}: a peer silent for the idle timeout gets `ERR idle-timeout`, then FIN"
    reproducer = replace(
        _reproducer(framing, target, title, "idle_timeout", steps), timeout=target.idle_timeout + 3
    )
    return Plan(reproducer, (f"framing:{framing}", f"idle:{how}"))


# docs/protocol.md, "Lingering close": the server reads and discards for up to 2 s after
# its last reply, waiting for our EOF.
LINGER_SECONDS = 2.0


@st.composite
def _after_plans(draw: st.DrawFn, target: Target) -> Plan:
    framing = draw(st.sampled_from(list(target.framings)))
    limit = target.max_message_bytes
    more = [body or b"x" for _, body in draw(st.lists(bodies(64, framing), min_size=1, max_size=3))]
    pause = draw(st.sampled_from(PAUSES))
    steps: list[Step] = [Expect(1, model.greeting(framing))]
    if framing == "seed":
        # Seed's one read would take later writes too: they go after its answer.
        body = draw(bodies(min(limit, SEED_ONE_SEGMENT), "seed").filter(_nonempty))[1]
        steps += [Send(1, body), Expect(1, model.ack("seed", body)), *_sends(1, more, pause)]
        last = "seed-answer"
    else:
        # Bytes past the fault are on their way before the reply is read: a server that
        # closed with them unread would reset the connection and could destroy the reply.
        size = draw(st.integers(limit + 1, limit + 64))
        stream = model.encode(framing, b"o" * size)
        reading = model.read(framing, stream, limit)
        steps += _sends(1, [stream[: reading.consumed], *more], pause)
        steps.append(Expect(1, model.too_large(framing)))
        last = "too-large"
    then = draw(st.sampled_from(["half-close"] * 15 + ["silent"]))  # silent costs 2.3 s
    if then == "half-close":
        steps += [Shutdown(1), ExpectEof(1)]
    else:
        # The FIN comes after the reply; holding on past the linger lets its timer close.
        steps += [ExpectEof(1), Pause(LINGER_SECONDS + 0.3)]
    labels = (f"framing:{framing}", f"after:{last}", f"then:{then}", f"more-writes:{len(more)}")
    title = f"{framing}: bytes after the last reply are discarded; the reply survives them"
    return Plan(_reproducer(framing, target, title, "after_last_reply", steps), labels)


PROPERTIES: tuple[Property, ...] = (
    Property(
        "seed_exchange",
        "seed: greeting, one write of 1-1024 bytes answered 收到的信息:+bytes+\\n "
        "(ERR too-large over the limit), then the server closes",
        ("seed",),
        lambda target: _seed_plans(target),
    ),
    Property(
        "line_messages",
        "line: bodies without \\n, pipelined or one by one, cut into any writes with pauses, "
        "are answered exactly and in order; a half-close gets FIN after the last answer",
        ("line",),
        lambda target: _stream_plans(target, "line"),
    ),
    Property(
        "frame_messages",
        "frame: any bodies, pipelined or one by one, cut anywhere (headers too) with pauses, "
        "are answered exactly and in order; a half-close gets FIN after the last answer",
        ("frame",),
        lambda target: _stream_plans(target, "frame"),
    ),
    Property(
        "limit_and_eof",
        "line/frame: messages before an over-limit one are answered, then ERR too-large and "
        "close; a partial message at half-close is dropped, the rest answered, then close",
        ("line", "frame"),
        lambda target: _limit_plans(target),
        steered=True,
    ),
    Property(
        "connections",
        "line/frame: 2-4 interleaved connections, some reset mid-message, are each answered "
        "on their own, and a new connection is served after them",
        ("line", "frame"),
        lambda target: _connection_plans(target),
        steered=True,
    ),
    Property(
        "after_last_reply",
        "seed/line/frame: bytes sent after (or racing) the last reply (seed's answer, "
        "ERR too-large) are discarded, the reply arrives whole, and the close is a FIN",
        ("seed", "line", "frame"),
        lambda target: _after_plans(target),
        steered=True,
    ),
    Property(
        "idle_timeout",
        "line/frame: a peer silent (or stuck mid-message, or silent after a message) for the "
        "idle timeout gets ERR idle-timeout, then FIN",
        ("line", "frame"),
        lambda target: _idle_plans(target),
        steered=True,
        needs_idle_timeout=True,
    ),
)


def by_name(names: list[str]) -> list[Property]:
    """The named properties, in PROPERTIES order; ValueError naming an unknown one."""
    known = {prop.name: prop for prop in PROPERTIES}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValueError(f"unknown properties {unknown}: known are {', '.join(known)}")
    return [prop for prop in PROPERTIES if prop.name in names]
