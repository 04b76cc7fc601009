"""A socat-like line echo for tests: each line back as it came, no greeting, no prefix.

`python tests/fast/line_echo.py [PORT [HOST [IDLE]]]` listens on HOST (default 127.0.0.1;
in a container 0.0.0.0) and PORT (0: any free one), prints the port it got on stdout, then
serves until SIGTERM. With IDLE seconds (default 0: none), a peer that sent nothing for
that long is told `ERR idle-timeout\\n` and its side closed, whatever a profile declares:
the idle-timeout check's tests declare another number to make it close late or early.
Nothing of this project is imported: it stands for a service nobody here wrote
(tests/harness/user_repo.py also puts it in a user's image).
"""

import signal
import socket
import socketserver
import sys

IDLE = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0


class Echo(socketserver.StreamRequestHandler):
    timeout = IDLE or None  # StreamRequestHandler sets it on the socket: each read's bound

    def handle(self) -> None:
        try:
            for line in self.rfile:
                self.wfile.write(line)
        except TimeoutError:  # IDLE seconds with nothing read
            self.wfile.write(b"ERR idle-timeout\n")
            self.connection.shutdown(socket.SHUT_WR)
        except OSError:  # a peer that resets is its own business
            pass


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    host = sys.argv[2] if len(sys.argv) > 2 else "127.0.0.1"
    with Server((host, port), Echo) as server:
        print(server.server_address[1], flush=True)
        server.serve_forever()
