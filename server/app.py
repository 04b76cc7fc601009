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

from .config import Config, parse_config
from .connection import Connection, Settings
from .health import start_health
from .last_reply import LastReply
from .limits import Admission
from .listener import Listener, format_address
from .logs import EventLog, route_asyncio_logs
from .stats import Stats

EXIT_OK = 0
EXIT_STARTUP = 1
EXIT_ABORTED = 3

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
        self._done: asyncio.Future[int] | None = None

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(self._on_loop_error)
        self._done = loop.create_future()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_signal, sig)
        try:
            await self._open(loop)
        except OSError:
            self._stop_listening()
            return EXIT_STARTUP
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
        self._admission.start()
        code = await self._done
        self.log.info(
            "summary",
            connections=self.stats.connections,
            messages=self.stats.messages,
            bytes_in=self.stats.bytes_in,
            bytes_out=self.stats.bytes_out,
            errors=dict(sorted(self.stats.errors.items())),
            exit_code=code,
        )
        return code

    # --- startup -----------------------------------------------------------------

    async def _open(self, loop: asyncio.AbstractEventLoop) -> None:
        for endpoint in self.config.listen:
            try:
                listener = Listener(
                    loop, endpoint, self.config.backlog, self._admission.on_readable, self.log
                )
            except OSError as exc:
                self.log.error("error", reason="startup", listener=str(endpoint), detail=str(exc))
                raise
            self._admission.listeners.append(listener)
            self.log.info("listening", listener=listener.url, backlog=self.config.backlog)
        if self.config.health is not None:
            try:
                self._health = await start_health(self.config.health, self._health_status)
            except OSError as exc:
                self.log.error(
                    "error", reason="startup", health=str(self.config.health), detail=str(exc)
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

    def _on_signal(self, sig: int) -> None:
        name = signal.Signals(sig).name
        if self.draining:
            # A second signal: the operator does not want to wait.
            self.log.info("shutdown", signal=name, action="abort")
            if self._drain_task is not None:
                self._drain_task.cancel()
            asyncio.get_running_loop().create_task(self._abort_all("aborted"))
            return
        self.draining = True
        self._stop_listening()  # first: once the line below is out, connects are refused
        self.log.info("shutdown", signal=name, action="drain", connections=len(self._connections))
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
        # Sockets accepted but not yet adopted never report: the process exit closes them.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._no_connections.wait(), _ABORT_SETTLE_SECONDS)
        if result == "timeout" and not aborted:
            # Only connections lingering after their last reply were left: nothing lost.
            self.log.info("drain", result="complete")
            self._finish(EXIT_OK)
            return
        self.log.warning("drain", result=result, aborted=aborted)
        self._finish(EXIT_ABORTED)

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


def main(argv: Sequence[str] | None = None) -> int:
    config = parse_config(argv)  # a usage error exits 2 here
    log = EventLog(config.log_format, level=config.log_level)
    route_asyncio_logs(log)
    try:
        loop_factory, loop_name = _loop_factory(config.loop)
    except ImportError as exc:
        log.error("error", reason="startup", detail=f"--loop uvloop: {exc}")
        return EXIT_STARTUP
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        return runner.run(Server(config, log, loop_name).run())
