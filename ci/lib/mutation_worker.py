"""One cosmic-ray HTTP worker on loopback, in its own copy of the tree (`make mutation`).

Usage: python ci/lib/mutation_worker.py PORT_FILE

Run with the working directory set to one scratch tree (build/mutation/tree-N):
cosmic-ray's http distributor POSTs one mutant at a time, the worker applies it to that
tree, runs the test command there, restores the file and answers with the outcome. Each
worker has its own tree, so mutants run side by side without seeing each other's edits.

Why not `cosmic-ray http-worker --port N`: aiohttp's `run_app` listens on every
interface then, and the port has to be chosen beforehand. This binds 127.0.0.1 port 0
(the kernel picks a free one), writes the port number to PORT_FILE (text, then a
newline) once it listens, and serves cosmic-ray's own handler until SIGTERM or SIGINT,
or until its parent (ci/mutation.sh) is gone: the script starts it with setsid, so a
`kill -9` of the script's process group would otherwise leave it listening.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

from aiohttp import web
from cosmic_ray.distribution.http import handle_mutate_and_test

PARENT_CHECK_SECONDS = 0.5


def _stop_when_orphaned(loop: asyncio.AbstractEventLoop, parent: int, stop: asyncio.Event) -> None:
    # An orphan is adopted by init or a subreaper: its parent's pid changes (getppid(2)).
    if os.getppid() != parent:
        stop.set()
    else:
        loop.call_later(PARENT_CHECK_SECONDS, _stop_when_orphaned, loop, parent, stop)


async def serve(port_file: Path) -> None:
    """Serve until SIGTERM/SIGINT or until the parent process is gone (checked every
    0.5 s); PORT_FILE gets the port (written to a temporary, renamed)."""
    parent = os.getppid()
    app = web.Application()
    app.add_routes([web.post("/", handle_mutate_and_test)])
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    site = web.SockSite(runner, sock)
    await site.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    _stop_when_orphaned(loop, parent, stop)
    partial = port_file.with_name(port_file.name + ".tmp")
    partial.write_text(f"{sock.getsockname()[1]}\n")
    partial.rename(port_file)  # whole or absent: the script polls for it
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main(argv: list[str]) -> int:
    """Run the worker; 0 after a signal, 2 with one line on a usage error."""
    if len(argv) != 1:
        print("usage: mutation_worker.py PORT_FILE", file=sys.stderr)
        return 2
    asyncio.run(serve(Path(argv[0])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
