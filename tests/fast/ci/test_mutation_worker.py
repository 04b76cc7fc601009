"""A `make mutation` worker does not outlive the script that started it.

ci/mutation.sh starts each worker with setsid (cosmic-ray's tests run in sessions of
their own), so a `kill -9` of the script's process group misses the workers, and its
EXIT trap, which stops them, never runs. The worker watches its parent instead: here a
real worker's parent shell is killed with SIGKILL, and the worker must exit.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
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


def kill_if_alive(pid: int) -> None:
    if alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@contextlib.contextmanager
def worker_of_a_script(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """A worker started as ci/mutation.sh starts it (MUTATION_SCRIPT_PID=$$, its own
    session), by a stand-in shell; yields the shell and the file the worker's pid is in.
    Whatever is left is killed at the end."""
    pid_file = tmp_path / "worker.pid"
    port_file = tmp_path / "worker.port"
    worker = [sys.executable, str(ROOT / "ci/lib/mutation_worker.py"), str(port_file)]
    script = subprocess.Popen(
        ["bash", "-c", 'MUTATION_SCRIPT_PID=$$ setsid "$@" & echo $! >"$PID_FILE"; wait', "script",
         *worker],
        env={**os.environ, "PID_FILE": str(pid_file)}, cwd=tmp_path,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        yield script, pid_file
    finally:
        if script.poll() is None:
            script.kill()
            script.wait(timeout=10)
        with contextlib.suppress(FileNotFoundError, ValueError, ProcessLookupError):
            os.kill(int(pid_file.read_text()), signal.SIGKILL)


def test_a_worker_whose_script_was_killed_while_it_started_exits(tmp_path: Path) -> None:
    # The script is killed before the worker has imported aiohttp and cosmic-ray. Taking
    # getppid() only then, it took init's pid for its parent's and served for ever: the
    # lock (fd 9, inherited) stayed held, and every later make mutation was refused.
    with worker_of_a_script(tmp_path) as (script, pid_file):
        wait_until(pid_file.exists, timeout=START_TIMEOUT, what="the worker to start")
        worker_pid = int(pid_file.read_text())
        script.kill()
        script.wait(timeout=10)
        assert not (tmp_path / "worker.port").exists()  # still importing
        wait_until(
            lambda: not alive(worker_pid),
            timeout=START_TIMEOUT + EXIT_TIMEOUT,
            what=f"the worker (pid {worker_pid}) whose script died while it started to exit",
        )  # fmt: skip


def test_a_worker_whose_script_was_killed_mid_mutant_stops_its_tests_and_restores_the_file(
    tmp_path: Path,
) -> None:
    # cosmic-ray's handler runs a mutant's tests in the worker's event-loop thread, so a
    # check on the loop waited for them (up to MUTATION_TIMEOUT: 60 s, 240 s for
    # server/), listening, the lock held, the mutated file in its tree. Now the tests stop
    # at once, the file is restored, and the answer is no outcome (503): cosmic-ray, if it
    # still runs, stores ABNORMAL, which the next run runs again, not a false kill.
    module = tmp_path / "mod.py"
    module.write_text("x = 1\n")
    tests_pid = tmp_path / "tests.pid"
    slow = tmp_path / "slow.py"
    slow.write_text(
        f"import os, time\nopen({str(tests_pid)!r}, 'w').write(str(os.getpid()))\ntime.sleep(120)\n"
    )
    request = json.dumps({
        "mutations": [{"module_path": str(module), "operator": "core/NumberReplacer",
                       "occurrence": 0}],
        "test_command": f"{sys.executable} {slow}", "timeout": 120,
    }).encode()  # fmt: skip
    with worker_of_a_script(tmp_path) as (script, pid_file), contextlib.ExitStack() as stack:
        port_file = tmp_path / "worker.port"
        wait_until(port_file.exists, timeout=START_TIMEOUT, what="the worker to write its port")
        worker_pid = int(pid_file.read_text())
        client = stack.enter_context(
            socket.create_connection(("127.0.0.1", int(port_file.read_text())), timeout=30)
        )
        client.sendall(
            b"POST / HTTP/1.1\r\nHost: worker\r\nContent-Type: application/json\r\n"
            b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(request), request)
        )
        wait_until(tests_pid.exists, timeout=START_TIMEOUT, what="the mutant's tests to start")
        pid = int(tests_pid.read_text())
        stack.callback(kill_if_alive, pid)
        assert module.read_text() != "x = 1\n"  # mutated while its tests run
        script.kill()
        script.wait(timeout=10)
        wait_until(
            lambda: not alive(worker_pid),
            timeout=EXIT_TIMEOUT,
            what=f"the worker (pid {worker_pid}) orphaned in the middle of a mutant to exit",
        )  # fmt: skip
        assert not alive(pid)
        assert module.read_text() == "x = 1\n"
        answer = b""
        while chunk := client.recv(65536):
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 503"), answer[:200]
