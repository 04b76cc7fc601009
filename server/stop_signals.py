"""SIGTERM and SIGINT from the process's first instruction to its last.

Three regimes, one record:

1. `catch()` (the first instruction of `python -m socket_harness.server`): a handler that
   only records the signal. Nothing is raised (no KeyboardInterrupt), nothing is fatal,
   and as PID 1 of a PID namespace the signal is not discarded (the kernel drops signals
   that PID 1 has no handler for). Signals a launcher blocked are unblocked: pending ones
   arrive now.
2. `hand_to_loop()`: the event loop's wake-up (`add_signal_handler`, its self-pipe) is
   added and the record stays ours, so a signal that arrived before the loop ran is
   still seen, and none is counted twice.
3. `ignore()`: once the exit code is decided, further signals are ignored (SIG_IGN, which
   the interpreter keeps through its finalization), so the code stays what was decided.

Imported before anything else, so it imports only `signal` (typing costs tens of ms).
"""

from __future__ import annotations

import signal

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing; mypy knows the name
if TYPE_CHECKING:
    import asyncio
    from collections.abc import Callable

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)

_received: list[signal.Signals] = []  # every stop signal so far, in order of arrival


def _record(signum: int, _frame: object) -> None:
    _received.append(signal.Signals(signum))


def catch() -> None:
    """Record SIGTERM and SIGINT from now on (and any a launcher held blocked)."""
    # SIGINT first: until then the interpreter's own handler raises KeyboardInterrupt, and
    # once SIGTERM shows as caught (/proc/PID/status SigCgt) both must be ours.
    for sig in reversed(STOP_SIGNALS):
        signal.signal(sig, _record)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)


def received() -> list[signal.Signals]:
    """Every stop signal recorded so far, oldest first (a copy).

    Being a Python function call, it lets the interpreter first run the handler of a
    signal the kernel already delivered.
    """
    return list(_received)


def hand_to_loop(loop: asyncio.AbstractEventLoop, wake: Callable[[int], None]) -> None:
    """Have `loop` call `wake(signum)` soon after each stop signal; the record goes on.

    `wake` is a wake-up only: it reads what is new in `received()`. Must run in the main
    thread with `loop` running (uvloop accepts handlers only then).
    """
    with _held():
        for sig in STOP_SIGNALS:
            loop.add_signal_handler(sig, wake, sig)  # sets the loop's wake-up fd
            signal.signal(sig, _record)  # the Python-level handler: ours, not the loop's no-op
            signal.siginterrupt(sig, False)  # SA_RESTART, as add_signal_handler had set


def ignore(loop: asyncio.AbstractEventLoop | None = None) -> None:
    """From now on SIGTERM and SIGINT change nothing: the exit code is decided.

    With `loop` (running, in the main thread), its handlers are removed first, so that
    closing it later does not reset the signals to their default action.
    """
    with _held():
        for sig in STOP_SIGNALS:
            if loop is not None:
                loop.remove_signal_handler(sig)  # sets SIG_DFL: harmless while held
            signal.signal(sig, signal.SIG_IGN)  # also discards one already pending


class _held:
    """Block the stop signals for a few statements; the kernel keeps them pending.

    Blocking first runs the handler of any signal already delivered (pthread_sigmask
    checks for them), so the record is complete before a handler is swapped.
    """

    def __enter__(self) -> None:
        self._mask = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)

    def __exit__(self, *exc_info: object) -> None:
        signal.pthread_sigmask(signal.SIG_SETMASK, self._mask)
