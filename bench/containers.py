"""Servers under test, each in its own labelled container on the default bridge.

Everything this module creates carries the label `org.socket-harness.bench=1`
and is removed when the `Containers` context ends, even after a failure; a run
killed outright is swept at the start of the next one (and by `make sweep`).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import docker
from docker.errors import DockerException, NotFound
from docker.models.containers import Container
from docker.types import Ulimit

LABEL = "org.socket-harness.bench"
LABELS = {LABEL: "1"}
READY_TIMEOUT = 30.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class BenchError(RuntimeError):
    """A benchmark step could not run; the message says which and why."""


@dataclass(frozen=True)
class Mount:
    host: Path
    container: str


@dataclass(frozen=True)
class Launch:
    """How to run one server: image, command, environment and the line that means ready."""

    image: str
    command: Sequence[str] | None = None
    entrypoint: Sequence[str] | None = None
    environment: Mapping[str, str] = field(default_factory=dict)
    mounts: Sequence[Mount] = ()
    working_dir: str | None = None
    ready: re.Pattern[str] = re.compile(r"\bready\b")


@dataclass
class RunningServer:
    name: str
    container: Container
    ip: str

    def url(self, framing: str, port: int) -> str:
        return f"{framing}://{self.ip}:{port}"

    def _proc(self, name: str) -> bytes:
        code, output = self.container.exec_run(["cat", f"/proc/1/{name}"])
        if code != 0 or not isinstance(output, bytes):
            raise BenchError(f"{self.name}: cannot read /proc/1/{name}: {output!r:.200}")
        return output

    def rss_kib(self) -> int:
        """VmRSS of the server process (PID 1 in its container), in KiB."""
        match = re.search(rb"^VmRSS:\s+(\d+) kB", self._proc("status"), re.MULTILINE)
        if not match:
            raise BenchError(f"{self.name}: no VmRSS in /proc/1/status")
        return int(match.group(1))

    def cpu_times(self) -> tuple[float, float]:
        """User and system CPU seconds of the server process, all its threads included."""
        fields = self._proc("stat").rsplit(b")", 1)[1].split()
        return int(fields[11]) / CLOCK_TICKS, int(fields[12]) / CLOCK_TICKS

    def logs(self) -> str:
        raw: bytes = self.container.logs(stdout=True, stderr=True)
        return raw.decode(errors="replace")


class Containers:
    """Starts servers in labelled containers and removes every one of them at the end."""

    def __init__(self) -> None:
        try:
            self.client = docker.from_env()
            self.client.ping()
        except DockerException as exc:
            raise BenchError(f"no Docker Engine reachable: {exc}") from exc

    def sweep(self) -> int:
        """Remove containers an earlier, killed run left behind."""
        leftovers = self.client.containers.list(all=True, filters={"label": f"{LABEL}=1"})
        for container in leftovers:
            _remove(container)
        return len(leftovers)

    def image_present(self, ref: str) -> bool:
        try:
            self.client.images.get(ref)
        except NotFound:
            return False
        return True

    def start(self, name: str, launch: Launch, nofile: int | None = None) -> RunningServer:
        """Run `launch` detached and wait for its ready line; `nofile` sets `--ulimit nofile`."""
        volumes = {str(m.host): {"bind": m.container, "mode": "ro"} for m in launch.mounts}
        ulimits = [Ulimit(name="nofile", soft=nofile, hard=nofile)] if nofile else None
        container = self.client.containers.run(
            launch.image,
            command=list(launch.command) if launch.command is not None else None,
            entrypoint=list(launch.entrypoint) if launch.entrypoint is not None else None,
            environment=dict(launch.environment),
            volumes=volumes,
            working_dir=launch.working_dir,
            labels=LABELS,
            ulimits=ulimits,
            # The image's HEALTHCHECK would start a Python probe every 2 s: noise here.
            healthcheck={"test": ["NONE"]},
            detach=True,
        )
        server = RunningServer(name, container, "")
        _wait_ready(server, launch.ready)
        container.reload()
        server.ip = container.attrs["NetworkSettings"]["IPAddress"]
        if not server.ip:
            raise BenchError(f"{name}: container has no bridge IP address")
        return server

    def stop(self, server: RunningServer) -> None:
        _remove(server.container)

    def close(self) -> None:
        # By label, not by our list: a container created but never started is caught too.
        self.sweep()

    @contextmanager
    def running(
        self, name: str, launch: Launch, nofile: int | None = None
    ) -> Iterator[RunningServer]:
        server = self.start(name, launch, nofile)
        try:
            yield server
        finally:
            self.stop(server)


@contextmanager
def containers() -> Iterator[Containers]:
    pool = Containers()
    pool.sweep()
    try:
        yield pool
    finally:
        pool.close()


def _remove(container: Container) -> None:
    with suppress(NotFound):
        container.remove(force=True)


def _wait_ready(server: RunningServer, ready: re.Pattern[str]) -> None:
    """Wait for the server's ready line (a real signal), failing fast if it exits."""
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        server.container.reload()
        if ready.search(server.logs()):
            return
        if server.container.status == "exited":
            raise BenchError(f"{server.name}: exited before ready:\n{server.logs()[-2000:]}")
        time.sleep(0.05)
    raise BenchError(
        f"{server.name}: no ready line in {READY_TIMEOUT:.0f}s:\n{server.logs()[-2000:]}"
    )
