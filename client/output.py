"""What the CLI prints: the server's bytes as sent (text) or one JSON document."""

from __future__ import annotations

import json
import time
from typing import Any, BinaryIO

from ..protocol import FRAME_HEADER_SIZE, Ack, Framing, Reply, ServerError
from .base import ConnectionBase
from .errors import ClientError, ServerRefused
from .streams import warn, write


def as_text(data: bytes) -> str:
    """Bytes for JSON: UTF-8, with any other byte as a \\xNN escape."""
    return data.decode("utf-8", "backslashreplace")


class Output:
    """Text mode writes each reply as it comes; JSON mode writes one document at the end.

    Writing to `out` raises streams.OutputFailed when it takes no more (a reader
    that closed the pipe, a full disk); errors go to stderr as one line.
    """

    def __init__(self, url: str, as_json: bool, out: BinaryIO) -> None:
        self.as_json = as_json
        self.out = out
        self._started = time.monotonic()
        self._doc: dict[str, Any] = {"url": url, "connections": []}

    def greeting(self, conn: ConnectionBase, greeting: Reply | None) -> None:
        """The first reply of a connection: the greeting, or the ERR sent instead; None for
        a target that sends no greeting (JSON: `"greeting": null`, nothing printed)."""
        entry: dict[str, Any] = {"greeting": None, "exchanges": []}
        if greeting is None:
            self._doc["connections"].append(entry)
            return
        if isinstance(greeting, ServerError):
            entry["error"] = greeting.reason.value  # busy: sent instead of the greeting
        else:
            entry["greeting"] = as_text(conn.wire_bytes(greeting))
        self._doc["connections"].append(entry)
        self._print(conn, greeting)

    def reply(self, conn: ConnectionBase, sent: bytes, reply: Reply) -> None:
        exchange: dict[str, Any] = {"sent": as_text(sent)}
        if isinstance(reply, ServerError):
            exchange["error"] = reply.reason.value
        elif isinstance(reply, Ack):
            exchange["answer"] = as_text(reply.payload)
        self._doc["connections"][-1]["exchanges"].append(exchange)
        self._print(conn, reply)

    def failed(self, exc: ClientError) -> None:
        error: dict[str, Any] = {"kind": exc.kind, "message": str(exc), "exit_code": exc.exit_code}
        if isinstance(exc, ServerRefused):
            error["reason"] = exc.reason.value
        self._doc["error"] = error
        if not self.as_json:
            warn(f"client: {exc.kind}: {exc}")

    def finish(self, exit_code: int) -> None:
        if not self.as_json:
            return
        self._doc.setdefault("error", None)
        self._doc["exit_code"] = exit_code
        self._doc["elapsed_s"] = round(time.monotonic() - self._started, 6)
        write(self.out, json.dumps(self._doc, ensure_ascii=False).encode() + b"\n")

    def _print(self, conn: ConnectionBase, reply: Reply) -> None:
        if self.as_json:
            return
        data = conn.wire_bytes(reply)
        if conn.endpoint.framing is Framing.FRAME:
            # A frame's header is not text: print the body, on a line of its own.
            body = data[FRAME_HEADER_SIZE:]
            data = body if body.endswith(b"\n") else body + b"\n"
        write(self.out, data)
