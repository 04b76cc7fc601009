"""Which containers a test touched, so a failing test's report carries their logs."""

from __future__ import annotations

from collections.abc import Callable

LOG_TAIL_LINES = 200

_live: dict[str, Callable[[], str]] = {}
_finished: list[tuple[str, str]] = []


def track(name: str, fetch_logs: Callable[[], str]) -> None:
    """A container now exists; `fetch_logs` reads its logs on demand."""
    _live[name] = fetch_logs


def untrack(name: str) -> None:
    """The container is about to be removed: keep its last logs for this test's report."""
    fetch = _live.pop(name, None)
    if fetch is not None:
        _finished.append((name, _safe(fetch)))


def begin_test() -> None:
    """Forget containers removed during earlier tests."""
    _finished.clear()


def report_sections() -> list[tuple[str, str]]:
    """(title, log tail) for every live container and every one removed during this test."""
    sections = [(f"container {name} logs", _tail(text)) for name, text in _finished]
    sections += [(f"container {name} logs", _tail(_safe(fetch))) for name, fetch in _live.items()]
    return sections


def _safe(fetch: Callable[[], str]) -> str:
    try:
        return fetch()
    except Exception as exc:  # a report must never fail because logs could not be read
        return f"<logs unavailable: {exc}>"


def _tail(text: str) -> str:
    lines = text.splitlines()
    if len(lines) <= LOG_TAIL_LINES:
        return text
    return f"... {len(lines) - LOG_TAIL_LINES} earlier lines omitted ...\n" + "\n".join(
        lines[-LOG_TAIL_LINES:]
    )
