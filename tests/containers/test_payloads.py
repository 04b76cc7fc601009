"""The project's server over its message limit on seed, where the conformance suite cannot go.

Payloads, chunking, pipelining, seed's one read and the limit at its bound and over it
are checks of the conformance suite (socket_harness/conformance/test_payload.py and
test_limits.py; tests/containers/test_conformance.py runs them against this server).
targets/socket-harness.toml declares a 32 KiB limit, above seed's one read of 8192
bytes, so the suite never sees seed refuse a message: this module starts the server
with a limit under one read, and checks its `error reason=too-large` event too.
"""

from __future__ import annotations

import pytest

from tests.containers.conftest import StartServer
from tests.harness.containers import ServerContainer
from tests.oracle import model
from tests.oracle.wire import WirePeer, first_difference

# A limit under the seed's one read (8192 bytes), so seed can be over it.
SMALL_LIMIT = 1000


@pytest.fixture(scope="module")
def small_server(start_module_server: StartServer) -> ServerContainer:
    return start_module_server(max_message_bytes=SMALL_LIMIT)


@pytest.mark.covers("errors/too-large")
def test_seed_over_limit_is_refused_and_the_server_serves_on(small_server: ServerContainer) -> None:
    for payload, answer in [
        (b"s" * SMALL_LIMIT, model.ack("seed", b"s" * SMALL_LIMIT)),
        (b"s" * (SMALL_LIMIT + 1), model.error("seed", "too-large")),
        (b"next", model.ack("seed", b"next")),
    ]:
        with WirePeer(small_server.name, *small_server.address("seed")) as peer:
            peer.write(payload)  # under one segment: the one read gets all of it
            got = peer.read_until_close(f"the answer to {len(payload)} bytes")
        expected = model.greeting("seed") + answer
        assert got == expected, first_difference(expected, got)
    small_server.wait_for_event("error", reason="too-large")
