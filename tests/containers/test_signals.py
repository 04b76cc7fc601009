"""`docker kill --signal SIGTERM|SIGINT` at the server, PID 1 of its container.

Before `ready`: it stops at once with one `shutdown action=exit` line and exit 128+N
(PID 1 does not ignore it, so an early `docker stop` does not wait out its grace
period). While serving: the drain, exit 0. README, Server: Signals at any moment.
"""

from __future__ import annotations

import pytest

from socket_harness import client
from socket_harness.protocol import ErrorReason, Framing, ServerError
from tests.containers.conftest import StartServer
from tests.harness.containers import ServerContainer
from tests.harness.waiting import wait_until

pytestmark = pytest.mark.timeout(60, func_only=True)

TIMEOUT = 10.0
SIGNALS = pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT"])
EXIT_BEFORE_READY = {"SIGTERM": 143, "SIGINT": 130}  # README, Exit codes: 128+N
SLOW_CPUS = 0.1  # a start-up about ten times slower: the signal lands in its middle


def sigterm_caught(server: ServerContainer) -> bool:
    """Does PID 1 have a SIGTERM handler yet (bit 15 of SigCgt)? The interpreter never
    installs one; the server's first instruction does."""
    status = server.exec("cat", "/proc/1/status")
    caught = next(line for line in status.splitlines() if line.startswith("SigCgt:"))
    return bool(int(caught.split()[1], 16) & 1 << 14)


@SIGNALS
def test_a_signal_before_ready_stops_it_at_once(start_server: StartServer, sig: str) -> None:
    server = start_server(ready=False, cpus=SLOW_CPUS)
    wait_until(lambda: sigterm_caught(server), timeout=30, what="SIGTERM caught by PID 1")
    assert not server.events("ready"), "`ready` came before SIGTERM could be sent"
    server.send_signal(sig)
    assert server.wait_exit(timeout=TIMEOUT) == EXIT_BEFORE_READY[sig]
    events = [fields for fields in server.events() if fields["event"] != "listening"]
    assert [fields["event"] for fields in events] == ["shutdown"]
    assert (events[0]["signal"], events[0]["action"]) == (sig, "exit")
    assert events[0]["exit_code"] == str(EXIT_BEFORE_READY[sig])
    assert "Traceback" not in server.logs()


@SIGNALS
def test_a_signal_while_serving_drains(start_server: StartServer, sig: str) -> None:
    server = start_server(drain_timeout=5)
    idle = client.connect(server.url(Framing.LINE), timeout=TIMEOUT)
    idle.greeting()
    server.wait_for_event("open")
    server.send_signal(sig)
    assert idle.receive() == ServerError(ErrorReason.SHUTTING_DOWN)
    idle.close()
    assert server.wait_exit(timeout=TIMEOUT) == 0
    shutdown = server.wait_for_event("shutdown")
    assert (shutdown["signal"], shutdown["action"]) == (sig, "drain")
    assert server.wait_for_event("summary")["exit_code"] == "0"
    assert "Traceback" not in server.logs()
