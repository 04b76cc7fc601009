"""One line per event on stdout (stderr once stdout fails): logfmt or one JSON object."""

from __future__ import annotations

import json
import logging
import re
import time
import traceback
from collections.abc import Callable, Mapping
from typing import TextIO

from .streams import LogOutputs

Value = str | int | float | None | Mapping[str, int]

# Space, `"`, `=`, backslash and control characters need quoting (one regex scan, not
# a Python loop per character: this runs for every field of every line).
_NEEDS_QUOTES = re.compile(r'[\x00-\x20"=\\]')
_timestamp_second = -1
_timestamp_prefix = ""


def timestamp(now: float) -> str:
    """`now` (seconds since the epoch, as time.time() gives it) as the log's `ts`: UTC to
    the millisecond, `2023-11-14T22:13:20.999Z` (README "Logs").

    The milliseconds are cut, never rounded: the last instant of a second is still `.999`
    of it. The date and time of the second are formatted once per second, not per line.
    """
    global _timestamp_second, _timestamp_prefix
    second = int(now)
    if second != _timestamp_second:  # strftime once a second, not once a line
        _timestamp_second = second
        _timestamp_prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
    return f"{_timestamp_prefix}.{int(now % 1 * 1000):03d}Z"


def _text(value: Value) -> str:
    if value is None:
        return ""
    if isinstance(value, Mapping):
        return ",".join(f"{key}:{count}" for key, count in value.items())
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _logfmt_value(value: Value) -> str:
    # str and int are most fields: skip _text's isinstance chain for them.
    text = value if type(value) is str else str(value) if type(value) is int else _text(value)
    if not text or _NEEDS_QUOTES.search(text):
        return json.dumps(text, ensure_ascii=False)
    return text


class EventLog:
    """Writes `ts level event ...fields` lines, flushing each: tests and `docker logs` tail them.

    To `stream` if given, else stdout, moving to stderr when stdout is closed or fails
    (one `event=log` line there says why). `when_lost` is called once if no stream is
    left; `lost` stays true from then on.
    """

    def __init__(
        self, fmt: str = "text", stream: TextIO | None = None, level: str = "info"
    ) -> None:
        self._json = fmt == "json"
        self._outputs = (
            LogOutputs.standard() if stream is None else LogOutputs([("stream", stream)])
        )
        self._peer_info = level == "info"
        self.when_lost: Callable[[], None] | None = None

    @property
    def stream(self) -> str:
        """Where lines go now: "stdout", "stderr" ("stream" when given one), "" for nowhere."""
        return self._outputs.current

    @property
    def lost(self) -> bool:
        return not self._outputs.current

    def info(self, event: str, **fields: Value) -> None:
        self.emit("info", event, fields)

    def peer_info(self, event: str, **fields: Value) -> None:
        """An info line about one connection (open, close, ...): left out at level warning."""
        if self._peer_info:
            self.emit("info", event, fields)

    def warning(self, event: str, **fields: Value) -> None:
        self.emit("warning", event, fields)

    def error(self, event: str, **fields: Value) -> None:
        self.emit("error", event, fields)

    def emit(self, level: str, event: str, fields: Mapping[str, Value]) -> None:
        self._write(self._format(level, event, fields))

    def _format(self, level: str, event: str, fields: Mapping[str, Value]) -> str:
        if self._json:
            record: dict[str, object] = {
                "ts": timestamp(time.time()),
                "level": level,
                "event": event,
            }
            record.update(fields)
            line = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
        else:
            parts = [f"ts={timestamp(time.time())} level={level} event={event}"]
            parts.extend(f"{key}={_logfmt_value(value)}" for key, value in fields.items())
            line = " ".join(parts)
        return line

    def _write(self, line: str) -> None:
        # Each failed write gives up one stream, so this ends; a move is announced first,
        # on the stream the log moved to, then the line that could not be written.
        while self._outputs.current:
            for move in self._outputs.take_moves():
                fields = {"stream": move.stream, "reason": move.reason, "detail": move.detail}
                self._outputs.write(self._format("warning", "log", fields) + "\n")
            if self._outputs.write(line + "\n"):
                return
        if self.when_lost is not None:
            when_lost, self.when_lost = self.when_lost, None
            when_lost()


class _EventLogHandler(logging.Handler):
    """Turns a record of the `asyncio` logger into one `error` line of the event log."""

    def __init__(self, log: EventLog) -> None:
        super().__init__(logging.WARNING)
        self._log = log

    def emit(self, record: logging.LogRecord) -> None:
        try:
            fields: dict[str, Value] = {"reason": "event-loop", "message": record.getMessage()}
            if record.exc_info is not None and record.exc_info[1] is not None:
                fields["detail"] = "".join(traceback.format_exception(record.exc_info[1]))
            level = "error" if record.levelno >= logging.ERROR else "warning"
            self._log.emit(level, "error", fields)
        except Exception:  # a log line must never take the server down
            self.handleError(record)


def route_asyncio_logs(log: EventLog) -> None:
    """Send what asyncio (and uvloop, which logs through the same `asyncio` logger)
    logs by itself (e.g. `socket.send() raised exception.`) to `log` as one
    `event=error reason=event-loop` line, and nothing of it to stderr.

    Records below WARNING (asyncio's debug mode) are dropped, as Python's default is.
    """
    logger = logging.getLogger("asyncio")
    for handler in list(logger.handlers):
        if isinstance(handler, _EventLogHandler):
            logger.removeHandler(handler)
    logger.addHandler(_EventLogHandler(log))
    logger.setLevel(logging.WARNING)
    logger.propagate = False  # not to the root logger, whose last resort is stderr
