"""socket_harness/wire.py against targets that misbehave: one that floods its peer after the
first read, one that resets the connection at once (on its first byte). Each is a tiny
stdlib server on loopback in a thread of this process (a real socket, a real RST); the
peer must fail with one line, in bounded time and memory, never a raw ConnectionResetError.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from socket_harness.wire import MAX_RECEIVED, WirePeer

Serve = Callable[[socket.socket], None]
BOUND = 5.0  # seconds either misbehaviour may take to be told


def flood(conn: socket.socket) -> None:
    """Read once, then send until the peer goes away."""
    conn.recv(1024)
    chunk = b"x" * 65536
    try:
        while True:
            conn.sendall(chunk)
    except OSError:
        pass


def reset(conn: socket.socket) -> None:
    """Close with an RST once the peer sent something (SO_LINGER, zero timeout). Not before:
    an RST that races the connect fails the connect itself (already one line)."""
    conn.recv(1)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


@pytest.fixture
def serving(request: pytest.FixtureRequest) -> Iterator[int]:
    """A loopback listener serving each connection with `request.param`; its port."""
    serve: Serve = request.param
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(BOUND)

    def loop() -> None:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            serve(conn)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()
        thread.join(BOUND)


@pytest.mark.parametrize("serving", [flood], indirect=True)
def test_a_flooding_target_fails_the_read_at_the_cap(serving: int) -> None:
    started = time.monotonic()
    with WirePeer("flooder", "127.0.0.1", serving) as peer:
        peer.write(b"hello\n")
        with pytest.raises(AssertionError) as raised:
            peer.read_until_close("the answer")
        kept = len(peer.received)
    message = str(raised.value)
    assert f"flooder (127.0.0.1:{serving}) sent more than {MAX_RECEIVED} bytes" in message
    assert "while the peer waited for the answer" in message
    assert "\n" not in message
    assert kept <= MAX_RECEIVED + 65536  # one recv past the cap, never hundreds of MB
    assert time.monotonic() - started < BOUND


@pytest.mark.parametrize("serving", [reset], indirect=True)
def test_a_reset_after_accept_is_one_line_naming_what_was_awaited(serving: int) -> None:
    with WirePeer("resetter line", "127.0.0.1", serving) as peer:
        peer.write(b"hello\n")
        with pytest.raises(AssertionError) as raised:
            peer.take(6, "the answer")
    message = str(raised.value)
    assert not isinstance(raised.value, ConnectionResetError)
    assert message == (
        f"resetter line (127.0.0.1:{serving}) reset the connection after 0 of 6 bytes "
        "while the peer waited for the answer; received 0 bytes"
    )
