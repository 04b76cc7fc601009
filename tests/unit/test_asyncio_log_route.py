"""What asyncio (or uvloop) logs by itself becomes one event-log line, never stderr output."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from socket_harness.server.logs import EventLog, route_asyncio_logs
from tests.fast.server.process import parse_log_line


@pytest.fixture
def asyncio_logger() -> Iterator[logging.Logger]:
    """The real `asyncio` logger, put back as it was afterwards."""
    logger = logging.getLogger("asyncio")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    yield logger
    logger.handlers[:] = saved[0]
    logger.setLevel(saved[1])
    logger.propagate = saved[2]


def test_asyncio_warnings_and_errors_are_event_log_lines_with_a_reason(
    asyncio_logger: logging.Logger, capfd: pytest.CaptureFixture[str]
) -> None:
    stream = io.StringIO()
    route_asyncio_logs(EventLog(stream=stream))
    # What asyncio's selector transport says when written to after its peer reset.
    asyncio_logger.warning("socket.send() raised exception.")
    try:
        raise ConnectionResetError(104, "Connection reset by peer")
    except ConnectionResetError:
        asyncio_logger.error("Fatal error on transport", exc_info=True)
    asyncio_logger.debug("debug mode only: left out")

    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    first, second = (parse_log_line(line) for line in lines)
    assert (first["level"], first["event"], first["reason"]) == ("warning", "error", "event-loop")
    assert first["message"] == "socket.send() raised exception."
    assert (second["level"], second["reason"]) == ("error", "event-loop")
    assert second["message"] == "Fatal error on transport"
    assert "ConnectionResetError" in second["detail"]
    assert capfd.readouterr().err == ""


def test_routing_twice_still_writes_each_record_once(asyncio_logger: logging.Logger) -> None:
    stream = io.StringIO()
    route_asyncio_logs(EventLog(stream=io.StringIO()))
    route_asyncio_logs(EventLog(stream=stream))
    asyncio_logger.warning("once")
    assert len(stream.getvalue().splitlines()) == 1
