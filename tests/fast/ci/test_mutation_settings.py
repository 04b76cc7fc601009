"""`make mutation` refuses a setting that cannot work, up front: exit 2 and one line.

ci/mutation.sh checks its environment before ci/venv.sh, the lock aside, runs: each test
runs a copy of the script (with ci/lib/common.sh) in an empty directory holding only
protocol/url.py and server/, so nothing of the checkout is touched and a setting that got
through would fail at once on the missing ci/venv.sh (exit 127, not 2).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
TIMEOUT = 10.0  # s: the checks are a few shell tests


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    (tmp_path / "ci" / "lib").mkdir(parents=True)
    shutil.copy2(ROOT / "ci" / "mutation.sh", tmp_path / "ci" / "mutation.sh")
    shutil.copy2(ROOT / "ci" / "lib" / "common.sh", tmp_path / "ci" / "lib" / "common.sh")
    (tmp_path / "protocol").mkdir()
    (tmp_path / "protocol" / "url.py").write_text("")
    (tmp_path / "server").mkdir()
    (tmp_path / "README.md").write_text("")
    return tmp_path


def mutation(checkout: Path, **env: str) -> subprocess.CompletedProcess[str]:
    settings = {k: v for k, v in os.environ.items() if not k.startswith("MUTATION_")}
    return subprocess.run(
        [str(checkout / "ci" / "mutation.sh")],
        env={**settings, "MUTATION_PATHS": "protocol/url.py", **env},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def refused(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith("mutation: error: ")
    for word in words:
        assert word in result.stderr


def test_a_valid_setting_gets_past_the_checks(checkout: Path) -> None:
    # What the other tests rely on: only the missing ci/venv.sh stops this one.
    result = mutation(
        checkout, MUTATION_TIMEOUT="0.5", MUTATION_BUDGET="40", MUTATION_FRESH="0",
        MUTATION_RECHECK="1", MUTATION_WORKERS="1",
    )  # fmt: skip
    assert result.returncode == 127, result.stderr


@pytest.mark.parametrize("value", ["0", "-5", "abc", "1.5", "007x"])
def test_a_budget_not_a_positive_whole_number_is_refused(checkout: Path, value: str) -> None:
    refused(mutation(checkout, MUTATION_BUDGET=value), "MUTATION_BUDGET", repr(value))


@pytest.mark.parametrize("value", ["0", "0.0", "-1", "abc", "1e3", "5."])
def test_a_timeout_not_a_positive_number_is_refused(checkout: Path, value: str) -> None:
    refused(mutation(checkout, MUTATION_TIMEOUT=value), "MUTATION_TIMEOUT", repr(value))


@pytest.mark.parametrize("knob", ["MUTATION_FRESH", "MUTATION_RECHECK"])
@pytest.mark.parametrize("value", ["yes", "2", "true"])
def test_fresh_and_recheck_take_1_or_0(checkout: Path, knob: str, value: str) -> None:
    refused(mutation(checkout, **{knob: value}), knob, repr(value))


@pytest.mark.parametrize(
    ("paths", "words"),
    [
        ("protocol/../README.md", ["neither in protocol/ nor in server/"]),
        ("protocolx", ["neither"]),
        ("   ", ["MUTATION_PATHS: empty"]),
        ("server/nothing.py", ["no server/nothing.py"]),
    ],
)
def test_a_path_outside_protocol_and_server_is_refused(
    checkout: Path, paths: str, words: list[str]
) -> None:
    refused(mutation(checkout, MUTATION_PATHS=paths), *words)


def test_a_second_run_in_the_same_checkout_is_refused(checkout: Path) -> None:
    lock = checkout / "build" / "mutation" / "lock"
    lock.parent.mkdir(parents=True)
    with lock.open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as the first run holds it
        refused(mutation(checkout), "another make mutation is running")
    # Released: the next run gets past the lock (and stops at the missing ci/venv.sh).
    assert mutation(checkout).returncode == 127


def test_fresh_starts_again_only_the_selected_paths_sessions(checkout: Path) -> None:
    # A stand-in venv: ci/venv.sh and the map check pass; the run then stops at the
    # snapshot (the temporary directory is no git checkout), after MUTATION_FRESH acted.
    (checkout / "ci" / "venv.sh").write_text("#!/bin/sh\nexit 0\n")
    (checkout / ".venv" / "bin").mkdir(parents=True)
    (checkout / ".venv" / "bin" / "python").write_text("#!/bin/sh\nexit 0\n")
    for script in (checkout / "ci" / "venv.sh", checkout / ".venv" / "bin" / "python"):
        script.chmod(0o755)
    work = checkout / "build" / "mutation"
    work.mkdir(parents=True)
    for name in ("protocol_url_py.sqlite", "protocol_url_py.sqlite.files", "server.sqlite"):
        (work / name).write_text("")
    result = mutation(checkout, MUTATION_FRESH="1")
    assert "protocol/url.py: MUTATION_FRESH=1: its session starts again" in result.stderr
    assert not (work / "protocol_url_py.sqlite").exists()
    assert not (work / "protocol_url_py.sqlite.files").exists()
    assert (work / "server.sqlite").exists()
