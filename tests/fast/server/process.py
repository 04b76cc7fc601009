"""A real `python -m socket_harness.server` subprocess for tests.

Start, read its log lines, signal, reap.

As a plain child process, or as PID 1 of a new PID namespace (`unshare --pid --fork
--mount-proc`), which is how it runs in its container.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Protocol

from socket_harness.profile import Readiness, Target
from socket_harness.project import project_target
from socket_harness.protocol import Endpoint, Framing, parse_endpoint
from socket_harness.sut import HostProcess
from tests.harness.engine import unavailable

REPO_ROOT = Path(__file__).resolve().parents[3]
READY_TIMEOUT = 15.0
COVERAGE_GRACE = 5.0  # s a server under coverage has to exit at teardown (drain included)

LinePredicate = str | Callable[[str], bool]


def parse_log_line(line: str) -> dict[str, str]:
    """One server log line (logfmt or JSON) as a dict of strings; {} if it is neither."""
    if line.startswith("{"):
        try:
            record = json.loads(line)
        except ValueError:
            return {}
        return {
            key: value if isinstance(value, str) else json.dumps(value)
            for key, value in record.items()
        }
    fields: dict[str, str] = {}
    try:
        tokens = shlex.split(line, posix=True)
    except ValueError:
        return {}
    for token in tokens:
        key, sep, value = token.partition("=")
        if sep:
            fields[key] = value
    return fields


class RunningServer(HostProcess):
    """One started server process and everything it printed so far.

    A socket_harness.sut.HostProcess of the project's server (socket_harness.project):
    output is read by background threads, so the server never blocks on a full pipe;
    `wait_for_log` waits on a real line, never on a fixed sleep. The event log is read
    from stdout, or from stderr with `log_on="stderr"` (stdout closed or broken). A
    stream the test did not make a pipe is not read.
    """

    def __init__(
        self,
        target: Target,
        argv: Sequence[str],
        env: dict[str, str],
        stdout: int,
        stderr: int,
        pid1: bool,
        log_on: str = "stdout",
    ) -> None:
        super().__init__(
            target,
            argv,
            env=env,
            cwd=REPO_ROOT,
            stdout=stdout,
            stderr=stderr,
            main_pid=_namespace_init if pid1 else None,
            ready=False,
        )
        self._lines = self.stderr if log_on == "stderr" else self.stdout
        self.listeners: dict[Framing, Endpoint] = {}
        self.health: tuple[str, int] | None = None

    # --- what it printed ----------------------------------------------------------

    def log_lines(self) -> list[str]:
        """Every event-log line so far (stdout, unless started with log_on="stderr")."""
        with self.changed:
            return list(self._lines)

    def stdout_lines(self) -> list[str]:
        with self.changed:
            return list(self.stdout)

    def stderr_text(self) -> str:
        """Everything on stderr so far: must stay empty (no tracebacks, ever)."""
        with self.changed:
            return "\n".join(self.stderr)

    def events(self, name: str | None = None) -> list[dict[str, str]]:
        """Parsed log lines, optionally only those whose `event` is `name`."""
        parsed = [parse_log_line(line) for line in self.log_lines()]
        return [fields for fields in parsed if name is None or fields.get("event") == name]

    def wait_for_log(self, predicate: LinePredicate, timeout: float = 5.0) -> str:
        """The first line matching `predicate` (substring or test); AssertionError on timeout."""
        test: Callable[[str], bool] = (
            (lambda line: predicate in line) if isinstance(predicate, str) else predicate
        )
        deadline = time.monotonic() + timeout
        seen = 0
        with self.changed:
            while True:
                for line in self._lines[seen:]:
                    if test(line):
                        return line
                seen = len(self._lines)
                finished = not any(reader.is_alive() for reader in self.readers)
                left = deadline - time.monotonic()
                if finished or left <= 0:
                    why = "the server exited" if finished else f"{timeout} s passed"
                    raise AssertionError(
                        f"no log line matching {predicate!r} ({why}); output:\n"
                        + "\n".join(self._lines[-40:] + self.stderr[-20:])
                    )
                self.changed.wait(min(left, 0.5))

    def wait_for_event(self, name: str, timeout: float = 5.0, **fields: str) -> dict[str, str]:
        """The first `event=name` line whose fields include `fields`, parsed."""

        def matches(line: str) -> bool:
            parsed = parse_log_line(line)
            return parsed.get("event") == name and all(
                parsed.get(key) == value for key, value in fields.items()
            )

        return parse_log_line(self.wait_for_log(matches, timeout))

    # --- where it listens --------------------------------------------------------

    def endpoint(self, framing: Framing | str) -> Endpoint:
        return self.listeners[Framing(framing)]

    def url(self, framing: Framing | str) -> str:
        return str(self.endpoint(framing))

    def learn_addresses(self) -> None:
        """Read the listeners' and health addresses off the `listening` and `ready` lines
        (with port 0 listeners, the server's output is the only place they are told)."""
        unnamed = list(self.target.listeners)
        for fields in self.events("listening"):
            endpoint = parse_endpoint(fields["listener"])
            self.listeners[endpoint.framing] = endpoint
            same = [item for item in unnamed if item.framing.value == endpoint.framing.value]
            if same:
                unnamed.remove(same[0])
                self.set_address(same[0], endpoint.host, endpoint.port)
        ready = self.events("ready")
        if ready and ready[0].get("health"):
            host, _, port = ready[0]["health"].rpartition(":")
            self.health = (host.strip("[]"), int(port))

    # --- its life ----------------------------------------------------------------

    @property
    def server_pid(self) -> int:
        """The server's PID (as seen from here: not 1 when it is PID 1 of its namespace)."""
        return self.pid

    def signal(self, sig: int = signal.SIGTERM) -> None:
        """Send `sig` to the server itself (not to unshare); a no-op once it was reaped."""
        self.send_signal(sig)

    @contextlib.contextmanager
    def stopped(self, timeout: float = 5.0) -> Iterator[None]:
        """SIGSTOP it and wait until the kernel reports it stopped; SIGCONT on leaving.

        kill() returns before a process running on another CPU has stopped, so the
        state in /proc/PID/stat (`T`) is what says it no longer runs.
        """
        self.signal(signal.SIGSTOP)
        try:
            deadline = time.monotonic() + timeout
            while _process_state(self.pid) != "T":
                if time.monotonic() > deadline:
                    raise AssertionError(f"the server did not stop within {timeout} s")
                time.sleep(0.001)
            yield
        finally:
            self.signal(signal.SIGCONT)

    def wait(self, timeout: float = 10.0) -> int:
        """The exit code, once the process ended and all its output was read."""
        return self.wait_exit(timeout)

    def stop(self) -> None:
        """Kill it if it still runs (test teardown; unshare's --kill-child takes PID 1 along).

        Under coverage (`make mutation`'s baseline sets COVERAGE_PROCESS_START) it is sent
        SIGTERM first and given up to COVERAGE_GRACE s: coverage saves what the server ran
        at its exit, and a SIGKILL would lose it.
        """
        if os.environ.get("COVERAGE_PROCESS_START") and self.proc.poll() is None:
            self.signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(COVERAGE_GRACE)
        self.remove()


def _process_state(pid: int) -> str:
    """The state letter of /proc/PID/stat (R running, S sleeping, T stopped, ...)."""
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rpartition(")")[2].split()[0]


class ServerFactory(Protocol):
    def __call__(
        self,
        *extra_args: str,
        listen: Iterable[str] = ...,
        env: dict[str, str] | None = ...,
        ready: bool = ...,
        pid1: bool = ...,
        launcher: Sequence[str] = ...,
        stdout: int = ...,
        stderr: int = ...,
        log_on: str = ...,
    ) -> RunningServer: ...


# PID 1 of a new PID namespace, as in a container; --kill-child: killing unshare kills it.
AS_PID1 = ("unshare", "--pid", "--fork", "--mount-proc", "--kill-child")


@functools.cache
def pid1_problem() -> str | None:
    """Why a new PID namespace cannot be made here (unshare needs root), or None."""
    try:
        result = subprocess.run([*AS_PID1, "true"], capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"cannot run unshare: {exc}"
    if result.returncode != 0:
        return f"unshare --pid fails here: {result.stderr.decode(errors='replace').strip()}"
    return None


def _namespace_init(unshare: subprocess.Popen[str], timeout: float = READY_TIMEOUT) -> int:
    """The PID (seen from here) of the process unshare forked: PID 1 of its namespace."""
    children = f"/proc/{unshare.pid}/task/{unshare.pid}/children"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(children) as listing:
            found = listing.read().split()
        if found:
            return int(found[0])
        if unshare.poll() is not None:
            raise AssertionError(f"unshare exited {unshare.returncode} before forking")
        time.sleep(0.001)
    raise AssertionError(f"unshare forked nothing within {timeout} s")


def listen_url(spec: str) -> str:
    """`seed` -> `seed://127.0.0.1:0`; a full URL is kept as it is."""
    return spec if "://" in spec else f"{spec}://127.0.0.1:0"


def start_server(
    *extra_args: str,
    listen: Iterable[str] = ("seed", "line", "frame"),
    env: dict[str, str] | None = None,
    ready: bool = True,
    pid1: bool = False,
    launcher: Sequence[str] = (),
    stdout: int = subprocess.PIPE,
    stderr: int = subprocess.PIPE,
    log_on: str = "stdout",
    module: str = "socket_harness.server",
) -> RunningServer:
    """Start `python -m socket_harness.server` (or another `module`, e.g. a deliberately
    broken one) on loopback with ephemeral ports.

    Waits for `ready` if asked.

    `pid1`: as PID 1 of a new PID namespace (skipped where unshare cannot, failed under
    CI=true). `launcher`: argv run first, which must exec the rest (e.g. a shell that
    closes a stream). `stdout`, `stderr`: a descriptor instead of a pipe read here.
    `log_on`: where the event log is read from (see RunningServer).
    """
    if pid1 and (problem := pid1_problem()) is not None:
        unavailable(problem)
    args: list[str] = []
    if "--health" not in extra_args and "SERVER_HEALTH" not in (env or {}):
        args += ["--health", "127.0.0.1:0"]  # never the fixed default port: tests run side by side
    if "--loop" not in extra_args and "SERVER_LOOP" not in (env or {}):
        args += ["--loop", "asyncio"]  # what the image ships; uvloop only when a test asks
    urls = [listen_url(spec) for spec in listen]
    target = project_target(
        urls,
        environment=env or {},
        command=[*(f"--listen={url}" for url in urls), *args, *extra_args],
    )
    assert target.setup.command is not None
    argv = [*(AS_PID1 if pid1 else ()), *launcher, sys.executable, "-m", module]
    # A developer's own SERVER_* settings must not change what a test means.
    child_env = {key: value for key, value in os.environ.items() if not key.startswith("SERVER_")}
    child_env["PYTHONPATH"] = str(REPO_ROOT)
    child_env.update(target.setup.environment)
    server = RunningServer(
        target, [*argv, *target.setup.command], child_env, stdout, stderr, pid1, log_on
    )
    if ready:
        try:
            # Port 0: the real addresses are told only in the output, the health one last,
            # in the `ready` line; readiness itself is the shared check (no connection made).
            server.wait_for_event("ready", timeout=READY_TIMEOUT)
            server.learn_addresses()
            also = (server.health[1],) if server.health else ()
            server.wait_ready(Readiness.LISTENING, READY_TIMEOUT, also_listening=also)
        except BaseException:
            server.stop()
            raise
    return server
