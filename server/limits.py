"""Admission: --max-connections (overflow pause|reject) and --max-sessions across listeners."""

from __future__ import annotations

import socket
from collections.abc import Callable

from ..protocol import ErrorReason, codec_for
from .listener import Listener
from .logs import EventLog
from .stats import Stats

# Connections taken per readiness event, so one busy listener cannot starve the loop.
ACCEPT_BATCH = 64

Admit = Callable[[Listener, socket.socket, str], None]
# Send these bytes on this accepted socket as its only reply, then close (lingering).
Refuse = Callable[[socket.socket, bytes], None]


class Admission:
    """Decides, per pending connection, whether it is served, refused `busy`, or left queued.

    Pause mode stops calling accept() on every listener the moment the last slot
    is taken, so the kernel's accept queue (listen backlog) holds the rest in
    order; the first free slot resumes accepting.
    """

    def __init__(
        self,
        *,
        max_connections: int,
        overflow: str,
        max_sessions: int,
        log: EventLog,
        stats: Stats,
        admit: Admit,
        refuse: Refuse,
        sessions_exhausted: Callable[[], None],
    ) -> None:
        self._max_connections = max_connections
        self._reject_when_full = overflow == "reject"
        self._max_sessions = max_sessions
        self._log = log
        self._stats = stats
        self._admit = admit
        self._refuse = refuse
        self._sessions_exhausted = sessions_exhausted
        self.listeners: list[Listener] = []
        self.active = 0
        self._closed = False

    @property
    def full(self) -> bool:
        return 0 < self._max_connections <= self.active

    def start(self) -> None:
        for listener in self.listeners:
            listener.resume()

    def close(self) -> None:
        """Stop listening everywhere: new connects are refused from now on."""
        self._closed = True
        for listener in self.listeners:
            listener.close()

    def released(self) -> None:
        """A served connection ended: its slot is free."""
        self.active -= 1
        if not self._closed and not self.full and not self._reject_when_full:
            for listener in self.listeners:
                listener.resume()

    def on_readable(self, listener: Listener) -> None:
        for _ in range(ACCEPT_BATCH):
            if self._closed or self._pause_if_full():
                return
            accepted = listener.accept()
            if accepted is None:
                return
            sock, peer = accepted
            if self.full:
                self._refuse_busy(listener, sock, peer)
                continue
            self.active += 1
            self._stats.connections += 1
            self._admit(listener, sock, peer)
            if self._max_sessions and self._stats.connections >= self._max_sessions:
                self.close()
                self._sessions_exhausted()
                return
            if self._pause_if_full():
                return

    def _pause_if_full(self) -> bool:
        """Pause mode with every slot taken: stop accepting on every listener (True if so)."""
        if self._reject_when_full or not self.full:
            return False
        for listener in self.listeners:
            listener.pause()
        return True

    def _refuse_busy(self, listener: Listener, sock: socket.socket, peer: str) -> None:
        """Overflow reject: `ERR busy` instead of the greeting, then the lingering close."""
        self._stats.errors[ErrorReason.BUSY.value] += 1
        self._log.warning("error", listener=listener.url, peer=peer, reason=ErrorReason.BUSY.value)
        self._refuse(sock, codec_for(listener.framing).encode_error(ErrorReason.BUSY))
