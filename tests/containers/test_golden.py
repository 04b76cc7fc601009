"""The golden exchanges of docs/protocol.md, byte for byte, against the server container.

The same rows as the fast tier (tests/fast/server/test_golden.py), over the
bridge network: one server container per set of options serves the module's
rows; a signal's rows (`docker kill --signal`) get a container of their own.
`queued` rows stop the container's server with `docker kill --signal SIGSTOP`
while the client writes, so a seed read sees every byte whatever the segment size.
"""

from __future__ import annotations

import pytest

from tests.containers.conftest import StartServer
from tests.harness.containers import ServerContainer
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
Servers = dict[tuple[tuple[str, str], ...], ServerContainer]


@pytest.fixture(scope="module")
def servers(start_module_server: StartServer) -> tuple[StartServer, Servers]:
    """Server containers by options, started when a row first asks for them (removed by
    `start_module_server` at the module's end)."""
    return start_module_server, {}


def server_for(servers: tuple[StartServer, Servers], row: GoldenExchange) -> ServerContainer:
    start, started = servers
    if row.options not in started:
        started[row.options] = start(**row.env())
    return started[row.options]


@pytest.mark.covers(*EXCHANGE_PROMISES)
@pytest.mark.parametrize("row", EXCHANGES, ids=[row.id for row in EXCHANGES])
def test_golden_exchange(servers: tuple[StartServer, Servers], row: GoldenExchange) -> None:
    check(server_for(servers, row), row)


@pytest.mark.covers(*SIGNAL_PROMISES)
@pytest.mark.parametrize("how", SIGNALS)
def test_golden_exchanges_of_a_signal(start_server: StartServer, how: str) -> None:
    rows = [row for row in ROWS if row.how == how]
    assert rows, f"docs/protocol.md has no {how} row"
    options = {row.options for row in rows}
    assert len(options) == 1, f"{how} rows share one server, so one set of options: {options}"
    server = start_server(**rows[0].env())
    got = play_signalled(server, rows)
    problems = [p for row in rows if (p := verdict(row, got[row.id])) is not None]
    assert not problems, "\n".join(problems)
    assert server.wait_exit(timeout=10) == 0, f"exit code after docker kill --signal {how}"
