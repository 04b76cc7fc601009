"""A line echo with an idle timer of its own, for tests of the idle-timeout check.

`python tests/fast/idle_closer.py SECONDS` listens on 127.0.0.1 (a free port, printed on
stdout once it listens), echoes each line as it came (no greeting, no prefix), and tells a
peer that sent nothing for SECONDS `ERR idle-timeout\\n` and closes it, whatever a profile
declares: a test declares another number to make it close late or early. Serves until
SIGTERM. Nothing of this project is imported: it stands for a service nobody here wrote.
"""

import signal
import socket
import socketserver
import sys

IDLE = float(sys.argv[1])


class Closer(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.request.settimeout(IDLE)
        try:
            while True:
                try:
                    data = self.request.recv(65536)
                except TimeoutError:
                    self.request.sendall(b"ERR idle-timeout\n")
                    self.request.shutdown(socket.SHUT_WR)
                    return
                if not data:
                    return
                self.request.sendall(data)
        except OSError:  # a peer that resets is its own business
            pass


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with Server(("127.0.0.1", 0), Closer) as server:
        print(server.server_address[1], flush=True)
        server.serve_forever()
