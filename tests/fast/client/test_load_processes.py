"""`load`'s worker processes, seen from outside (README, "Load generator").

- `--processes` defaults to the CPUs the load may use: its affinity, set with taskset.
- Connections and `--concurrency` are split evenly over `--processes` processes: each
  worker's open connections are counted in its own /proc/<pid>/fd, matched by socket
  inode against /proc/<pid>/net/tcp, while a peer that never greets holds them open.
- A second Ctrl-C stops waiting for the workers: one worker is frozen with SIGSTOP (a
  worker stuck past anything its own loop can do), the first SIGINT stops the other
  one (the peer sees its connection close: the parent has taken that SIGINT), and the
  second SIGINT ends the run long before the wait for the frozen one would have.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.fast.client.helpers import CLI_TIMEOUT
from tests.fast.client.peers import ScriptedPeer, hold_until_client_closes, never_greets
from tests.fast.server.process import REPO_ROOT, RunningServer
from tests.harness.waiting import wait_until

LOOPBACK_HEX = "0100007F"  # 127.0.0.1 as /proc/net/tcp writes it (little-endian hex)


@contextmanager
def load_run(url: str, *args: str) -> Iterator[subprocess.Popen[bytes]]:
    """`python -m socket_harness.client load URL ARGS --json` in a process group of its own
    (as a shell's foreground job); the whole group is killed if the test leaves it running."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "socket_harness.client", "load", url, *args, "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=REPO_ROOT,
        start_new_session=True,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=CLI_TIMEOUT)


def workers(parent: int) -> list[int]:
    """The load's worker processes: its children started by multiprocessing's spawn
    (not its resource tracker, the other child spawn starts)."""
    found = []
    for task in Path(f"/proc/{parent}/task").iterdir():
        for child in (task / "children").read_text().split():
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
            if b"spawn_main" in cmdline:
                found.append(int(child))
    return sorted(found)


def wait_for_workers(parent: int, count: int) -> list[int]:
    """The `count` worker processes of `parent`, once they all were started."""

    def started() -> list[int] | None:
        found = workers(parent)
        return found if len(found) == count else None

    return wait_until(started, timeout=10, what=f"{count} worker processes")


def connections_to(pid: int, port: int) -> int:
    """How many of `pid`'s open sockets are connected to 127.0.0.1:`port`."""
    inodes = set()
    for line in Path(f"/proc/{pid}/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[2] == f"{LOOPBACK_HEX}:{port:04X}":  # rem_address
            inodes.add(fields[9])
    held = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except FileNotFoundError:  # closed meanwhile
            continue
        if target.startswith("socket:[") and target[8:-1] in inodes:
            held += 1
    return held


@pytest.mark.parametrize("pinned", [True, False], ids=["one-cpu", "all-cpus"])
@pytest.mark.covers("load/processes-option")
def test_processes_default_to_the_cpus_it_may_use(server: RunningServer, pinned: bool) -> None:
    allowed = os.sched_getaffinity(0)  # what a child inherits, unless taskset narrows it
    cpus = {min(allowed)} if pinned else allowed
    done = subprocess.run(
        [
            *("taskset", "--cpu-list", ",".join(str(cpu) for cpu in sorted(cpus))),
            *(sys.executable, "-m", "socket_harness.client", "load", server.url("line")),
            *("--connections", "8", "--concurrency", "8", "--messages", "1", "--json"),
        ],
        capture_output=True,
        cwd=REPO_ROOT,
        timeout=CLI_TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["planned"]["processes"] == len(cpus)
    assert len(report["cpu"]["per_process_s"]) == len(cpus)  # each one ran and reported


@pytest.mark.parametrize(
    ("connections", "concurrency", "processes", "held"),
    [
        # Everything open at once: each worker holds its share of the connections.
        pytest.param(7, 7, 3, [2, 2, 3], id="7-connections-over-3"),
        # Fewer lanes than connections: each worker holds its share of --concurrency.
        pytest.param(40, 5, 3, [1, 2, 2], id="concurrency-5-over-3"),
    ],
)
@pytest.mark.covers("load/processes-split", "load/concurrency-option")
def test_connections_and_concurrency_are_split_evenly_over_the_processes(
    connections: int, concurrency: int, processes: int, held: list[int]
) -> None:
    with (
        ScriptedPeer(never_greets) as peer,
        load_run(
            peer.url("line"),
            *("--connections", str(connections), "--concurrency", str(concurrency)),
            *("--processes", str(processes), "--messages", "1"),
            *("--timeout", str(CLI_TIMEOUT), "--duration-limit", str(CLI_TIMEOUT)),
        ) as proc,
    ):
        # Every lane connects at once and waits for a greeting that never comes.
        peer.wait_accepted(sum(held))
        pids = wait_for_workers(proc.pid, processes)
        assert sorted(connections_to(pid, peer.port) for pid in pids) == held
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: the report of nothing completed
        out, err = proc.communicate(timeout=CLI_TIMEOUT)
    assert proc.returncode == 130, err
    report = json.loads(out)
    assert report["planned"]["processes"] == processes
    assert report["planned"]["connections"] == connections
    assert report["planned"]["concurrency"] == concurrency
    assert len(report["cpu"]["per_process_s"]) == processes  # every worker reported


def exited(pid: int) -> bool:
    """True once `pid` has exited: no /proc entry, or a zombie (state Z) not yet reaped."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] == "Z"
    except FileNotFoundError:
        return True


@pytest.mark.covers("load/second-interrupt")
def test_a_second_ctrl_c_stops_waiting_for_a_stuck_worker() -> None:
    closed = threading.Semaphore(0)

    def never_greets_and_tells_when_closed(sock: object) -> None:
        hold_until_client_closes(sock)  # type: ignore[arg-type]
        closed.release()

    with (
        ScriptedPeer(never_greets_and_tells_when_closed) as peer,
        load_run(
            peer.url("line"),
            *("--connections", "2", "--concurrency", "2", "--processes", "2"),
            *("--messages", "1", "--timeout", str(CLI_TIMEOUT)),
            *("--duration-limit", str(CLI_TIMEOUT)),
        ) as proc,
    ):
        peer.wait_accepted(2)  # one connection per worker, both waiting for a greeting
        stuck, free = wait_for_workers(proc.pid, 2)
        os.kill(stuck, signal.SIGSTOP)  # frozen: it can neither stop nor report
        try:
            first = time.monotonic()
            proc.send_signal(signal.SIGINT)  # Ctrl-C to the parent: it asks the workers to stop
            # The free worker stops (its connection closes) only once the parent took it.
            assert closed.acquire(timeout=10), "no worker stopped after the first SIGINT"
            # Its connection closes before it reports: the second SIGINT waits for its exit
            # (gone, or a zombie the parent has yet to reap), else both count as lost.
            wait_until(lambda: exited(free), timeout=10, what="the free worker to exit")
            proc.send_signal(signal.SIGINT)  # the second: stop waiting for the frozen one
            out, err = proc.communicate(timeout=CLI_TIMEOUT)
            took = time.monotonic() - first
        finally:
            if Path(f"/proc/{stuck}").exists():
                os.kill(stuck, signal.SIGCONT)
    # After the first SIGINT alone the parent waits at least 3 s for its workers, then
    # 1 s more for each one still there (client/load.py), so 4 s or more; the second
    # SIGINT ends the wait at once, leaving the 1-s grace for the frozen worker.
    assert took < 3.0, f"the run took {took:.2f} s after the first SIGINT"
    assert proc.returncode == 130, err
    assert err == b""
    report = json.loads(out)
    assert report["interrupted"] is True
    assert report["lost_processes"] == 1  # the frozen worker gave no result
    assert len(report["cpu"]["per_process_s"]) == 1  # the free one did
    assert report["completed"] == 0
    assert not Path(f"/proc/{stuck}").exists(), "the frozen worker was left behind"
    assert not Path(f"/proc/{free}").exists()
