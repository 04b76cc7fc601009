"""socket_harness.observe against real processes on this host: a listener that never
accepts, descriptors opened and closed, memory allocated and freed, a process in a
network namespace of its own, and a process that is gone."""

from __future__ import annotations

import os
import select
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from socket_harness.observe import (
    ObservationError,
    accept_queue_depth,
    fd_count,
    listen_sockets,
    peak_rss_bytes,
    rss_bytes,
)
from tests.harness.tcp import ipv6_loopback
from tests.harness.waiting import wait_until

TIMEOUT = 5.0  # loopback handshakes take microseconds; a red run stays short
MIB = 1024 * 1024

# A listener that never calls accept(); it obeys one command per line on stdin.
CHILD = r"""
import fcntl, os, socket, struct, sys
def _closed(fd):
    try:
        os.fstat(fd)
    except OSError:
        return True
    return False
host, backlog, own_netns, connects = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
if own_netns == "1":  # a fresh namespace's loopback is down: SIOCGIFFLAGS, then SIOCSIFFLAGS
    probe = socket.socket()
    flags = struct.unpack("16sh", fcntl.ioctl(probe, 0x8913, struct.pack("16sh", b"lo", 0)))[1]
    fcntl.ioctl(probe, 0x8914, struct.pack("16sh", b"lo", flags | 1))
family = socket.AF_INET6 if ":" in host else socket.AF_INET
listener = socket.socket(family)
listener.bind((host, 0))
listener.listen(backlog)
port = listener.getsockname()[1]
clients = [socket.create_connection((host, port), timeout=5) for _ in range(connects)]
print(port, flush=True)
opened, memory = [], None
for line in sys.stdin:
    command, _, argument = line.strip().partition(" ")
    if command == "open":
        opened += [os.open(os.devnull, os.O_RDONLY) for _ in range(int(argument))]
    elif command == "close":
        for fd in opened:
            os.close(fd)
        opened = []
    elif command == "alloc":
        memory = bytearray(b"\x01") * int(argument)  # written, so every page is resident
    elif command == "free":
        memory = None
    elif command == "count":  # its own count, found without /proc: fstat on every number
        print(sum(1 for fd in range(1024) if not _closed(fd)), flush=True)  # lowest fds first
        continue
    print("ok", flush=True)
"""


class Child:
    """The CHILD script as a real process; `ask` sends one command and waits for its `ok`."""

    def __init__(
        self, host: str = "127.0.0.1", backlog: int = 1, netns: bool = False, connects: int = 0
    ) -> None:
        argv = [sys.executable, "-c", CHILD, host, str(backlog), str(int(netns)), str(connects)]
        self.proc = subprocess.Popen(
            ["unshare", "--net", *argv] if netns else argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.port = int(self.readline())

    @property
    def pid(self) -> int:
        return self.proc.pid

    def readline(self) -> str:
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], TIMEOUT)
        assert ready, f"the child said nothing in {TIMEOUT} s"
        line = self.proc.stdout.readline()
        assert line, f"the child exited: {self.proc.wait(TIMEOUT)}"
        return line.strip()

    def ask(self, command: str, answer: str = "ok") -> str:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        line = self.readline()
        assert answer == "" or line == answer
        return line

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait(TIMEOUT)
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()


@pytest.fixture
def children() -> Iterator[list[Child]]:
    started: list[Child] = []
    yield started
    for child in started:
        child.stop()


def wait_for_depth(child: Child, queued: int) -> None:
    """The handshake's last ACK lands in the kernel soon after connect() returns: poll."""
    wait_until(
        lambda: accept_queue_depth(child.pid, child.port) == queued,
        timeout=TIMEOUT,
        what=f"an accept queue of {queued}",
    )


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        pytest.param(
            "::1",
            marks=pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 loopback here"),
        ),
    ],
)
def test_accept_queue_depth_counts_completed_connects_up_to_backlog_plus_one(
    children: list[Child], host: str
) -> None:
    backlog = 3
    child = Child(host, backlog)
    children.append(child)
    assert accept_queue_depth(child.pid, child.port) == 0
    clients = []
    try:
        for queued in range(1, backlog + 2):
            clients.append(socket.create_connection((host, child.port), timeout=TIMEOUT))
            wait_for_depth(child, queued)
        # B+1 queued: the kernel drops the next SYN, so this connect times out.
        with pytest.raises(TimeoutError):
            clients.append(socket.create_connection((host, child.port), timeout=0.5))
        assert accept_queue_depth(child.pid, child.port) == backlog + 1
    finally:
        for client in clients:
            client.close()


def test_the_accept_queue_is_read_in_the_process_own_network_namespace(
    children: list[Child],
) -> None:
    if shutil.which("unshare") is None:
        pytest.skip("no unshare(1) here")
    probe = subprocess.run(["unshare", "--net", "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip(f"unshare --net is not allowed here: {probe.stderr.decode().strip()}")
    # The child connects to itself twice, inside a namespace this process cannot reach.
    child = Child(backlog=4, netns=True, connects=2)
    children.append(child)
    assert accept_queue_depth(child.pid, child.port) == 2
    theirs = {item.inode for item in listen_sockets(child.pid)}
    ours = {item.inode for item in listen_sockets(os.getpid())}
    assert theirs
    assert not theirs & ours


def test_fd_count_follows_descriptors_opened_and_closed(children: list[Child]) -> None:
    child = Child()
    children.append(child)
    baseline = fd_count(child.pid)
    assert baseline == int(child.ask("count", answer=""))
    child.ask("open 5")
    assert fd_count(child.pid) == baseline + 5
    child.ask("close")
    assert fd_count(child.pid) == baseline


def test_rss_follows_an_allocation_and_the_peak_stays(children: list[Child]) -> None:
    child = Child()
    children.append(child)
    baseline = rss_bytes(child.pid)
    child.ask(f"alloc {64 * MIB}")
    grown = rss_bytes(child.pid) - baseline
    assert 63 * MIB <= grown <= 72 * MIB
    assert peak_rss_bytes(child.pid) >= baseline + 63 * MIB
    child.ask("free")  # a block this big is its own mapping: freeing it returns the pages
    assert rss_bytes(child.pid) - baseline < 8 * MIB
    assert peak_rss_bytes(child.pid) >= baseline + 63 * MIB


def test_a_process_that_is_gone_is_one_clear_error(children: list[Child]) -> None:
    child = Child()
    child.stop()
    for observe in (fd_count, rss_bytes, peak_rss_bytes, listen_sockets):
        with pytest.raises(ObservationError, match=rf"process {child.pid} is gone"):
            observe(child.pid)


def test_a_port_nobody_listens_on_is_named(children: list[Child]) -> None:
    child = Child()
    children.append(child)
    with socket.socket() as unused:  # a port bound here is listened on by no one
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
        with pytest.raises(ObservationError, match=rf"no socket listens on port {port}\b"):
            accept_queue_depth(child.pid, port)
