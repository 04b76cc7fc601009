"""One load-generator process: an event loop running its share of the connections."""

from __future__ import annotations

import asyncio
import contextlib
import resource
import signal
import threading
import time
from array import array
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.queues import Queue
from typing import Any

from ..protocol import Framing
from .base import connect_error, parse_url
from .errors import ClientError
from .load_connection import LoadConnection
from .wire import DEFAULT_WIRE, Wire


@dataclass(frozen=True)
class Plan:
    """One process's share of a load run (picklable: it crosses a process boundary)."""

    url: str
    framing: Framing
    connections: int
    concurrency: int
    messages: int  # per connection; 1 for seed
    size: int
    window: int
    connect_timeout: float
    timeout: float
    deadline: float  # time.monotonic() value: the clock is system-wide on Linux
    loop: str  # "uvloop" or "asyncio": chosen once, by the parent
    wire: Wire = DEFAULT_WIRE  # the target's wire constants


@dataclass
class WorkerResult:
    connections_ok: int = 0
    connections_failed: int = 0
    completed: int = 0  # seed: exchanges; line/frame: acked messages
    errors: Counter[str] = field(default_factory=Counter)
    latencies: array[float] = field(default_factory=lambda: array("d"))
    started: float = 0.0
    finished: float = 0.0
    user_seconds: float = 0.0
    system_seconds: float = 0.0
    stopped_by_limit: bool = False
    interrupted: bool = False  # the parent asked it to stop (Ctrl-C)

    @property
    def cpu_seconds(self) -> float:
        return self.user_seconds + self.system_seconds


def make_payload(seq: int, filler: bytes) -> bytes:
    """A message of len(filler) bytes that starts with its sequence number (never `\\n`)."""
    return (b"%d:" % seq + filler)[: len(filler)]


class Worker:
    def __init__(self, plan: Plan, progress: Any, slot: int, stop: Any) -> None:
        self.plan = plan
        self._stop = stop  # read end of a pipe the parent closes on Ctrl-C: then readable
        self.result = WorkerResult()
        self._filler = b"x" * plan.size
        self._progress = progress  # shared counters: [done, errors] per process
        self._slot = slot
        self._endpoint = parse_url(plan.url)

    async def run(self) -> WorkerResult:
        result, plan = self.result, self.plan
        numbers = iter(range(plan.connections))  # shared by the lanes: each takes the next

        async def lane() -> None:
            for _ in numbers:
                await self.connection()

        result.started = time.monotonic()
        usage = resource.getrusage(resource.RUSAGE_SELF)
        lanes = asyncio.gather(*(lane() for _ in range(plan.concurrency)))
        loop = asyncio.get_running_loop()
        stop_fd = self._stop.fileno()

        def stop() -> None:  # the parent asked: in-flight work is cancelled
            loop.remove_reader(stop_fd)
            if lanes.cancel():
                result.interrupted = True

        loop.add_reader(stop_fd, stop)
        try:
            async with asyncio.timeout(max(plan.deadline - time.monotonic(), 0)):
                await lanes
        except TimeoutError:
            result.stopped_by_limit = True
        except asyncio.CancelledError:
            if not result.interrupted:
                raise  # not the parent's stop: someone cancelled the run itself
        finally:
            loop.remove_reader(stop_fd)
        result.finished = time.monotonic()
        used = resource.getrusage(resource.RUSAGE_SELF)
        result.user_seconds = used.ru_utime - usage.ru_utime
        result.system_seconds = used.ru_stime - usage.ru_stime
        return result

    async def connection(self) -> None:
        plan = self.plan
        started = time.perf_counter()
        one_shot = plan.framing is Framing.SEED
        conn = LoadConnection(
            plan.framing,
            messages=plan.messages,
            window=plan.window,
            timeout=plan.timeout,
            payload=self._payload,
            # seed latency is the whole exchange, connect included; else send to ack.
            on_ack=(lambda _: self._acked(started)) if one_shot else self._acked,
            wire=plan.wire,
        )
        connected = False
        try:
            try:
                async with asyncio.timeout(plan.connect_timeout):
                    await asyncio.get_running_loop().create_connection(
                        lambda: conn, self._endpoint.host, self._endpoint.port
                    )
            except (OSError, UnicodeError) as exc:  # TimeoutError included
                raise connect_error(self._endpoint, exc, plan.connect_timeout) from None
            connected = True
            await conn.done
            self.result.connections_ok += 1
        except ClientError as exc:
            self._failed(exc.label)
        finally:
            if connected:
                conn.close()  # a no-op unless the run's duration limit cancelled us
                await conn.closed  # bounded: the connection's stall timer aborts it

    def _payload(self, seq: int) -> bytes:
        return make_payload(seq, self._filler)

    def _acked(self, sent_at: float) -> None:
        self.result.latencies.append(time.perf_counter() - sent_at)
        self.result.completed += 1
        self._progress[2 * self._slot] = self.result.completed

    def _failed(self, label: str) -> None:
        self.result.connections_failed += 1
        self.result.errors[label] += 1
        self._progress[2 * self._slot + 1] += 1


def loop_factory(loop: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop when the parent chose it; None: asyncio's own."""
    if loop != "uvloop":
        return None
    import uvloop  # only now: the client image has the standard library only

    return uvloop.new_event_loop


def process_main(
    plan: Plan,
    progress: Any,
    slot: int,
    start_line: Any,
    stop: Any,
    results: Queue[tuple[int, WorkerResult]],
) -> None:
    """Entry point of a spawned worker process.

    Ctrl-C reaches the whole process group; only the parent acts on it: it closes
    the write end of the `stop` pipe, and the worker reports what it completed. (It
    was started with SIGINT blocked, so no KeyboardInterrupt can come before this
    ignores it.)
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Start together, so the run's elapsed time does not include process start-up.
    with contextlib.suppress(threading.BrokenBarrierError):
        start_line.wait(timeout=max(plan.deadline - time.monotonic(), 0))
    with asyncio.Runner(loop_factory=loop_factory(plan.loop)) as runner:
        result = runner.run(Worker(plan, progress, slot, stop).run())
    results.put((slot, result))
