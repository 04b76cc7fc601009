"""Hypothesis strategies and budgets shared by the container tests."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

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


def _payload(size: int, seed: int, without_newline: bool) -> bytes:
    data = random.Random(seed).randbytes(size)
    # Same length, no `\n`: a line body may hold any byte but that one.
    return data.replace(b"\n", b"\r") if without_newline else data


def payloads(max_size: int, *, without_newline: bool = False) -> st.SearchStrategy[bytes]:
    """Binary payloads from empty to exactly `max_size`, weighted to both ends.

    Bytes come from a seeded PRNG rather than drawn one by one, so large
    payloads stay cheap; hypothesis still shrinks the size and the seed.
    """
    sizes = st.one_of(
        st.integers(0, 64),
        st.integers(0, max_size),
        st.integers(max(0, max_size - 64), max_size),
    )
    return st.builds(_payload, sizes, st.integers(0, 2**32 - 1), st.just(without_newline))


# How a sender cuts its bytes (sizes of the writes) and how long it waits between writes.
chunk_plans = st.lists(st.integers(1, 4096), max_size=6)
pauses = st.sampled_from([0.0, 0.0, 0.001, 0.01])
