"""What asyncio (or uvloop) logs by itself becomes one event-log line, never stderr output."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Iterator

import pytest

from socket_harness.server.app import Server
from socket_harness.server.config import parse_config
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
    earlier, stream = io.StringIO(), io.StringIO()
    route_asyncio_logs(EventLog(stream=earlier))
    route_asyncio_logs(EventLog(stream=stream))
    asyncio_logger.warning("once")
    assert len(stream.getvalue().splitlines()) == 1
    assert earlier.getvalue() == ""  # the earlier route is replaced, not kept beside it


def test_an_exception_never_raised_still_gives_its_detail(
    asyncio_logger: logging.Logger,
) -> None:
    # A record may carry an exception that was made but never raised (no traceback), as
    # asyncio's default handler passes a context's exception on: its detail still counts.
    stream = io.StringIO()
    route_asyncio_logs(EventLog(stream=stream))
    asyncio_logger.error("Fatal error on transport", exc_info=ConnectionResetError(104, "gone"))
    (line,) = stream.getvalue().splitlines()
    assert parse_log_line(line)["detail"].startswith("ConnectionResetError: [Errno 104] gone")


def test_a_record_the_route_cannot_format_never_raises_where_asyncio_logged_it(
    asyncio_logger: logging.Logger,
) -> None:
    # asyncio logs from inside a transport's callbacks (`socket.send() raised exception.`
    # is logged in the middle of `write()`): a record that fails to become a line (here
    # its arguments do not fit its format) must not raise there, into the loop.
    stream = io.StringIO()
    route_asyncio_logs(EventLog(stream=stream))
    asyncio_logger.warning("%d bytes", "not a number")
    assert stream.getvalue() == ""  # (logging's own report of it goes to stderr)


def test_a_loop_error_is_one_internal_line_with_its_exception_as_detail() -> None:
    # What the loop hands its exception handler (Server.run installs _on_loop_error).
    stream = io.StringIO()

    async def report() -> None:
        server = Server(parse_config([]), EventLog(stream=stream))
        loop = asyncio.get_running_loop()
        server._on_loop_error(loop, {"message": "with", "exception": ValueError("boom")})
        server._on_loop_error(loop, {"message": "without"})

    asyncio.run(report())
    with_exc, without = (parse_log_line(line) for line in stream.getvalue().splitlines())
    assert (with_exc["level"], with_exc["event"], with_exc["reason"]) == (
        "error",
        "error",
        "internal",
    )
    assert with_exc["detail"].startswith("ValueError: boom")
    assert (without["message"], without["detail"]) == ("without", "")
