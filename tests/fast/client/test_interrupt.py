"""Ctrl-C (SIGINT) to the client CLI: exit 130, no traceback (README, Client, exit codes)."""

from __future__ import annotations

import signal

import pytest

from tests.fast.client.helpers import CLI_TIMEOUT, start_cli
from tests.fast.client.peers import ScriptedPeer, never_greets


@pytest.mark.covers("client/exit-130")
@pytest.mark.parametrize("framing", ["seed", "line"])
def test_sigint_while_waiting_for_the_greeting_exits_130_without_a_traceback(
    framing: str,
) -> None:
    with ScriptedPeer(never_greets) as peer:
        proc = start_cli(peer.url(framing), "hello", "--timeout", str(CLI_TIMEOUT))
        try:
            # Connected: the client is inside its exchange, waiting for the greeting.
            peer.wait_accepted(1)
            proc.send_signal(signal.SIGINT)
            _, stderr = proc.communicate(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert proc.returncode == 130, stderr
    assert b"Traceback" not in stderr
    assert b"KeyboardInterrupt" not in stderr
