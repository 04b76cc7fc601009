"""How fast the test harness itself is: image build, fast tier, container suite, hypothesis
examples against real containers, and (with --cold) a start from a fresh clone.

Each step runs the project's own commands and is timed from outside; a step that
fails is reported as failed with its time, never hidden.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .servers import REPO

Say = Callable[[str], None]
PAYLOAD_TESTS = "tests/containers/test_payloads.py"
COLD_TAG = "socket-harness-bench-cold"


@dataclass(frozen=True)
class Step:
    seconds: float
    ok: bool
    output: str


def _run(
    command: Sequence[str], cwd: Path, timeout: float, env: dict[str, str] | None = None
) -> Step:
    started = time.monotonic()
    try:
        done = subprocess.run(
            command,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, **(env or {})},
        )
    except OSError as exc:  # the command is not there (e.g. a clone of an older commit)
        return Step(time.monotonic() - started, False, str(exc))
    except subprocess.TimeoutExpired as exc:
        output = exc.stdout if isinstance(exc.stdout, str) else ""
        return Step(
            time.monotonic() - started, False, output + f"\n(timed out after {timeout:.0f}s)"
        )
    return Step(time.monotonic() - started, done.returncode == 0, done.stdout + done.stderr)


def _pytest_summary(output: str) -> str:
    """The counts of pytest's closing line, e.g. `120 passed, 2 skipped`."""
    for line in reversed(output.splitlines()):
        if re.search(r"\d+ (passed|failed|error)", line):
            return line.strip("= ").rsplit(" in ", 1)[0]
    return "no summary line"


def _item(label: str, step: Step, note: str = "") -> dict[str, str]:
    if step.ok:
        return {"label": label, "value": f"{step.seconds:.1f} s", "note": note}
    last = step.output.strip().splitlines()[-1:] or ["no output"]
    return {"label": label, "value": f"{step.seconds:.1f} s (FAILED)", "note": last[0][:200]}


def examples_per_second(output: str) -> tuple[int, float]:
    """(test cases run, seconds spent in them) from `--hypothesis-show-statistics` output."""
    seconds = sum(float(s) for s in re.findall(r"during \w+ phase \(([\d.]+) seconds\)", output))
    cases = 0
    for match in re.finditer(r"(\d+) passing, (\d+) failing, and (\d+) invalid", output):
        cases += sum(int(n) for n in match.groups())
    return cases, seconds


def make_test_parts(say: Say) -> list[dict[str, str]]:
    """Run `ci/test.sh` (what `make test` runs) and take the time of each part it prints."""
    say("harness: ci/test.sh (make test), every part")
    run = _run(["ci/test.sh"], REPO, 3600)
    parts = re.findall(r"^\s+([\d.]+) s  (.+)$", run.output, re.MULTILINE)
    items = [
        {"label": f"make test: {name}", "value": f"{float(sec):.1f} s", "note": ""}
        for sec, name in parts
    ]
    total = sum(float(sec) for sec, _ in parts)
    verdict = "passed" if run.ok else "FAILED"
    items.append(
        {
            "label": "make test: total",
            "value": f"{run.seconds:.1f} s",
            "note": f"{verdict}; the parts add up to {total:.1f} s",
        }
    )
    return items


def measure_harness(full: bool, cold: bool, say: Say) -> dict[str, Any]:
    python = str(REPO / ".venv" / "bin" / "python")
    items: list[dict[str, str]] = []

    say("harness: image build (warm cache)")
    items.append(
        _item("image build, warm (ci/build-images.sh)", _run(["ci/build-images.sh"], REPO, 600))
    )

    if full:
        items += make_test_parts(say)
    else:
        say("harness: fast tier")
        fast = _run([python, "-m", "pytest", "-m", "not container", "-q"], REPO, 900)
        items.append(
            _item("fast tier (pytest -m 'not container')", fast, _pytest_summary(fast.output))
        )
        items.append(
            {
                "label": "container suite (make test's container tier)",
                "value": "not run",
                "note": "`python -m bench --harness full` runs `ci/test.sh` (minutes)",
            }
        )

    if (REPO / PAYLOAD_TESTS).exists():
        say("harness: container-backed hypothesis examples")
        props = _run(
            [
                python,
                "-m",
                "pytest",
                PAYLOAD_TESTS,
                "-q",
                "-p",
                "no:cacheprovider",
                "--hypothesis-show-statistics",
            ],
            REPO,
            900,
            {"HYPOTHESIS_PROFILE": "ci"},
        )
        cases, seconds = examples_per_second(props.output)
        rate = f"{cases / seconds:.1f} examples/s" if seconds else "no statistics"
        items.append(
            {
                "label": f"hypothesis examples against a server container ({PAYLOAD_TESTS})",
                "value": rate + ("" if props.ok else " (FAILED)"),
                "note": f"{cases} examples in {seconds:.1f} s of test time, {props.seconds:.1f} s "
                f"wall with container start; {_pytest_summary(props.output)}",
            }
        )

    if cold:
        items += cold_start(say)
    else:
        items.append(
            {
                "label": "cold start from a fresh clone",
                "value": "not run",
                "note": "`python -m bench --cold` (builds a base image offline: slow)",
            }
        )
    return {"items": items}


def cold_start(say: Say) -> list[dict[str, str]]:
    """Clone HEAD, make its venv, build a base image offline and both images, each timed.

    The base image and images get their own tags (removed afterwards), so the
    images other work on this machine uses are never replaced.
    """
    items: list[dict[str, str]] = []
    work = Path(tempfile.mkdtemp(prefix="bench-cold-"))
    clone = work / "socket-harness"
    base = f"{COLD_TAG}/python-base:bookworm"
    env = {"BASE_IMAGE_REPO": f"{COLD_TAG}/python-base"}
    build = ["docker", "build", "--quiet", "--build-arg", f"BASE_IMAGE={base}"]
    steps = [
        ("git clone (HEAD, local)", ["git", "clone", "--quiet", str(REPO), str(clone)], work),
        ("venv with pinned packages (ci/venv.sh)", ["ci/venv.sh"], clone),
        ("base image built offline (ci/bootstrap.sh)", ["ci/bootstrap.sh"], clone),
        *(
            (f"{app} image build, cold", [*build, "-f", f"{app}/Dockerfile", "-t", ref, "."], clone)
            for app, ref in (
                ("server", f"{COLD_TAG}/server:local"),
                ("client", f"{COLD_TAG}/client:local"),
            )
        ),
    ]
    try:
        total = 0.0
        for label, command, cwd in steps:
            say(f"cold: {label}")
            step = _run(command, cwd, 1200, env)
            total += step.seconds
            items.append(_item(label, step))
            if not step.ok:
                return items
        items.append(
            {"label": "cold start total", "value": f"{total:.1f} s", "note": "clone to images"}
        )
    finally:
        for ref in (base, f"{COLD_TAG}/server:local", f"{COLD_TAG}/client:local"):
            subprocess.run(
                ["docker", "image", "rm", "--force", ref], capture_output=True, check=False
            )
        shutil.rmtree(work, ignore_errors=True)
    return items
