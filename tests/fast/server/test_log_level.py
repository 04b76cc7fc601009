"""--log-level warning: no lines per connection, but warnings and the server's own events."""

from __future__ import annotations

import signal

import pytest

from tests.fast.server.peer import Peer
from tests.fast.server.process import ServerFactory


@pytest.mark.covers("server/log-level")
def test_warning_level_leaves_out_open_and_close(server_factory: ServerFactory) -> None:
    server = server_factory("--log-level", "warning", "--max-message-bytes", "4", listen=["line"])
    with Peer(server.endpoint("line")) as peer:
        peer.expect_greeting()
        peer.expect_answer(b"ok")
    with Peer(server.endpoint("line")) as peer:
        peer.expect_greeting()
        peer.send(b"too long\n")
        assert peer.read_to_eof().startswith(b"ERR too-large")
    server.wait_for_event("error", reason="too-large")
    server.signal(signal.SIGTERM)
    assert server.wait() == 0
    events = [event["event"] for event in server.events()]
    assert "open" not in events
    assert "close" not in events
    assert events[:2] == ["listening", "ready"]
    summary = server.events("summary")[0]
    assert (summary["connections"], summary["messages"]) == ("2", "1")


@pytest.mark.covers("server/log-level")
def test_warning_level_keeps_idle_timeout_but_leaves_out_shutting_down(
    server_factory: ServerFactory,
) -> None:
    # README: `error` reasons are warnings except shutting-down (level info), and
    # `--log-level warning` leaves out the info lines about single connections.
    server = server_factory("--log-level", "warning", "--idle-timeout", "0.5", listen=["line"])
    with Peer(server.endpoint("line")) as peer:
        peer.expect_greeting()
        assert peer.read_to_eof() == b"ERR idle-timeout\n"
    timed_out = server.wait_for_event("error", reason="idle-timeout")
    assert timed_out["level"] == "warning"
    with Peer(server.endpoint("line")) as peer:
        peer.expect_greeting()
        server.signal(signal.SIGTERM)
        assert peer.read_to_eof() == b"ERR shutting-down\n"
    assert server.wait() == 0
    reasons = [event.get("reason") for event in server.events("error")]
    assert reasons == ["idle-timeout"]
    assert server.events("summary")[0]["errors"] == "idle-timeout:1,shutting-down:1"
