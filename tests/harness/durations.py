"""Stored test durations (pytest-split's `.test_durations`) and what the suite does with them.

`make durations` refreshes the file (pytest-split's --store-durations: seconds
of setup + call + teardown per test node id, a JSON object). Two readers:
pytest-split, which cuts the container tier into shards of about equal time
for CI's runners (`--splits N --group i`), and `longest_modules_first`, which
hands pytest-xdist the slowest modules first. Under `--dist loadfile` a module
is one unit of work on one worker, so a long module started last would finish
alone while the other workers sit idle; longest-first is the classic greedy
schedule (LPT) for that.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest


def load(path: Path) -> dict[str, float]:
    """{node id: seconds} from pytest-split's file; {} when it is missing or unreadable
    (every test then counts the same, so the modules with the most tests go first)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): float(v) for k, v in data.items() if isinstance(v, int | float)}


def module_of(nodeid: str) -> str:
    """`tests/x/test_y.py::test_z[p]` -> `tests/x/test_y.py`."""
    return nodeid.split("::", 1)[0]


def module_durations(nodeids: Sequence[str], durations: Mapping[str, float]) -> dict[str, float]:
    """Expected seconds per module of `nodeids`: the stored time of each test, and for a test
    with none, the mean of the stored ones (pytest-split's rule for a test it has not seen;
    1 s when none is stored)."""
    known = [durations[n] for n in nodeids if n in durations]
    default = sum(known) / len(known) if known else 1.0
    totals: dict[str, float] = {}
    for nodeid in nodeids:
        module = module_of(nodeid)
        totals[module] = totals.get(module, 0.0) + durations.get(nodeid, default)
    return totals


def longest_modules_first(
    items: Sequence[pytest.Item], durations: Mapping[str, float]
) -> list[pytest.Item]:
    """`items` with whole modules ordered by expected time, longest first; within a module,
    and between modules of equal time, the collection order stays. Deterministic, as
    pytest-xdist requires: every worker must collect the same tests in the same order."""
    totals = module_durations([item.nodeid for item in items], durations)
    first_seen: dict[str, int] = {}
    for index, item in enumerate(items):
        first_seen.setdefault(module_of(item.nodeid), index)

    def key(indexed: tuple[int, pytest.Item]) -> tuple[float, int, int]:
        index, item = indexed
        module = module_of(item.nodeid)
        return (-totals[module], first_seen[module], index)

    return [item for _, item in sorted(enumerate(items), key=key)]
