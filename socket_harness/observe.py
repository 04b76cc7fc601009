"""Watch a target's process from the host through /proc: open file descriptors, resident
memory, the accept-queue depth of its listen sockets, and the bytes a connection holds
that the target has not read yet.

Nothing runs inside the target, so this works for any image, one with no shell
or `ls` included. `pid` is the process's PID as the host sees it: for a
container, `docker inspect -f '{{.State.Pid}}' NAME` (the docker SDK's
`container.attrs["State"]["Pid"]`), its main process. Reading another user's
`/proc/PID/fd` needs root or CAP_SYS_PTRACE on the host (proc(5)); the other
files are world-readable. `/proc/PID/net/tcp` shows the sockets of the network
namespace that process is in (the container's own), not the host's.

Everything here is standard library only. A process that is gone, or a file
that cannot be read, raises ObservationError with one line saying which.
"""

from __future__ import annotations

import os
import socket
import struct
from dataclasses import dataclass

TCP_LISTEN = 0x0A  # include/net/tcp_states.h: TCP_LISTEN, the `st` column of /proc/net/tcp


class ObservationError(Exception):
    """/proc could not tell: the process is gone, access was denied, or no such socket."""


def _read(pid: int, name: str) -> str:
    path = f"/proc/{pid}/{name}"
    try:
        with open(path, encoding="ascii", errors="replace") as file:
            return file.read()
    except FileNotFoundError:
        raise ObservationError(f"process {pid} is gone ({path} does not exist)") from None
    except PermissionError:
        raise ObservationError(f"{path}: permission denied") from None
    except ProcessLookupError:
        raise ObservationError(f"process {pid} is gone") from None


def fd_count(pid: int) -> int:
    """How many file descriptors process `pid` has open (entries of /proc/PID/fd).

    Sockets, pipes, files and event-loop descriptors alike; a listen socket and
    each accepted connection count one. Needs root or CAP_SYS_PTRACE for
    another user's process (proc(5), ptrace access mode).
    """
    path = f"/proc/{pid}/fd"
    try:
        return len(os.listdir(path))
    except FileNotFoundError:
        raise ObservationError(f"process {pid} is gone ({path} does not exist)") from None
    except PermissionError:
        raise ObservationError(
            f"{path}: permission denied (another user's descriptors need root or "
            "CAP_SYS_PTRACE on the host)"
        ) from None


def _status_bytes(pid: int, field: str) -> int:
    for line in _read(pid, "status").splitlines():
        name, _, rest = line.partition(":")
        if name == field:
            amount, unit = rest.split()
            if unit != "kB":
                raise ObservationError(f"/proc/{pid}/status {field}: unknown unit {unit!r}")
            return int(amount) * 1024  # the kernel's "kB" is KiB
    raise ObservationError(f"/proc/{pid}/status has no {field} (a kernel thread, or a zombie)")


def rss_bytes(pid: int) -> int:
    """Resident memory of process `pid` now, in bytes (VmRSS of /proc/PID/status).

    VmRSS is RssAnon + RssFile + RssShmem, for the whole process (all threads);
    the kernel keeps it in pages and prints KiB, so it moves in 4 KiB steps.
    """
    return _status_bytes(pid, "VmRSS")


def peak_rss_bytes(pid: int) -> int:
    """The most resident memory process `pid` ever had, in bytes (VmHWM, "high water mark")."""
    return _status_bytes(pid, "VmHWM")


@dataclass(frozen=True)
class ListenSocket:
    """One TCP socket in LISTEN state, from /proc/PID/net/tcp or tcp6.

    `host` and `port` are its local address; `queued` is its accept-queue depth:
    connections whose handshake completed and that no accept() took yet (the
    kernel's sk_ack_backlog, printed as `rx_queue` for a listener). The queue
    holds up to backlog+1 connections (it counts as full only once *more* than
    the backlog are queued, net/core/sock.h sk_acceptq_is_full); with it full
    the kernel drops further SYNs, so those connects time out, not refused.
    The backlog itself is not shown there: `tx_queue` is 0 for a listener
    (measured on Linux 6.18); only inet_diag (`ss -lt`, Send-Q) reports it.
    `inode` is the socket's inode (`socket:[INODE]` among /proc/PID/fd).
    """

    host: str
    port: int
    queued: int
    inode: int


def _address(text: str) -> tuple[str, int]:
    """`0100007F:D409` (IPv4) or 32 hex digits (IPv6): address words in host byte order."""
    hex_host, hex_port = text.split(":")
    words = [int(hex_host[i : i + 8], 16) for i in range(0, len(hex_host), 8)]
    raw = struct.pack(f"={len(words)}I", *words)
    family = socket.AF_INET if len(raw) == 4 else socket.AF_INET6
    return socket.inet_ntop(family, raw), int(hex_port, 16)


def parse_listen_sockets(text: str) -> list[ListenSocket]:
    """The LISTEN sockets in the text of /proc/net/tcp or /proc/net/tcp6 (proc(5) format:
    `sl local_address rem_address st tx_queue:rx_queue ... uid timeout inode ...`)."""
    found = []
    for line in text.splitlines()[1:]:  # the first line names the columns
        fields = line.split()
        if len(fields) < 10 or int(fields[3], 16) != TCP_LISTEN:
            continue
        host, port = _address(fields[1])
        queued = int(fields[4].split(":")[1], 16)
        found.append(ListenSocket(host, port, queued, int(fields[9])))
    return found


def unread_bytes(pid: int, port: int, peer_port: int) -> int:
    """Bytes that arrived on the connection from `peer_port` to local `port`, in `pid`'s
    network namespace, and that no read took yet: its `rx_queue` in /proc/PID/net/tcp{,6}.
    0 once the target has read everything its peer sent. Raises ObservationError when no
    such connection is there (it closed, or never reached that namespace)."""
    for name in ("net/tcp", "net/tcp6"):
        try:
            text = _read(pid, name)
        except ObservationError:
            if name == "net/tcp" or not os.path.exists(f"/proc/{pid}"):
                raise
            continue  # no IPv6 in this namespace
        for line in text.splitlines()[1:]:
            fields = line.split()
            if len(fields) < 10 or int(fields[3], 16) == TCP_LISTEN:
                continue
            if _address(fields[1])[1] == port and _address(fields[2])[1] == peer_port:
                return int(fields[4].split(":")[1], 16)
    raise ObservationError(
        f"no connection from port {peer_port} to port {port} in the network namespace of "
        f"process {pid}"
    )


def listen_sockets(pid: int) -> list[ListenSocket]:
    """Every TCP listen socket (IPv4 and IPv6) in the network namespace of process `pid`.

    That is the namespace's, not only `pid`'s own: a target whose listener
    belongs to a child of `pid` (a shell wrapper, a forking server) is seen too.
    """
    sockets = parse_listen_sockets(_read(pid, "net/tcp"))
    try:
        sockets += parse_listen_sockets(_read(pid, "net/tcp6"))
    except ObservationError:
        if not os.path.exists(f"/proc/{pid}"):
            raise
        # no IPv6 in this kernel or namespace: no tcp6 file
    return sockets


def accept_queue_depth(pid: int, port: int) -> int:
    """Connections waiting in the accept queue of `port`'s listen sockets, in `pid`'s namespace.

    The sum over every socket listening on `port` there (0.0.0.0 and ::, or
    several with SO_REUSEPORT). With a backlog B and nobody accepting, it grows
    by one per completed connect up to B+1, then stays (see ListenSocket).
    Raises ObservationError if nothing listens on `port`.
    """
    matching = [item for item in listen_sockets(pid) if item.port == port]
    if not matching:
        raise ObservationError(
            f"no socket listens on port {port} in the network namespace of process {pid}"
        )
    return sum(item.queued for item in matching)
