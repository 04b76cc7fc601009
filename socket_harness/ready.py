"""When a started target is ready: the one wait every runner uses, at the protocol level.

Never a log line. `Readiness.CONNECT`: every listener accepts a connection and,
where the profile declares a greeting, sends exactly that greeting.
`Readiness.LISTENING`: every listener's port is in LISTEN state in the target's
network namespace (/proc/PID/net/tcp, read from the host), no connection made,
for a target that counts every connection (docs/targets.md, `readiness`).

Bounds: the whole wait ends after `timeout` seconds (STARTUP_TIMEOUT); a refused
or unanswered connect is retried until then (the target may still be starting).
Once a connect completes, the declared greeting must come within
GREETING_TIMEOUT seconds: a target that accepts and then sends nothing, too
little, or other bytes fails at once with one line naming the target, the
listener, the bytes expected and the bytes seen. A target that exits fails at
once too (its runner's `check_running`).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterable
from typing import Protocol

from .expect import Expect
from .observe import ObservationError, listen_sockets
from .profile import Listener, Readiness, Target

STARTUP_TIMEOUT = 60.0  # seconds from the start to ready, on a busy 2-core machine
CONNECT_TIMEOUT = 2.0  # seconds, one readiness connect
# Seconds from a completed connect to the whole greeting. A listener that accepts is past
# its start-up: the project's server greets within milliseconds of its `ready` line.
GREETING_TIMEOUT = 5.0
POLL_INTERVAL = 0.05  # seconds between two attempts


class TargetProblem(Exception):
    """The target cannot be had: its image does not build, it exits or never gets ready.
    The message is one line (plus the target's log tail where it exited); `logs` is the
    target's output (str) when a runner could still read it, else ""."""

    logs: str = ""


class Startable(Protocol):
    """What the wait needs of a started target (socket_harness.sut.SystemUnderTest)."""

    @property
    def target(self) -> Target: ...

    @property
    def pid(self) -> int | None: ...

    def address(self, listener: Listener) -> tuple[str, int]: ...

    def check_running(self) -> None: ...


def _shown(data: bytes) -> str:
    return f"{data[:80]!r} ({len(data)} bytes)"


def greeted(name: str, listener: Listener, where: tuple[str, int], expected: bytes) -> bool:
    """Connect to `where` (host, port); read the greeting `expected` (b"": none declared).

    False when the connect fails (refused, unreachable, timed out after CONNECT_TIMEOUT
    seconds): not listening yet. True when `expected` came whole. TargetProblem when the
    connect completed but the greeting did not come within GREETING_TIMEOUT seconds, or
    the connection closed or reset first, or other bytes came.
    """
    host, port = where
    try:
        sock = socket.create_connection((host, port), timeout=CONNECT_TIMEOUT)
    except OSError:
        return False
    got = b""
    with sock:
        deadline = time.monotonic() + GREETING_TIMEOUT
        while len(got) < len(expected):
            why = ""
            left = deadline - time.monotonic()
            try:
                if left <= 0:
                    raise TimeoutError
                sock.settimeout(left)
                chunk = sock.recv(len(expected) - len(got))
            except TimeoutError:
                why = f"sent no whole greeting within {GREETING_TIMEOUT:g} s of the connect"
            except OSError as exc:
                why = f"reset the connection before the whole greeting ({exc.strerror or exc})"
            else:
                got += chunk
                if not chunk:
                    why = "closed the connection before the whole greeting"
                elif not expected.startswith(got):
                    why = "sent other bytes than the greeting"
            if why:
                raise TargetProblem(
                    f"{name}: listener {listener.name} ({host}:{port}) {why}: "
                    f"expected {_shown(expected)}, got {_shown(got)}"
                )
    return True


def _listening(pid: int | None, ports: set[int]) -> bool:
    if pid is None:
        return not ports
    try:
        listening = {item.port for item in listen_sockets(pid)}
    except ObservationError:
        return False
    return ports <= listening


def ready_now(sut: Startable, readiness: Readiness, also_listening: Iterable[int] = ()) -> bool:
    """One attempt: is every listener of `sut.target` ready as `readiness` says, and is every
    port of `also_listening` in LISTEN state? TargetProblem as in `greeted`, or when the
    target exited (`check_running`)."""
    sut.check_running()
    target = sut.target
    also = set(also_listening)
    if also and not _listening(sut.pid, also):
        return False
    if readiness is Readiness.LISTENING:
        return _listening(sut.pid, {sut.address(item)[1] for item in target.listeners})
    expect = Expect(target.wire)
    for listener in target.listeners:
        where = sut.address(listener)
        if not greeted(target.name, listener, where, expect.greeting(listener.framing)):
            return False
    return True


def wait_ready(
    sut: Startable,
    readiness: Readiness | None = None,
    timeout: float = STARTUP_TIMEOUT,
    also_listening: Iterable[int] = (),
) -> None:
    """Poll `ready_now` every POLL_INTERVAL seconds until it holds (`readiness`: the
    target's own unless given; `also_listening`: further ports, such as a health
    endpoint, that must be in LISTEN state); TargetProblem (one line) after `timeout` s."""
    how = readiness or sut.target.readiness
    also = tuple(also_listening)
    deadline = time.monotonic() + timeout
    while not ready_now(sut, how, also):
        if time.monotonic() > deadline:
            where = ", ".join(
                f"{item.name} {':'.join(map(str, sut.address(item)))}"
                for item in sut.target.listeners
            )
            extra = f" and LISTEN on ports {list(also)}" if also else ""
            raise TargetProblem(
                f"{sut.target.name} was not ready ({how.value} on {where}{extra}) "
                f"within {timeout:g} s"
            )
        time.sleep(POLL_INTERVAL)
