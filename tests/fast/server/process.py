"""A real `python -m server` subprocess for tests: start, read its log lines, signal, reap."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Protocol

from protocol import Endpoint, Framing, parse_endpoint

REPO_ROOT = Path(__file__).resolve().parents[3]
READY_TIMEOUT = 15.0

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


class RunningServer:
    """One started server process and everything it printed so far.

    Output is read by background threads, so the server never blocks on a full
    pipe; `wait_for_log` waits on a real line, never on a fixed sleep.
    """

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self._lines: list[str] = []
        self._stderr: list[str] = []
        self._changed = threading.Condition()
        self._readers = [
            threading.Thread(target=self._pump, args=(proc.stdout, self._lines), daemon=True),
            threading.Thread(target=self._pump, args=(proc.stderr, self._stderr), daemon=True),
        ]
        for reader in self._readers:
            reader.start()
        self.listeners: dict[Framing, Endpoint] = {}
        self.health: tuple[str, int] | None = None

    def _pump(self, stream: Iterable[str] | None, into: list[str]) -> None:
        assert stream is not None
        for line in stream:
            with self._changed:
                into.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    # --- what it printed ----------------------------------------------------------

    def log_lines(self) -> list[str]:
        """Every stdout line so far (the server logs only there)."""
        with self._changed:
            return list(self._lines)

    def stderr_text(self) -> str:
        """Everything on stderr so far: must stay empty (no tracebacks, ever)."""
        with self._changed:
            return "\n".join(self._stderr)

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
        with self._changed:
            while True:
                for line in self._lines[seen:]:
                    if test(line):
                        return line
                seen = len(self._lines)
                finished = not any(reader.is_alive() for reader in self._readers)
                left = deadline - time.monotonic()
                if finished or left <= 0:
                    why = "the server exited" if finished else f"{timeout} s passed"
                    raise AssertionError(
                        f"no log line matching {predicate!r} ({why}); output:\n"
                        + "\n".join(self._lines[-40:] + self._stderr[-20:])
                    )
                self._changed.wait(min(left, 0.5))

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

    def _learn_addresses(self) -> None:
        for fields in self.events("listening"):
            endpoint = parse_endpoint(fields["listener"])
            self.listeners[endpoint.framing] = endpoint
        ready = self.events("ready")
        if ready and ready[0].get("health"):
            host, _, port = ready[0]["health"].rpartition(":")
            self.health = (host.strip("[]"), int(port))

    # --- its life ----------------------------------------------------------------

    @property
    def pid(self) -> int:
        return self.proc.pid

    def signal(self, sig: int = signal.SIGTERM) -> None:
        self.proc.send_signal(sig)

    def wait(self, timeout: float = 10.0) -> int:
        """The exit code, once the process ended and all its output was read."""
        code = self.proc.wait(timeout)
        for reader in self._readers:
            reader.join(timeout)
        return code

    def stop(self) -> None:
        """Kill it if it still runs (test teardown)."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.wait()
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


class ServerFactory(Protocol):
    def __call__(
        self,
        *extra_args: str,
        listen: Iterable[str] = ...,
        env: dict[str, str] | None = ...,
        ready: bool = ...,
    ) -> RunningServer: ...


def listen_url(spec: str) -> str:
    """`seed` -> `seed://127.0.0.1:0`; a full URL is kept as it is."""
    return spec if "://" in spec else f"{spec}://127.0.0.1:0"


def start_server(
    *extra_args: str,
    listen: Iterable[str] = ("seed", "line", "frame"),
    env: dict[str, str] | None = None,
    ready: bool = True,
    module: str = "server",
) -> RunningServer:
    """Start `python -m server` (or another `module`, e.g. a deliberately broken one) on
    loopback with ephemeral ports; wait for `ready` if asked."""
    args = [sys.executable, "-m", module]
    for spec in listen:
        args += ["--listen", listen_url(spec)]
    if "--health" not in extra_args and "SERVER_HEALTH" not in (env or {}):
        args += ["--health", "127.0.0.1:0"]  # never the fixed default port: tests run side by side
    if "--loop" not in extra_args and "SERVER_LOOP" not in (env or {}):
        args += ["--loop", "asyncio"]  # what the image ships; uvloop only when a test asks
    args += extra_args
    # A developer's own SERVER_* settings must not change what a test means.
    child_env = {key: value for key, value in os.environ.items() if not key.startswith("SERVER_")}
    child_env["PYTHONPATH"] = str(REPO_ROOT)
    child_env.update(env or {})
    proc = subprocess.Popen(
        args,
        cwd=REPO_ROOT,
        env=child_env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        errors="replace",
    )
    server = RunningServer(proc)
    if ready:
        try:
            server.wait_for_event("ready", timeout=READY_TIMEOUT)
        except BaseException:
            server.stop()
            raise
        server._learn_addresses()
    return server
