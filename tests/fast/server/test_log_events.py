"""The server's log events carry the fields README's table names (Server, "Logs").

One server's whole life, in text (logfmt): two listeners, a line exchange, a seed
exchange, one idle connection told `ERR shutting-down` by a SIGTERM, the drain, the
exit. The numbers
are README's and docs/protocol.md's: the default backlog 512, max-connections 10000,
overflow pause; the greeting 14 bytes, an ack of `hi` 16 + 2 + 1.
"""

from __future__ import annotations

import signal

import pytest

from tests.fast.server.peer import Peer
from tests.fast.server.process import ServerFactory

GREETING_BYTES = 14  # 测试成功!\n
ACK_PREFIX_BYTES = 16  # 收到的信息:


@pytest.mark.covers(
    "server/log-listening",
    "server/log-ready",
    "server/log-open",
    "server/log-close",
    "server/log-shutdown",
    "server/log-drain",
)
def test_each_event_line_carries_the_fields_the_table_names(
    server_factory: ServerFactory,
) -> None:
    server = server_factory(listen=["line", "seed"])
    listening = server.events("listening")  # once per listener
    assert sorted(e["listener"] for e in listening) == sorted(
        [server.url("line"), server.url("seed")]
    )
    assert {e["backlog"] for e in listening} == {"512"}
    (ready,) = server.events("ready")
    assert server.health is not None
    assert ready["listeners"] == "2"
    assert ready["health"] == "{}:{}".format(*server.health)
    assert ready["loop"] in ("asyncio", "uvloop")
    assert ready["pid"] == str(server.pid)
    assert (ready["max_connections"], ready["overflow"], ready["backlog"]) == (
        "10000",
        "pause",
        "512",
    )

    with Peer(server.endpoint("line")) as peer:
        peer.expect_greeting()
        peer.expect_answer(b"hi")
        mine = f"127.0.0.1:{peer.local_port}"
    closed = server.wait_for_event("close", peer=mine)
    (opened,) = [e for e in server.events("open") if e["peer"] == mine]
    assert opened["listener"] == server.url("line")
    assert closed["listener"] == server.url("line")
    assert (closed["bytes_in"], closed["messages"]) == ("3", "1")
    assert closed["bytes_out"] == str(GREETING_BYTES + ACK_PREFIX_BYTES + 3)
    assert closed["reason"] == "peer-closed"
    assert float(closed["duration"]) >= 0
    with Peer(server.endpoint("seed")) as seed:  # the tutorial's one exchange
        seed.expect_greeting()
        seed.send(b"hi")
        seed.read_to_eof()
        answered = f"127.0.0.1:{seed.local_port}"
    assert server.wait_for_event("close", peer=answered)["reason"] == "answered"

    with Peer(server.endpoint("line")) as idle:
        idle.expect_greeting()
        server.signal(signal.SIGTERM)
        assert idle.read_line() == b"ERR shutting-down\n"
        told = f"127.0.0.1:{idle.local_port}"
    assert server.wait() == 0
    assert server.wait_for_event("close", peer=told)["reason"] == "shutting-down"
    (shutdown,) = server.events("shutdown")
    assert (shutdown["signal"], shutdown["action"]) == ("SIGTERM", "drain")
    (drain,) = server.events("drain")
    assert drain["result"] == "complete"
