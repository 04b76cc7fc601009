"""The wire constants of every framing: the single source of truth."""

from __future__ import annotations

from enum import StrEnum

GREETING = "测试成功!\n".encode()
ACK_PREFIX = "收到的信息:".encode()
ERR_PREFIX = b"ERR "
NEWLINE = b"\n"

# The tutorial's server reads once, at most this many bytes.
SEED_READ_SIZE = 8192

FRAME_HEADER_SIZE = 4
FRAME_MAX_LENGTH = 2**32 - 1

# Swoole's package_max_length default.
DEFAULT_MAX_MESSAGE_BYTES = 2 * 1024 * 1024


class ErrorReason(StrEnum):
    """Reason codes carried by `ERR <reason>` replies."""

    TOO_LARGE = "too-large"
    BUSY = "busy"
    IDLE_TIMEOUT = "idle-timeout"
    SHUTTING_DOWN = "shutting-down"


class Framing(StrEnum):
    """The framings a listener or client URL can name (its scheme)."""

    SEED = "seed"
    LINE = "line"
    FRAME = "frame"
