"""`python -m socket_harness.server.probe [HOST:PORT]`: is the server healthy?

Exit 0 when the health endpoint answers OK, else 1.

For Docker's HEALTHCHECK. The address defaults to SERVER_HEALTH (the server's own
setting), with a wildcard host (0.0.0.0, ::) probed on loopback.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
from collections.abc import Sequence

from .config import DEFAULT_HEALTH, parse_host_port
from .health import HEALTHY

_WILDCARDS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}
_MAX_ANSWER = 4096


def probe(host: str, port: int, timeout: float) -> str:
    """The endpoint's answer line; raises OSError (or TimeoutError) when there is none."""
    with socket.create_connection((_WILDCARDS.get(host, host), port), timeout=timeout) as sock:
        answer = b""
        while len(answer) < _MAX_ANSWER:
            chunk = sock.recv(_MAX_ANSWER)
            if not chunk:
                break
            answer += chunk
    return answer.decode("utf-8", "replace").strip()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m socket_harness.server.probe",
        description="Ask the server's health endpoint; exit 0 healthy, 1 not.",
    )
    parser.add_argument(
        "address",
        nargs="?",
        default=os.environ.get("SERVER_HEALTH", DEFAULT_HEALTH),
        help=f"HOST:PORT (default: $SERVER_HEALTH or {DEFAULT_HEALTH})",
    )
    parser.add_argument("--timeout", type=float, default=3.0, help="seconds (default: 3)")
    args = parser.parse_args(argv)
    if not args.address.strip():
        print("unhealthy: the health endpoint is disabled (SERVER_HEALTH is empty)")
        return 1
    try:
        address = parse_host_port(args.address)
    except ValueError as exc:
        # Unhealthy, not argparse's usage error: Docker reserves a HEALTHCHECK's exit 2.
        print(f"unhealthy: {exc}")
        return 1
    try:
        answer = probe(address.host, address.port, args.timeout)
    except OSError as exc:
        print(f"unhealthy: {address}: {exc}")
        return 1
    if not answer.encode().startswith(HEALTHY):
        print(f"unhealthy: {address}: unexpected answer {answer[:80]!r}")
        return 1
    print(answer)
    return 0


if __name__ == "__main__":
    sys.exit(main())
