#!/usr/bin/env python3
"""Put the latest conformance matrix into README.md, between its markers.

Usage: ci/conformance_readme.py [--report DIR] [--readme FILE]

Reads every `DIR/results/*.json` (default reports/conformance: what `make
conformance` writes, one file per target) and replaces the text between
`<!-- section:conformance-matrix -->` and `<!-- /section:conformance-matrix -->`
in FILE (default README.md) with the matrix (socket_harness.report.render_table)
and the date of the newest results file; the rest of FILE is left exactly as it
is. `make conformance` runs it after a whole run; `make conformance-readme` runs
it alone, on the last run's results. Exit 0 when written; 1, with one line on
stderr, when there are no results or FILE has no markers; 2 for a usage error.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from socket_harness.report import load_cells, render_table

ROOT = Path(__file__).resolve().parent.parent
START, END = "<!-- section:conformance-matrix -->", "<!-- /section:conformance-matrix -->"
INTRO = (
    "The latest `make conformance` here, every check against every shipped target",
    "(cells: passed, failed, not declared, not applicable, skipped; the failures in",
    "full in `reports/conformance/matrix.md` and `matrix.html`). Rewritten by `make",
    "conformance` after a whole run, or from the last run's results alone by `make",
    "conformance-readme` (`ci/conformance_readme.py`).",
)


def section(results: Path) -> str:
    """The section's text for the results files in `results`; ValueError when there are none
    or one is not a results file (socket_harness.report.load_cells)."""
    files = sorted(results.glob("*.json"))
    if not files:
        raise ValueError(f"no results in {results} (run `make conformance` first)")
    newest = max(path.stat().st_mtime for path in files)
    when = datetime.fromtimestamp(newest, UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [*INTRO, "", f"Run: {when}.", "", *render_table(load_cells(results))]
    return "\n".join(lines) + "\n"


def replace_section(text: str, body: str) -> str:
    """`text` with what lies between START and END replaced by `body`; ValueError when the
    markers are missing, repeated or out of order."""
    if text.count(START) != 1 or text.count(END) != 1 or text.find(START) > text.find(END):
        raise ValueError(f"no single {START} ... {END} pair")
    start, end = text.find(START) + len(START), text.find(END)
    return text[:start] + "\n" + body + text[end:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--report", type=Path, default=ROOT / "reports" / "conformance")
    parser.add_argument("--readme", type=Path, default=ROOT / "README.md")
    args = parser.parse_args(argv)
    try:
        body = section(args.report / "results")
        text = args.readme.read_text(encoding="utf-8")
        args.readme.write_text(replace_section(text, body), encoding="utf-8")
    except ValueError as exc:
        print(f"conformance_readme: {args.readme}: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # the error names its file
        print(f"conformance_readme: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
