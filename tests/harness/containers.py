"""Server and client containers on a test network, reached from the host at their bridge IP.

`ServerContainer` is a thin adapter over socket_harness.sut.ContainerRun: the
project's server as targets/socket-harness.toml describes it
(socket_harness.project), with a test's options as SERVER_* variables, ready
when socket_harness.ready says so (no connection is made: tests count them).
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass
from typing import Any

import docker.errors
from docker.models.containers import Container
from testcontainers.core.container import DockerContainer
from testcontainers.core.exceptions import ContainerStartException
from testcontainers.core.network import Network

from socket_harness.labels import harness_labels
from socket_harness.profile import Readiness
from socket_harness.project import listener_of, project_target, server_env
from socket_harness.protocol import Framing
from socket_harness.sut import ContainerRun

from . import logs as server_logs
from . import tracking
from .waiting import wait_until

# Fixed ports inside the container: every container has its own IP, so they never clash.
DEFAULT_LISTEN = "seed://0.0.0.0:9000 line://0.0.0.0:9001 frame://0.0.0.0:9002"
DEFAULT_HEALTH = "127.0.0.1:9099"  # the server's own default (README, "Server")
STARTUP_TIMEOUT = 30.0

__all__ = ["DEFAULT_LISTEN", "ServerContainer", "server_env"]


def container_logs(container: DockerContainer) -> str:
    stdout, stderr = container.get_logs()
    return stdout.decode(errors="replace") + stderr.decode(errors="replace")


def start_tracked(container: DockerContainer) -> None:
    """Start and track `container`; if the start (or its wait) fails, keep its logs, remove it."""
    try:
        container.start()
    except Exception:
        with contextlib.suppress(ContainerStartException):  # raised when it was never created
            name = str(container.get_wrapped_container().name)
            tracking.track(name, lambda: container_logs(container))
            tracking.untrack(name)  # the failing test's report shows why it did not start
            container.stop()
        raise
    tracking.track(str(container.get_wrapped_container().name), lambda: container_logs(container))


def bridge_ip(container: Container, network: str | None = None) -> str:
    """`container`'s address on `network` (default: its only one), as the engine reports it now."""
    container.reload()
    networks = container.attrs["NetworkSettings"]["Networks"]
    settings = networks[network] if network else next(iter(networks.values()))
    return str(settings["IPAddress"])


def create_network(owner: str) -> Network:
    return Network(docker_network_kw={"labels": harness_labels(owner)}).create()


class ServerContainer:
    """One running server container and what a test asks of it.

    `image` is the image ID the build returned (socket_harness/images.py), never a
    tag another run could move; `options` are the server's, as SERVER_* variables.
    `ready=False` returns once the container runs, without waiting for readiness;
    `cpus` caps its CPU (e.g. 0.1: a start-up ten times slower, so a test can act in
    the middle of it); `health_timeout` (s) replaces the image's HEALTHCHECK timeout
    only. Ready: every listener and the health endpoint are in LISTEN
    state in the container (socket_harness.ready, Readiness.LISTENING).
    """

    def __init__(
        self,
        network: Network,
        owner: str,
        image: str,
        alias: str = "server",
        *,
        ready: bool = True,
        cpus: float | None = None,
        health_timeout: float | None = None,
        **options: Any,
    ) -> None:
        options.setdefault("listen", DEFAULT_LISTEN)
        options.setdefault("log_format", "json")
        listen = str(options["listen"]).split()
        self.target = project_target(listen, server_env(options), image=image)
        run: dict[str, Any] = {}
        if cpus is not None:
            run["nano_cpus"] = int(cpus * 1e9)
        if health_timeout is not None:  # the image's probe and interval, a longer timeout
            run["healthcheck"] = {"timeout": int(health_timeout * 1e9)}
        self.sut = ContainerRun(
            self.target,
            image,
            network=network,
            labels=harness_labels(owner),
            alias=alias,  # the name clients on the network use
            run=run,
            on_start=tracking.track,
            ready=False,
        )
        self.container = self.sut.container
        self.ip = self.sut.ip
        self.ports = {Framing(item.framing.value): item.port for item in self.target.listeners}
        if ready:
            # The health endpoint opens after the listeners, just before the `ready` line.
            health = str(options.get("health", DEFAULT_HEALTH))
            also = (listener_of(f"line://{health}").port,) if health else ()
            try:
                self.sut.wait_ready(Readiness.LISTENING, STARTUP_TIMEOUT, also_listening=also)
            except BaseException:
                tracking.untrack(self.name)  # the failing test's report shows its logs
                self.sut.remove()
                raise

    @property
    def name(self) -> str:
        return str(self.container.get_wrapped_container().name)

    def url(self, framing: Framing | str) -> str:
        framing = Framing(framing)
        return f"{framing.value}://{self.ip}:{self.ports[framing]}"

    def address(self, framing: Framing | str) -> tuple[str, int]:
        """(bridge IP, port) of the `framing` listener: what a plain socket connects to."""
        return self.ip, self.ports[Framing(framing)]

    # --- logs -----------------------------------------------------------------

    def logs(self) -> str:
        return self.sut.logs()

    def events(self, name: str | None = None) -> list[dict[str, str]]:
        return server_logs.events(self.logs(), name)

    def wait_for_event(self, name: str, timeout: float = 10.0, **fields: str) -> dict[str, str]:
        """The first `name` event whose fields include `fields`, polled until `timeout`."""

        def find() -> dict[str, str] | None:
            for event in self.events(name):
                if all(event.get(k) == v for k, v in fields.items()):
                    return event
            return None

        return wait_until(find, timeout=timeout, what=f"server event {name} {fields}")

    def wait_for_events(self, name: str, count: int, timeout: float = 10.0) -> list[dict[str, str]]:
        """At least `count` `name` events, polled until `timeout`."""

        def enough() -> list[dict[str, str]] | None:
            found = self.events(name)
            return found if len(found) >= count else None

        return wait_until(enough, timeout=timeout, what=f"{count} server events {name}")

    # --- inside the container -------------------------------------------------

    def exec(self, *argv: str) -> str:
        result = self.container.exec(list(argv))
        if result.exit_code != 0:
            raise AssertionError(f"{argv} exited {result.exit_code}: {result.output!r}")
        return result.output.decode()

    def fd_count(self) -> int:
        """Open file descriptors of the server (PID 1)."""
        return len(self.exec("ls", "/proc/1/fd").split())

    def rss_kib(self) -> int:
        """Resident memory of the server (PID 1), in KiB."""
        return self._status_kib("VmRSS")

    def peak_rss_kib(self) -> int:
        """The most resident memory the server (PID 1) ever had, in KiB."""
        return self._status_kib("VmHWM")

    def _status_kib(self, field: str) -> int:
        for line in self.exec("cat", "/proc/1/status").splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
        raise AssertionError(f"no {field} in /proc/1/status")

    def accept_queue(self, framing: Framing) -> int:
        """Connections waiting in `framing`'s listener's accept queue (its rx_queue)."""
        proc_net_tcp = self.exec("cat", "/proc/net/tcp", "/proc/net/tcp6")
        return accept_queue_depth(proc_net_tcp, self.ports[framing])

    # --- lifecycle ------------------------------------------------------------

    def status(self) -> str:
        return self.sut.status()

    def send_signal(self, name: str) -> None:
        """`docker kill --signal NAME`: deliver signal `name` (SIGSTOP, SIGCONT, SIGTERM,
        SIGINT, ...) to the server, PID 1 of the container."""
        self.sut.send_signal(name)

    def stop_in_background(self, grace: float) -> threading.Thread:
        """`docker stop` (STOPSIGNAL, then SIGKILL after `grace` s) without blocking the test."""
        wrapped = self.container.get_wrapped_container()
        thread = threading.Thread(target=wrapped.stop, kwargs={"timeout": int(grace)}, daemon=True)
        thread.start()
        return thread

    def wait_exit(self, timeout: float) -> int:
        """Block until the server exits; its exit code (TargetProblem after `timeout` s)."""
        return self.sut.wait_exit(timeout)

    def remove(self) -> None:
        with contextlib.suppress(docker.errors.NotFound):
            tracking.untrack(self.name)
        self.sut.remove()


def accept_queue_depth(proc_net_tcp: str, port: int) -> int:
    """rx_queue of the LISTEN (state 0A) socket on `port` in /proc/net/tcp{,6} text."""
    for line in proc_net_tcp.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 5 or fields[0] == "sl":
            continue
        local, state, queues = fields[1], fields[3], fields[4]
        if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
            return int(queues.split(":")[1], 16)
    raise AssertionError(f"no listening socket on port {port}")


@dataclass(frozen=True)
class ClientRun:
    exit_code: int
    stdout: str
    stderr: str


def run_client(
    network: Network, owner: str, image: str, args: list[str], timeout: float = 30.0
) -> ClientRun:
    """Run the client image `image` (an image ID) with `args` on `network` to its end."""
    container = (
        DockerContainer(image)
        .with_network(network)
        .with_command(args)
        .with_kwargs(labels=harness_labels(owner))
    )
    start_tracked(container)
    wrapped = container.get_wrapped_container()
    name = str(wrapped.name)
    try:
        exit_code = int(wrapped.wait(timeout=timeout)["StatusCode"])
        stdout, stderr = container.get_logs()
        return ClientRun(exit_code, stdout.decode(), stderr.decode())
    finally:
        tracking.untrack(name)
        container.stop()
