"""What the project's server logs at its limits: `error reason=busy`, and the summary after
--max-sessions.

The limits themselves (max connections in both overflow modes, max sessions and the exit
code) are checks of the conformance suite (socket_harness/conformance/test_connections.py,
test_lifecycle.py), run against this server by tests/containers/test_conformance.py.
"""

from __future__ import annotations

import pytest

from socket_harness import client
from socket_harness.protocol import Framing
from tests.containers.conftest import StartServer

# Tighter than the suite-wide 120 s: nothing here should take long. The bound is on the
# test itself: starting its container, slow on a busy machine, has its own startup timeout.
pytestmark = pytest.mark.timeout(30, func_only=True)

TIMEOUT = 10.0


@pytest.mark.covers("errors/busy")
def test_reject_logs_busy(start_server: StartServer) -> None:
    server = start_server(max_connections=1, overflow="reject")
    with client.connect(server.url(Framing.LINE), timeout=TIMEOUT) as held:
        held.greeting()
        extra = client.connect(server.url(Framing.LINE), timeout=TIMEOUT)
        with extra, pytest.raises(client.ServerRefused):
            extra.greeting()
        server.wait_for_event("error", reason="busy")


@pytest.mark.covers("server/max-sessions", "server/log-summary")
def test_max_sessions_ends_with_a_summary_of_them(start_server: StartServer) -> None:
    sessions = 3
    server = start_server(max_sessions=sessions)
    for index in range(sessions):
        with client.connect(server.url(Framing.SEED), timeout=TIMEOUT) as conn:
            assert conn.exchange(f"session {index}".encode()) == f"session {index}".encode()
    assert server.wait_exit(timeout=10) == 0
    summary = server.wait_for_event("summary")
    assert (summary["connections"], summary["exit_code"]) == (str(sessions), "0")
    assert "Traceback" not in server.logs()
