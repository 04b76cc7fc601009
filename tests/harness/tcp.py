"""The kernel's view of a test's own TCP socket (Linux): how the server closed it."""

from __future__ import annotations

import fcntl
import socket
import struct
import termios

from .waiting import wait_until

# Linux TCP states (include/net/tcp_states.h), as TCP_INFO's first byte gives them.
TCP_CLOSE = 7
TCP_CLOSE_WAIT = 8


def wait_for_server_close(sock: socket.socket, timeout: float = 5.0) -> str:
    """Wait until the server has closed its side of `sock`: "fin" (clean) or "reset".

    "fin": its FIN came and its kernel acknowledged every byte we sent, so it has
    no reason left to reset us. "reset": an RST came, which can destroy a reply
    still in flight. Reading cannot tell them apart once the FIN came first (the
    kernel then reports EOF, not the reset), hence TCP_INFO's state and SIOCOUTQ
    (bytes we sent that the server's kernel has not acknowledged).
    """

    def settled() -> str | None:
        state = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0]
        if state == TCP_CLOSE:
            return "reset"
        (unacked,) = struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0" * 4))
        return "fin" if state == TCP_CLOSE_WAIT and unacked == 0 else None

    return wait_until(settled, timeout=timeout, what="the server to close its side")


def ipv6_loopback() -> bool:
    """True if this host has IPv6 loopback (::1) to listen on (a kernel without IPv6,
    or a container started with it disabled, has not)."""
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True
