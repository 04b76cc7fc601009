"""The CLI's standard streams: closed at start or broken later, each ends in a documented exit.

- stdout whose reader went away (EPIPE: `python -m socket_harness.client URL hi | head -c 1`):
  stop at once, quietly, exit 141, what a shell reports for a process killed by SIGPIPE
  (`yes | head`). Python ignores SIGPIPE, so the write raises instead of killing us.
- stdout closed at start (`>&-`) or failing otherwise (`>/dev/full`): one line on stderr,
  exit 8.
- stderr closed or broken: the error line is lost, the exit code is not.
- stdin: read only for a `-` message; closed, that is a usage error (messages.py).

A standard descriptor closed at start is reopened on /dev/null first, so no socket or pipe
opened later takes its number (a socket on fd 1 would receive our output). After a failed
write the stream is pointed at /dev/null, so Python's own flush at exit cannot fail again
and turn the exit code into 120 (Python docs, `signal` module, "Note on SIGPIPE").
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from typing import BinaryIO

BROKEN_PIPE_EXIT = 128 + signal.SIGPIPE  # 141
OUTPUT_FAILED_EXIT = 8
INTERRUPTED_EXIT = 128 + signal.SIGINT  # 130, as a shell reports Ctrl-C


class OutputFailed(Exception):
    """stdout takes no more output: its reader closed the pipe, or a write failed.

    `exit_code` is BROKEN_PIPE_EXIT for a broken pipe (nothing is printed about
    it), OUTPUT_FAILED_EXIT for any other failure.
    """

    def __init__(self, detail: str, *, broken_pipe: bool = False) -> None:
        super().__init__(detail)
        self.broken_pipe = broken_pipe

    @property
    def exit_code(self) -> int:
        return BROKEN_PIPE_EXIT if self.broken_pipe else OUTPUT_FAILED_EXIT

    @classmethod
    def from_os_error(cls, exc: OSError) -> OutputFailed:
        return cls(
            f"cannot write to stdout: {exc.strerror or exc}",
            broken_pipe=isinstance(exc, BrokenPipeError),
        )


def write(stream: BinaryIO, data: bytes) -> None:
    """Write `data` and flush it; OutputFailed when the stream takes no more."""
    try:
        stream.write(data)
        stream.flush()
    except OSError as exc:
        raise OutputFailed.from_os_error(exc) from None


def stdout() -> BinaryIO:
    """The binary stdout; OutputFailed when it was closed at start."""
    if sys.stdout is None:
        raise OutputFailed("stdout is closed (to discard the output, redirect it to /dev/null)")
    return sys.stdout.buffer


def warn(line: str) -> None:
    """`line` on stderr; a closed or broken stderr loses it, never the exit code."""
    if sys.stderr is None:
        return
    try:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
    except OSError:
        _point_at_devnull(sys.stderr.fileno())


def run(body: Callable[[], int]) -> int:
    """Run a CLI's `body` and give its exit code, whatever the standard streams do.

    SystemExit (argparse's --help or a usage error) gives its code; Ctrl-C before
    the body handles it itself gives INTERRUPTED_EXIT.
    """
    _reopen_closed()
    try:
        stdout()  # closed at start: nothing the body prints could be seen
        try:
            code = body()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
        except KeyboardInterrupt:
            code = INTERRUPTED_EXIT
        if sys.stdout is not None:  # what print() or argparse's --help left in the buffer
            try:
                sys.stdout.flush()
            except OSError as exc:
                raise OutputFailed.from_os_error(exc) from None
    except OutputFailed as exc:
        if sys.stdout is not None:
            _point_at_devnull(sys.stdout.fileno())
        if not exc.broken_pipe:
            warn(f"client: output-failed: {exc}")
        code = exc.exit_code
    if sys.stderr is not None:
        try:
            sys.stderr.flush()
        except OSError:
            _point_at_devnull(sys.stderr.fileno())
    return code


def _reopen_closed() -> None:
    """Put /dev/null on each standard descriptor that was closed at start."""
    for fd, stream in ((0, sys.stdin), (1, sys.stdout), (2, sys.stderr)):
        if stream is not None:
            continue
        try:
            os.fstat(fd)
        except OSError:
            _point_at_devnull(fd)


def _point_at_devnull(fd: int) -> None:
    null = os.open(os.devnull, os.O_RDWR)
    if null != fd:
        os.dup2(null, fd)
        os.close(null)
