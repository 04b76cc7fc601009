"""How many idle connections a server holds at once: open them, each waits for its greeting.

A connection counts as held when its greeting arrived and the server has not
closed it by the time every connection is open. Opening stops at the target,
when the time budget runs out, or after a run of failures (a server that no
longer greets: the blocking baseline after its first client, or one at its limit).
"""

from __future__ import annotations

import asyncio
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass

IN_FLIGHT = 200  # connects outstanding at once: under the servers' 512 backlog
GREET_TIMEOUT = 5.0
SETTLE = 1.0  # after the last open, so a server that drops connections late is caught


@dataclass(frozen=True)
class HoldResult:
    target: int
    held: int
    failed: int
    dropped: int  # greeted, then closed by the server while we held it
    open_seconds: float
    stopped_by: str  # target | budget | failures
    measured: int | None  # whatever the callback measured while all were held


class _Idle(asyncio.Protocol):
    def __init__(self, greeting_size: int) -> None:
        self.greeting_size = greeting_size
        self.received = 0
        self.greeted = asyncio.get_running_loop().create_future()
        self.lost = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def data_received(self, data: bytes) -> None:
        self.received += len(data)
        if self.received >= self.greeting_size and not self.greeted.done():
            self.greeted.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if not self.greeted.done():
            self.greeted.set_exception(ConnectionError("closed before the greeting"))


def raise_fd_limit(needed: int) -> int:
    """Raise this process's soft open-files limit toward `needed`; return what it now is."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    if want > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        return want
    return soft


async def hold_idle(
    host: str,
    port: int,
    greeting_size: int,
    target: int,
    budget: float,
    measure: Callable[[], int],
) -> HoldResult:
    """Open up to `target` idle connections within `budget` seconds; call `measure` while held."""
    loop = asyncio.get_running_loop()
    held: list[_Idle] = []
    failures = 0
    max_failures = IN_FLIGHT
    gate = asyncio.Semaphore(IN_FLIGHT)
    started = time.monotonic()
    deadline = started + budget

    async def open_one() -> None:
        nonlocal failures
        idle: _Idle | None = None
        try:
            async with asyncio.timeout(GREET_TIMEOUT):
                _, idle = await loop.create_connection(lambda: _Idle(greeting_size), host, port)
                await idle.greeted
            held.append(idle)
        except (OSError, TimeoutError):
            failures += 1
            if idle is not None:
                idle.abort()
        finally:
            gate.release()

    tasks: list[asyncio.Task[None]] = []
    stopped_by = "target"
    for _ in range(target):
        await gate.acquire()
        if failures >= max_failures:
            stopped_by = "failures"
            gate.release()
            break
        if time.monotonic() > deadline:
            stopped_by = "budget"
            gate.release()
            break
        tasks.append(asyncio.create_task(open_one()))
    await asyncio.gather(*tasks)
    open_seconds = time.monotonic() - started
    await asyncio.sleep(SETTLE)
    alive = [p for p in held if not p.lost]
    measured = await asyncio.to_thread(measure)
    for idle in held:
        idle.abort()
    await asyncio.sleep(0)
    return HoldResult(
        target=target,
        held=len(alive),
        failed=failures,
        dropped=len(held) - len(alive),
        open_seconds=open_seconds,
        stopped_by=stopped_by,
        measured=measured,
    )
