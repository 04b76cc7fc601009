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
REPORT = ROOT / "ci" / "lib" / "mutation_report.py"
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


def set_result(tmp_path: Path, job: str, outcome: str, output: str = "") -> None:
    with sqlite3.connect(tmp_path / "s.sqlite") as db:
        db.execute(
            "INSERT OR REPLACE INTO work_results (worker_outcome, output, test_outcome, diff,"
            " job_id) VALUES ('NORMAL', ?, ?, '', ?)",
            (output, outcome, job),
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


def test_results_made_under_other_settings_are_not_kept(session: Path) -> None:
    # ci/mutation.sh passes the per-mutant timeout and MUTATION_TESTS as the settings.
    first = prepare(session, "--settings", "timeout=60 tests=")
    assert first.returncode == 0, first.stderr
    assert "settings from now on" in first.stderr  # a session made without them
    job = sorted(mutants(session, "a.py", COMPARISONS))[0]
    set_result(session, job, "KILLED")
    same = prepare(session, "--settings", "timeout=60 tests=")
    assert same.returncode == 0, same.stderr
    assert same.stderr == ""
    assert pairs(session, "SELECT job_id, test_outcome FROM work_results")[job] == "KILLED"
    other = prepare(session, "--settings", "timeout=1 tests=")
    assert other.returncode == 0, other.stderr
    assert len(other.stderr.splitlines()) == 1
    assert other.stderr.startswith("mutation_session: started again: its results were made with")
    assert job not in pairs(session, "SELECT job_id, test_outcome FROM work_results")
    assert mutants(session, "a.py")  # made again, under the new settings
    assert (session / "s.sqlite.settings").read_text() == "timeout=1 tests="


def test_the_report_shows_the_selectors_line_with_its_mutant(session: Path) -> None:
    # The selector's line reaches the session as the mutant's output (cosmic-ray keeps the
    # test command's stdout); the report prints it, so a survivor no test ran says so.
    survivor = sorted(mutants(session, "a.py", COMPARISONS))[0]
    line = "mutation_tests: no mapped test runs pkg/a.py:2: survived"
    set_result(session, survivor, "SURVIVED", f"{line}\n")
    report = subprocess.run(
        [sys.executable, str(REPORT), "s.sqlite", "pkg"],
        cwd=session,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert report.returncode == 0, report.stderr
    noted = [ln for ln in report.stdout.splitlines() if ln.endswith(f": {line}")]
    assert len(noted) == 1, report.stdout
    assert noted[0].startswith("pkg/a.py:2 core/ReplaceComparisonOperator_")


def test_a_mutant_no_worker_answered_is_not_counted_killed_and_runs_again(session: Path) -> None:
    # A worker that was gone (its script killed alone, cosmic-ray still sending) makes
    # cosmic-ray store ABNORMAL with no test outcome. That is no result: the report counts
    # it as not run (it counted it killed: a kill -9 of ci/mutation.sh once turned a 0 %
    # run into 87.1 %), and the next run's session drops the result so it runs again.
    gone, killed = sorted(mutants(session, "a.py", COMPARISONS))[:2]
    set_result(session, killed, "KILLED")
    with sqlite3.connect(session / "s.sqlite") as db:
        db.execute(
            "INSERT INTO work_results (worker_outcome, output, test_outcome, diff, job_id)"
            " VALUES ('ABNORMAL', 'Cannot connect to host', NULL, NULL, ?)",
            (gone,),
        )
    report = subprocess.run(
        [sys.executable, str(REPORT), "s.sqlite", "pkg"],
        cwd=session, capture_output=True, text=True, timeout=TIMEOUT, check=False,
    )  # fmt: skip
    assert report.returncode == 0, report.stderr
    outcomes = pairs(session, "SELECT job_id, worker_outcome FROM work_results")
    skipped = [job for job, outcome in outcomes.items() if outcome == "SKIPPED"]
    [(items,)] = rows(session, "SELECT count(*) FROM work_items")
    not_run = int(items) - len(skipped) - 1  # all but the one killed, the ABNORMAL one too
    assert report.stdout.splitlines()[-1] == f"counts 1 1 {not_run}", report.stdout
    result = prepare(session)
    assert result.returncode == 0, result.stderr
    assert "1 mutants no worker answered will run again" in result.stderr
    outcomes = pairs(session, "SELECT job_id, test_outcome FROM work_results")
    assert gone not in outcomes
    assert outcomes[killed] == "KILLED"
