"""Run a conformance suite (or any pytest) in a subprocess, bounded, and stop it cleanly.

subprocess.run's timeout kills with SIGKILL: the suite's target container and
network then stay behind. Here an overrun (or an exception in the caller, such as
pytest-timeout's) sends SIGTERM first, which the plugin handles like Ctrl-C
(socket_harness/plugin.py: the fixtures tear down), and SIGKILL only after `grace`.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

STOP_GRACE = 60.0  # seconds a suite may take to clean up after SIGTERM


def run_bounded(
    command: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float,
    grace: float = STOP_GRACE,
) -> tuple[int, str]:
    """(exit status, stdout + stderr) of `command`; on an overrun after `timeout` seconds
    it is stopped with SIGTERM (SIGKILL after `grace` s) and TimeoutExpired is raised."""
    pipe = subprocess.PIPE
    with subprocess.Popen(command, cwd=cwd, env=env, stdout=pipe, stderr=pipe, text=True) as run:
        try:
            out, err = run.communicate(timeout=timeout)
        except BaseException:
            run.terminate()
            try:
                run.communicate(timeout=grace)
            except subprocess.TimeoutExpired:
                run.kill()
            raise
    return run.returncode, out + err
