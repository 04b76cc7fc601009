"""The server process: listeners, admission, signals, graceful drain, summary, exit code."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import traceback
from collections.abc import Callable, Sequence
from typing import Any

from . import stop_signals, streams
from .config import Config, parse_config
from .connection import Connection, Settings
from .health import start_health
from .last_reply import LastReply
from .limits import Admission
from .listener import Listener, format_address
from .logs import EventLog, Value, route_asyncio_logs
from .stats import Stats

EXIT_OK = 0
EXIT_STARTUP = 1
EXIT_ABORTED = 3
EXIT_NO_LOG = 4  # stdout and stderr both closed or broken: the event log had nowhere to go
EXIT_SIGNAL_BASE = 128  # stopped by signal N before `ready`: 128+N, the shell's convention

# After aborting, how long to wait for the transports to report their close.
_ABORT_SETTLE_SECONDS = 1.0


class Server:
    """Runs until a signal (graceful drain) or --max-sessions ends it; `run()` gives the exit."""

    def __init__(self, config: Config, log: EventLog, loop_name: str = "asyncio") -> None:
        self.config = config
        self.log = log
        self.stats = Stats()
        self.settings = Settings(
            idle_timeout=config.idle_timeout,
            max_message_bytes=config.max_message_bytes,
            send_buffer_bytes=config.send_buffer_bytes,
        )
        self.draining = False  # read by every connection: a signal started the drain
        self._loop_name = loop_name
        self._connections: set[Connection] = set()
        self._adopting: set[asyncio.Task[None]] = set()
        self._no_connections = asyncio.Event()
        self._no_connections.set()
        self._admission = Admission(
            max_connections=config.max_connections,
            overflow=config.overflow,
            max_sessions=config.max_sessions,
            log=log,
            stats=self.stats,
            admit=self._admit,
            refuse=self._refuse,
            sessions_exhausted=self._on_sessions_exhausted,
        )
        self._health: asyncio.Server | None = None
        self._stopping = False  # listeners closed; exit once the last connection ends
        self._drain_task: asyncio.Task[None] | None = None
        self._abort_task: asyncio.Task[None] | None = None  # a second signal's abort
        self._done: asyncio.Future[int] | None = None
        self._ready = False  # the `ready` line is out: a signal from now on drains
        self._signals_handled = 0  # how many of stop_signals.received() were acted on

    async def run(self) -> int:
        """Start, serve, stop; the exit code (README: Exit codes). Logs `summary` last,
        unless it stopped before `ready`."""
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(self._on_loop_error)
        self._done = done = loop.create_future()
        stop_signals.hand_to_loop(loop, self._on_signal_wake)

        def log_lost() -> None:  # called inside a log write, wherever: act from the loop
            loop.call_soon(self._on_log_lost)

        self.log.when_lost = log_lost
        try:
            code = await self._start_and_serve(loop, done)
        finally:
            stop_signals.ignore(loop)  # the code is decided: a later signal changes nothing
        if self._ready:
            self._log_summary(code)
        return EXIT_NO_LOG if self.log.lost else code

    async def _start_and_serve(
        self, loop: asyncio.AbstractEventLoop, done: asyncio.Future[int]
    ) -> int:
        code = stop_before_ready(self.log)
        if code is not None:
            return code
        try:
            await self._open(loop)
        except OSError:
            self._stop_listening()
            return EXIT_STARTUP
        code = stop_before_ready(self.log)  # a signal that came while the listeners opened
        if code is not None:
            self._stop_listening()
            return code
        health = self._health_address()
        self.log.info(
            "ready",
            listeners=len(self._admission.listeners),
            health=health,
            loop=self._loop_name,
            pid=os.getpid(),
            max_connections=self.config.max_connections,
            overflow=self.config.overflow,
            backlog=self.config.backlog,
        )
        self._ready = True
        self._admission.start()
        return await done

    def _log_summary(self, code: int) -> None:
        self.log.info(
            "summary",
            connections=self.stats.connections,
            messages=self.stats.messages,
            bytes_in=self.stats.bytes_in,
            bytes_out=self.stats.bytes_out,
            errors=dict(sorted(self.stats.errors.items())),
            exit_code=code,
        )

    # --- startup -----------------------------------------------------------------

    async def _open(self, loop: asyncio.AbstractEventLoop) -> None:
        for endpoint in self.config.listen:
            try:
                listener = Listener(
                    loop, endpoint, self.config.backlog, self._admission.on_readable, self.log
                )
            except OSError as exc:
                startup_error(
                    self.log,
                    f"cannot listen on {endpoint}: {exc}",
                    listener=str(endpoint),
                    detail=str(exc),
                )
                raise
            self._admission.listeners.append(listener)
            self.log.info("listening", listener=listener.url, backlog=self.config.backlog)
        if self.config.health is not None:
            try:
                self._health = await start_health(self.config.health, self._health_status)
            except OSError as exc:
                health = str(self.config.health)
                startup_error(
                    self.log,
                    f"cannot open the health endpoint {health}: {exc}",
                    health=health,
                    detail=str(exc),
                )
                raise

    def _health_address(self) -> str:
        if self._health is None:
            return ""
        return format_address(self._health.sockets[0].getsockname())

    def _health_status(self) -> str:
        return f"connections={len(self._connections)} listeners={len(self._admission.listeners)}"

    # --- connections -------------------------------------------------------------

    def _admit(self, listener: Listener, sock: socket.socket, peer: str) -> None:
        connection = Connection(self, listener.url, listener.framing, peer)
        self._connections.add(connection)
        self._no_connections.clear()
        task = asyncio.get_running_loop().create_task(self._adopt(connection, sock))
        self._adopting.add(task)
        task.add_done_callback(self._adopting.discard)

    async def _adopt(self, connection: Connection, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        try:
            await loop.connect_accepted_socket(lambda: connection, sock=sock)
        except OSError as exc:
            # The peer vanished between accept() and the transport: nothing was said.
            sock.close()
            connection.log_error("reset", detail=str(exc))
            self.connection_closed(connection)

    def _refuse(self, sock: socket.socket, reply: bytes) -> None:
        task = asyncio.get_running_loop().create_task(self._adopt_refused(sock, reply))
        self._adopting.add(task)
        task.add_done_callback(self._adopting.discard)

    async def _adopt_refused(self, sock: socket.socket, reply: bytes) -> None:
        loop = asyncio.get_running_loop()
        try:
            await loop.connect_accepted_socket(lambda: LastReply(lambda: reply), sock=sock)
        except OSError:
            sock.close()  # the peer already left: nothing to tell it

    def connection_closed(self, connection: Connection) -> None:
        if connection not in self._connections:
            return
        self._connections.discard(connection)
        self._admission.released()
        if not self._connections:
            self._no_connections.set()
            if self._stopping and self._drain_task is None:
                self._finish(EXIT_OK)  # --max-sessions: the last session ended

    # --- stopping ----------------------------------------------------------------

    def _stop_listening(self) -> None:
        self._stopping = True
        self._admission.close()
        if self._health is not None:
            self._health.close()

    def _on_sessions_exhausted(self) -> None:
        self._stop_listening()
        self.log.info(
            "shutdown",
            reason="max-sessions",
            sessions=self.stats.connections,
            connections=len(self._connections),
        )
        if not self._connections:
            self._finish(EXIT_OK)

    def _on_signal_wake(self, _signum: int) -> None:
        """The loop's wake-up after a stop signal: act on those not acted on yet.

        Before `ready` the startup checks act on them; once the code is decided, nothing does.
        """
        if not self._ready or self._done is None or self._done.done():
            return
        new = stop_signals.received()[self._signals_handled :]
        self._signals_handled += len(new)
        for sig in new:
            self._on_signal(sig)

    def _on_log_lost(self) -> None:
        """No stream is left for the event log: stop as on SIGTERM, exit 4 (EXIT_NO_LOG)."""
        if self._ready and not self.draining and self._done is not None and not self._done.done():
            self._begin_drain(reason="log-lost")  # its lines go nowhere; the exit code tells

    def _on_signal(self, sig: signal.Signals) -> None:
        name = sig.name
        if self.draining:
            # A second signal: the operator does not want to wait.
            self.log.info("shutdown", signal=name, action="abort")
            if self._abort_task is not None:
                return  # a third: the abort is under way (another would log a second `drain`)
            if self._drain_task is not None:
                self._drain_task.cancel()
            self._abort_task = asyncio.get_running_loop().create_task(self._abort_all("aborted"))
            return
        self._begin_drain(signal=name)

    def _begin_drain(self, **cause: Value) -> None:
        self.draining = True
        self._stop_listening()  # first: once the line below is out, connects are refused
        self.log.info("shutdown", **cause, action="drain", connections=len(self._connections))
        for connection in list(self._connections):
            connection.begin_drain()
        self._drain_task = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        try:
            await asyncio.wait_for(self._no_connections.wait(), self.config.drain_timeout)
        except TimeoutError:
            await self._abort_all("timeout")
            return
        self.log.info("drain", result="complete")
        self._finish(EXIT_OK)

    async def _abort_all(self, result: str) -> None:
        # Those lingering after a reply the kernel already took are closed, not aborted.
        aborted = sum(connection.abort() for connection in list(self._connections))
        # Each reports within a few loop turns: an aborted or closed transport's
        # connection_lost is scheduled at once, and one still being adopted is aborted
        # by its connection_made. The wait only bounds that.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._no_connections.wait(), _ABORT_SETTLE_SECONDS)
        if self._decided():
            # The drain already ended (a third signal's abort, or a completed drain that
            # raced the second signal): its `drain` line is out, and `summary` may be too.
            return
        if result == "timeout" and not aborted:
            # Only connections lingering after their last reply were left: nothing lost.
            self.log.info("drain", result="complete")
            self._finish(EXIT_OK)
            return
        self.log.warning("drain", result=result, aborted=aborted)
        self._finish(EXIT_ABORTED)

    def _decided(self) -> bool:
        """The exit code is set: nothing may log `drain` or decide it again."""
        return self._done is not None and self._done.done()

    def _finish(self, code: int) -> None:
        if self._done is not None and not self._done.done():
            self._done.set_result(code)

    def _on_loop_error(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        # A bug of ours, not peer misbehaviour (that never reaches here): keep it on one line.
        exc = context.get("exception")
        detail = "".join(traceback.format_exception(exc)) if exc else ""
        self.log.error(
            "error", reason="internal", message=context.get("message", ""), detail=detail
        )


def _loop_factory(choice: str) -> tuple[Callable[[], asyncio.AbstractEventLoop] | None, str]:
    """uvloop when asked for or (auto) when importable; the standard loop otherwise."""
    if choice == "asyncio":
        return None, "asyncio"
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            raise
        return None, "asyncio"
    return uvloop.new_event_loop, "uvloop"


def stop_before_ready(log: EventLog) -> int | None:
    """The exit code if the server must stop before `ready`, else None.

    No stream left for the log: 4. A stop signal already received (stop_signals): one
    `shutdown action=exit` line and 128+N (143 for SIGTERM, 130 for SIGINT); nothing
    was served, so no drain and no summary.
    """
    if log.lost:
        return EXIT_NO_LOG
    received = stop_signals.received()
    if not received:
        return None
    code = EXIT_SIGNAL_BASE + received[0]
    log.info("shutdown", signal=received[0].name, action="exit", exit_code=code)
    return code


def startup_error(log: EventLog, message: str, **fields: Value) -> None:
    """`event=error reason=startup ...fields` in the log, and `message` as one line on
    stderr: whoever sent stdout elsewhere still sees why the server did not start."""
    log.error("error", reason="startup", **fields)
    if log.stream != "stderr":  # else that line is on stderr already
        streams.say_on_stderr(f"python -m socket_harness.server: error: {message}")


def main(argv: Sequence[str] | None = None) -> int:
    config = parse_config(argv)  # a usage error exits 2 here
    log = EventLog(config.log_format, level=config.log_level)
    route_asyncio_logs(log)
    code = stop_before_ready(log)
    if code is not None:
        return code
    try:
        loop_factory, loop_name = _loop_factory(config.loop)
    except ImportError as exc:
        startup_error(log, f"--loop uvloop: {exc}", detail=f"--loop uvloop: {exc}")
        return EXIT_STARTUP
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        return runner.run(Server(config, log, loop_name).run())
