"""The server's log lines as dicts: JSON (one object a line) or logfmt (`key=value ...`)."""

from __future__ import annotations

import json
import re
import socket

_LOGFMT_PAIR = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S*)')


def parse_line(line: str) -> dict[str, str] | None:
    """One log line as {key: value}; None for a line that is neither format (e.g. a traceback)."""
    line = line.strip()
    if line.startswith("{"):
        try:
            data = json.loads(line)
        except ValueError:
            return None
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else None
    pairs = _LOGFMT_PAIR.findall(line)
    if not pairs or "event" not in dict(pairs):
        return None
    return {k: json.loads(v) if v.startswith('"') else v for k, v in pairs}


def events(text: str, name: str | None = None) -> list[dict[str, str]]:
    """Every parseable event in `text`, or only those whose `event` is `name`."""
    parsed = (parse_line(line) for line in text.splitlines())
    return [e for e in parsed if e is not None and (name is None or e.get("event") == name)]


def logged_peer(sock: socket.socket) -> str:
    """This end of `sock` as the server's log names its peer (`peer=HOST:PORT`)."""
    host, port = sock.getsockname()[:2]
    return f"{host}:{port}"
