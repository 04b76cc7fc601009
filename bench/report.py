"""The Markdown report of a run: machine, raw figures, ratios to baselines, targets, harness."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from .figures import ALL, TARGETS, Figure, Results
from .reach import reaches
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


def _client_loop(results: Results) -> str:
    """The loop the load generator chose by default (the seed workload's)."""
    figures = results["throughput"].get("seed", {})
    loops = sorted({f.get("client_loop", "?") for f in figures.values()})
    return " and ".join(loops) or "?"


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


def reach_table(results: Results) -> list[str]:
    """For each rate target: the cores it needs on this machine, the kernel's share apart."""
    servers = results["servers"]
    projects = [n for n, s in servers.items() if not s["baseline"] and s["available"]]
    rows = [
        [
            r.target.label,
            servers[r.server]["label"],
            f"{r.rate_needed:,.0f}",
            f"{r.kernel_us:,.0f}",
            f"{r.kernel_cores:.2f}",
            f"{r.measured_us:,.0f}",
            f"{r.measured_cores:.2f}",
            r.verdict,
        ]
        for r in reaches(results, projects)
    ]
    header = [
        "target",
        "server",
        "rate needed (/s)",
        "kernel µs per op (server + load generator + interrupts)",
        "cores: kernel alone",
        "all CPU µs per op",
        "cores: all, as measured",
        f"on {results['machine']['cores']} cores",
    ]
    return _table(header, rows)


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
        f"IP and driven from the host by `python -m socket_harness.client load` "
        f"({settings['client_processes']} load processes, window {settings['window']}). "
        f"Throughput figures are the median of {settings['rounds']} interleaved rounds; "
        "server CPU is the container's PID 1 user+system time over the round. "
        f"The load generator runs on {_client_loop(results)} (`--loop auto`), but in the "
        "row that names asyncio's loop. "
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
        "## Can this machine reach the rate targets?",
        "",
        "The load generator and the servers share this machine's cores. Kernel time per "
        "exchange or message (the server's and the load generator's system time, and the "
        "machine's interrupt time, where receiving packets is charged) is TCP and socket "
        "work any implementation must do: at the rate a target needs, it alone "
        "takes the cores shown. Where that exceeds the cores there are, the target cannot "
        "be met here by any change to the code measured; it needs more cores, or the load "
        "generator on another machine.",
        "",
        *reach_table(results),
        "",
    ]
    if notes(results):
        lines += ["## Notes", "", *notes(results), ""]
    if results.get("harness"):
        lines += ["## Harness speed", "", *harness_table(results["harness"]), ""]
    return "\n".join(lines)
