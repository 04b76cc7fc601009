"""A thread per connection: `socketserver.ThreadingTCPServer`, the blocking conversation
of the tutorial's server in each thread."""

from __future__ import annotations

import socketserver

from .common import BACKLOG, announce, converse, endpoint_from_argv


def main() -> None:
    endpoint = endpoint_from_argv(__doc__ or "")

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            converse(self.request, endpoint.framing)

    class Server(socketserver.ThreadingTCPServer):
        allow_reuse_address = True
        daemon_threads = True
        request_queue_size = BACKLOG

    with Server((endpoint.host, endpoint.port), Handler) as server:
        announce(endpoint, server.server_address[:2])
        server.serve_forever()


if __name__ == "__main__":
    main()
