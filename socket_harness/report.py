"""The conformance report: a matrix of checks x targets, as Markdown and one HTML page.

Fed by the plugin (`--conformance-report DIR`): each test report of a check
(`pytest_runtest_logreport`) becomes one `Cell` per (check ID, target). At the
end of a run the cells of each target it ran are written to
`DIR/results/TARGET.json`, then `DIR/matrix.md` and `DIR/matrix.html` (inline
CSS, no external assets) are rendered from every results file in DIR: runs
against one target each (`make conformance` runs one per profile) add up to
one matrix. A cell is `passed`, `failed` (with the failure's first lines, the
bytes sent and received, escaped, the container logs and the command that
re-runs just that check against just that target), `not declared` (the
profile lacks the promise), `not applicable` (the check needs what the target
does not have) or `skipped` (any other reason, given).
"""

from __future__ import annotations

import html
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pytest

ORDER = ("failed", "passed", "not declared", "not applicable", "skipped")
LOG_TAIL = 3000  # characters of the container logs kept per failure
MESSAGE_LINES = 30  # lines of a failure's report kept per failure


@dataclass
class Cell:
    """One check against one target: `outcome` (one of ORDER) and what explains it."""

    check: str
    target: str
    outcome: str
    reason: str = ""
    message: str = ""
    exchange: str = ""
    logs: str = ""
    rerun: str = ""


def _properties(report: pytest.TestReport) -> dict[str, Any]:
    return {str(key): value for key, value in report.user_properties}


def cell_of(report: pytest.TestReport) -> Cell | None:
    """The cell `report` decides (a check's setup skip, its call, any failure), or None."""
    props = _properties(report)
    check, target = props.get("check"), props.get("target")
    if check is None or target is None:
        return None
    if report.skipped:
        reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else "skipped"
        reason = str(reason).removeprefix("Skipped: ")
        if "not declared by the target" in reason:
            outcome = "not declared"
        elif reason.startswith("not applicable"):
            outcome = "not applicable"
        else:
            outcome = "skipped"
        return Cell(check, target, outcome, reason)
    if report.failed:
        sections = dict(report.sections)
        lines = report.longreprtext.splitlines()
        message = "\n".join(line for line in lines if line.startswith("E ")) or "\n".join(lines)
        return Cell(
            check,
            target,
            "failed",
            f"failed in {report.when}",
            "\n".join(message.splitlines()[:MESSAGE_LINES]),
            sections.get("exchange", ""),
            sections.get(f"{target} logs", "")[-LOG_TAIL:],
            sections.get("re-run", ""),
        )
    if report.when == "call":
        return Cell(check, target, "passed")
    return None


class Collector:
    """The cells of one run, written to `directory` at its end (see the module docstring).

    Registered as a pytest plugin: its `pytest_runtest_logreport` sees every report.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.cells: dict[tuple[str, str], Cell] = {}

    def add(self, report: pytest.TestReport) -> None:
        """Record `report`; a failure (say, at teardown) outweighs an earlier pass."""
        cell = cell_of(report)
        if cell is None:
            return
        key = (cell.check, cell.target)
        if key not in self.cells or self.cells[key].outcome != "failed":
            self.cells[key] = cell

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.add(report)

    def write(self) -> list[Path]:
        """Write this run's results and render the whole matrix; the files written."""
        results = self.directory / "results"
        results.mkdir(parents=True, exist_ok=True)
        for target in sorted({cell.target for cell in self.cells.values()}):
            found = [asdict(c) for c in self.cells.values() if c.target == target]
            path = results / f"{target}.json"
            path.write_text(json.dumps(found, indent=1, ensure_ascii=False) + "\n")
        cells = load_cells(results)
        markdown = self.directory / "matrix.md"
        page = self.directory / "matrix.html"
        markdown.write_text(render_markdown(cells))
        page.write_text(render_html(cells))
        return [markdown, page]


def load_cells(results: Path) -> list[Cell]:
    """Every cell of every `results/*.json` (a file that is not ours raises ValueError)."""
    cells = []
    for path in sorted(results.glob("*.json")):
        try:
            cells += [Cell(**item) for item in json.loads(path.read_text())]
        except (TypeError, json.JSONDecodeError) as exc:
            raise ValueError(f"{path}: not a conformance results file ({exc})") from None
    return cells


def _axes(cells: list[Cell]) -> tuple[list[str], list[str], dict[tuple[str, str], Cell]]:
    checks = sorted({cell.check for cell in cells})
    targets = sorted({cell.target for cell in cells})
    return checks, targets, {(cell.check, cell.target): cell for cell in cells}


def _counts(cells: list[Cell], target: str) -> str:
    outcomes = [cell.outcome for cell in cells if cell.target == target]
    return ", ".join(f"{outcomes.count(o)} {o}" for o in ORDER if o in outcomes)


def render_table(cells: list[Cell]) -> list[str]:
    """The matrix as Markdown lines: a table (a row per check ID, a column per target, each
    cell an outcome of ORDER, `**failed**` in bold), a blank line, the counts per target."""
    checks, targets, table = _axes(cells)
    lines = ["| check | " + " | ".join(targets) + " |", "|---|" + "---|" * len(targets)]
    for check in checks:
        row = [table[(check, t)].outcome if (check, t) in table else "" for t in targets]
        row = [f"**{o}**" if o == "failed" else o for o in row]
        lines.append(f"| `{check}` | " + " | ".join(row) + " |")
    return [*lines, "", "Per target: " + "; ".join(f"{t}: {_counts(cells, t)}" for t in targets)]


def render_markdown(cells: list[Cell]) -> str:
    """The matrix as a Markdown table (render_table), then each failure in full."""
    lines = render_table(cells)
    for cell in (c for c in cells if c.outcome == "failed"):
        lines += ["", f"### {cell.check} against {cell.target}: failed", ""]
        lines += ["Re-run: `" + cell.rerun + "`", ""] if cell.rerun else []
        for title, text in (("", cell.message), ("Exchange", cell.exchange), ("Logs", cell.logs)):
            if text:
                lines += [f"{title}:", ""] if title else []
                lines += ["```", text.replace("```", "'''"), "```", ""]
    return "\n".join(lines).rstrip() + "\n"


CSS = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; }
th, td { border: 1px solid #ccc; padding: 4px 10px; text-align: left; }
td.passed { background: #d8f5d8; } td.failed { background: #f9c9c9; font-weight: bold; }
td.not-declared, td.not-applicable { background: #eee; color: #666; }
td.skipped { background: #fff3c4; }
pre { background: #f6f6f6; padding: 8px; overflow-x: auto; white-space: pre-wrap; }
"""


def render_html(cells: list[Cell]) -> str:
    """The matrix as one self-contained HTML page (inline CSS, nothing fetched)."""
    checks, targets, table = _axes(cells)
    e = html.escape
    rows = ["<tr><th>check</th>" + "".join(f"<th>{e(t)}</th>" for t in targets) + "</tr>"]
    for check in checks:
        row = f"<tr><td><code>{e(check)}</code></td>"
        for target in targets:
            cell = table.get((check, target))
            if cell is None:
                row += "<td></td>"
                continue
            title = f' title="{e(cell.reason)}"' if cell.reason else ""
            link = f'<a href="#{e(check)}@{e(target)}">{e(cell.outcome)}</a>'
            text = link if cell.outcome == "failed" else e(cell.outcome)
            row += f'<td class="{cell.outcome.replace(" ", "-")}"{title}>{text}</td>'
        rows.append(row + "</tr>")
    body = [f"<table>{''.join(rows)}</table>"]
    body.append("<p>" + "<br>".join(f"{e(t)}: {e(_counts(cells, t))}" for t in targets) + "</p>")
    for cell in (c for c in cells if c.outcome == "failed"):
        body.append(f'<h3 id="{e(cell.check)}@{e(cell.target)}">{e(cell.check)} against ')
        body.append(f"{e(cell.target)}: failed</h3>")
        if cell.rerun:
            body.append(f"<p>Re-run: <code>{e(cell.rerun)}</code></p>")
        for title, text in (("", cell.message), ("Exchange", cell.exchange), ("Logs", cell.logs)):
            if text:
                body.append((f"<p>{title}:</p>" if title else "") + f"<pre>{e(text)}</pre>")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>Conformance: checks x targets</title><style>{CSS}</style></head>\n"
        "<body><h1>Conformance: checks x targets</h1>\n" + "\n".join(body) + "\n</body></html>\n"
    )
