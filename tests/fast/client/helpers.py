"""Running the client CLI as a real process, and finding a port nothing listens on."""

from __future__ import annotations

import socket
import subprocess
import sys

from tests.fast.server.process import REPO_ROOT

CLI_TIMEOUT = 30.0  # no CLI run in a test may outlive this


def free_port() -> int:
    """A loopback port nothing listens on (bound once, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def run_cli(
    *args: str, stdin: bytes = b"", timeout: float = CLI_TIMEOUT
) -> subprocess.CompletedProcess[bytes]:
    """`python -m socket_harness.client ARGS` from the repo root.

    Raises if it outlives `timeout`.
    """
    return subprocess.run(
        [sys.executable, "-m", "socket_harness.client", *args],
        input=stdin,
        capture_output=True,
        cwd=REPO_ROOT,
        timeout=timeout,
        check=False,
    )


def start_cli(*args: str) -> subprocess.Popen[bytes]:
    """`python -m socket_harness.client ARGS` with pipes for stdout and stderr (SIGINT at
    its default: tests/conftest.py's pytest_configure)."""
    return subprocess.Popen(
        [sys.executable, "-m", "socket_harness.client", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=REPO_ROOT,
    )
