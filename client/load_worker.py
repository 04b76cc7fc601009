"""One load-generator process: an asyncio loop running its share of the connections."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from array import array
from collections import Counter, deque
from dataclasses import dataclass, field
from itertools import repeat
from multiprocessing.queues import Queue
from typing import Any

from protocol import Framing

from . import aio
from .base import expect_ack
from .errors import ClientError, UnexpectedBytes


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


@dataclass
class WorkerResult:
    connections_ok: int = 0
    connections_failed: int = 0
    completed: int = 0  # seed: exchanges; line/frame: acked messages
    errors: Counter[str] = field(default_factory=Counter)
    latencies: array[float] = field(default_factory=lambda: array("d"))
    started: float = 0.0
    finished: float = 0.0
    cpu_seconds: float = 0.0
    stopped_by_limit: bool = False


def make_payload(seq: int, filler: bytes) -> bytes:
    """A message of len(filler) bytes that starts with its sequence number (never `\\n`)."""
    return (b"%d:" % seq + filler)[: len(filler)]


class Worker:
    def __init__(self, plan: Plan, progress: Any, slot: int) -> None:
        self.plan = plan
        self.result = WorkerResult()
        self._filler = b"x" * plan.size
        self._progress = progress  # shared counters: [done, errors] per process
        self._slot = slot

    async def run(self) -> WorkerResult:
        result, plan = self.result, self.plan
        numbers = iter(range(plan.connections))  # shared by the lanes: each takes the next

        async def lane() -> None:
            for _ in numbers:
                await self.connection()

        result.started = time.monotonic()
        cpu = time.process_time()
        try:
            async with asyncio.timeout(max(plan.deadline - time.monotonic(), 0)):
                await asyncio.gather(*(lane() for _ in range(plan.concurrency)))
        except TimeoutError:
            result.stopped_by_limit = True
        result.finished = time.monotonic()
        result.cpu_seconds = time.process_time() - cpu
        return result

    async def connection(self) -> None:
        plan, result = self.plan, self.result
        started = time.perf_counter()
        conn: aio.AsyncConnection | None = None
        try:
            conn = await aio.connect(
                plan.url, connect_timeout=plan.connect_timeout, timeout=plan.timeout
            )
            await conn.greeting()
            if plan.framing is Framing.SEED:
                payload = make_payload(0, self._filler)
                self._check(await conn.request(payload), payload, 0)
                self._acked(started)
            else:
                await self.pipeline(conn)
            result.connections_ok += 1
        except ClientError as exc:
            self._failed(exc.label)
        except OSError as exc:  # not expected from the library; counted, never fatal
            self._failed(type(exc).__name__)
        finally:
            if conn is not None:
                await conn.close()

    async def pipeline(self, conn: aio.AsyncConnection) -> None:
        """M messages, at most `window` unanswered at a time; latency = send to ack."""
        plan = self.plan
        unanswered: deque[tuple[bytes, float]] = deque()  # (message, sent at), oldest first
        sent = acked = 0
        while acked < plan.messages:
            room = min(plan.window - (sent - acked), plan.messages - sent)
            if room > 0:
                bodies = [make_payload(seq, self._filler) for seq in range(sent, sent + room)]
                unanswered.extend(zip(bodies, repeat(time.perf_counter(), room), strict=True))
                await conn.send_many(bodies)
                sent += room
            while True:  # every reply already here, then refill the window
                body, sent_at = unanswered.popleft()
                self._check(expect_ack(await conn.receive()), body, acked)
                self._acked(sent_at)
                acked += 1
                if not conn.reply_buffered:
                    break

    @staticmethod
    def _check(payload: bytes, sent: bytes, seq: int) -> None:
        if payload != sent:
            raise UnexpectedBytes(f"the ack does not echo message {seq}", payload)

    def _acked(self, sent_at: float) -> None:
        self.result.latencies.append(time.perf_counter() - sent_at)
        self.result.completed += 1
        self._progress[2 * self._slot] = self.result.completed

    def _failed(self, label: str) -> None:
        self.result.connections_failed += 1
        self.result.errors[label] += 1
        self._progress[2 * self._slot + 1] += 1


def process_main(
    plan: Plan,
    progress: Any,
    slot: int,
    start_line: Any,
    results: Queue[tuple[int, WorkerResult]],
) -> None:
    """Entry point of a spawned worker process."""
    # Start together, so the run's elapsed time does not include process start-up.
    with contextlib.suppress(threading.BrokenBarrierError):
        start_line.wait(timeout=max(plan.deadline - time.monotonic(), 0))
    try:
        result = asyncio.run(Worker(plan, progress, slot).run())
    except KeyboardInterrupt:
        return  # Ctrl-C reached the whole process group: the parent reports
    results.put((slot, result))
