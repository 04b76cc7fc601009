"""`python -m bench.readme`: put the latest results into README.md's bench section.

The section is bench/readme-intro.md followed by the latest tables. Only the
text between `<!-- section:bench -->` and `<!-- /section:bench -->`
changes; the rest of README.md is left exactly as it is.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .report import (
    RESULTS,
    harness_table,
    notes,
    ratio_tables,
    reach_table,
    servers_table,
    targets_table,
)
from .servers import REPO

START, END = "<!-- section:bench -->", "<!-- /section:bench -->"

INTRO = Path(__file__).with_name("readme-intro.md")


def section(results: dict[str, object]) -> str:
    machine = results["machine"]
    assert isinstance(machine, dict)
    lines = [
        INTRO.read_text(),
        f"Latest run: {machine['date']}, {machine['cores']} cores, kernel {machine['kernel']}, "
        f"{machine['docker']}, container Python {machine['container_python']}.",
        "",
        *servers_table(results),
        "",
        "Ratios, above 1 = the project's server is better (uvloop's: in the results file):",
        "",
        *ratio_tables(results, only="project"),
        *targets_table(results),
        "",
        "What the rate targets need of this machine's cores (see above):",
        "",
        *reach_table(results),
        "",
        "Notes:",
        "",
        *notes(results),
        "",
    ]
    harness = results.get("harness")
    if isinstance(harness, dict):
        lines += ["Harness speed:", "", *harness_table(harness), ""]
    return "\n".join(lines)


def main() -> int:
    results = json.loads((RESULTS / "results.json").read_text())
    readme = REPO / "README.md"
    text = readme.read_text()
    start, end = text.find(START), text.find(END)
    if start < 0 or end < start:
        print("README.md has no bench section markers", file=sys.stderr)
        return 1
    body = section(results)
    readme.write_text(text[: start + len(START)] + "\n" + body + text[end:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
