"""Every kept reproducer (tests/reproducers/*.toml) passes against a real server process.

The verdict is the replay's: the target's bytes against the bytes written in the
file (the spec's, docs/fuzzing.md). One server per limit the files assume.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from socket_harness.fuzz.play import play
from socket_harness.fuzz.reproducer import Reproducer, load
from tests.fast.server.process import RunningServer, start_server

REPRODUCERS = sorted((Path(__file__).resolve().parents[2] / "reproducers").glob("*.toml"))


class Servers:
    """One `python -m socket_harness.server` per --max-message-bytes, started on first use."""

    def __init__(self) -> None:
        self.by_limit: dict[int, RunningServer] = {}

    def get(self, limit: int) -> RunningServer:
        if limit not in self.by_limit:
            self.by_limit[limit] = start_server("--max-message-bytes", str(limit))
        return self.by_limit[limit]


@pytest.fixture(scope="module")
def servers() -> Iterator[Servers]:
    pool = Servers()
    yield pool
    for server in pool.by_limit.values():
        server.stop()


def test_reproducers_are_kept() -> None:
    assert REPRODUCERS, "tests/reproducers/ holds no reproducer"


@pytest.mark.parametrize("path", REPRODUCERS, ids=[path.stem for path in REPRODUCERS])
def test_reproducer_passes_against_the_server(servers: Servers, path: Path) -> None:
    reproducer: Reproducer = load(path)
    server = servers.get(reproducer.max_message_bytes)
    endpoint = server.endpoint(reproducer.framing)
    outcome = play(reproducer, endpoint.host, endpoint.port)
    assert outcome.failure is None, f"{path.name}: {outcome.failure.detail}"
    assert server.stderr_text() == "", "the server wrote to stderr (a traceback?)"
