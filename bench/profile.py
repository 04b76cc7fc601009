"""`python -m bench --profile`: where the project's server spends its time under load.

The server runs on the host (not in a container, so the profiler can reach it)
under pyinstrument, is loaded with the same workloads as the benchmark, then is
stopped with SIGINT (a clean drain) so pyinstrument writes its report. Beside
it, a CPU-time profile (cProfile with process_time) names the costliest
functions: on a shared machine wall-clock samples overstate syscalls.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from .containers import BenchError
from .load import Workload, run_load
from .servers import REPO

Say = Callable[[str], None]
READY_TIMEOUT = 30.0

# Runs `python -m socket_harness.server` under cProfile with a CPU clock;
# writes the top entries on exit.
_CPROFILE = """
import cProfile, pstats, runpy, sys, time
out, sys.argv = sys.argv[1], ["server", *sys.argv[2:]]
profile = cProfile.Profile(time.process_time)
profile.enable()
try:
    runpy.run_module("socket_harness.server", run_name="__main__")
except SystemExit:
    pass
profile.disable()
with open(out, "w") as f:
    pstats.Stats(profile, stream=f).sort_stats("tottime").print_stats(40)
"""


def _profiled(kind: str, out: Path, listen: str) -> list[str]:
    server = ["--listen", listen, "--health=", "--loop", "asyncio", "--idle-timeout", "0"]
    if kind == "pyinstrument":
        return [
            sys.executable,
            "-m",
            "pyinstrument",
            "-o",
            str(out),
            "-m",
            "socket_harness.server",
            *server,
        ]
    return [sys.executable, "-c", _CPROFILE, str(out), *server]


def _start(command: list[str]) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    deadline = time.monotonic() + READY_TIMEOUT
    url = ""
    for line in process.stdout:  # the server's own log lines: listening, then ready
        found = re.search(r"event=listening listener=(\S+)", line)
        url = found.group(1) if found else url
        if "event=ready" in line:
            # Keep reading its log, or a full pipe would stall the server mid-run.
            threading.Thread(target=process.stdout.read, daemon=True).start()
            return process, url
        if time.monotonic() > deadline:
            break
    process.kill()
    raise BenchError(f"profiled server did not get ready: {' '.join(command)}")


def profile_server(workloads: list[Workload], out: Path, processes: int, say: Say) -> list[str]:
    """Profile each workload under both profilers; returns the files written."""
    written = []
    for work in (w for w in workloads if w.loop == "auto"):  # the server's profile, once each
        for kind, suffix in (("pyinstrument", "txt"), ("cprofile", "cpu.txt")):
            path = out / f"profile-{work.key}.{suffix}"
            process, url = _start(_profiled(kind, path, f"{work.framing}://127.0.0.1:0"))
            try:
                result = run_load(url, work, processes)
                say(f"profile {kind} {work.key}: {result.rate:.0f}/s under the profiler")
            finally:
                process.send_signal(signal.SIGINT)
                process.wait(timeout=60)
            written.append(path.name)
    return written
