"""Client tests: one real server shared by a module's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fast.server.process import RunningServer, start_server


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    """The real server with default settings, shared by a module's tests (they only talk)."""
    running = start_server()
    yield running
    running.stop()
