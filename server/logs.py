"""One line per event on stdout: logfmt (`key=value ...`) or one JSON object."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Mapping
from typing import TextIO

Value = str | int | float | bool | None | Mapping[str, int]

_NEEDS_QUOTES = frozenset(' "=\\')


def _timestamp() -> str:
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"


def _text(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, Mapping):
        return ",".join(f"{key}:{count}" for key, count in value.items())
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _logfmt_value(value: Value) -> str:
    text = _text(value)
    if not text or any(ch in _NEEDS_QUOTES or ch < " " for ch in text):
        return json.dumps(text, ensure_ascii=False)
    return text


class EventLog:
    """Writes `ts level event ...fields` lines, flushing each: tests and `docker logs` tail them."""

    def __init__(self, fmt: str = "text", stream: TextIO | None = None) -> None:
        self._json = fmt == "json"
        self._stream = stream if stream is not None else sys.stdout

    def info(self, event: str, **fields: Value) -> None:
        self.emit("info", event, fields)

    def warning(self, event: str, **fields: Value) -> None:
        self.emit("warning", event, fields)

    def error(self, event: str, **fields: Value) -> None:
        self.emit("error", event, fields)

    def emit(self, level: str, event: str, fields: Mapping[str, Value]) -> None:
        if self._json:
            record: dict[str, object] = {"ts": _timestamp(), "level": level, "event": event}
            record.update(fields)
            line = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
        else:
            parts = [f"ts={_timestamp()} level={level} event={event}"]
            parts.extend(f"{key}={_logfmt_value(value)}" for key, value in fields.items())
            line = " ".join(parts)
        try:
            self._stream.write(line + "\n")
            self._stream.flush()
        except (BrokenPipeError, ValueError):
            # Nobody reads our stdout any more; serving must go on.
            pass
