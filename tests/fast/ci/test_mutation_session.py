"""`make mutation`'s session follows the code: a changed file's mutants are made again, alone.

ci/lib/mutation_session.py runs the real cosmic-ray (`init`, its filters) on a small
package in a temporary directory; results are written into the session the way cosmic-ray
stores them (its enums' names: NORMAL, KILLED, SURVIVED, SKIPPED), and read back with sqlite.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "ci" / "lib" / "mutation_session.py"
TIMEOUT = 60.0  # s: cosmic-ray init of two small files
COMPARISONS = "core/ReplaceComparisonOperator_%"  # operators the config keeps

CONFIG = """\
[cosmic-ray]
module-path = "pkg"
timeout = 10
excluded-modules = []
test-command = "true"

[cosmic-ray.distributor]
name = "local"

[cosmic-ray.filters.operators-filter]
exclude-operators = ["core/NumberReplacer"]
"""


def prepare(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "s.sqlite", "s.toml", "pkg", *extra],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def rows(tmp_path: Path, query: str) -> list[tuple[str, ...]]:
    with sqlite3.connect(tmp_path / "s.sqlite") as db:
        return [tuple(row) for row in db.execute(query)]


def pairs(tmp_path: Path, query: str) -> dict[str, str | None]:
    """A two-column query as a dict: job_id -> value."""
    with sqlite3.connect(tmp_path / "s.sqlite") as db:
        found: dict[str, str | None] = dict(db.execute(query))
        return found


def mutants(tmp_path: Path, name: str, operator: str = "%") -> set[str]:
    query = (
        "SELECT job_id FROM mutation_specs"
        f" WHERE module_path = 'pkg/{name}' AND operator_name LIKE '{operator}'"
    )
    return {job for (job,) in rows(tmp_path, query)}


def set_result(tmp_path: Path, job: str, outcome: str) -> None:
    with sqlite3.connect(tmp_path / "s.sqlite") as db:
        db.execute(
            "INSERT OR REPLACE INTO work_results (worker_outcome, output, test_outcome, diff,"
            " job_id) VALUES ('NORMAL', '', ?, '', ?)",
            (outcome, job),
        )


@pytest.fixture
def session(tmp_path: Path) -> Path:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.py").write_text("def f(x):\n    return x < 1\n")
    (tmp_path / "pkg" / "b.py").write_text("def g(x):\n    return x > 2\n")
    (tmp_path / "s.toml").write_text(CONFIG)
    result = prepare(tmp_path)
    assert result.returncode == 0, result.stderr
    return tmp_path


def test_a_changed_file_gets_new_mutants_and_the_others_keep_their_results(session: Path) -> None:
    a_jobs, b_jobs = mutants(session, "a.py"), mutants(session, "b.py")
    assert a_jobs
    assert b_jobs
    kept = sorted(mutants(session, "a.py", COMPARISONS))[0]
    set_result(session, kept, "KILLED")
    set_result(session, sorted(mutants(session, "b.py", COMPARISONS))[0], "KILLED")
    (session / "pkg" / "b.py").write_text("def g(x):\n    return x == 2 and x < 9\n")
    result = prepare(session)
    assert result.returncode == 0, result.stderr
    assert "made again, changed: pkg/b.py" in result.stderr
    assert mutants(session, "a.py") == a_jobs
    new_b = mutants(session, "b.py")
    assert new_b
    assert not new_b & b_jobs
    outcomes = pairs(session, "SELECT job_id, test_outcome FROM work_results")
    assert outcomes[kept] == "KILLED"
    assert not set(outcomes) & b_jobs
    # The operator filter ran again: the excluded operator's mutants are skipped, new ones too.
    specs = rows(session, "SELECT job_id, operator_name FROM mutation_specs")
    excluded = {job for job, op in specs if op == "core/NumberReplacer"}
    assert excluded & new_b
    assert excluded & a_jobs
    worker = pairs(session, "SELECT job_id, worker_outcome FROM work_results")
    assert {job for job, outcome in worker.items() if outcome == "SKIPPED"} == excluded


def test_recheck_runs_the_survivors_again_and_nothing_else(session: Path) -> None:
    survivor, killed = sorted(mutants(session, "a.py", COMPARISONS))[:2]
    set_result(session, survivor, "SURVIVED")
    set_result(session, killed, "KILLED")
    result = prepare(session, "--recheck")
    assert result.returncode == 0, result.stderr
    assert "1 survivors will run again" in result.stderr
    outcomes = pairs(session, "SELECT job_id, test_outcome FROM work_results")
    assert survivor not in outcomes
    assert outcomes[killed] == "KILLED"
