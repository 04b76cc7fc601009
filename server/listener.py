"""A listening socket whose accept() the server calls itself, one connection at a time.

asyncio's own accept loop takes up to `backlog` connections per readiness event,
which would overshoot --max-connections; owning the loop lets a full server stop
calling accept() at once, so the kernel's accept queue holds the rest.
"""

from __future__ import annotations

import asyncio
import errno
import socket
from collections.abc import Callable

from ..protocol import Endpoint, format_host_port
from .logs import EventLog

# accept() failures that mean "the machine is short of something": retry later.
_RESOURCE_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
RESOURCE_RETRY_SECONDS = 1.0


def format_address(address: tuple[str, int] | tuple[str, int, int, int]) -> str:
    """`host:port` (or `[v6]:port`) for an AF_INET `(host, port)` or AF_INET6
    `(host, port, flowinfo, scope_id)` address: all that accept() and getsockname()
    give for the TCP sockets bind_socket makes (socket(7) "Socket families")."""
    return format_host_port(address[0], address[1])


def bind_socket(host: str, port: int, backlog: int) -> socket.socket:
    """A non-blocking listening TCP socket; raises OSError (address in use, ...)."""
    family, _, _, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
        sock.listen(backlog)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


class Listener:
    """One `--listen` URL: its socket, whether accepting is on, and accept() itself."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        endpoint: Endpoint,
        backlog: int,
        on_readable: Callable[[Listener], None],
        log: EventLog,
    ) -> None:
        self._loop = loop
        self._sock = bind_socket(endpoint.host, endpoint.port, backlog)
        self._on_readable = on_readable
        self._log = log
        self._wanted = False  # accepting is on (the admission policy's say)
        self._watching = False  # the reader is registered with the loop
        self._retry: asyncio.TimerHandle | None = None
        self.framing = endpoint.framing
        # The bound address, so port 0 shows the real port.
        self.endpoint = Endpoint(endpoint.framing, endpoint.host, self._sock.getsockname()[1])
        self.url = str(self.endpoint)

    @property
    def closed(self) -> bool:
        return self._sock.fileno() < 0

    def resume(self) -> None:
        """Accept pending connections whenever the socket is readable."""
        self._wanted = True
        self._sync()

    def pause(self) -> None:
        """Stop accepting: pending connects wait in the kernel's accept queue."""
        self._wanted = False
        self._sync()

    def _sync(self) -> None:
        watch = self._wanted and self._retry is None and not self.closed
        if watch and not self._watching:
            self._loop.add_reader(self._sock.fileno(), self._on_readable, self)
        elif self._watching and not watch:
            self._loop.remove_reader(self._sock.fileno())
        self._watching = watch

    def accept(self) -> tuple[socket.socket, str] | None:
        """One pending connection as (non-blocking socket, peer), or None when none is ready."""
        while True:
            try:
                conn, address = self._sock.accept()
            except (BlockingIOError, InterruptedError):
                return None
            except ConnectionAbortedError:
                continue  # the peer gave up while queued: take the next one
            except OSError as exc:
                if exc.errno not in _RESOURCE_ERRNOS:
                    raise
                self._log.error("error", listener=self.url, reason="accept", detail=str(exc))
                self._back_off()
                return None
            conn.setblocking(False)
            return conn, format_address(address)

    def _back_off(self) -> None:
        # Out of file descriptors: stop watching for a while instead of spinning.
        self._retry = self._loop.call_later(RESOURCE_RETRY_SECONDS, self._retry_now)
        self._sync()

    def _retry_now(self) -> None:
        self._retry = None
        self._sync()

    def close(self) -> None:
        """Stop listening: new connects are refused, queued ones are reset by the kernel."""
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        self.pause()
        self._sock.close()
