"""A pipe for one of the server's standard streams, held by the test: read it, fill it, or
walk away from it.

A pipe of one page (4096 bytes) can be filled so that the server's next log line does
not fit: the kernel keeps a write of up to PIPE_BUF bytes whole (pipe(7)), so the server
blocks inside that write, at a line the test chose, until the test reads. Closing the
read end is a reader that exits (`| head -c 1`): the server's next write gets EPIPE.
"""

from __future__ import annotations

import fcntl
import os
import select
import time
from collections.abc import Callable

from tests.fast.server.process import parse_log_line

PAGE = 4096


class HeldPipe:
    """A one-page pipe: `write_fd` is given to the server (as stdout or stderr), this side
    reads it."""

    def __init__(self) -> None:
        self.read_fd, self.write_fd = os.pipe()
        fcntl.fcntl(self.write_fd, fcntl.F_SETPIPE_SZ, PAGE)
        self.size = fcntl.fcntl(self.write_fd, fcntl.F_GETPIPE_SZ)
        self.lines: list[str] = []  # every complete line the server wrote, in order
        self._partial = bytearray()
        self._filler = 0  # bytes of our filler still ahead of the server's next byte
        self.eof = False

    def fill(self, room: int = 0) -> None:
        """Fill the pipe (empty now: all read) so that only `room` bytes fit before a
        writer blocks."""
        self._read_available()
        data = b"#" * (self.size - room)
        os.set_blocking(self.write_fd, False)
        try:
            written = os.write(self.write_fd, data)
        finally:
            os.set_blocking(self.write_fd, True)
        assert written == len(data), f"the pipe was not empty: {written} of {len(data)} fit"
        self._filler += written

    def close_write_end(self) -> None:
        """Our copy of the write end: closed once the server has its own (EOF at its exit)."""
        if self.write_fd >= 0:
            os.close(self.write_fd)
            self.write_fd = -1

    def close_read_end(self) -> None:
        """The reader exits: what is still in the pipe is gone, the next write gets EPIPE."""
        if self.read_fd >= 0:
            os.close(self.read_fd)
            self.read_fd = -1

    def close(self) -> None:
        self.close_write_end()
        self.close_read_end()

    def events(self) -> list[dict[str, str]]:
        return [parse_log_line(line) for line in self.lines]

    def read_until(self, predicate: Callable[[dict[str, str]], bool], timeout: float) -> None:
        """Read until a line whose parsed fields satisfy `predicate` arrives, or fail."""
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            for fields in self.events()[seen:]:
                if predicate(fields):
                    return
            seen = len(self.lines)
            left = deadline - time.monotonic()
            if self.eof or left <= 0:
                why = "EOF" if self.eof else f"{timeout} s passed"
                raise AssertionError(f"no such line on stdout ({why}):\n" + "\n".join(self.lines))
            self._read(left)

    def read_event(self, name: str, timeout: float) -> None:
        self.read_until(lambda fields: fields.get("event") == name, timeout)

    def read_to_eof(self, timeout: float) -> list[str]:
        """Everything until every write end is closed (the server exited)."""
        deadline = time.monotonic() + timeout
        while not self.eof:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"stdout still open after {timeout} s")
            self._read(left)
        return self.lines

    def _read_available(self) -> None:
        while not self.eof and select.select([self.read_fd], [], [], 0)[0]:
            self._read(0)

    def _read(self, timeout: float) -> None:
        if not select.select([self.read_fd], [], [], timeout)[0]:
            return
        data = os.read(self.read_fd, 65536)
        if not data:
            self.eof = True
            return
        skip = min(self._filler, len(data))
        self._filler -= skip
        self._partial += data[skip:]
        *complete, rest = self._partial.split(b"\n")
        self.lines += [line.decode() for line in complete]
        self._partial = bytearray(rest)


def wait_blocked_writing_to_a_pipe(pid: int, timeout: float = 15.0) -> None:
    """Until `pid`'s main thread sleeps inside a pipe write (/proc/PID/wchan)."""
    deadline = time.monotonic() + timeout
    wchan = ""
    while time.monotonic() < deadline:
        with open(f"/proc/{pid}/wchan") as file:
            wchan = file.read()
        if "pipe_write" in wchan:  # pipe_write, or anon_pipe_write on newer kernels
            return
        time.sleep(0.001)
    raise AssertionError(f"process {pid} is not blocked writing a pipe (wchan {wchan!r})")
