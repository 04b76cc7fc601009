"""The running system under test: a container started from a target profile, or an address.

`start_container` builds (for a `Build` source) or takes (for an `Image`) the
target's image, runs it on a network of the caller's with the profile's setup
(command, environment, stop signal), and returns once `ProtocolReady` says so:
every listener accepts and sends its declared greeting, or (`readiness =
"listening"`) every listener's port is in LISTEN state in the container's
/proc/PID/net/tcp, read from the host. Never a log line.

Everything it creates carries the labels `ci/sweep.sh` removes
(`org.socket-harness.test=1`), and is removed by `stop`/`remove`.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
import uuid
from dataclasses import dataclass
from typing import Any

import docker
import docker.errors
from testcontainers.core.container import DockerContainer
from testcontainers.core.network import Network
from testcontainers.core.wait_strategies import WaitStrategy

from .expect import Expect
from .observe import ObservationError, listen_sockets
from .profile import Address, Build, Image, Listener, Readiness, Setup, Target

# The harness removes what it starts; no reaper container (it would need a registry).
os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")

STARTUP_TIMEOUT = 60.0  # seconds from `docker run` to ready, on a busy 2-core machine
CONNECT_TIMEOUT = 2.0  # seconds, one readiness probe
TEST_LABEL = "org.socket-harness.test"  # ci/sweep.sh removes what carries it
OWNER_LABEL = "org.socket-harness.owner"
SESSION = uuid.uuid4().hex[:12]


class TargetProblem(Exception):
    """The target cannot be had: its image does not build, it exits or never gets ready."""


def labels(owner: str) -> dict[str, str]:
    """The labels of one container or network the harness creates for `owner` (a test)."""
    return {TEST_LABEL: "1", "org.socket-harness.session": SESSION, OWNER_LABEL: owner[:200]}


def image_of(target: Target, client: docker.DockerClient) -> str:
    """The image ID (or reference) to run for `target`: its `Image` reference as is, or the ID
    of the image built from its `Build` (the build's own output on failure: TargetProblem)."""
    source = target.source
    if isinstance(source, Image):
        return source.reference
    if not isinstance(source, Build):
        raise TargetProblem(f"{target.name}: an address is not started")
    try:
        image, _ = client.images.build(
            path=str(source.context),
            dockerfile=str(source.dockerfile),
            buildargs=dict(source.args),
            rm=True,
        )
    except docker.errors.BuildError as exc:
        tail = "".join(str(part.get("stream", part.get("error", ""))) for part in exc.build_log)
        raise TargetProblem(
            f"{target.name}: building {source.context} failed: {tail[-2000:]}"
        ) from None
    except docker.errors.APIError as exc:
        raise TargetProblem(f"{target.name}: building {source.context} failed: {exc}") from None
    return str(image.id)


def create_network(owner: str) -> Network:
    """A new bridge network for one target, labelled for the sweeper."""
    return Network(docker_network_kw={"labels": labels(owner)}).create()


def _greeted(host: str, port: int, expected: bytes) -> bool:
    """Connect; with a greeting expected, read it whole. True if it came, exactly."""
    with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT) as sock:
        got = b""
        while len(got) < len(expected):
            chunk = sock.recv(len(expected) - len(got))
            if not chunk:
                return False
            got += chunk
        if got != expected:
            raise TargetProblem(f"{host}:{port} greeted {got!r}, the profile declares {expected!r}")
        return True


@dataclass(frozen=True)
class _Where:
    host: str
    pid: int


class ProtocolReady(WaitStrategy):
    """Ready when every listener of `target` is: accepting, and sending its greeting if one is
    declared (`Readiness.CONNECT`); or in LISTEN state in the container's network namespace
    (`Readiness.LISTENING`: no connection is made). A container that exits is TargetProblem
    at once, with its logs."""

    def __init__(self, target: Target, network: str, readiness: Readiness) -> None:
        super().__init__()
        self.target = target
        self.network = network
        self.readiness = readiness
        self.expect = Expect(target.wire)

    def _where(self, container: Any) -> _Where:
        wrapped = container.get_wrapped_container()
        wrapped.reload()
        state = wrapped.attrs["State"]
        if state["Status"] in ("exited", "dead"):
            stdout, stderr = container.get_logs()
            logs = (stdout + stderr).decode(errors="replace")[-2000:]
            raise TargetProblem(
                f"{self.target.name} exited {state['ExitCode']} before it was ready:\n{logs}"
            )
        host = wrapped.attrs["NetworkSettings"]["Networks"][self.network]["IPAddress"]
        return _Where(str(host), int(state["Pid"]))

    def _ready(self, container: Any) -> bool:
        where = self._where(container)
        if self.readiness is Readiness.LISTENING:
            try:
                ports = {item.port for item in listen_sockets(where.pid)}
            except ObservationError:
                return False
            return all(listener.port in ports for listener in self.target.listeners)
        for listener in self.target.listeners:
            try:
                if not _greeted(where.host, listener.port, self.expect.greeting(listener.framing)):
                    return False
            except OSError:
                return False
        return True

    def wait_until_ready(self, container: Any) -> None:
        deadline = time.monotonic() + self._startup_timeout
        while not self._ready(container):
            if time.monotonic() > deadline:
                raise TargetProblem(
                    f"{self.target.name} was not ready ({self.readiness.value}) within "
                    f"{self._startup_timeout:.0f} s"
                )
            time.sleep(self._poll_interval)


class TargetService:
    """The running system under test as a check sees it.

    `address(listener)` is where a plain socket connects; `pid` is its main
    process's PID on the host (None without a container); `logs()` its output;
    `send_signal`, `stop` and `wait_exit` exist only with a container (else
    TargetProblem).
    """

    def __init__(self, target: Target) -> None:
        self.target = target

    @property
    def has_container(self) -> bool:
        return False

    @property
    def pid(self) -> int | None:
        return None

    def address(self, listener: Listener) -> tuple[str, int]:
        source = self.target.source
        assert isinstance(source, Address)
        return source.host, listener.port

    def logs(self) -> str:
        return ""

    def send_signal(self, name: str) -> None:
        raise TargetProblem(f"{self.target.name} has no container to signal")

    def wait_exit(self, timeout: float) -> int:
        raise TargetProblem(f"{self.target.name} has no container to wait for")

    def remove(self) -> None:
        """Nothing to remove for an address."""


class ContainerService(TargetService):
    """A container of `target` started from `image` with `setup` on `network`."""

    def __init__(
        self,
        target: Target,
        image: str,
        network: Network,
        setup: Setup,
        owner: str,
        readiness: Readiness | None = None,
    ) -> None:
        super().__init__(target)
        kwargs: dict[str, Any] = {"labels": labels(owner)}
        if target.stop_signal:
            kwargs["stop_signal"] = target.stop_signal
        self.network = network
        self.container = DockerContainer(image).with_network(network).with_kwargs(**kwargs)
        for name, value in setup.environment.items():
            self.container.with_env(name, value)
        if setup.command is not None:
            self.container.with_command(list(setup.command))
        strategy = ProtocolReady(target, network.name, readiness or target.readiness)
        self.container.waiting_for(
            strategy.with_startup_timeout(int(STARTUP_TIMEOUT)).with_poll_interval(0.05)
        )
        try:
            self.container.start()
        except BaseException:
            self.remove()
            raise
        wrapped = self.container.get_wrapped_container()
        wrapped.reload()
        self.ip = str(wrapped.attrs["NetworkSettings"]["Networks"][network.name]["IPAddress"])
        self._pid = int(wrapped.attrs["State"]["Pid"])

    @property
    def has_container(self) -> bool:
        return True

    @property
    def pid(self) -> int | None:
        return self._pid

    def address(self, listener: Listener) -> tuple[str, int]:
        return self.ip, listener.port

    def logs(self) -> str:
        try:
            stdout, stderr = self.container.get_logs()
        except docker.errors.NotFound:
            return ""
        return (stdout + stderr).decode(errors="replace")

    def send_signal(self, name: str) -> None:
        """`docker kill --signal NAME` to the container's main process."""
        self.container.get_wrapped_container().kill(signal=name)

    def wait_exit(self, timeout: float) -> int:
        """The container's exit code, waiting up to `timeout` seconds (TargetProblem after)."""
        try:
            result = self.container.get_wrapped_container().wait(timeout=timeout)
        except Exception as exc:  # requests' ReadTimeout / ConnectionError: still running
            raise TargetProblem(
                f"{self.target.name} did not exit within {timeout:.1f} s ({type(exc).__name__})"
            ) from None
        return int(result["StatusCode"])

    def remove(self) -> None:
        """Remove the container (killing it if it still runs)."""
        with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError, AttributeError):
            self.container.get_wrapped_container().remove(force=True)
