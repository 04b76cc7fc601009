"""The workflow's container shards cover the tier: groups 1..splits, each on every Python.

pytest-split runs group i of `--splits N`: a shard list that misses a group leaves its
tests unrun on every push, and nothing else would notice (a group past N is a usage
error, a missing one is silence). GitHub's schema and actionlint (`make lint`) check the
file's form; this checks what they cannot: the shards the container job's matrix lists
are exactly 1..splits, and the fast tier and each shard run on the same Pythons.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ruamel.yaml import YAML  # check-jsonschema's YAML reader, installed with it

ROOT = Path(__file__).resolve().parents[3]
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"
SUPPORTED = ["3.11", "3.12", "3.13"]  # README: the harness side supports 3.11-3.13


def jobs() -> dict[str, Any]:
    workflow: dict[str, Any] = YAML(typ="safe").load(WORKFLOW.read_text())
    found: dict[str, Any] = workflow["jobs"]
    return found


def test_the_container_shards_are_groups_one_to_splits_on_every_supported_python() -> None:
    matrix = jobs()["containers"]["strategy"]["matrix"]
    (splits,) = matrix["splits"]  # one value: every runner cuts the tier the same way

    assert splits >= 1
    assert sorted(matrix["shard"]) == list(range(1, splits + 1))
    assert [str(p) for p in matrix["python"]] == SUPPORTED
    run = " ".join(step.get("run", "") for step in jobs()["containers"]["steps"])
    assert '--splits "${{ matrix.splits }}" --group "${{ matrix.shard }}"' in run


def test_the_fast_tier_runs_on_every_supported_python() -> None:
    matrix = jobs()["fast"]["strategy"]["matrix"]

    assert [str(p) for p in matrix["python"]] == SUPPORTED


def test_the_results_job_gathers_every_tested_job_even_after_a_failure() -> None:
    junit = jobs()["junit"]

    assert set(junit["needs"]) == {"fast", "containers"}
    assert junit["if"] == "always()"
