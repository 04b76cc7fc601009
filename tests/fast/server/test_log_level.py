"""--log-level warning: no lines per connection, but warnings and the server's own events."""

from __future__ import annotations

import signal

from tests.fast.server.peer import Peer
from tests.fast.server.process import ServerFactory


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
