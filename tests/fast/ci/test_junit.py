"""ci/junit.py, the CI job that gathers every shard's JUnit XML, on files real pytest runs wrote.

What it must say (its --help): one line per file and a total; exit 0 only when every file
parsed, ran at least one test and had no failure or error; a Markdown table appended to
$GITHUB_STEP_SUMMARY when that is set.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
TIMEOUT = 60.0  # s, each subprocess

PASSING = "def test_one():\n    pass\n\ndef test_two():\n    pass\n"
FAILING = "def test_ok():\n    pass\n\ndef test_broken():\n    assert 1 == 2\n"


def junit_of(where: Path, name: str, source: str, *args: str) -> Path:
    """Run a real pytest on `source` (a module of its own, outside the suite); its JUnit XML."""
    work = where / name
    work.mkdir()
    (work / f"test_{name}.py").write_text(source)
    xml = where / "junit" / f"{name}.xml"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--junitxml={xml}", *args],
        cwd=work,
        env=env,
        capture_output=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert xml.is_file()
    return xml


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """JUnit XML of real runs, written once for the module (each run costs seconds):
    `passing` (2 passed), `failing` (1 passed, 1 failed), `empty` (no test selected)."""
    where = tmp_path_factory.mktemp("runs")
    return {
        "passing": junit_of(where, "passing", PASSING),
        "failing": junit_of(where, "failing", FAILING),
        "empty": junit_of(where, "empty", PASSING, "-k", "no_such_test"),
    }


def shards(tmp_path: Path, written: dict[str, Path], **files: str) -> Path:
    """A results directory as the CI job downloads it: `shard=kind` -> shard/junit.xml."""
    for shard, kind in files.items():
        (tmp_path / "results" / shard).mkdir(parents=True)
        shutil.copy(written[kind], tmp_path / "results" / shard / "junit.xml")
    return tmp_path / "results"


def gather(*paths: Path, summary: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_STEP_SUMMARY"}
    if summary is not None:
        env["GITHUB_STEP_SUMMARY"] = str(summary)
    return subprocess.run(
        [sys.executable, str(ROOT / "ci" / "junit.py"), *map(str, paths)],
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def test_every_shard_passing_is_a_pass_with_one_table(
    tmp_path: Path, written: dict[str, Path]
) -> None:
    results = shards(tmp_path, written, shard1="passing", shard2="passing")
    summary = tmp_path / "summary.md"

    result = gather(results, summary=summary)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "junit: shard1/junit.xml: 2 tests, 0 failures, 0 errors, 0 skipped" in result.stdout
    assert "junit: shard2/junit.xml: 2 tests, 0 failures, 0 errors, 0 skipped" in result.stdout
    assert result.stdout.splitlines()[-1] == "junit: 2 files, 4 tests, 0 not passing"
    table = summary.read_text()
    assert "| shard1/junit.xml | 2 | 0 | 0 | 0 |" in table
    assert "| **total** | 4 | 0 | 0 | 0 |" in table


def test_one_failing_shard_fails_the_whole(tmp_path: Path, written: dict[str, Path]) -> None:
    result = gather(shards(tmp_path, written, shard1="passing", shard2="failing"))

    assert result.returncode == 1
    assert "junit: shard2/junit.xml: 2 tests, 1 failures, 0 errors" in result.stdout
    assert result.stdout.splitlines()[-1] == "junit: 2 files, 4 tests, 1 not passing"


def test_a_shard_that_ran_no_test_is_not_a_pass(tmp_path: Path, written: dict[str, Path]) -> None:
    result = gather(shards(tmp_path, written, shard1="passing", empty="empty"))

    assert result.returncode == 1
    assert "junit: empty/junit.xml: 0 tests, 0 failures, 0 errors, 0 skipped" in result.stdout
    assert "no test ran" in result.stdout


def test_a_cut_off_file_is_not_a_pass(tmp_path: Path, written: dict[str, Path]) -> None:
    xml = tmp_path / "cut.xml"
    xml.write_text(written["passing"].read_text()[:40])  # as if the upload was cut short

    result = gather(xml)

    assert result.returncode == 1
    assert "unreadable" in result.stdout


def test_no_file_at_all_is_not_a_pass(tmp_path: Path) -> None:
    result = gather(tmp_path)

    assert result.returncode == 1
    assert "no *.xml under" in result.stderr
