"""The order pytest-xdist hands modules out in: longest first, by the stored durations.

README (Testing, "Workers"): under `--dist loadfile` a module is one unit of work, and
the suite hands the modules out by their time in `.test_durations` (pytest-split's file,
seconds per test), the longest first; a module's tests stay together and in their order.
A test with no stored time counts as the mean of the stored ones (pytest-split's rule).
Checked on the order a real `pytest --collect-only` reports, with durations files made here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
TIMEOUT = 60.0  # s
TESTS = "tests/unit"


def collected(tmp_path: Path, durations: dict[str, float] | None) -> list[str]:
    """Node ids in the order the suite would run them, with `durations` as the stored file."""
    path = tmp_path / "durations.json"
    if durations is None:
        path.unlink(missing_ok=True)
    else:
        path.write_text(json.dumps(durations))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    result = subprocess.run(
        [
            *(sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"),
            *("--durations-path", str(path), TESTS),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return [line for line in result.stdout.splitlines() if "::" in line]


def modules(nodeids: list[str]) -> list[str]:
    """Modules in the order their tests come, each once (a module split in two shows twice)."""
    order: list[str] = []
    for nodeid in nodeids:
        module = nodeid.split("::")[0]
        if not order or order[-1] != module:
            order.append(module)
    return order


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The order with no durations file (one collection, shared: each costs seconds)."""
    return collected(tmp_path_factory.mktemp("plain"), None)


def test_without_stored_durations_the_modules_with_most_tests_go_first(plain: list[str]) -> None:
    counts = [sum(n.startswith(f"{m}::") for n in plain) for m in modules(plain)]
    assert len(counts) >= 3
    assert counts == sorted(counts, reverse=True)  # every test counts the same


def test_modules_go_out_longest_first_each_one_whole_and_in_its_own_order(
    plain: list[str], tmp_path: Path
) -> None:
    names = modules(plain)
    assert len(names) >= 3
    first, last = names[0], names[-1]
    # The last module becomes the longest, the first the shortest; the rest 1 s per test.
    times = {
        n: (30.0 if n.startswith(f"{last}::") else 0.01 if n.startswith(f"{first}::") else 1.0)
        for n in plain
    }

    ordered = collected(tmp_path, times)

    assert sorted(ordered) == sorted(plain)  # the same tests
    order = modules(ordered)
    assert order[0] == last
    assert order[-1] == first
    assert len(order) == len(names)  # no module is split
    for module in names:  # within a module, the collection order
        assert [n for n in ordered if n.startswith(f"{module}::")] == [
            n for n in plain if n.startswith(module)
        ]
