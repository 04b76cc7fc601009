"""A `make mutation` worker does not outlive the script that started it.

ci/mutation.sh starts each worker with setsid (cosmic-ray's tests run in sessions of
their own), so a `kill -9` of the script's process group misses the workers, and its
EXIT trap, which stops them, never runs. The worker watches its parent instead: here a
real worker's parent shell is killed with SIGKILL, and the worker must exit.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.harness.waiting import wait_until

ROOT = Path(__file__).resolve().parents[3]
START_TIMEOUT = 30.0  # s: a fresh interpreter importing aiohttp and cosmic-ray
EXIT_TIMEOUT = 10.0  # s: it checks its parent every 0.5 s


def alive(pid: int) -> bool:
    """True while `pid` runs (a zombie counts as gone: /proc/PID/stat's state Z)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_a_worker_whose_script_was_killed_stops_listening(tmp_path: Path) -> None:
    port_file = tmp_path / "worker.port"
    pid_file = tmp_path / "worker.pid"
    worker = [sys.executable, str(ROOT / "ci/lib/mutation_worker.py"), str(port_file)]
    # A stand-in for ci/mutation.sh: a shell that starts the worker and waits.
    script = subprocess.Popen(
        ["bash", "-c", '"$@" & echo $! >"$PID_FILE"; wait', "script", *worker],
        env={**os.environ, "PID_FILE": str(pid_file)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    worker_pid = 0
    try:
        wait_until(
            lambda: port_file.exists() and pid_file.exists(),
            timeout=START_TIMEOUT, what="the worker to write its port",
        )  # fmt: skip
        worker_pid = int(pid_file.read_text())
        assert alive(worker_pid)
        script.kill()  # SIGKILL: no trap of the script runs
        script.wait(timeout=10)
        wait_until(
            lambda: not alive(worker_pid),
            timeout=EXIT_TIMEOUT, what=f"the orphaned worker (pid {worker_pid}) to exit",
        )  # fmt: skip
    finally:
        if script.poll() is None:
            script.kill()
            script.wait(timeout=10)
        if worker_pid and alive(worker_pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker_pid, signal.SIGKILL)
