"""The PNG chart of a run: one panel per figure, one bar per server, targets drawn in.

Top row: what a user sees (rates, connections held); bottom row: what it costs
(CPU per exchange or message, memory per connection). The project's bars carry
their ratio to the baseline a target names.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display: render to a file

import matplotlib.pyplot as plt
from matplotlib.axes import Axes

from .figures import (
    FRAME1_CPU,
    FRAME1_RATE,
    FRAME64_CPU,
    FRAME64_RATE,
    HELD,
    KIB_PER_CONN,
    SEED_CPU,
    SEED_RATE,
    Figure,
    Results,
)

PROJECT_COLOR = "#1f6feb"
UVLOOP_COLOR = "#5fa8ff"
CANDIDATE_COLOR = "#2da44e"
BASELINE_COLOR = "#9aa0a6"
TARGET_COLOR = "#d1242f"


@dataclass(frozen=True)
class Panel:
    figure: Figure
    title: str
    baseline: str | None = None  # the target is `factor` times this server's value...
    factor: float | None = None  # ...or, without a baseline, this absolute value


PANELS = (
    Panel(SEED_RATE, "seed exchanges/s\n64 B, one connection each, concurrency 50", "blocking", 3),
    Panel(FRAME1_RATE, "frame messages/s, 1 KiB\n10 persistent connections", "streams", 2),
    Panel(FRAME64_RATE, "frame messages/s, 64 KiB\n10 persistent connections", "streams", 2),
    Panel(HELD, "idle connections held", None, 10_000),
    Panel(SEED_CPU, "server CPU per seed exchange (µs)\nlower is better"),
    Panel(FRAME1_CPU, "server CPU per 1 KiB frame message (µs)\nlower is better"),
    Panel(FRAME64_CPU, "server CPU per 64 KiB frame message (µs)\nlower is better"),
    Panel(KIB_PER_CONN, "server memory per idle connection (KiB)\nlower is better"),
)


def _color(results: Results, name: str) -> str:
    if results["servers"][name]["baseline"]:
        return BASELINE_COLOR
    if name.startswith("candidate"):
        return CANDIDATE_COLOR
    return UVLOOP_COLOR if name == "uvloop" else PROJECT_COLOR


def _draw(ax: Axes, results: Results, names: list[str], panel: Panel) -> None:
    figure = panel.figure
    values = [figure.value(results, n) for n in names]
    heights = [v or 0.0 for v in values]
    ax.bar(range(len(names)), heights, color=[_color(results, n) for n in names])
    for index, (name, value) in enumerate(zip(names, values, strict=True)):
        text = "n/a" if value is None else figure.text(value)
        if panel.baseline and not results["servers"][name]["baseline"]:
            ratio = figure.ratio(results, name, panel.baseline)
            if ratio is not None:
                text += f"\n{ratio:.2f}x {panel.baseline}"
        ax.annotate(text, (index, heights[index]), ha="center", va="bottom", fontsize=8,
                    xytext=(0, 2), textcoords="offset points")  # fmt: skip
    if panel.factor is not None:
        base = figure.value(results, panel.baseline) if panel.baseline else 1.0
        if base:
            goal = base * panel.factor
            label = f"target: {panel.factor:g}x {panel.baseline}" if panel.baseline else "target"
            ax.axhline(goal, color=TARGET_COLOR, linestyle="--", linewidth=1, label=label)
            ax.legend(fontsize=8, frameon=False, loc="upper left")
    ax.set_title(panel.title, fontsize=10)
    ax.set_xticks(range(len(names)), [results["servers"][n]["short"] for n in names], fontsize=8)
    ax.margins(y=0.2)
    ax.spines[["top", "right"]].set_visible(False)


def render_chart(results: Results, path: Path) -> None:
    names = [n for n, s in results["servers"].items() if s["available"]]
    fig, axes = plt.subplots(2, 4, figsize=(20, 9.5))
    for ax, panel in zip(axes.flat, PANELS, strict=True):
        _draw(ax, results, names, panel)
    machine, settings = results["machine"], results["settings"]
    fig.suptitle(
        f"socket-harness server (blue) vs plain baselines (grey), one run side by side: "
        f"median of {settings['rounds']} interleaved rounds\n{machine['date']}; "
        f"{machine['cores']} cores, kernel {machine['kernel']}, {machine['docker']}, "
        f"container Python {machine['container_python']}",
        fontsize=11,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
