"""The bench's verdict on whether a rate target fits this machine's cores."""

from __future__ import annotations

from typing import Any

import pytest

from bench.figures import TARGETS
from bench.reach import reach, reaches

SEED_TARGET = next(t for t in TARGETS if t.workload == "seed")


def results(
    *, blocking_rate: float, system_us: float, user_us: float, softirq_us: float = 0.0
) -> dict[str, Any]:
    """A run's results holding what reach() reads: one seed figure per server, 2 cores."""
    project = {
        "rate": 1.0,
        "server_system_us": system_us,
        "client_system_us": system_us,
        "server_user_us": user_us,
        "client_user_us": user_us,
        "softirq_us": softirq_us,
    }
    return {
        "machine": {"cores": "2"},
        "throughput": {"seed": {"project": project, "blocking": {"rate": blocking_rate}}},
    }


@pytest.mark.covers("bench/reach")
def test_the_kernel_work_alone_over_the_cores_is_out_of_reach() -> None:
    # 3x 3,000/s = 9,000/s; (2 x 100 µs of system time + 40 µs of interrupts) = 2.16 cores of 2.
    run = results(blocking_rate=3000, system_us=100, user_us=10, softirq_us=40)
    found = reach(run, SEED_TARGET, "project")
    assert found is not None
    assert found.rate_needed == 9000
    assert round(found.kernel_cores, 2) == 2.16
    assert found.verdict.startswith("out of reach here")


@pytest.mark.covers("bench/reach")
def test_kernel_work_that_fits_leaves_the_user_space_cost_to_blame() -> None:
    # 9,000/s x 2 x 50 µs = 0.9 cores of kernel; with 2 x 70 µs of user time, 2.16 cores.
    found = reach(results(blocking_rate=3000, system_us=50, user_us=70), SEED_TARGET, "project")
    assert found is not None
    assert round(found.measured_cores, 2) == 2.16
    assert found.verdict.startswith("the kernel's work fits")


@pytest.mark.covers("bench/reach")
def test_a_target_that_fits_says_so() -> None:
    found = reach(results(blocking_rate=1000, system_us=50, user_us=70), SEED_TARGET, "project")
    assert found is not None
    assert found.verdict == "fits this machine's cores"


def test_targets_without_their_figures_are_left_out() -> None:
    partial = results(blocking_rate=3000, system_us=120, user_us=10)
    del partial["throughput"]["seed"]["project"]["client_system_us"]  # an older run's results
    assert reaches(partial, ["project"]) == []
