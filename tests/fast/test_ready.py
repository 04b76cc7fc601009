"""socket_harness.ready: the one readiness wait, against real processes on real sockets.

A target that accepts but never sends its declared greeting (tests/fast/line_echo.py,
an echo nobody here wrote, declared as if it greeted) must fail within the stated
bound, GREETING_TIMEOUT after the connect, not after the whole start-up timeout, in
one line naming the target, the listener, the bytes expected and the bytes seen.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest
from testcontainers.core.wait_strategies import WaitStrategy
from testcontainers.core.waiting_utils import WaitStrategyTarget

from socket_harness.profile import Framing, Image, Listener, Readiness, Target
from socket_harness.ready import GREETING_TIMEOUT, TargetProblem
from socket_harness.sut import HostProcess
from socket_harness.wait_strategy import ProtocolReady
from tests.fast.server.process import ServerFactory
from tests.harness.waiting import wait_until

ECHO = Path(__file__).with_name("line_echo.py")
# Sends 4 bytes that are not the greeting, then stays silent with the connection open.
WRONG_GREETER = """
import socket, sys, time
listener = socket.create_server(("127.0.0.1", 0))
print(listener.getsockname()[1], flush=True)
while True:
    peer, _ = listener.accept()
    peer.sendall(b"nope")
    time.sleep(60)
"""
STARTUP = 30.0  # the whole wait's bound in these tests: far above GREETING_TIMEOUT
SLACK = 3.0  # seconds: process start-up and scheduling on a loaded 2-core machine
# Declares the protocol's greeting (the profile default), bytes from docs/protocol.md.
GREETING = "测试成功!\n".encode()
TARGET = Target("silent-echo", Image("none"), (Listener("line", Framing.LINE, 1),))


@pytest.fixture
def processes() -> Iterator[list[HostProcess]]:
    started: list[HostProcess] = []
    yield started
    for process in started:
        process.remove()


def start(processes: list[HostProcess], argv: list[str]) -> HostProcess:
    """`argv` as TARGET, at the port it prints first on stdout (it listens on port 0)."""
    process = HostProcess(TARGET, argv, ready=False)
    processes.append(process)
    port = wait_until(
        lambda: process.stdout[0] if process.stdout else None, timeout=10, what="the port line"
    )
    process.set_address(TARGET.listeners[0], "127.0.0.1", int(port))
    return process


def test_a_target_that_never_greets_fails_within_the_bound_in_one_line(
    processes: list[HostProcess],
) -> None:
    echo = start(processes, [sys.executable, str(ECHO)])
    began = time.monotonic()
    with pytest.raises(TargetProblem) as raised:
        echo.wait_ready(Readiness.CONNECT, timeout=STARTUP)
    took = time.monotonic() - began
    message = str(raised.value)
    assert took < GREETING_TIMEOUT + SLACK, f"took {took:.1f} s"
    assert took >= GREETING_TIMEOUT - 0.5, f"gave up after {took:.1f} s, before the bound"
    assert "\n" not in message
    port = echo.address(TARGET.listeners[0])[1]
    assert message.startswith(f"silent-echo: listener line (127.0.0.1:{port}) ")
    assert f"within {GREETING_TIMEOUT:g} s of the connect" in message
    assert f"expected {GREETING!r} ({len(GREETING)} bytes), got b'' (0 bytes)" in message


def test_a_target_that_greets_with_other_bytes_fails_at_once(
    processes: list[HostProcess],
) -> None:
    wrong = start(processes, [sys.executable, "-c", WRONG_GREETER])
    began = time.monotonic()
    with pytest.raises(TargetProblem) as raised:
        wrong.wait_ready(Readiness.CONNECT, timeout=STARTUP)
    assert time.monotonic() - began < SLACK
    assert "sent other bytes than the greeting" in str(raised.value)
    assert "got b'nope' (4 bytes)" in str(raised.value)


def test_a_target_that_exits_fails_at_once_with_its_exit_code_and_output(
    processes: list[HostProcess],
) -> None:
    began = time.monotonic()
    with pytest.raises(TargetProblem) as raised:
        processes.append(
            HostProcess(TARGET, [sys.executable, "-c", "print('bye'); raise SystemExit(3)"])
        )
    assert time.monotonic() - began < SLACK + 2
    assert str(raised.value).startswith("silent-echo exited 3 before it was ready:")
    assert str(raised.value).endswith("bye")


def test_the_projects_server_is_ready_by_greeting_and_by_listening(
    server_factory: ServerFactory,
) -> None:
    server = server_factory(listen=["seed", "line", "frame"])
    server.wait_ready(Readiness.CONNECT, timeout=STARTUP)  # each listener greeted as declared
    server.wait_ready(Readiness.LISTENING, timeout=STARTUP)
    assert len(server.events("open")) == 3  # CONNECT made one connection per listener


def test_the_testcontainers_wait_strategy_is_the_same_wait(
    processes: list[HostProcess], server_factory: ServerFactory
) -> None:
    """ProtocolReady (what ContainerRun waits with) is a testcontainers WaitStrategy whose
    wait is ready.wait_ready: the silent echo fails it within the bound, the server passes.
    Its `container` argument is not read: the state comes through the system under test."""
    echo = start(processes, [sys.executable, str(ECHO)])
    strategy = ProtocolReady(echo, Readiness.CONNECT, timeout=STARTUP)
    assert isinstance(strategy, WaitStrategy)
    began = time.monotonic()
    with pytest.raises(TargetProblem, match=r"within .* of the connect"):
        strategy.wait_until_ready(cast(WaitStrategyTarget, None))
    assert time.monotonic() - began < GREETING_TIMEOUT + SLACK
    server = server_factory(listen=["line", "frame"])
    ProtocolReady(server, timeout=STARTUP).wait_until_ready(cast(WaitStrategyTarget, None))
