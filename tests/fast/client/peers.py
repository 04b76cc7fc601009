"""Misbehaving TCP servers the real server never imitates: the peer under test.

Each runs a script per accepted connection on a thread, on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from types import TracebackType

from socket_harness.protocol import Framing
from tests.oracle import model

Script = Callable[[socket.socket], None]
PEER_TIMEOUT = 10.0  # no peer socket operation waits longer than this


def hold_until_client_closes(sock: socket.socket) -> None:
    """Read and drop whatever comes until the client closes (or PEER_TIMEOUT)."""
    with contextlib.suppress(OSError):
        while sock.recv(65536):
            pass


def never_greets(sock: socket.socket) -> None:
    """Accepts, then says nothing at all."""
    hold_until_client_closes(sock)


def tutorial_without_answer(framing: Framing | str) -> Script:
    """Greets, reads once, closes without answering: a server half-written to the tutorial."""
    greeting = model.greeting(Framing(framing).value)

    def script(sock: socket.socket) -> None:
        sock.sendall(greeting)
        sock.recv(8192)

    return script


def sends_garbage(sock: socket.socket) -> None:
    """Not a socket-harness server at all."""
    sock.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")
    hold_until_client_closes(sock)


def acks_the_first_line_twice(sock: socket.socket) -> None:
    """A line server that answers its first message twice: an ack of nothing sent."""
    sock.sendall(model.greeting("line"))
    received = b""
    while b"\n" not in received:
        chunk = sock.recv(65536)
        if not chunk:
            return
        received += chunk
    ack = model.ack("line", received.partition(b"\n")[0])
    sock.sendall(ack + ack)
    hold_until_client_closes(sock)


def acks_frames_altered(alter: Callable[[bytes], bytes]) -> Script:
    """A frame server whose every ack echoes the message with `alter` applied."""

    def script(sock: socket.socket) -> None:
        sock.sendall(model.greeting("frame"))
        buffered = b""
        while chunk := sock.recv(65536):
            stream = buffered + chunk
            reading = model.read("frame", stream, 1 << 20)
            buffered = stream[len(stream) - reading.partial :]  # an unfinished frame
            for message in reading.messages:
                sock.sendall(model.ack("frame", alter(message)))

    return script


def closes_at_once(sock: socket.socket) -> None:
    """Accepts and closes: what a container port proxy does before its backend listens."""


class ScriptedPeer:
    """A listening socket on 127.0.0.1 that runs `script` for every connection."""

    def __init__(self, script: Script, port: int = 0) -> None:
        self._script = script
        self._listener = socket.create_server(("127.0.0.1", port))
        self._listener.settimeout(0.1)
        self.port: int = self._listener.getsockname()[1]
        self._accepted = 0
        self._changed = threading.Condition()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def url(self, framing: Framing | str) -> str:
        return f"{Framing(framing).value}://127.0.0.1:{self.port}"

    def wait_accepted(self, count: int, timeout: float = 10.0) -> None:
        """Block until `count` connections were accepted; AssertionError on timeout."""
        with self._changed:
            if not self._changed.wait_for(lambda: self._accepted >= count, timeout):
                raise AssertionError(f"{self._accepted} connections accepted, wanted {count}")

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._changed:
                self._accepted += 1
                self._changed.notify_all()
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(PEER_TIMEOUT)
            with contextlib.suppress(OSError):  # the client went away: that is its right
                self._script(conn)

    def close(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)
        self._listener.close()

    def __enter__(self) -> ScriptedPeer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
