#!/usr/bin/env python3
"""Gather JUnit XML files (pytest's --junitxml, one per CI job or shard) into one table.

Usage: ci/junit.py PATH...   (a file, or a directory searched for *.xml)

Prints one line per file (tests, failures, errors, skipped, seconds) and a total; where
GITHUB_STEP_SUMMARY names a file (GitHub Actions), appends the same as a Markdown table
for the run's summary page. Exit 0 when every file parsed and holds at least one test
and no test failed or errored; 1 otherwise (a shard that ran no test is not a pass);
2 for a usage error. Standard library only: it runs on a bare runner.
"""

from __future__ import annotations

import os
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

COUNTS = ("tests", "failures", "errors", "skipped")


@dataclass
class Result:
    """One file's totals over its <testsuite> elements; `problem` when it could not be read."""

    name: str
    tests: int = 0
    failures: int = 0
    errors: int = 0
    skipped: int = 0
    seconds: float = 0.0
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None and self.tests > 0 and self.failures + self.errors == 0


def read(path: Path, name: str) -> Result:
    """Totals of one JUnit XML file (a <testsuites> root or a single <testsuite>)."""
    result = Result(name)
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as exc:
        result.problem = f"unreadable: {exc}"
        return result
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    for suite in suites:
        for count in COUNTS:
            setattr(result, count, getattr(result, count) + int(suite.get(count, "0")))
        result.seconds += float(suite.get("time", "0"))
    if result.tests == 0:
        result.problem = "no test ran"
    return result


def files(paths: list[Path]) -> list[tuple[Path, str]]:
    """(file, name shown) for each argument; a directory gives its *.xml files, sorted."""
    found: list[tuple[Path, str]] = []
    for path in paths:
        if path.is_dir():
            found += [(f, str(f.relative_to(path))) for f in sorted(path.rglob("*.xml"))]
        else:
            found.append((path, str(path)))
    return found


def table(results: list[Result]) -> list[str]:
    """Markdown: one row per file, then the total."""
    rows = ["| file | tests | failures | errors | skipped | s | |", "|---|--:|--:|--:|--:|--:|---|"]
    for r in results:
        mark = "ok" if r.ok else f"**{r.problem or 'FAILED'}**"
        rows.append(
            f"| {r.name} | {r.tests} | {r.failures} | {r.errors} | {r.skipped} "
            f"| {r.seconds:.1f} | {mark} |"
        )
    total = Result("total")
    for count in COUNTS:
        setattr(total, count, sum(getattr(r, count) for r in results))
    total.seconds = sum(r.seconds for r in results)
    rows.append(
        f"| **total** | {total.tests} | {total.failures} | {total.errors} | {total.skipped} "
        f"| {total.seconds:.1f} | |"
    )
    return rows


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    found = files([Path(a) for a in argv])
    if not found:
        print(f"junit: no *.xml under {' '.join(argv)}", file=sys.stderr)
        return 1
    results = [read(path, name) for path, name in found]
    for r in results:
        state = "ok" if r.ok else (r.problem or "FAILED")
        print(
            f"junit: {r.name}: {r.tests} tests, {r.failures} failures, {r.errors} errors, "
            f"{r.skipped} skipped, {r.seconds:.1f} s: {state}"
        )
    bad = [r.name for r in results if not r.ok]
    total = sum(r.tests for r in results)
    print(f"junit: {len(results)} files, {total} tests, {len(bad)} not passing")
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as out:
            out.write("## Test results, all jobs\n\n" + "\n".join(table(results)) + "\n")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
