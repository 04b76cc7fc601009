"""Ctrl-C during `make test` (ci/test.sh): the running part ends as interrupted, nothing is left.

A real `ci/test.sh fast` runs on a pseudo-terminal as a shell runs a job there
(its own session, the terminal's foreground process group), and is stopped once
a test's own server process is up, in the two ways a run is stopped:
- a real ^C on the terminal: the kernel sends SIGINT to the foreground group,
  as it does when a person presses Ctrl-C (before the fix, children that took
  the signal themselves made the part end as a failure);
- SIGTERM to ci/test.sh alone, as a CI runner cancelling a job or `kill` does:
  only the script hears it, and must stop its parts itself.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import subprocess
import termios
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.harness.waiting import wait_until

ROOT = Path(__file__).resolve().parents[3]
CTRL_C = b"\x03"  # the terminal's VINTR character: the kernel turns it into SIGINT
STARTED_TIMEOUT = 60.0  # s: venv check, pytest start-up and a first server on a busy machine
STOP_GRACE = 30.0  # s: ci/test.sh kills a part still running this long after the signal
STOP_TIMEOUT = STOP_GRACE + 30.0  # s: the grace, then the report


class Terminal:
    """A pseudo-terminal running one command as its foreground job; `output()` so far."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        master, slave = os.openpty()
        self.master = master
        self._chunks: list[bytes] = []
        self.process = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            start_new_session=True,  # a session of its own, as a login shell has
            preexec_fn=self._take_terminal,
        )
        os.close(slave)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @staticmethod
    def _take_terminal() -> None:
        # In the child: the pty becomes its controlling terminal, and so its process group
        # the terminal's foreground group; SIGINT as a shell's job has it, not inherited.
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    def _read(self) -> None:
        # Until every holder of the terminal has closed it (EIO), so nothing blocks on it.
        with contextlib.suppress(OSError):
            while chunk := os.read(self.master, 65536):
                self._chunks.append(chunk)

    def press_ctrl_c(self) -> None:
        os.write(self.master, CTRL_C)

    def output(self) -> str:
        return b"".join(self._chunks).decode(errors="replace").replace("\r\n", "\n")

    def close(self) -> None:
        self._reader.join(timeout=5)
        os.close(self.master)


def session_processes(session: str) -> list[str]:
    """`PID command line` of every process whose environment names this run's id
    (SOCKET_HARNESS_SESSION=session, or session-... for a part with an id of its own)."""
    key = f"SOCKET_HARNESS_SESSION={session}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # it ended meanwhile, or is not ours to read
            continue
        if any(value == key or value.startswith(key + b"-") for value in environ):
            found.append(f"{entry.name} {cmdline.strip()}")
    return found


def kill_session(session: str) -> None:
    """SIGKILL what is left of the run: only processes carrying its own id."""
    for line in session_processes(session):
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(line.split()[0]), signal.SIGKILL)


def stop_by_ctrl_c(terminal: Terminal) -> None:
    terminal.press_ctrl_c()


def stop_by_sigterm_to_the_script(terminal: Terminal) -> None:
    os.kill(terminal.process.pid, signal.SIGTERM)


@pytest.mark.parametrize(
    ("stop", "name", "exit_code"),
    [
        pytest.param(stop_by_ctrl_c, "SIGINT", 130, id="ctrl-c-on-the-terminal"),
        pytest.param(stop_by_sigterm_to_the_script, "SIGTERM", 143, id="sigterm-to-the-script"),
    ],
)
def test_a_stopped_run_ends_its_running_part_as_interrupted_and_leaves_nothing_behind(
    tmp_path: Path, stop: Callable[[Terminal], None], name: str, exit_code: int
) -> None:
    session = f"interrupt-test-{uuid.uuid4().hex[:12]}"
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = dict(
        os.environ,
        SOCKET_HARNESS_SESSION=session,
        REPORTS_DIR=str(tmp_path / "reports"),
        TMPDIR=str(scratch),
        STOP_GRACE=str(int(STOP_GRACE)),
        PY_COLORS="0",
        WORKERS="2",  # a distributed run (^C must reach every worker), not the outer run's count
    )
    # The server tests: each starts real server processes, the children that used to
    # take the signal themselves.
    terminal = Terminal(["ci/test.sh", "fast", "tests/fast/server"], env)
    try:
        wait_until(
            lambda: [
                p for p in session_processes(session) if " -m socket_harness.server " in f"{p} "
            ],
            timeout=STARTED_TIMEOUT,
            what="a server process started by one of the run's tests",
        )
        stop(terminal)
        pressed = time.monotonic()
        code = terminal.process.wait(timeout=STOP_TIMEOUT)
        stopped_in = time.monotonic() - pressed
        # Nothing is left: no process of the run (polled: the last ones may be ending).
        with contextlib.suppress(AssertionError):
            wait_until(lambda: not session_processes(session), timeout=10, what="the run's end")
        left = session_processes(session)
    finally:
        kill_session(session)  # whatever a failing run left, so the next test starts clean
        if terminal.process.poll() is None:
            terminal.process.wait(timeout=10)
        terminal.close()
    output = terminal.output()

    assert code == exit_code, output
    assert left == [], output
    assert list(scratch.glob("ci-test.*")) == []  # ci/test.sh's scratch directory
    assert "test: == timings" in output, output
    summary = output[output.rindex("test: == timings") :]
    assert "fast tier (interrupted)" in summary
    assert summary.rstrip().endswith(f"test: interrupted by {name}: fast tier did not finish")
    assert "FAILED" not in summary
    assert "(exit " not in summary  # no part is counted as failed
    # pytest took the signal and stopped by itself: nothing had to be killed.
    assert "KeyboardInterrupt" in output
    assert "still running after" not in output
    assert stopped_in < STOP_GRACE
