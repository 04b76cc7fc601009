"""`python -m socket_harness.client load URL`: the load generator.

Many connections from several processes, then a report."""

from __future__ import annotations

import argparse
import multiprocessing
import os
import queue
import signal
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import FrameType
from typing import Any, BinaryIO

from ..protocol import SEED_READ_SIZE, Framing
from . import streams
from .load_report import LoadReport
from .load_worker import Plan, WorkerResult, process_main
from .options import Parser, add_timeouts, count, seconds
from .wire import Wire
from .wire_options import URL_HELP, add_wire_options, resolve

# How long past the duration limit a worker may take to report before it is killed.
GRACE_SECONDS = 5.0
# How long after Ctrl-C the workers may take to stop and report what they completed.
STOP_SECONDS = 3.0
# Upper bounds of the counts (README, "Load generator"): far above what one machine runs,
# low enough that a typo is a usage error instead of an OverflowError or a huge allocation.
MAX_CONNECTIONS = 10**9
MAX_CONCURRENCY = 100_000  # connections open at once: each is a file descriptor
MAX_MESSAGES = 10**9
MAX_SIZE = 16 * 1024 * 1024  # payload bytes: each in-flight message holds a copy
MAX_WINDOW = 65_536
MAX_PROCESSES = 1024


def default_processes() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="python -m socket_harness.client load",
        description=(
            "Open N connections, at most C at a time, from several processes (each "
            "an event loop, see --loop). seed:// does one exchange per connection; line:// "
            "and frame:// send M messages per connection, pipelined: at most --window "
            "unanswered at a time (--window 1 = request/response). Every ack is "
            "checked against the message sent. Ctrl-C (SIGINT) stops the run and prints "
            "the report of what completed, marked interrupted. Exit 0 when every "
            "exchange or message succeeded, 1 otherwise, 2 on a usage error (one line on "
            "stderr), 130 when interrupted, 8 when stdout cannot be written, 141 when "
            "stdout's reader closed the pipe (nothing more is printed)."
        ),
        epilog=(
            "example, 2000 messages to a line echo with no greeting and no ack prefix (socat):\n"
            "  socat TCP-LISTEN:7000,fork,reuseaddr EXEC:cat &\n"
            "  python -m socket_harness.client load --greeting none --ack-prefix '' "
            "--connections 20 --messages 100 line://127.0.0.1:7000"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("url", metavar="URL", help=URL_HELP)
    parser.add_argument(
        "--connections",
        type=count(1, MAX_CONNECTIONS),
        default=100,
        metavar="N",
        help="default 100",
    )
    parser.add_argument(
        "--concurrency", type=count(1, MAX_CONCURRENCY), default=10, metavar="C", help="default 10"
    )
    parser.add_argument(
        "--messages",
        type=count(0, MAX_MESSAGES),
        default=None,
        metavar="M",
        help="per line/frame connection (default 100)",
    )
    parser.add_argument(
        "--size",
        type=count(0, MAX_SIZE),
        default=64,
        metavar="S",
        help="payload bytes (default 64)",
    )
    parser.add_argument(
        "--window", type=count(1, MAX_WINDOW), default=16, metavar="W", help="default 16"
    )
    parser.add_argument(
        "--processes",
        type=count(1, MAX_PROCESSES),
        default=None,
        metavar="P",
        help="default: the CPUs this process may use",
    )
    parser.add_argument(
        "--duration-limit",
        type=seconds,
        default=60.0,
        metavar="S",
        help="stop after S seconds (default 60)",
    )
    parser.add_argument(
        "--loop",
        choices=("auto", "asyncio", "uvloop"),
        default="auto",
        help="the worker processes' event loop; auto (default) = uvloop when importable. "
        "uvloop spends less CPU per exchange, so higher rates can be measured",
    )
    add_timeouts(parser)
    add_wire_options(parser)
    parser.add_argument("--json", action="store_true", help="print the report as one JSON document")
    return parser


def make_plans(
    args: argparse.Namespace, url: str, framing: Framing, wire: Wire, deadline: float
) -> list[Plan]:
    """Split connections and concurrency as evenly as possible over the processes."""
    processes = max(min(args.processes, args.connections, args.concurrency), 1)
    messages = 1 if framing is Framing.SEED else args.messages
    plans = []
    for index in range(processes):
        share = args.connections // processes + (index < args.connections % processes)
        lanes = args.concurrency // processes + (index < args.concurrency % processes)
        plans.append(
            Plan(
                url=url,
                framing=framing,
                connections=share,
                concurrency=lanes,
                messages=messages,
                size=args.size,
                window=args.window,
                connect_timeout=args.connect_timeout,
                timeout=args.timeout,
                deadline=deadline,
                loop=args.loop,
                wire=wire,
            )
        )
    return plans


def resolve_loop(choice: str) -> str:
    """The loop the workers will run: "uvloop" or "asyncio" (as the server's --loop)."""
    # uvloop: a seed exchange costs the load generator about half the CPU of asyncio's loop,
    # and its CPU per exchange is what caps the rates it can measure on a small machine.
    if choice == "asyncio":
        return "asyncio"
    try:  # only whether it imports: the workers import it again for themselves
        import uvloop  # noqa: F401
    except ImportError:
        if choice == "uvloop":
            raise ValueError("--loop uvloop: uvloop is not installed") from None
        return "asyncio"
    return "uvloop"


def validate(args: argparse.Namespace, framing: Framing) -> None:
    if args.processes is None:
        args.processes = default_processes()
    if framing is Framing.SEED:
        if args.messages not in (None, 1):
            raise ValueError("seed:// does one exchange per connection: drop --messages")
        if not 1 <= args.size <= SEED_READ_SIZE:
            raise ValueError(
                f"seed:// needs 1 <= --size <= {SEED_READ_SIZE} (the server reads once)"
            )
    elif args.messages is None:
        args.messages = 100


def main(argv: Sequence[str]) -> int:
    """`python -m socket_harness.client load ARGS`: run, print the report, give the exit code."""
    parser = build_parser()
    args = parser.parse_intermixed_args(argv)
    try:
        endpoint, wire = resolve(args)
        framing = endpoint.framing
        validate(args, framing)
        args.loop = resolve_loop(args.loop)
    except ValueError as exc:
        parser.error(str(exc))
    out = streams.stdout()
    deadline = time.monotonic() + args.duration_limit
    url = args.url if "://" in args.url else str(endpoint)  # as given, or from --target
    plans = make_plans(args, url, framing, wire, deadline)
    progress_out = out if out.isatty() and not args.json else None
    with ctrl_c_counted() as interrupts:
        results, lost, interrupted = run_processes(
            plans, deadline + GRACE_SECONDS, progress_out, interrupts
        )
        unit = "exchanges" if framing is Framing.SEED else "messages"
        report = LoadReport(url, unit, plans, results, lost, interrupted)
        if args.json:
            import json

            text = json.dumps(report.as_dict())
        else:
            text = report.as_text()
        streams.write(out, text.encode() + b"\n")
    if report.interrupted:
        return streams.INTERRUPTED_EXIT
    return 0 if report.ok else 1


class Interrupts:
    """How many times Ctrl-C (SIGINT) came since the run started."""

    def __init__(self) -> None:
        self.count = 0

    def handle(self, signum: int, frame: FrameType | None) -> None:
        self.count += 1


@contextmanager
def ctrl_c_counted() -> Iterator[Interrupts]:
    """SIGINT counted instead of raised, so a run stops in order and reports (as wrk, hey)."""
    interrupts = Interrupts()
    previous = signal.signal(signal.SIGINT, interrupts.handle)
    try:
        yield interrupts
    finally:
        signal.signal(signal.SIGINT, previous)


@contextmanager
def sigint_blocked() -> Iterator[None]:
    """SIGINT held back (delivered when this ends): a process started meanwhile inherits
    the blocked mask, so Ctrl-C cannot interrupt a worker before it ignores SIGINT itself."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def run_processes(
    plans: list[Plan],
    hard_deadline: float,
    progress_out: BinaryIO | None,
    interrupts: Interrupts,
) -> tuple[list[WorkerResult], int, bool]:
    """Start one process per plan; their results, how many gave none in time, and
    whether Ctrl-C stopped the run before every worker reported."""
    context = multiprocessing.get_context("spawn")  # no fork of a possibly threaded parent
    progress: Any = context.RawArray("q", 2 * len(plans))
    results_queue: Any = context.Queue()
    start_line = context.Barrier(len(plans))
    # Closing the write end is the stop signal: every worker's read end turns readable.
    stop_reader, stop_writer = context.Pipe(duplex=False)
    processes = [
        context.Process(
            target=process_main,
            args=(plan, progress, slot, start_line, stop_reader, results_queue),
            daemon=True,
        )
        for slot, plan in enumerate(plans)
    ]
    with sigint_blocked():
        for process in processes:
            process.start()
    stop_reader.close()
    run = Run(processes, results_queue, start_line, stop_writer, interrupts)
    try:
        results, lost = run.collect(progress, plans, hard_deadline, progress_out)
        return results, lost, run.stopping
    finally:
        for process in processes:  # normally gone already; after Ctrl-C, or a hang, not
            process.join(timeout=1.0)
            if process.is_alive():
                process.kill()
                process.join()


class Run:
    """The parent's side of a running load: results as they come, and stopping on Ctrl-C."""

    def __init__(
        self,
        processes: list[Any],
        results_queue: Any,
        start_line: Any,
        stop: Any,
        interrupts: Interrupts,
    ) -> None:
        self.processes = processes
        self.results_queue = results_queue
        self.start_line = start_line
        self.stop = stop
        self.interrupts = interrupts
        self.stopping = False  # Ctrl-C came before every worker reported

    def collect(
        self,
        progress: Any,
        plans: list[Plan],
        hard_deadline: float,
        progress_out: BinaryIO | None,
    ) -> tuple[list[WorkerResult], int]:
        """Worker results as they come, until all came or the hard deadline passed.

        The first Ctrl-C asks every worker to stop and report what it completed
        (within STOP_SECONDS); a second one stops waiting for them.
        """
        planned = sum(plan.connections * plan.messages for plan in plans)
        results: dict[int, WorkerResult] = {}
        started = time.monotonic()
        while len(results) < len(self.processes) and time.monotonic() < hard_deadline:
            if self.interrupts.count and not self.stopping:
                self.stopping = True
                self.stop.close()
                self.start_line.abort()  # a worker still waiting at the start goes on, to stop
                hard_deadline = min(hard_deadline, time.monotonic() + STOP_SECONDS)
            if self.interrupts.count > 1:
                break
            # Results first, join after: a big result must leave the queue before its writer exits.
            try:
                slot, result = self.results_queue.get(timeout=0.25)
                results[slot] = result
            except queue.Empty:
                if not any(p.is_alive() for p in self.processes) and self.results_queue.empty():
                    break  # a worker died without a result
            if progress_out is not None:
                show_progress(progress_out, progress, planned, time.monotonic() - started)
        if progress_out is not None:
            streams.write(progress_out, b"\r\033[K")
        return [results[slot] for slot in sorted(results)], len(self.processes) - len(results)


def show_progress(out: BinaryIO, progress: Any, planned: int, elapsed: float) -> None:
    done = sum(progress[0::2])
    errors = sum(progress[1::2])
    rate = done / elapsed if elapsed > 0 else 0.0
    line = f"\r\033[K{done}/{planned} done  {rate:.0f}/s  errors {errors}  {elapsed:.1f}s"
    streams.write(out, line.encode())
