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

The parent is MUTATION_SCRIPT_PID (the script's $$; else the parent at start): the
imports below take a second or more, and a script killed meanwhile must still count as
gone. It is watched from a thread, because cosmic-ray's handler runs a mutant's tests
inside the event loop's thread (up to the mutant's timeout); once the parent is gone, the
test command (a session of its own, led by a child of the worker) gets SIGINT, SIGKILL
10 s later, so cosmic-ray restores the mutated file and the worker exits. The outcome of
tests stopped so is not a result: the answer is 503, which cosmic-ray records as ABNORMAL
(ci/lib/mutation_session.py runs such a mutant again), never as killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path

from aiohttp import web
from cosmic_ray.distribution.http import handle_mutate_and_test

PARENT_CHECK_SECONDS = 0.5
KILL_AFTER_SECONDS = 10.0
PARENT = int(os.environ.get("MUTATION_SCRIPT_PID") or os.getppid())
ORPHANED = threading.Event()


def _child_groups() -> list[int]:
    """The process groups the worker's children lead (the mutants' test commands)."""
    me, groups = os.getpid(), []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == me:  # ppid, then pgrp
                groups.append(int(fields[2]))
    return groups


def _watch_parent(parent: int, loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    # An orphan is adopted by init or a subreaper: its parent's pid changes (getppid(2)).
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_SECONDS)
    ORPHANED.set()
    loop.call_soon_threadsafe(stop.set)  # run once a mutant's tests (if any) end
    for sig in (signal.SIGINT, signal.SIGKILL):
        for group in _child_groups():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, sig)
        time.sleep(KILL_AFTER_SECONDS)


async def handle(request: web.Request) -> web.StreamResponse:
    """cosmic-ray's handler; 503 instead of its outcome once the parent is gone."""
    response: web.StreamResponse = await handle_mutate_and_test(request)
    if ORPHANED.is_set():  # its tests may have been stopped: no outcome to record
        raise web.HTTPServiceUnavailable(text="mutation_worker: the script is gone\n")
    return response


async def serve(port_file: Path) -> None:
    """Serve until SIGTERM/SIGINT or until the parent process is gone (checked every
    0.5 s); PORT_FILE gets the port (written to a temporary, renamed)."""
    app = web.Application()
    app.add_routes([web.post("/", handle)])
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
    threading.Thread(target=_watch_parent, args=(PARENT, loop, stop), daemon=True).start()
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
