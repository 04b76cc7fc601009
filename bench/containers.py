"""Servers under test, each in its own labelled container on the default bridge.

Each is a socket_harness.sut.ContainerRun of its `Target` (the project's server as
socket_harness.project describes it, a baseline as a plain protocol server), ready
when socket_harness.ready says so: every listener greets as the protocol says.
Everything this module creates carries the label `org.socket-harness.bench=1`
and is removed when the `Containers` context ends, even after a failure; a run
killed outright is swept at the start of the next one (and by `make sweep`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import docker
from docker.errors import DockerException, NotFound
from docker.models.containers import Container
from docker.types import Ulimit

from socket_harness.profile import Readiness, Setup, Target
from socket_harness.sut import ContainerRun, TargetProblem

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
    """How to run one server: its target (listeners, wire, and for the project's server
    its setup), image, and for a baseline the command, environment and mounts."""

    target: Target
    image: str
    command: Sequence[str] | None = None
    entrypoint: Sequence[str] | None = None
    environment: Mapping[str, str] | None = None  # None: the target's own setup
    mounts: Sequence[Mount] = ()
    working_dir: str | None = None


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
        """Run `launch` detached and wait until it greets on its listener (BenchError if it
        exits or does not, in one line); `nofile` sets `--ulimit nofile`."""
        run: dict[str, object] = {
            "volumes": {str(m.host): {"bind": m.container, "mode": "ro"} for m in launch.mounts},
            # The image's HEALTHCHECK would start a Python probe every 2 s: noise here.
            "healthcheck": {"test": ["NONE"]},
        }
        if nofile:
            run["ulimits"] = [Ulimit(name="nofile", soft=nofile, hard=nofile)]
        if launch.entrypoint is not None:
            run["entrypoint"] = list(launch.entrypoint)
        if launch.working_dir is not None:
            run["working_dir"] = launch.working_dir
        setup = launch.target.setup
        if launch.environment is not None or launch.command is not None:
            setup = Setup(
                tuple(launch.command) if launch.command is not None else None,
                dict(launch.environment or {}),
            )
        try:
            sut = ContainerRun(
                launch.target,
                launch.image,
                setup=setup,
                labels=LABELS,
                run=run,
                readiness=Readiness.CONNECT,
                timeout=READY_TIMEOUT,
            )
        except TargetProblem as exc:
            raise BenchError(f"{name}: {exc}") from None
        if not sut.ip:
            sut.remove()
            raise BenchError(f"{name}: container has no bridge IP address")
        return RunningServer(name, sut.container.get_wrapped_container(), sut.ip)

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
