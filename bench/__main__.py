"""`python -m bench`: the project's server against plain baselines, side by side, in one run.

Writes bench/results/results.{md,json,png}; prints the Markdown. Exit 0 when every
measurement ran (targets missed are reported, not failures), 1 when one could not.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from docker.errors import DockerException

from . import images
from .containers import BenchError, Containers, containers
from .harness import measure_harness
from .load import Workload
from .machine import machine_facts
from .profile import profile_server
from .report import RESULTS, render
from .servers import ALL, SERVER_IMAGE, candidate
from .servers_run import measure_capacity, measure_throughput

WINDOW = 16  # the load generator's default pipelining window, as used


def workloads(quick: bool) -> list[Workload]:
    scale = 5 if quick else 1
    return [
        Workload("seed", "seed", connections=2000 // scale, concurrency=50, size=64),
        # The same on the standard loop: how much the load generator's own cost moves
        # the seed rates, measured beside them.
        Workload(
            "seed-asyncio-client", "seed", 2000 // scale, concurrency=50, size=64, loop="asyncio"
        ),
        Workload("frame-1k", "frame", 10, 10, 1024, messages=3000 // scale),
        Workload("frame-64k", "frame", 10, 10, 65536, messages=200 // scale),
    ]


def say(text: str) -> None:
    print(f"bench: {text}", file=sys.stderr, flush=True)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--quick", action="store_true", help="small counts, one round: a smoke run")
    parser.add_argument(
        "--client-processes",
        type=int,
        default=2,
        metavar="P",
        help="load generator processes (default 2)",
    )
    parser.add_argument(
        "--idle-target",
        type=int,
        default=10_000,
        metavar="N",
        help="idle connections to try to hold (default 10000)",
    )
    parser.add_argument("--skip-capacity", action="store_true")
    parser.add_argument(
        "--harness",
        choices=("skip", "quick", "full"),
        default="quick",
        help="harness speed: quick skips the container suite, full runs ci/test.sh (default quick)",
    )
    parser.add_argument(
        "--cold",
        action="store_true",
        help="also time a cold start from a fresh clone (slow; off by default)",
    )
    parser.add_argument(
        "--candidate",
        metavar="IMAGE",
        action="append",
        default=[],
        help="also measure this server image: a change, before and after in one run (repeatable)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also profile the project's server on the host under each workload",
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="results directory")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds = 1
    return args


def load_generator_note(throughput: dict[str, dict[str, dict[str, Any]]]) -> str:
    """How much CPU the load generator itself needed per unit of work, next to the servers."""
    parts = []
    for key, per in throughput.items():
        client = statistics.median(f["client_cpu_us"] for f in per.values())
        server = min(f["server_cpu_us"] for f in per.values())
        parts.append(f"{key} {client:,.0f} µs (the leanest server: {server:,.0f} µs)")
    return (
        "The load generator's own CPU per exchange or message, median over the servers: "
        + "; ".join(parts)
        + ". Where it costs more than the servers, it and not they set the ceiling of the "
        "rates on a machine this small; the server CPU figures compare the servers anyway."
    )


def prepare_images(pool: Containers, servers: dict[str, dict[str, Any]]) -> dict[str, str]:
    if not pool.image_present(SERVER_IMAGE):
        raise BenchError(f"{SERVER_IMAGE} is missing: run ci/build-images.sh (make images)")
    refs = {"base": images.base_image(), "project": SERVER_IMAGE}
    if not pool.image_present(refs["base"]):
        raise BenchError(f"base image {refs['base']} is missing: run ci/bootstrap.sh")
    try:
        refs["uvloop"] = images.build_uvloop_image(pool)
        servers["uvloop"]["note"] = f"uvloop {images.pinned_uvloop()} from its PyPI wheel"
    except BenchError as exc:
        servers["uvloop"]["available"] = False
        servers["uvloop"]["note"] = f"project (uvloop) not measured: {exc}"
        say(str(exc))
    return refs


def run(args: argparse.Namespace) -> dict[str, Any]:
    works = workloads(args.quick)
    candidates = [candidate(i) for i in range(1, len(args.candidate) + 1)]
    kinds = [ALL[0], *candidates, *ALL[1:]]
    servers = {
        k.name: {"label": k.label, "short": k.short, "baseline": k.baseline, "available": True}
        for k in kinds
    }
    results: dict[str, Any] = {"servers": servers, "notes": []}
    with containers() as pool:
        refs = prepare_images(pool, servers)
        for kind, image in zip(candidates, args.candidate, strict=True):
            if not pool.image_present(image):
                raise BenchError(f"--candidate {image}: no such image")
            refs[kind.name] = image
            servers[kind.name]["note"] = f"{kind.name}: {image}"
        version, _ = images.container_python(pool, refs["base"])
        results["machine"] = machine_facts(pool, version)
        results["settings"] = {
            "rounds": args.rounds,
            "client_processes": args.client_processes,
            "window": WINDOW,
            "workloads": [w.__dict__ for w in works],
            "idle_target": args.idle_target,
        }
        kinds = [k for k in kinds if servers[k.name]["available"]]
        say(f"throughput: {len(kinds)} servers, {args.rounds} rounds")
        results["throughput"] = measure_throughput(
            pool, kinds, refs, works, args.rounds, args.client_processes, say
        )
        results["notes"].append(load_generator_note(results["throughput"]))
        if args.skip_capacity:
            results["notes"].append("capacity not measured (--skip-capacity)")
        else:
            results["capacity"] = measure_capacity(pool, kinds, refs, args.idle_target, 60.0, say)
    if args.profile:
        args.out.mkdir(parents=True, exist_ok=True)
        results["profiles"] = profile_server(works, args.out, args.client_processes, say)
    if args.harness != "skip":
        results["harness"] = measure_harness(args.harness == "full", args.cold, say)
    return results


def write(results: dict[str, Any], out: Path) -> None:
    from .chart import render_chart  # matplotlib is a bench extra: import only when writing

    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    (out / "results.md").write_text(render(results))
    render_chart(results, out / "results.png")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        results = run(args)
    except (BenchError, DockerException) as exc:  # containers are removed already
        say(f"error: {exc}")
        return 1
    write(results, args.out)
    print(render(results))
    say(f"wrote {args.out}/results.md, results.json, results.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
