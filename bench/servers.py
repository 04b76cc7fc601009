"""The servers a run compares: the project's (asyncio, uvloop) and the three baselines."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from socket_harness.profile import Framing, Image, Listener, Target
from socket_harness.project import project_target

from .containers import Launch, Mount

REPO = Path(__file__).resolve().parent.parent
# The project's server image: bench/run.sh passes the image ID its build returned, so
# another checkout's build cannot swap it mid-run; `python -m bench` by hand measures
# socket-harness/server:local (what `make images` points it at).
SERVER_IMAGE = os.environ.get("SERVER_IMAGE") or "socket-harness/server:local"
PORTS = {"seed": 9000, "frame": 9002}
# The baselines write no line per connection; the project's server, so measured, neither.
PROJECT_LOG = {"SERVER_LOG_LEVEL": "warning"}


@dataclass(frozen=True)
class ServerKind:
    name: str
    label: str  # as a table header
    short: str  # under a chart's bar (two short lines)
    baseline: bool

    def launch(
        self, framing: str, images: Mapping[str, str], settings: Mapping[str, str]
    ) -> Launch:
        """How to start this server with one listener of `framing` on its usual port."""
        listen = f"{framing}://0.0.0.0:{PORTS[framing]}"
        if not self.baseline:
            loop = "uvloop" if self.name == "uvloop" else "asyncio"
            environment = {"SERVER_LISTEN": listen, "SERVER_LOOP": loop, **PROJECT_LOG, **settings}
            target = project_target([listen], environment, image=images[self.name])
            return Launch(target, images[self.name])
        # Baselines: the same base image as the project's, the code mounted read-only; they
        # speak the protocol's defaults (the profile's default wire).
        listener = Listener(framing, Framing(framing), PORTS[framing])
        return Launch(
            Target(self.name, Image(images["base"]), (listener,)),
            images["base"],
            entrypoint=["python3", "-m", f"baselines.{self.name}", "--listen", listen],
            environment={"PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1"},
            mounts=(
                Mount(REPO / "protocol", "/bench/socket_harness/protocol"),  # a namespace package
                Mount(REPO / "bench" / "baselines", "/bench/baselines"),
            ),
            working_dir="/bench",
        )


PROJECT = ServerKind("project", "project (asyncio)", "project\nasyncio", baseline=False)
UVLOOP = ServerKind("uvloop", "project (uvloop)", "project\nuvloop", baseline=False)
BLOCKING = ServerKind("blocking", "blocking (tutorial)", "blocking\n(tutorial)", baseline=True)
THREADED = ServerKind("threaded", "thread per connection", "threads\n(socketserver)", True)
STREAMS = ServerKind("streams", "asyncio streams", "asyncio\nstreams", baseline=True)


def candidate(index: int) -> ServerKind:
    """`--candidate IMAGE` number `index`: a changed server image measured beside the current."""
    name = f"candidate{index}"
    return ServerKind(name, f"{name} (asyncio)", f"{name}\nasyncio", baseline=False)


ALL = (PROJECT, UVLOOP, BLOCKING, THREADED, STREAMS)
