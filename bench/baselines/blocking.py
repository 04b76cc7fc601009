"""The tutorial's server: accept one client, greet, read, answer, close; then the next.

For frame://, it loops over the frames of that one connection before taking the next.
"""

from __future__ import annotations

import socket

from .common import BACKLOG, announce, converse, endpoint_from_argv


def main() -> None:
    endpoint = endpoint_from_argv(__doc__ or "")
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((endpoint.host, endpoint.port))
    server.listen(BACKLOG)
    announce(endpoint, server.getsockname())
    while True:
        conn, _ = server.accept()
        with conn:
            converse(conn, endpoint.framing)


if __name__ == "__main__":
    main()
