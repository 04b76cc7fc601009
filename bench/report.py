"""The Markdown report of a run: machine, raw figures, ratios to baselines, targets, harness."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from .figures import ALL, TARGETS, Figure, Results
from .servers import REPO

RESULTS = REPO / "bench" / "results"


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _ratio(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:,.0f}x" if value >= 100 else f"{value:.2f}x"


def _label(figure: Figure) -> str:
    return (
        f"{figure.label} ({figure.unit})" if figure.unit and figure.unit != "/s" else figure.label
    )


def servers_table(results: Results) -> list[str]:
    servers = results["servers"]
    names = [n for n, s in servers.items() if s["available"]]
    header = ["figure", *(servers[n]["label"] for n in names)]
    rows = [[_label(f), *(f.text(f.value(results, n)) for n in names)] for f in ALL]
    return _table(header, rows)


def ratio_tables(results: Results, only: str | None = None) -> list[str]:
    """One table per variant of the project's server (or `only` that one): each figure's
    ratio to each baseline."""
    servers = results["servers"]
    baselines = [n for n, s in servers.items() if s["baseline"] and s["available"]]
    projects = [n for n, s in servers.items() if not s["baseline"] and s["available"]]
    projects = [p for p in projects if only in (None, p)]
    lines: list[str] = []
    for project in projects:
        header = [f"{servers[project]['label']} vs", *(servers[b]["label"] for b in baselines)]
        rows = [
            [_label(f), *(_ratio(f.ratio(results, project, b)) for b in baselines)] for f in ALL
        ]
        lines += [*_table(header, rows), ""]
    return lines


def targets_table(results: Results) -> list[str]:
    servers = results["servers"]
    projects = [n for n, s in servers.items() if not s["baseline"] and s["available"]]
    rows = []
    for target in TARGETS:
        row = [target.label]
        for name in projects:
            value = target.measured(results, name)
            met = target.met(results, name)
            shown = target.figure.text(value) if target.baseline is None else _ratio(value)
            verdict = "–" if met is None else ("met" if met else "NOT met")
            row.append(f"{shown} ({verdict})")
        rows.append(row)
    return _table(["target", *(servers[p]["label"] for p in projects)], rows)


def harness_table(harness: dict[str, Any]) -> list[str]:
    rows = []
    for item in harness.get("items", []):
        rows.append([item["label"], item["value"], item.get("note", "")])
    return _table(["harness step", "measured", "note"], rows)


def notes(results: Results) -> list[str]:
    found = [s["note"] for s in results["servers"].values() if s.get("note")]
    return [f"- {note}" for note in [*found, *results.get("notes", [])]]


def render(results: Results) -> str:
    machine = results["machine"]
    settings = results["settings"]
    lines = [
        "# socket-harness benchmark",
        "",
        f"Measured {machine['date']} by `make bench` (`python -m bench`). Machine: "
        f"{machine['cores']} cores ({machine['cpu']}), kernel {machine['kernel']}, "
        f"host Python {machine['host_python']}, container Python {machine['container_python']}, "
        f"Docker {machine['docker']}; load average at start {machine['load_average_at_start']}.",
        "",
        f"Each server runs in its own container from the same base image, reached at its bridge "
        f"IP and driven from the host by `python -m client load` "
        f"({settings['client_processes']} load processes, window {settings['window']}). "
        f"Throughput figures are the median of {settings['rounds']} interleaved rounds; "
        "server CPU is the container's PID 1 user+system time over the round. "
        "The project's server runs with `--log-level warning`: like the baselines, it "
        "writes no line per connection.",
        "",
        "## Figures",
        "",
        *servers_table(results),
        "",
        "## The project's server as a ratio to each baseline (above 1 = the project is better)",
        "",
        *ratio_tables(results),
        "## Targets (issue 6)",
        "",
        *targets_table(results),
        "",
    ]
    if notes(results):
        lines += ["## Notes", "", *notes(results), ""]
    if results.get("harness"):
        lines += ["## Harness speed", "", *harness_table(results["harness"]), ""]
    return "\n".join(lines)
