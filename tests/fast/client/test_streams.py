"""Standard streams closed at start or broken later: a documented exit code, never a traceback.

Oracle (README, Client): a stdout whose reader went away ends the run quietly with 141
(as a shell reports `yes | head`); stdout closed at start or failing otherwise: one line,
exit 8; a closed or broken stderr changes no exit code; stdin is read only for `-`.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.fast.client.helpers import CLI_TIMEOUT, free_port
from tests.fast.client.peers import ScriptedPeer, hold_until_client_closes
from tests.fast.server.process import REPO_ROOT, RunningServer, ServerFactory

GREETING = "测试成功!\n".encode()  # docs/protocol.md, "Greeting"
CLIENT = [sys.executable, "-m", "socket_harness.client"]


def run(
    argv: list[str], *, stdout: int | None = None, stderr: int | None = None
) -> subprocess.CompletedProcess[bytes]:
    """A process with the given descriptors (None: a pipe the test reads)."""
    return subprocess.run(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE if stdout is None else stdout,
        stderr=subprocess.PIPE if stderr is None else stderr,
        cwd=REPO_ROOT,
        timeout=CLI_TIMEOUT,
        check=False,
    )


def with_closed(redirection: str, args: list[str]) -> list[str]:
    """`python -m socket_harness.client ARGS` started by bash.

    With a standard descriptor closed (`>&-`).
    """
    return ["bash", "-c", f'exec "$@" {redirection}', "bash", *CLIENT, *args]


@contextmanager
def pipe_without_reader() -> Iterator[int]:
    """The write end of a pipe whose reader is already gone: any write gets EPIPE."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        yield write_end
    finally:
        os.close(write_end)


def invocations(server: RunningServer) -> dict[str, list[str]]:
    return {
        "plain": [server.url("line"), "hello"],
        "json": ["--json", server.url("line"), "hello"],
        "load-json": ["load", "--json", server.url("line"), "--connections", "2"],
        "load-text": ["load", server.url("line"), "--connections", "2"],
        "help": ["--help"],
    }


@pytest.mark.covers("client/exit-141", "troubleshooting/exit-141")
@pytest.mark.parametrize("name", ["plain", "json", "load-json", "load-text", "help"])
def test_stdout_whose_reader_is_gone_ends_quietly_with_141(
    server: RunningServer, name: str
) -> None:
    with pipe_without_reader() as stdout:
        done = run([*CLIENT, *invocations(server)[name]], stdout=stdout)
    assert done.returncode == 141, done.stderr
    assert done.stderr == b""  # no traceback, no "Exception ignored" at exit


def greets_then_acks_when(gate: threading.Event) -> ScriptedPeer:
    """A line peer that greets, then acks the first line only once `gate` is set."""

    def script(sock: socket.socket) -> None:
        sock.sendall(GREETING)
        received = b""
        while b"\n" not in received:
            chunk = sock.recv(65536)
            if not chunk:
                return
            received += chunk
        gate.wait(CLI_TIMEOUT)
        sock.sendall("收到的信息:".encode() + received.partition(b"\n")[0] + b"\n")
        hold_until_client_closes(sock)

    return ScriptedPeer(script)


@pytest.mark.covers("client/exit-141", "troubleshooting/exit-141")
@pytest.mark.parametrize("as_json", [False, True])
def test_stdout_broken_after_the_greeting_ends_quietly_with_141(as_json: bool) -> None:
    """The reader takes the greeting, then goes away; the answer comes after that."""
    gate = threading.Event()
    with greets_then_acks_when(gate) as peer:
        read_end, write_end = os.pipe()
        mode = ["--json"] if as_json else []
        cli = subprocess.Popen(
            [*CLIENT, *mode, peer.url("line"), "hello", "--timeout", "20"],
            stdin=subprocess.DEVNULL,
            stdout=write_end,
            stderr=subprocess.PIPE,
            cwd=REPO_ROOT,
        )
        os.close(write_end)
        try:
            if not as_json:  # text mode prints the greeting at once
                assert os.read(read_end, len(GREETING)) == GREETING
            peer.wait_accepted(1)
        finally:
            os.close(read_end)
            gate.set()
        _, err = cli.communicate(timeout=CLI_TIMEOUT)
    assert cli.returncode == 141, err
    assert err == b""


@pytest.mark.covers("client/exit-8", "troubleshooting/exit-8")
@pytest.mark.parametrize("name", ["plain", "load-text"])
def test_stdout_closed_at_start_is_one_line_and_exit_8_before_any_connection(
    server_factory: ServerFactory, name: str
) -> None:
    server = server_factory(listen=["line"])
    done = run(with_closed(">&-", invocations(server)[name]))
    assert done.returncode == 8, done.stderr
    assert done.stderr == b"client: output-failed: " + (
        b"stdout is closed (to discard the output, redirect it to /dev/null)\n"
    )
    # Nothing was sent: our own connection is the first the server logs.
    run([*CLIENT, server.url("line")], stdout=subprocess.DEVNULL)
    server.wait_for_event("close")
    assert len(server.events("open")) == 1


@pytest.mark.covers("client/exit-8", "troubleshooting/exit-8")
@pytest.mark.parametrize("name", ["plain", "json", "load-json"])
def test_stdout_that_fails_otherwise_is_one_line_and_exit_8(
    server: RunningServer, name: str
) -> None:
    with open("/dev/full", "wb") as full:  # every write: ENOSPC
        done = run([*CLIENT, *invocations(server)[name]], stdout=full.fileno())
    assert done.returncode == 8, done.stderr
    assert (
        done.stderr == b"client: output-failed: cannot write to stdout: No space left on device\n"
    )


@pytest.mark.covers("client/stderr-closed")
def test_closed_or_broken_stderr_keeps_the_exit_code() -> None:
    """The error line is lost; exit 3 (could not connect) is not."""
    args = [f"line://127.0.0.1:{free_port()}", "x"]
    assert run(with_closed("2>&-", args), stdout=subprocess.DEVNULL).returncode == 3
    with pipe_without_reader() as stderr:
        broken = run([*CLIENT, *args], stdout=subprocess.DEVNULL, stderr=stderr)
    assert broken.returncode == 3


def test_stdin_closed_at_start_is_not_read_without_a_dash(server: RunningServer) -> None:
    done = run(with_closed("<&-", [server.url("frame"), "hello"]))
    assert done.returncode == 0, done.stderr
    assert done.stdout == GREETING + "收到的信息:hello\n".encode()
    assert done.stderr == b""


def test_a_dash_with_stdin_closed_is_a_usage_error(server: RunningServer) -> None:
    done = run(with_closed("<&-", [server.url("line"), "-"]))
    assert done.returncode == 2
    assert done.stdout == b""
    assert done.stderr == (
        b"client: usage-error: '-' reads stdin, but stdin is closed "
        b"(see python -m socket_harness.client --help)\n"
    )
