"""The standard streams: closed ones made harmless at start, and where the event log goes.

A standard stream closed at start (`>&-`, `2>&-`, `<&-`) gets /dev/null on its number
(as OpenSSH's sanitise_stdfd does), so no socket the server opens later takes fd 0, 1 or
2, where a stray write meant for a terminal would reach a peer. stdin is never read.

The event log writes to stdout. Once stdout is closed or fails (its reader exited: EPIPE;
EIO, ENOSPC, ...), the log moves to stderr; once stderr fails too, no stream is left
(README, Server: Standard streams). A stream given up gets /dev/null on its number, so
the interpreter's last flush at exit neither fails (exit 120) nor prints "Exception
ignored".

Imported before asyncio by `python -m socket_harness.server`: only `os` and `sys` at run time.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing; mypy knows the name
if TYPE_CHECKING:
    from typing import TextIO

STANDARD = {0: "stdin", 1: "stdout", 2: "stderr"}
_closed_at_start: set[int] = set()


def secure_standard_fds() -> None:
    """Open /dev/null on each of fds 0, 1, 2 that is closed; remember which were."""
    for fd in STANDARD:
        try:
            os.fstat(fd)
        except OSError:
            _closed_at_start.add(fd)
            null = os.open(os.devnull, os.O_RDWR)  # the lowest free number: often fd itself
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
            os.set_inheritable(fd, True)


def closed_at_start(fd: int) -> bool:
    """Was standard fd `fd` closed when the process started (see secure_standard_fds)?"""
    return fd in _closed_at_start


def _usable(fd: int) -> TextIO | None:
    """sys.stdout (fd 1) or sys.stderr (fd 2), unless it was closed at start."""
    stream = sys.stdout if fd == 1 else sys.stderr
    return None if stream is None or closed_at_start(fd) else stream


def give_up(stream: TextIO) -> None:
    """Put /dev/null under a failed standard stream: what it still buffers goes there."""
    try:
        fd = stream.fileno()
    except (OSError, ValueError):
        return  # closed, or not backed by a descriptor: nothing will flush to it
    if fd in (1, 2):
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, fd)
        os.close(null)


def flush_standard() -> None:
    """Flush stdout and stderr now; give up one that fails, so the exit code stays ours."""
    for fd in (1, 2):
        stream = _usable(fd)
        if stream is None:
            continue
        try:
            stream.flush()
        except (OSError, ValueError):
            give_up(stream)


def say_on_stderr(line: str) -> None:
    """Write one line to stderr if it works; a failure is given up silently (the event
    log holds the same fact)."""
    stream = _usable(2)
    if stream is None:
        return
    try:
        stream.write(line + "\n")
        stream.flush()
    except (OSError, ValueError):
        give_up(stream)


class Move:
    """The event log changed stream: to `stream` ("stderr", or "" for none left) because
    of `reason` (e.g. `stdout-broken`); `detail` is the error, if any."""

    __slots__ = ("detail", "reason", "stream")

    def __init__(self, stream: str, reason: str, detail: str = "") -> None:
        self.stream = stream
        self.reason = reason
        self.detail = detail


class LogOutputs:
    """The streams the event log can still write to, best first: stdout, then stderr.

    `write(text)` writes and flushes to the first; if that raises (OSError, or ValueError
    for a closed file), the stream is given up, a `Move` is queued for the caller to
    announce on the next one, and False is returned.
    """

    def __init__(self, streams: list[tuple[str, TextIO]]) -> None:
        self._streams = streams
        self._moves: list[Move] = []

    @classmethod
    def standard(cls) -> LogOutputs:
        """stdout then stderr, leaving out one closed at start (a Move says so for stdout)."""
        outputs = cls([(STANDARD[fd], s) for fd in (1, 2) if (s := _usable(fd)) is not None])
        if _usable(1) is None:
            outputs._moved("stdout-closed")
        return outputs

    @property
    def current(self) -> str:
        """The name of the stream lines go to now; "" once none is left."""
        return self._streams[0][0] if self._streams else ""

    def take_moves(self) -> tuple[Move, ...]:
        """The moves not yet announced (the caller writes them where the log is now)."""
        if not self._moves:
            return ()  # every log line asks: the common answer allocates nothing
        moves = tuple(self._moves)
        self._moves.clear()
        return moves

    def write(self, text: str) -> bool:
        """Write and flush `text` to the current stream; False if it failed (see class)."""
        if not self._streams:
            return False
        name, stream = self._streams[0]
        try:
            stream.write(text)
            stream.flush()
        except (OSError, ValueError) as exc:
            self._streams.pop(0)
            give_up(stream)
            self._moved(f"{name}-broken", str(exc))
            return False
        return True

    def _moved(self, reason: str, detail: str = "") -> None:
        self._moves.append(Move(self.current, reason, detail))
