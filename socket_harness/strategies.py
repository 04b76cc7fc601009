"""Hypothesis strategies of the whole suite: payloads, sizes and cuts aimed at the boundaries.

Random bytes hit a trailing `\\r`, an exact segment size or a buffer boundary
rarely; these strategies aim there on purpose:

- sizes: 0, 1, every documented bound (the limit a test configures, seed's
  one read of 8192 bytes) and the common buffer and segment sizes, each with
  its neighbours, beside sizes drawn over the whole range;
- payloads: bytes from a seeded PRNG (cheap at any size; hypothesis shrinks
  the size and the seed) with special bytes at the edges: `\\r`, `\\n`, `\\0`,
  `\\xff` and the pieces of a UTF-8 character cut in two;
- batches: small and large messages mixed in one write;
- chunk plans: writes cut at 1 byte, at segment and buffer sizes, anywhere.

Tests add `@example`s for the cases that matter most, so the derandomized
`ci` profile runs them every time. Budgets for container tests are per
profile: `container_settings(N)`; the conformance suite's properties use
`conformance_settings(N)`, bounded so that a red run against any target ends fast.
"""

from __future__ import annotations

import itertools
import random

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st

# docs/protocol.md, `seed`: one read of at most 8192 bytes.
SEED_READ = 8192
# TCP's maximum segment size: a 1500-byte-MTU bridge (Docker's default) and loopback.
SEGMENT_BRIDGE = 1448
SEGMENT_LOOPBACK = 65483
# Buffer sizes readers and writers commonly use.
BUFFER_SIZES = (4096, 8192, 16384, 65535, 65536)
COMMON_SIZES = (SEED_READ, SEGMENT_BRIDGE, SEGMENT_LOOPBACK, *BUFFER_SIZES)
# What may sit at a message's edges: the bytes framings and decoders treat specially,
# and the pieces of 测 (e6 b5 8b) cut in two.
EDGES = (b"\r", b"\n", b"\0", b"\xff", b"\r\r", b"\xe6", b"\xe6\xb5", b"\x8b", b"\xb5\x8b")

# Container examples cost real round trips: budgets are per profile, not hypothesis' 100.
_SCALE = {"dev": 0.5, "ci": 1.0, "fuzz": 20.0}


def examples(ci: int) -> int:
    """`ci` examples under the ci profile; half under dev, twenty times under fuzz."""
    return max(1, round(ci * _SCALE.get(settings.get_current_profile_name(), 1.0)))


def container_settings(ci_examples: int, **more: object) -> settings:
    """Settings for a test whose examples talk to containers: budgeted, no speed health check."""
    return settings(
        max_examples=examples(ci_examples),
        # Servers outlive examples on purpose (one per module); examples cost real round trips.
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        **more,  # type: ignore[arg-type]
    )


def conformance_settings(ci_examples: int) -> settings:
    """`container_settings(ci_examples)` for a conformance property: no shrinking, no example
    database, no deadline. Every example costs round trips to a container and a target may be
    slow: a failing example is reported as found (its first differing byte, escaped),
    not shrunk for minutes, and nothing is written into the user's directory."""
    return container_settings(
        ci_examples,
        phases=(Phase.explicit, Phase.generate),
        database=None,
        deadline=None,
        report_multiple_bugs=False,
    )


def boundary_sizes(max_size: int, bounds: tuple[int, ...] = ()) -> list[int]:
    """0, 1, 2 and each of `bounds` and the common sizes with its neighbours, up to `max_size`."""
    around = {b + d for b in (*bounds, *COMMON_SIZES, max_size) for d in (-1, 0, 1)}
    return sorted(size for size in {0, 1, 2} | around if 0 <= size <= max_size)


def sizes(max_size: int, bounds: tuple[int, ...] = ()) -> st.SearchStrategy[int]:
    """Sizes from 0 to `max_size` (bytes), one draw in two at a boundary (`boundary_sizes`)."""
    return st.one_of(
        st.sampled_from(boundary_sizes(max_size, bounds)),
        st.integers(0, min(64, max_size)),
        st.integers(0, max_size),
    )


def _payload(size: int, seed: int, head: bytes, tail: bytes, without_newline: bool) -> bytes:
    data = bytearray(random.Random(seed).randbytes(size))
    if size:
        data[: len(head)] = head[:size]
        if tail:
            data[max(0, size - len(tail)) :] = tail[-size:]
    # Same length, no `\n`: a line body may hold any byte but that one (`\n` at an edge
    # becomes the `\r` a line may end its body with).
    return bytes(data).replace(b"\n", b"\r") if without_newline else bytes(data)


def edges() -> st.SearchStrategy[bytes]:
    """What a payload starts or ends with: nothing special half the time, else an edge."""
    return st.one_of(st.just(b""), st.sampled_from(EDGES))


def payloads(
    max_size: int, *, without_newline: bool = False, bounds: tuple[int, ...] = ()
) -> st.SearchStrategy[bytes]:
    """Binary payloads from empty to exactly `max_size` bytes, aimed at the boundaries.

    Sizes from `sizes(max_size, bounds)`; bytes from a seeded PRNG, so large
    payloads stay cheap (hypothesis shrinks the size and the seed); the first
    and last bytes often one of `EDGES`. `without_newline`: a line body.
    """
    return st.builds(
        _payload,
        sizes(max_size, bounds),
        st.integers(0, 2**32 - 1),
        edges(),
        edges(),
        st.just(without_newline),
    )


def bodies_for(
    framing: str, max_size: int, bounds: tuple[int, ...] = ()
) -> st.SearchStrategy[bytes]:
    """Message bodies `framing` can carry: a line body holds no `\\n`; seed's is not empty."""
    strategy = payloads(max_size, without_newline=framing == "line", bounds=bounds)
    return strategy.filter(bool) if framing == "seed" else strategy


def batches(
    framing: str, max_size: int, max_messages: int, bounds: tuple[int, ...] = ()
) -> st.SearchStrategy[list[bytes]]:
    """1 to `max_messages` bodies for one write: small ones (up to 16 bytes) mixed with
    large ones at the boundaries, so a large message is often next to a tiny one."""
    small = payloads(min(16, max_size), without_newline=framing == "line")
    large = bodies_for(framing, max_size, bounds)
    return st.lists(st.one_of(small, large), min_size=1, max_size=max_messages)


# How a sender cuts its bytes (sizes of the writes): 1 byte, the segment and buffer
# sizes and their neighbours, or anything up to 4096.
_CUTS = (1, 2, 3, 4, 5, *sorted({s + d for s in COMMON_SIZES for d in (-1, 0, 1)}))
chunk_plans = st.lists(st.one_of(st.integers(1, 4096), st.sampled_from(_CUTS)), max_size=6)
# How long a sender waits between writes (seconds).
pauses = st.sampled_from([0.0, 0.0, 0.001, 0.01])


@st.composite
def cut_points(draw: st.DrawFn, stream: bytes) -> list[bytes]:
    """The same stream cut into arbitrary chunks (empty chunks included)."""
    cuts = sorted(draw(st.lists(st.integers(0, len(stream)), max_size=20)))
    bounds = [0, *cuts, len(stream)]
    return [stream[a:b] for a, b in itertools.pairwise(bounds)]


@st.composite
def cuts_at_edges(draw: st.DrawFn, messages: list[bytes]) -> list[bytes]:
    """The messages' bytes as one stream, cut just before, at and just after message
    edges (between a `\\r` and its `\\n`, inside a frame header), and anywhere."""
    stream = b"".join(messages)
    ends = list(itertools.accumulate(len(m) for m in messages))
    near = sorted({e + d for e in [0, *ends] for d in (-1, 1, 2, 4) if 0 < e + d < len(stream)})
    anywhere = st.integers(0, len(stream))
    points = st.one_of(st.sampled_from(near), anywhere) if near else anywhere
    cuts = sorted(set(draw(st.lists(points, max_size=8))))
    bounds = [0, *cuts, len(stream)]
    return [stream[a:b] for a, b in itertools.pairwise(bounds)]
