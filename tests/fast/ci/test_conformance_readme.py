"""README.md's conformance matrix (ci/conformance_readme.py, `make conformance-readme`).

The section in README.md is checked against the repository as it is now: one column per
shipped profile (targets/*.toml, by the name each declares), only check IDs the suite has
(`--list-checks`) and every one of them, only outcomes the report knows. A target or a
check added or removed since the last `make conformance` is a failure that says to run
it: README shows the matrix of the suite as it is. The script itself runs on
results files written here and on a README of its own.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from socket_harness.report import ORDER
from socket_harness.targets import load

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "ci" / "conformance_readme.py"
START, END = "<!-- section:conformance-matrix -->", "<!-- /section:conformance-matrix -->"
TIMEOUT = 60.0  # seconds: a pytest collection or the script, on a busy machine
RERUN = "run `make conformance` (or `make conformance-readme` after one) and commit README.md"


def readme_section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert (text.count(START), text.count(END)) == (1, 1), f"README.md: one {START} ... {END}"
    return text[text.index(START) + len(START) : text.index(END)]


def table(section: str) -> tuple[list[str], dict[str, list[str]]]:
    """(the header's target names, {check ID: its cells}) of the section's one table."""
    rows = [line for line in section.splitlines() if line.startswith("|")]
    assert len(rows) >= 3, f"README.md's matrix has no table rows: {section!r}"
    header = [cell.strip() for cell in rows[0].strip("|").split("|")]
    assert header[0] == "check", rows[0]
    assert re.fullmatch(r"\|---\|(---\|)+", rows[1]), rows[1]
    body: dict[str, list[str]] = {}
    for row in rows[2:]:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        match = re.fullmatch(r"`([a-z0-9-]+/[a-z0-9-]+)`", cells[0])
        assert match, f"not a check ID: {row}"
        body[match.group(1)] = cells[1:]
    return header[1:], body


def shipped_targets() -> list[str]:
    return sorted(load(path).name for path in (ROOT / "targets").glob("*.toml"))


def suite_checks() -> set[str]:
    """The suite's check IDs as `--list-checks` prints them (`ID   promise: NAME`)."""
    suite = ["--pyargs", "socket_harness.conformance", "-p", "no:cacheprovider"]
    result = subprocess.run(
        [sys.executable, "-m", "pytest", *suite, "--list-checks", "-q"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return set(re.findall(r"^(\S+/\S+)\s+promise:", result.stdout, re.MULTILINE))


def test_readme_matrix_has_a_column_per_shipped_target_and_only_known_checks() -> None:
    targets, rows = table(readme_section())

    assert targets == shipped_targets(), f"README.md's matrix is not the shipped targets: {RERUN}"
    checks = suite_checks()
    stale = sorted(set(rows) - checks)
    assert not stale, f"README.md's matrix has checks the suite no longer has {stale}: {RERUN}"
    missing = sorted(checks - set(rows))
    assert not missing, f"README.md's matrix lacks the suite's checks {missing}: {RERUN}"
    outcomes = set(ORDER) | {"**failed**"}
    for check, cells in rows.items():
        assert len(cells) == len(targets), f"{check}: {len(cells)} cells, {len(targets)} targets"
        assert set(cells) <= outcomes, f"{check}: {cells}"
    counts = re.search(r"^Per target: (.*)$", readme_section(), re.MULTILINE)
    assert counts, "README.md's matrix has no `Per target:` line"
    assert [item.split(":")[0] for item in counts.group(1).split("; ")] == targets


def cell(check: str, target: str, outcome: str) -> dict[str, str]:
    """One results-file entry, the fields socket_harness.report.Cell has."""
    fields = ("reason", "message", "exchange", "logs", "rerun")
    return {"check": check, "target": target, "outcome": outcome, **dict.fromkeys(fields, "")}


def run_script(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, str(SCRIPT), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT)


def test_the_script_rewrites_only_the_section_from_the_results(tmp_path: Path) -> None:
    results = tmp_path / "report" / "results"
    results.mkdir(parents=True)
    entries = [
        cell("payload/echo-exact", "echo", "passed"),
        cell("limit/at-bound", "echo", "not declared"),
    ]
    (results / "echo.json").write_text(json.dumps(entries))
    (results / "php.json").write_text(json.dumps([cell("payload/echo-exact", "php", "failed")]))
    readme = tmp_path / "README.md"
    before, after = "# Title\n\ntext before\n", "\ntext after\n"
    readme.write_text(f"{before}{START}\nthe old matrix\n{END}{after}")

    for _ in range(2):  # and again: the same file
        result = run_script("--report", str(tmp_path / "report"), "--readme", str(readme))
        assert result.returncode == 0, result.stderr
        text = readme.read_text()
        assert text.startswith(f"{before}{START}\n")
        assert text.endswith(f"{END}{after}")
        assert "the old matrix" not in text
        assert "| check | echo | php |\n|---|---|---|\n" in text
        assert "| `limit/at-bound` | not declared |  |\n" in text
        assert "| `payload/echo-exact` | passed | **failed** |\n" in text
        assert "Per target: echo: 1 passed, 1 not declared; php: 1 failed\n" in text


@pytest.mark.parametrize(
    ("readme_text", "with_results", "said"),
    [
        (f"{START}\n{END}\n", False, "no results in"),
        ("no markers here\n", True, f"no single {START}"),
        (f"{END}\n{START}\n", True, f"no single {START}"),
    ],
)
def test_the_script_says_why_in_one_line(
    tmp_path: Path, readme_text: str, with_results: bool, said: str
) -> None:
    results = tmp_path / "results"
    results.mkdir()
    if with_results:
        (results / "echo.json").write_text(json.dumps([cell("faults/x", "echo", "passed")]))
    readme = tmp_path / "README.md"
    readme.write_text(readme_text)

    result = run_script("--report", str(tmp_path), "--readme", str(readme))

    assert result.returncode == 1
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert said in result.stderr
    assert readme.read_text() == readme_text  # untouched
