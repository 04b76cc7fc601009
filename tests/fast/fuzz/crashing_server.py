"""A deliberately broken server: the real one, but a line body holding a NUL byte kills it.

A crash, not a wrong answer: the campaign must save the plan played just before its
target stopped answering, extended by a new connection that must be greeted.
"""

from __future__ import annotations

import os
import sys

import socket_harness.protocol.codecs
from socket_harness.protocol.line import LineDecoder
from socket_harness.server.app import main


class CrashingLineDecoder(LineDecoder):
    """LineDecoder whose process exits at once on a NUL byte in a body: the planted crash."""

    __slots__ = ()

    def feed(self, data: bytes) -> list[bytes]:
        messages = super().feed(data)
        if any(b"\x00" in body for body in messages):
            os._exit(70)  # no drain, no summary: as a segfault would leave it
        return messages


socket_harness.protocol.codecs.LineDecoder = CrashingLineDecoder  # type: ignore[attr-defined]

if __name__ == "__main__":
    sys.exit(main())
