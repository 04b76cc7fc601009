"""Fast tier (no Docker): the `server_factory` fixture runs the real server as a subprocess."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import pytest

from tests.fast.server.process import RunningServer, ServerFactory, start_server

LINE_ECHO = Path(__file__).with_name("line_echo.py")


@pytest.fixture
def server_factory() -> Iterator[ServerFactory]:
    """Start real `python -m socket_harness.server` processes on 127.0.0.1 with port-0 listeners.

    ``server_factory(*extra_args, listen=("seed", "line", "frame"), env=None, ready=True)``
    returns a :class:`RunningServer` once its ``ready`` line is printed (``ready=False``
    returns at once, for startup-failure tests). ``listen`` items are framings
    (``"line"`` -> ``line://127.0.0.1:0``) or full URLs. ``--health 127.0.0.1:0`` and
    ``--loop asyncio`` (what the image ships) are added unless given; inherited ``SERVER_*``
    variables are dropped and ``env`` is added. ``pid1=True`` runs it as PID 1 of a new
    PID namespace; ``launcher``, ``stdout``, ``stderr`` and ``log_on`` are as in
    :func:`tests.fast.server.process.start_server`.

    The server gives ``.url(framing)``, ``.endpoint(framing)``, ``.proc``, ``.pid``,
    ``.health`` (host, port), ``.log_lines()``, ``.events(name)``, ``.stderr_text()``,
    ``.wait_for_log(substring_or_predicate, timeout)``, ``.wait_for_event(name, timeout,
    **fields)``, ``.signal(sig)`` and ``.wait(timeout) -> exit code``. Every server still
    running at teardown is killed.
    """
    started: list[RunningServer] = []

    def factory(
        *extra_args: str,
        listen: Iterable[str] = ("seed", "line", "frame"),
        env: dict[str, str] | None = None,
        ready: bool = True,
        pid1: bool = False,
        launcher: Sequence[str] = (),
        stdout: int = subprocess.PIPE,
        stderr: int = subprocess.PIPE,
        log_on: str = "stdout",
    ) -> RunningServer:
        server = start_server(
            *extra_args,
            listen=listen,
            env=env,
            ready=ready,
            pid1=pid1,
            launcher=launcher,
            stdout=stdout,
            stderr=stderr,
            log_on=log_on,
        )
        started.append(server)
        return server

    yield factory
    for server in started:
        server.stop()


@contextlib.contextmanager
def line_echo(idle: float = 0.0) -> Iterator[int]:
    """tests/fast/line_echo.py on 127.0.0.1 in a process of its own, closing peers silent
    for `idle` seconds (0: never): its port, once it listens (SIGTERM on leaving)."""
    command = [sys.executable, str(LINE_ECHO), "0", "127.0.0.1", str(idle)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        yield int(proc.stdout.readline())  # printed once it listens
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def echo_port() -> Iterator[int]:
    """A running line echo (tests/fast/line_echo.py: no greeting, no ack prefix, a service
    nobody here wrote): its port (stopped at teardown)."""
    with line_echo() as port:
        yield port
