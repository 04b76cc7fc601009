"""A deliberately broken server: the real one, but a line body loses a trailing `\\r`.

The classic CRLF bug (a line read as ending in `\\r\\n`); docs/protocol.md says
`\\r` is kept. Used by the fuzzing tests and docs/fuzzing.md's walk-through:
`python -m socket_harness.fuzz --target local --server-module tests.fast.fuzz.broken_server`.
"""

from __future__ import annotations

import sys

import socket_harness.protocol.codecs
from socket_harness.protocol.line import LineDecoder
from socket_harness.server.app import main


class CrLfLineDecoder(LineDecoder):
    """LineDecoder that strips one `\\r` before each `\\n`: the planted bug."""

    __slots__ = ()

    def feed(self, data: bytes) -> list[bytes]:
        return [body[:-1] if body.endswith(b"\r") else body for body in super().feed(data)]


socket_harness.protocol.codecs.LineDecoder = CrLfLineDecoder  # type: ignore[attr-defined]

if __name__ == "__main__":
    sys.exit(main())
