"""Play a reproducer's steps over real sockets and say where the target first differed.

Every connect, read and write has the reproducer's timeout. A write goes out
as one send() call sequence with TCP_NODELAY, so each `send` step leaves as its
own segment(s); while it waits to write, nothing is read (a plan that must read
first says so with an `expect`).
"""

from __future__ import annotations

import contextlib
import socket
import struct
import time
from dataclasses import dataclass, field

from .escape import escape
from .reproducer import (
    Expect,
    ExpectEof,
    Failure,
    Pause,
    Reproducer,
    Reset,
    Send,
    Shutdown,
    Step,
)

_READ = 65536
_LINGER_ZERO = struct.pack("ii", 1, 0)
# How much of a mismatch a one-line message shows.
_SHOWN = 60


class TargetUnreachable(Exception):
    """The target refused or never answered the connect (not a verdict on its bytes)."""


@dataclass
class _Peer:
    sock: socket.socket
    buffer: bytearray = field(default_factory=bytearray)
    eof: bool = False
    reset: bool = False


@dataclass(frozen=True, slots=True)
class Outcome:
    """Steps run and the first difference (None: the target answered as expected)."""

    steps_run: int
    failure: Failure | None
    seconds: float


def play(reproducer: Reproducer, host: str, port: int) -> Outcome:
    """Run every step against host:port; stop at the first difference.

    Raises TargetUnreachable when a connect fails (refused, timed out).
    """
    started = time.monotonic()
    peers: dict[int, _Peer] = {}
    try:
        for number, step in enumerate(reproducer.steps, 1):
            detail = _run(step, peers, host, port, reproducer.timeout)
            if detail is not None:
                got = _got(step, peers)
                failure = Failure(number, got, f"step {number}{_on(step)}: {detail}")
                return Outcome(number, failure, time.monotonic() - started)
    finally:
        for peer in peers.values():
            peer.sock.close()
    return Outcome(len(reproducer.steps), None, time.monotonic() - started)


def _on(step: Step) -> str:
    conn = getattr(step, "conn", None)
    return "" if conn is None else f" (conn {conn})"


def _got(step: Step, peers: dict[int, _Peer]) -> bytes:
    conn = getattr(step, "conn", None)
    peer = peers.get(conn) if conn is not None else None
    return bytes(peer.buffer) if peer is not None else b""


def _connect(host: str, port: int, timeout: float) -> socket.socket:
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:
        why = "no answer" if isinstance(exc, TimeoutError) else (exc.strerror or str(exc))
        raise TargetUnreachable(f"cannot connect to {host}:{port}: {why}") from None
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _peer(peers: dict[int, _Peer], conn: int, host: str, port: int, timeout: float) -> _Peer:
    if conn not in peers:
        peers[conn] = _Peer(_connect(host, port, timeout))
    return peers[conn]


def _run(step: Step, peers: dict[int, _Peer], host: str, port: int, timeout: float) -> str | None:
    """Do one step; a one-line reason when the target differed, else None."""
    if isinstance(step, Pause):
        time.sleep(step.seconds)
        return None
    peer = _peer(peers, step.conn, host, port, timeout)
    match step:
        case Send(_, data):
            try:
                peer.sock.sendall(data)
            except TimeoutError:
                return f"the target took none of {len(data)} bytes for {timeout:g} s"
            except OSError as exc:
                return f"the write failed: {exc.strerror or exc} (the target closed or reset)"
        case Shutdown():
            with contextlib.suppress(OSError):  # already reset by the target: say so on read
                peer.sock.shutdown(socket.SHUT_WR)
        case Reset():
            with contextlib.suppress(OSError):
                peer.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_ZERO)
            peer.sock.close()
            peer.eof = True
        case Expect(_, data):
            return _expect(peer, data, timeout)
        case ExpectEof():
            return _expect_eof(peer, timeout)
    return None


def _fill(peer: _Peer, want: int, deadline: float) -> None:
    """Read until `want` bytes are buffered, EOF, a reset or the deadline."""
    while len(peer.buffer) < want and not peer.eof:
        left = deadline - time.monotonic()
        if left <= 0:
            return
        peer.sock.settimeout(left)
        try:
            data = peer.sock.recv(_READ)
        except TimeoutError:
            return
        except OSError:
            peer.eof = peer.reset = True
            return
        if not data:
            peer.eof = True
        peer.buffer += data


def _expect(peer: _Peer, want: bytes, timeout: float) -> str | None:
    _fill(peer, len(want), time.monotonic() + timeout)
    got = bytes(peer.buffer[: len(want)])
    if got == want:
        del peer.buffer[: len(want)]
        return None
    at = next((i for i, (a, b) in enumerate(zip(got, want, strict=False)) if a != b), len(got))
    if at < len(got):
        why = f"byte {at} differs"
    elif peer.reset:
        why = f"reset by the target after {len(got)} of {len(want)} bytes"
    elif peer.eof:
        why = f"the target closed after {len(got)} of {len(want)} bytes"
    else:
        why = f"only {len(got)} of {len(want)} bytes within {timeout:g} s"
    return f"{why}: expected '{_show(want, at)}', got '{_show(got, at)}'"


def _expect_eof(peer: _Peer, timeout: float) -> str | None:
    deadline = time.monotonic() + timeout
    while not peer.eof and not peer.buffer and time.monotonic() < deadline:
        _fill(peer, 1, deadline)
    if peer.buffer:
        return f"expected the target to close, got '{_show(bytes(peer.buffer), 0)}'"
    if peer.reset:
        return "expected a close (FIN), got a reset (RST)"
    if not peer.eof:
        return f"expected the target to close, it kept the connection open {timeout:g} s"
    return None


def _show(data: bytes, at: int) -> str:
    """`data` escaped, around offset `at`, cut to a line's length."""
    start = max(0, at - _SHOWN // 2)
    piece = escape(data[start : start + _SHOWN])
    return ("…" if start else "") + piece + ("…" if start + _SHOWN < len(data) else "")
