"""`python -m socket_harness.fuzz`: a fuzzing campaign against a target (what `make fuzz` runs).

Runs the properties of socket_harness.fuzz.properties in hypothesis rounds and
the decoders' atheris fuzzers beside them until --time is up (or Ctrl-C), then
stops the target (so its coverage is saved), writes the coverage report and the
summary to --report-dir, and prints the summary. Exit 0: no failure; 1: a
property failed (reproducers saved), a decoder crashed, or the server logged an
internal error or exited non-zero; 2: usage error or a target that could not be started.
"""

from __future__ import annotations

import argparse
import re
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from .campaign import Campaign
from .libfuzzer import DecoderFuzzing
from .properties import PROPERTIES, Property
from .properties import Target as Limits
from .report import Progress, summary, table, text, write
from .targets import (
    FUZZ_IDLE_TIMEOUT,
    FUZZ_MAX_MESSAGE_BYTES,
    REPO,
    ExternalTarget,
    FuzzTarget,
    LocalTarget,
    TargetError,
    collect_coverage,
)

EXIT_OK, EXIT_FOUND, EXIT_USAGE = 0, 1, 2
_UNITS = {"s": 1, "m": 60, "h": 3600}


def parse_time(text: str) -> float | None:
    """`90`, `90s`, `10m`, `1h` as seconds; `forever` as None. ValueError otherwise."""
    if text == "forever":
        return None
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([smh]?)", text.strip())
    if not match or float(match[1]) <= 0:
        raise ValueError(f"{text!r}: expected a duration like 60s, 10m, 1h, or forever")
    return float(match[1]) * _UNITS[match[2] or "s"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m socket_harness.fuzz",
        description="Fuzz a target's payload handling until the time is up or Ctrl-C; "
        "docs/fuzzing.md explains the report.",
        epilog="exit codes: 0 nothing found, 1 a failure (reproducer saved), a decoder crash, "
        "a server internal error or non-zero exit, 2 usage error or the target could not be "
        "started. Ctrl-C ends the campaign like its time limit: with the summary.",
    )
    parser.add_argument(
        "--time", default="3m", metavar="DURATION", help="60s, 10m, 1h or forever (default 3m)"
    )
    parser.add_argument(
        "--target",
        action="append",
        metavar="TARGET",
        help="container (default: the project's server in its image, under coverage), local "
        "(python -m MODULE on 127.0.0.1, under coverage), or a URL per framing the target "
        "speaks (line://HOST:PORT, repeatable)",
    )
    parser.add_argument(
        "--server-module",
        default="socket_harness.server",
        metavar="MODULE",
        help="with --target local: the module to run (default socket_harness.server)",
    )
    parser.add_argument(
        "--max-message-bytes",
        type=int,
        default=FUZZ_MAX_MESSAGE_BYTES,
        metavar="N",
        help=f"the target's limit (container/local are started with it; default "
        f"{FUZZ_MAX_MESSAGE_BYTES})",
    )
    parser.add_argument(
        "--idle-timeout",
        type=float,
        default=FUZZ_IDLE_TIMEOUT,
        metavar="S",
        help=f"the target's idle timeout, 0 if unknown (default {FUZZ_IDLE_TIMEOUT:g})",
    )
    parser.add_argument(
        "--properties",
        default="all",
        metavar="NAMES",
        help="comma-separated property names, `all` (default) or `baseline` (the payload "
        "properties before coverage steering): " + ", ".join(prop.name for prop in PROPERTIES),
    )
    parser.add_argument(
        "--no-decoders", action="store_true", help="do not run the atheris decoder fuzzers"
    )
    parser.add_argument("--report-dir", type=Path, default=REPO / "reports" / "fuzz", metavar="DIR")
    parser.add_argument(
        "--database",
        type=Path,
        default=REPO / ".hypothesis" / "fuzz",
        metavar="DIR",
        help="hypothesis example database, kept between runs (default .hypothesis/fuzz)",
    )
    return parser


def choose(names: str) -> list[Property]:
    if names == "all":
        return list(PROPERTIES)
    if names == "baseline":
        return [prop for prop in PROPERTIES if not prop.steered]
    wanted = [name.strip() for name in names.split(",") if name.strip()]
    known = {prop.name for prop in PROPERTIES}
    if unknown := [name for name in wanted if name not in known]:
        raise ValueError(f"unknown properties {unknown}; known: {', '.join(sorted(known))}")
    return [prop for prop in PROPERTIES if prop.name in wanted]


def start_target(args: argparse.Namespace, limits: Limits) -> FuzzTarget:
    kinds = args.target or ["container"]
    coverage_dir = args.report_dir / "coverage-data"
    for stale in coverage_dir.glob(".coverage.*"):
        stale.unlink()  # this campaign's coverage only
    if kinds == ["container"]:
        from .container import ContainerTarget  # needs Docker (the docker SDK)

        return ContainerTarget(coverage_dir, limits)
    if kinds == ["local"]:
        return LocalTarget(args.server_module, coverage_dir, limits)
    return ExternalTarget(kinds, limits)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        seconds = parse_time(args.time)
        properties = choose(args.properties)
    except ValueError as exc:
        parser.error(str(exc))
    if args.max_message_bytes < 1:
        parser.error("--max-message-bytes must be 1 or more")
    signal.signal(signal.SIGTERM, _raise_interrupt)  # until the campaign runs: stop at once
    limits = Limits(args.max_message_bytes, args.idle_timeout)
    print(f"fuzz: starting the target ({', '.join(args.target or ['container'])})", flush=True)
    try:
        fuzz_target = start_target(args, limits)
    except TargetError as exc:
        print(f"fuzz: {exc}", file=sys.stderr)
        return EXIT_USAGE
    properties = [prop for prop in properties if prop.runs_on(fuzz_target.limits)]
    deadline = None if seconds is None else time.monotonic() + seconds
    campaign = Campaign(
        properties, fuzz_target, deadline, args.database, args.report_dir / "reproducers"
    )
    slice_seconds = 30 if seconds is None else max(5, min(30, round(seconds / 4)))
    decoders = (
        None if args.no_decoders else DecoderFuzzing(args.report_dir / "decoders", slice_seconds)
    )
    progress = Progress()

    def stop_soon(signum: int, frame: FrameType | None) -> None:
        # The example in flight ends (its own timeouts bound it), then the campaign stops;
        # a flag, because an exception raised wherever the signal lands may be swallowed.
        if campaign.interrupted:
            raise KeyboardInterrupt  # a second Ctrl-C: stop now
        campaign.interrupted = True

    signal.signal(signal.SIGINT, stop_soon)
    signal.signal(signal.SIGTERM, stop_soon)  # a CI timeout or kill: the same, with the summary
    try:
        if decoders is not None:
            decoders.start()
        campaign.tick = lambda: progress.show(campaign, decoders)
        campaign.run()
    except KeyboardInterrupt:
        campaign.stopped_by = "Ctrl-C"  # the second one, or before the rounds began
    finally:
        # Cleanup is bounded (a drain of a few seconds); a second Ctrl-C would lose the coverage.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("\nfuzz: stopping (the server drains and saves its coverage)", flush=True)
        if decoders is not None:
            decoders.stop()
        stopped = fuzz_target.stop()
    coverage: dict[str, Any] | None = None
    if fuzz_target.coverage_dir is not None:
        coverage = collect_coverage(fuzz_target.coverage_dir, args.report_dir / "coverage")
        coverage["html"] = str(args.report_dir / "coverage" / "html" / "index.html")
    server: dict[str, Any] = {"exit_code": stopped.exit_code, "summary": stopped.summary}
    server["problems"] = list(stopped.problems)
    if stopped.exit_code not in (None, 0):
        server["problems"].append(f"the server exited {stopped.exit_code} (a drain ends 0)")
    report = summary(campaign, decoders, coverage, server)
    as_text, as_json = write(report, args.report_dir)
    print("\n".join(table(campaign, decoders)))
    print()
    print(text(report), end="")
    print(f"fuzz: summary in {as_text} and {as_json}")
    found = any(stats.failures or stats.errors for stats in campaign.stats.values())
    found = found or bool(server["problems"])
    found = found or any(d.crash for d in (decoders.stats.values() if decoders else []))
    return EXIT_FOUND if found else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
