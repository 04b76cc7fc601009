"""Hypothesis strategies for wire-level tests: message lists and ways to cut a stream."""

from __future__ import annotations

import itertools

from hypothesis import strategies as st


def line_bodies(max_size: int = 200) -> st.SearchStrategy[bytes]:
    """Any bytes but the newline, which ends a line."""
    return st.binary(max_size=max_size).map(lambda b: b.replace(b"\n", b""))


def frame_bodies(max_size: int = 200) -> st.SearchStrategy[bytes]:
    return st.binary(max_size=max_size)


@st.composite
def cut_points(draw: st.DrawFn, stream: bytes) -> list[bytes]:
    """The same stream cut into arbitrary chunks (empty chunks included)."""
    cuts = sorted(draw(st.lists(st.integers(0, len(stream)), max_size=20)))
    bounds = [0, *cuts, len(stream)]
    return [stream[a:b] for a, b in itertools.pairwise(bounds)]
