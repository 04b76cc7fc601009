"""What the project's server logs when a drain cannot finish: `drain result=timeout
aborted=1`, a summary, exit 3.

The graceful stop itself (in-flight answered, idle told `shutting-down`, new connects
refused, the exit codes after a complete and an aborted drain) is checked by the
conformance suite (socket_harness/conformance/test_lifecycle.py), run against this
server by tests/containers/test_conformance.py; the complete drain's log lines by
tests/containers/test_signals.py.
"""

from __future__ import annotations

import pytest

from socket_harness import client
from socket_harness.protocol import Framing
from tests.containers.conftest import StartServer

# Tighter than the suite-wide 120 s: nothing here should take long. The bound is on the
# test itself: starting its container, slow on a busy machine, has its own startup timeout.
pytestmark = pytest.mark.timeout(40, func_only=True)

TIMEOUT = 10.0
GRACE = 20  # docker stop's wait before SIGKILL: far above any drain timeout here
EXIT_DRAIN_TIMED_OUT = 3  # README, Exit codes


@pytest.mark.covers("server/drain-timeout", "server/exit-3")
def test_a_drain_that_cannot_finish_logs_timeout_and_exits_3(start_server: StartServer) -> None:
    server = start_server(drain_timeout=1.0)
    with client.connect(server.url(Framing.LINE), timeout=TIMEOUT) as stuck:
        stuck.greeting()
        stuck.send_raw(b"never finished")  # no newline: the message stays in flight
        server.wait_for_event("open")
        stopper = server.stop_in_background(grace=GRACE)
        assert server.wait_exit(timeout=11) == EXIT_DRAIN_TIMED_OUT
        stopper.join(timeout=GRACE)
    drain = server.wait_for_event("drain", result="timeout")
    assert drain["aborted"] == "1"
    assert server.wait_for_event("summary")["exit_code"] == str(EXIT_DRAIN_TIMED_OUT)
    assert "Traceback" not in server.logs()
