"""Ctrl-C during `make mutation`'s mutants: the interrupted line, the report of what ran, 130.

A real ci/mutation.sh (one worker, protocol/url.py, whose baseline takes seconds) runs in a
copy of the checkout (its files, a git repository of their own, the checkout's .venv
linked) on a pseudo-terminal as a shell's foreground job, and gets a real ^C once the
mutants run: the kernel sends SIGINT to the whole foreground group (bash, timeout,
cosmic-ray). Before the fix, cosmic-ray died of the second SIGINT that timeout passes on,
and bash, seeing its child killed by the SIGINT it got too, died of it without a report.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sqlite3
import subprocess
from pathlib import Path

from tests.fast.ci.test_interrupt import Terminal
from tests.harness.waiting import wait_until

ROOT = Path(__file__).resolve().parents[3]
STARTED_TIMEOUT = 60.0  # s: venv check, the worker's start, the baseline under coverage
STOP_TIMEOUT = 30.0  # s: cosmic-ray ends its mutant in flight, then the report
RUNNING = "protocol/url.py: running mutants"


def copy_of_the_checkout(target: Path) -> Path:
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, check=True, timeout=30,
    ).stdout.split(b"\0")  # fmt: skip
    for name in filter(None, files):
        source = ROOT / os.fsdecode(name)
        if not source.exists() and not source.is_symlink():
            continue  # deleted in the checkout, not yet in git
        (target / os.fsdecode(name)).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target / os.fsdecode(name), follow_symlinks=False)
    (target / ".venv").symlink_to(ROOT / ".venv")
    subprocess.run(["git", "init", "-q"], cwd=target, check=True, timeout=30)
    return target


def test_ctrl_c_during_the_mutants_reports_what_ran_and_exits_130(tmp_path: Path) -> None:
    checkout = copy_of_the_checkout(tmp_path / "checkout")
    session = checkout / "build" / "mutation" / "protocol_url_py.sqlite"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MUTATION_")}
    env.update(MUTATION_PATHS="protocol/url.py", MUTATION_WORKERS="1", MUTATION_BUDGET="120")
    terminal = Terminal([str(checkout / "ci" / "mutation.sh")], env)
    try:
        wait_until(
            lambda: RUNNING in terminal.output() or terminal.process.poll() is not None,
            timeout=STARTED_TIMEOUT,
            what="the mutants' start",
        )
        wait_until(
            lambda: mutants_done(session) > 0 or terminal.process.poll() is not None,
            timeout=STARTED_TIMEOUT,
            what="a first mutant's result",
        )
        terminal.press_ctrl_c()
        code = terminal.process.wait(timeout=STOP_TIMEOUT)
        left = processes_of(checkout)
    finally:
        if terminal.process.poll() is None:
            terminal.process.kill()
            terminal.process.wait(timeout=10)
        kill_processes_of(checkout)
        terminal.close()
    output = terminal.output()
    assert code == 130, output
    after = output[output.index(RUNNING) :]
    assert "protocol/url.py: interrupted; the rest stays pending (run again to go on)" in after
    assert "protocol/url.py: score " in after  # the report of what ran
    assert "not run" in after
    assert left == []  # the worker and its tests stopped too


def mutants_done(session: Path) -> int:
    """How many mutants have a result that was run (not one the filters skipped)."""
    try:
        with sqlite3.connect(f"file:{session}?mode=ro", uri=True, timeout=1) as db:
            query = "SELECT count(*) FROM work_results WHERE worker_outcome != 'SKIPPED'"
            return int(db.execute(query).fetchone()[0])
    except sqlite3.Error:  # not made yet, or being written
        return 0


def processes_of(checkout: Path) -> list[str]:
    """Command lines naming the copy: what the run left running."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, UnicodeDecodeError):
            continue
        if str(checkout) in cmdline:
            found.append(f"{entry.name} {cmdline}")
    return found


def test_a_baseline_past_its_limit_ends_the_run_with_one_line(tmp_path: Path) -> None:
    # The limit is 10 per-mutant timeouts: 2 s here, for a baseline test that never ends.
    checkout = copy_of_the_checkout(tmp_path / "checkout")
    (checkout / "tests" / "fast" / "test_never_ends.py").write_text(
        "import time\n\n\ndef test_never_ends():\n    time.sleep(3600)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MUTATION_")}
    env.update(
        MUTATION_PATHS="protocol/url.py", MUTATION_WORKERS="1", MUTATION_TIMEOUT="0.2",
        MUTATION_TESTS="tests/fast/test_never_ends.py",
    )  # fmt: skip
    try:
        result = subprocess.run(
            [str(checkout / "ci" / "mutation.sh")],
            env=env,
            capture_output=True,
            text=True,
            timeout=STARTED_TIMEOUT,
            check=False,
        )
    finally:
        left = processes_of(checkout)
        kill_processes_of(checkout)  # what a failing run left (the timeout stops the script only)
    assert result.returncode == 1, result.stderr
    last = result.stderr.splitlines()[-1]
    assert last.startswith("mutation: error: protocol/url.py: the baseline ran past 2 s"), last
    assert left == []  # pytest and its test stopped too


def kill_processes_of(checkout: Path) -> None:
    """SIGKILL what is left of a run in `checkout`: only processes naming the copy."""
    for line in processes_of(checkout):
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(line.split()[0]), signal.SIGKILL)
