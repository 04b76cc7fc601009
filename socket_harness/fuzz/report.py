"""Live progress on a terminal and the campaign's summary (text and JSON)."""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from .campaign import Campaign
from .libfuzzer import DecoderFuzzing

# Not a terminal (CI, a pipe): one progress line this often instead of a redrawn table.
PLAIN_EVERY = 30.0


def clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s"


def table(campaign: Campaign, decoders: DecoderFuzzing | None) -> list[str]:
    """The progress table: per property and per decoder, one row each."""
    elapsed = time.monotonic() - campaign.started
    left = campaign.time_left()
    when = "until Ctrl-C" if left is None else f"{clock(left)} left"
    rows = [
        f"fuzzing {campaign.fuzz_target.description}",
        f"elapsed {clock(elapsed)}, {when}",
        f"{'property':<16} {'examples':>9} {'per s':>7} {'events':>6} {'failures':>8}",
    ]
    for stats in campaign.stats.values():
        state = " (failed: stopped)" if stats.failures else ""
        rows.append(
            f"{stats.prop.name:<16} {stats.examples:>9} {stats.rate:>7.1f} "
            f"{len(stats.labels):>6} {len(stats.failures):>8}{state}"
        )
    if decoders is not None:
        for d in decoders.stats.values():
            crash = f"  CRASH {d.crash}" if d.crash else ""
            rows.append(
                f"decoder {d.name:<8} {d.runs:>9} runs, cov {d.cov}, corpus {d.corpus}{crash}"
            )
    return rows


class Progress:
    """Redraws the table in place on a terminal; a plain line every PLAIN_EVERY s elsewhere."""

    def __init__(self, stream: TextIO = sys.stderr) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self._drawn = 0
        self._last = 0.0

    def show(self, campaign: Campaign, decoders: DecoderFuzzing | None) -> None:
        now = time.monotonic()
        if now - self._last < (0.5 if self.tty else PLAIN_EVERY):
            return
        self._last = now
        if self.tty:
            # A row wider than the terminal would wrap and break the redraw: cut it.
            width = shutil.get_terminal_size().columns - 1
            rows = [row[:width] for row in table(campaign, decoders)]
            up = f"\x1b[{self._drawn}F" if self._drawn else ""
            self.stream.write(up + "\x1b[J" + "\n".join(rows) + "\n")
            self._drawn = len(rows)
        else:
            done = sum(s.examples for s in campaign.stats.values())
            failed = sum(len(s.failures) for s in campaign.stats.values())
            self.stream.write(
                f"fuzz: {clock(now - campaign.started)} elapsed, {done} examples, "
                f"{failed} failures\n"
            )
        self.stream.flush()


def summary(
    campaign: Campaign,
    decoders: DecoderFuzzing | None,
    coverage: dict[str, Any] | None,
    server: dict[str, Any],
) -> dict[str, Any]:
    """Everything the campaign found, as the JSON report holds it."""
    elapsed = time.monotonic() - campaign.started
    return {
        "target": campaign.fuzz_target.description,
        "seconds": round(elapsed, 1),
        "stopped_by": campaign.stopped_by,
        "properties": {
            name: {
                "checks": stats.prop.statement,
                "examples": stats.examples,
                "examples_per_second": round(stats.rate, 1),
                "kinds_drawn": dict(stats.labels.most_common()),
                "failures": stats.failures,
                "errors": stats.errors,
            }
            for name, stats in campaign.stats.items()
        },
        "decoders": {
            name: {
                "runs": d.runs,
                "cov": d.cov,
                "features": d.features,
                "corpus": d.corpus,
                "crash": d.crash,
            }
            for name, d in (decoders.stats.items() if decoders else [])
        },
        "server_coverage": coverage,
        "server": server,
    }


def text(report: dict[str, Any]) -> str:
    """The summary as a person reads it."""
    lines = [
        f"fuzz campaign against {report['target']}",
        f"ran {clock(report['seconds'])}, stopped by {report['stopped_by']}",
        "",
    ]
    for name, prop in report["properties"].items():
        lines.append(
            f"{name}: {prop['examples']} examples, {prop['examples_per_second']}/s, "
            f"{len(prop['failures'])} failures"
        )
        lines.append(f"  checks: {prop['checks']}")
        kinds = ", ".join(f"{k} {n}" for k, n in prop["kinds_drawn"].items())
        lines.append(f"  drew: {kinds or 'nothing'}")
        lines += [f"  REPRODUCER {path}" for path in prop["failures"]]
        lines += [f"  error: {error}" for error in prop["errors"]]
    for name, d in report["decoders"].items():
        crash = f", CRASH {d['crash']}" if d["crash"] else ", no crash"
        lines.append(
            f"decoder {name} (atheris): {d['runs']} runs, cov {d['cov']}, "
            f"corpus {d['corpus']}{crash}"
        )
    cov = report["server_coverage"]
    if cov:
        if "error" in cov:
            lines.append(f"server coverage: {cov['error']}")
        else:
            lines.append(
                f"server coverage (server/ + protocol/): lines {cov['lines']}, branches "
                f"{cov['branches']}, {cov['percent']}% (report: {cov.get('html', '')})"
            )
    server = report["server"]
    if server:
        lines.append(f"server exit code: {server.get('exit_code')}")
        if server.get("summary"):
            lines.append(f"server summary: {server['summary']}")
        lines += [f"SERVER PROBLEM: {line}" for line in server.get("problems", [])]
    return "\n".join(lines) + "\n"


def write(report: dict[str, Any], directory: Path) -> tuple[Path, Path]:
    """summary.json and summary.txt in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    as_json = directory / "summary.json"
    as_text = directory / "summary.txt"
    as_json.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    as_text.write_text(text(report))
    return as_text, as_json
