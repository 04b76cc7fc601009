"""The golden exchanges of docs/protocol.md, byte for byte, against a real server process.

One server per set of options serves the module's rows (a row states the options
it needs); a signal's rows get a server of their own, which they stop.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest

from tests.fast.server.process import RunningServer, ServerFactory, start_server
from tests.oracle.golden import GoldenExchange, golden_exchanges
from tests.oracle.target import (
    EXCHANGE_PROMISES,
    SIGNAL_PROMISES,
    SIGNALS,
    check,
    play_signalled,
    verdict,
)

ROWS = golden_exchanges()
EXCHANGES = [row for row in ROWS if row.how not in SIGNALS]


class ProcessUnderTest:
    """A `python -m socket_harness.server` process as the oracle sees it."""

    def __init__(self, server: RunningServer) -> None:
        self.server = server

    @property
    def name(self) -> str:
        return f"server process {self.server.pid}"

    def address(self, framing: str) -> tuple[str, int]:
        endpoint = self.server.endpoint(framing)
        return endpoint.host, endpoint.port

    def send_signal(self, name: str) -> None:
        self.server.signal(signal.Signals[name])


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[tuple[tuple[str, str], ...], ProcessUnderTest]]:
    """Servers by options, started when a row first asks for them."""
    started: dict[tuple[tuple[str, str], ...], ProcessUnderTest] = {}
    yield started
    for server in started.values():
        server.server.stop()


def server_for(
    servers: dict[tuple[tuple[str, str], ...], ProcessUnderTest], row: GoldenExchange
) -> ProcessUnderTest:
    if row.options not in servers:
        servers[row.options] = ProcessUnderTest(start_server(*row.cli_args()))
    return servers[row.options]


@pytest.mark.covers(*EXCHANGE_PROMISES)
@pytest.mark.parametrize("row", EXCHANGES, ids=[row.id for row in EXCHANGES])
def test_golden_exchange(
    servers: dict[tuple[tuple[str, str], ...], ProcessUnderTest], row: GoldenExchange
) -> None:
    check(server_for(servers, row), row)


@pytest.mark.covers(*SIGNAL_PROMISES)
@pytest.mark.parametrize("how", SIGNALS)
def test_golden_exchanges_of_a_signal(server_factory: ServerFactory, how: str) -> None:
    rows = [row for row in ROWS if row.how == how]
    assert rows, f"docs/protocol.md has no {how} row"
    options = {row.options for row in rows}
    assert len(options) == 1, f"{how} rows share one server, so one set of options: {options}"
    server = server_factory(*rows[0].cli_args())
    got = play_signalled(ProcessUnderTest(server), rows)
    problems = [p for row in rows if (p := verdict(row, got[row.id])) is not None]
    assert not problems, "\n".join(problems)
    assert server.wait() == 0, f"exit code after {how}"
