"""The system under test: one running target, however it was started, as checks see it.

Built from a `Target` profile (socket_harness.profile). Three runners:

- `ExistingAddress`: a service someone else runs; nothing is started or stopped.
- `HostProcess`: a command run as a process on this host (the fast tier's server,
  `make fuzz --target local`); its output is read by background threads.
- `ContainerRun`: a container of an image (the plugin's targets, the container
  tier's server, bench's servers, `make fuzz`'s server under coverage).

Each gives `address(listener)` (host, port), `pid` (its main process as the host
sees it: for socket_harness.observe), `logs()`, `send_signal(name)`,
`stop_and_wait(timeout)` and `wait_exit(timeout)`, and each waits for readiness the same
way: socket_harness.ready.wait_ready (the protocol, never a log line).
Errors: TargetProblem, one line.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .profile import Address, Listener, Readiness, Setup, Target
from .ready import STARTUP_TIMEOUT, TargetProblem, wait_ready

__all__ = [
    "ContainerRun",
    "ExistingAddress",
    "HostProcess",
    "SystemUnderTest",
    "TargetProblem",
]

LOG_TAIL = 2000  # characters of a target's output in a TargetProblem
# The harness removes what it starts; no reaper container (it would need a registry).
os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")


class SystemUnderTest:
    """A running target. Subclasses say how it runs; this base has no process at all.

    `address(listener)` -> (host, port) a plain socket connects to; `pid` -> int or
    None (no process of ours); `logs()` -> its output so far (str); `send_signal(name)`
    a signal by name (`"SIGTERM"`); `stop_and_wait(timeout)` sends the profile's stop signal
    and returns the exit code; `wait_exit(timeout)` -> exit code; `check_running()` raises
    TargetProblem (with the log tail) once it exited; `remove()` ends it, idempotent.
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
        raise NotImplementedError

    def logs(self) -> str:
        return ""

    def check_running(self) -> None:
        """Nothing to check: it was never ours to start."""

    def send_signal(self, name: str) -> None:
        raise TargetProblem(f"{self.target.name} has no process of ours to signal")

    def wait_exit(self, timeout: float) -> int:
        raise TargetProblem(f"{self.target.name} has no process of ours to wait for")

    def stop_and_wait(self, timeout: float) -> int:
        """Send the stop signal (the profile's, else SIGTERM) and wait up to `timeout` s."""
        self.send_signal(self.target.stop_signal or "SIGTERM")
        return self.wait_exit(timeout)

    def wait_ready(
        self,
        readiness: Readiness | None = None,
        timeout: float = STARTUP_TIMEOUT,
        also_listening: Iterable[int] = (),
    ) -> None:
        """socket_harness.ready.wait_ready on this target (TargetProblem, one line)."""
        wait_ready(self, readiness, timeout, also_listening)

    def _ready_or_removed(self, readiness: Readiness | None, timeout: float) -> None:
        try:
            self.wait_ready(readiness, timeout)
        except TargetProblem as exc:
            exc.logs = exc.logs or self.logs()  # read before the removal loses them
            self.remove()
            raise
        except BaseException:
            self.remove()
            raise

    def remove(self) -> None:
        """Nothing to remove."""


class ExistingAddress(SystemUnderTest):
    """A target given by its `Address`: every listener on that host, at its own port."""

    def address(self, listener: Listener) -> tuple[str, int]:
        source = self.target.source
        if not isinstance(source, Address):
            raise TargetProblem(f"{self.target.name} is not given by an address")
        return source.host, listener.port


class HostProcess(SystemUnderTest):
    """`argv` run on this host as the target: listeners on `host` (default loopback).

    `env` is the whole environment (None: this process's); `stdout`/`stderr` a pipe
    (read here, line by line, so the target never blocks on a full pipe) or a
    descriptor. `new_session`: a session of its own (a terminal's Ctrl-C does not reach
    it; the caller stops it). `main_pid(proc)` says which PID is the target when `argv` is a
    launcher (a PID namespace's init); signals go through a pidfd, never to a
    recycled PID. Addresses: the listener's port, unless `set_address` learned
    another (a port 0 listener's real one). `ready`: wait (wait_ready) before
    returning; a target that fails is killed and reaped.
    """

    def __init__(
        self,
        target: Target,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        stdout: int = subprocess.PIPE,
        stderr: int = subprocess.PIPE,
        host: str = "127.0.0.1",
        new_session: bool = False,
        main_pid: Callable[[subprocess.Popen[str]], int] | None = None,
        ready: bool = True,
        readiness: Readiness | None = None,
    ) -> None:
        super().__init__(target)
        self.host = host
        self._addresses: dict[str, tuple[str, int]] = {}
        self.proc = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            text=True,
            encoding="utf-8",
            errors="replace",
            start_new_session=new_session,
        )
        self._pidfd = -1
        try:
            self.main_pid = main_pid(self.proc) if main_pid else self.proc.pid
            self._pidfd = os.pidfd_open(self.main_pid)
        except BaseException:
            self.remove()
            raise
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self.changed = threading.Condition()
        self.readers = [
            threading.Thread(target=self._pump, args=(stream, into), daemon=True)
            for stream, into in ((self.proc.stdout, self.stdout), (self.proc.stderr, self.stderr))
            if stream is not None
        ]
        for reader in self.readers:
            reader.start()
        if ready:
            self._ready_or_removed(readiness, STARTUP_TIMEOUT)

    def _pump(self, stream: Iterable[str] | None, into: list[str]) -> None:
        assert stream is not None
        for line in stream:
            with self.changed:
                into.append(line.rstrip("\n"))
                self.changed.notify_all()
        with self.changed:
            self.changed.notify_all()

    @property
    def pid(self) -> int:
        """The target's PID as seen from here (not 1 when it is PID 1 of its namespace)."""
        return self.main_pid

    def set_address(self, listener: Listener, host: str, port: int) -> None:
        """Where `listener` really listens (a port 0 listener's port, from its output)."""
        self._addresses[listener.name] = (host, port)

    def address(self, listener: Listener) -> tuple[str, int]:
        return self._addresses.get(listener.name, (self.host, listener.port))

    def logs(self) -> str:
        with self.changed:
            return "\n".join(self.stdout + self.stderr)

    def check_running(self) -> None:
        code = self.proc.poll()
        if code is not None:
            raise TargetProblem(
                f"{self.target.name} exited {code} before it was ready:\n{self.logs()[-LOG_TAIL:]}"
            )

    def send_signal(self, name: str | int) -> None:
        """Signal `name` ("SIGTERM" or a number) to the target itself; no-op once reaped."""
        number = signal.Signals[name] if isinstance(name, str) else name
        signal.pidfd_send_signal(self._pidfd, number)

    def wait_exit(self, timeout: float) -> int:
        """The exit code (of `argv`'s process), once it ended and its output was read;
        TargetProblem if it still runs after `timeout` seconds."""
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise TargetProblem(f"{self.target.name} did not exit within {timeout:g} s") from None
        for reader in self.readers if hasattr(self, "readers") else ():
            reader.join(timeout)
        return code

    def remove(self) -> None:
        """Kill it if it still runs, reap it, close its pipes and pidfd."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for reader in getattr(self, "readers", ()):
            reader.join(5.0)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
        if self._pidfd >= 0:
            os.close(self._pidfd)
            self._pidfd = -1


def engine_said(exc: Exception) -> str:
    """The first line of the Docker engine's own explanation of `exc` (an APIError)."""
    explanation = getattr(exc, "explanation", None) or str(exc)
    return (str(explanation).strip().splitlines() or [type(exc).__name__])[0]


class ContainerRun(SystemUnderTest):
    """A container of `image` as the target, reached from the host at its bridge IP.

    `network`: a testcontainers Network (None: the engine's default bridge), joined
    with `alias` if given. `setup`: command and environment (default: the target's
    own). `labels`: the container's labels (socket_harness.labels). `run`: further
    `docker run` keyword arguments of the docker SDK (`nano_cpus`, `ulimits`,
    `volumes`, `entrypoint`, `working_dir`, `healthcheck`, ...). `on_start(name,
    logs)` is called once the container exists (the suite tracks its logs). `ready`:
    wait (wait_ready, `readiness` or the target's own, `timeout` seconds) before
    returning. A container that fails to start or get ready is removed.
    """

    def __init__(
        self,
        target: Target,
        image: str,
        *,
        network: Any = None,
        setup: Setup | None = None,
        labels: Mapping[str, str] | None = None,
        alias: str | None = None,
        run: Mapping[str, Any] | None = None,
        on_start: Callable[[str, Callable[[], str]], None] | None = None,
        ready: bool = True,
        readiness: Readiness | None = None,
        timeout: float = STARTUP_TIMEOUT,
    ) -> None:
        from testcontainers.core.container import DockerContainer

        super().__init__(target)
        setup = setup or target.setup
        kwargs: dict[str, Any] = {"labels": dict(labels or {}), **(run or {})}
        if target.stop_signal:
            kwargs["stop_signal"] = target.stop_signal
        volumes: Mapping[str, Mapping[str, str]] = kwargs.pop("volumes", {})
        self.network = network
        self.container = DockerContainer(image).with_kwargs(**kwargs)
        for host, mount in volumes.items():  # testcontainers passes volumes itself
            self.container.with_volume_mapping(host, mount["bind"], mount.get("mode", "ro"))
        if network is not None:
            self.container.with_network(network)
            if alias:
                self.container.with_network_aliases(alias)
        for name, value in setup.environment.items():
            self.container.with_env(name, value)
        if setup.command is not None:
            self.container.with_command(list(setup.command))
        import docker.errors

        try:
            try:
                self.container.start()
            except docker.errors.APIError as exc:  # no such image, no such command, ...
                raise TargetProblem(
                    f"{target.name}: the engine could not start {image}: {engine_said(exc)}"
                ) from None
            wrapped = self.container.get_wrapped_container()
            if on_start is not None:
                on_start(str(wrapped.name), self.logs)
            wrapped.reload()
            networks = wrapped.attrs["NetworkSettings"]["Networks"]
            on = networks[network.name] if network is not None else next(iter(networks.values()))
            self.ip = str(on["IPAddress"])
            self._pid = int(wrapped.attrs["State"]["Pid"])
        except BaseException:
            self.remove()
            raise
        if ready:
            self._ready_or_removed(readiness, timeout)

    @property
    def has_container(self) -> bool:
        return True

    def wait_ready(
        self,
        readiness: Readiness | None = None,
        timeout: float = STARTUP_TIMEOUT,
        also_listening: Iterable[int] = (),
    ) -> None:
        """Readiness through testcontainers' wait strategy (wait_strategy.ProtocolReady) on
        this container: the same protocol-level wait as every runner's (TargetProblem)."""
        from .wait_strategy import ProtocolReady

        strategy = ProtocolReady(self, readiness, also_listening, timeout)
        strategy.wait_until_ready(self.container)

    @property
    def name(self) -> str:
        return str(self.container.get_wrapped_container().name)

    @property
    def pid(self) -> int:
        """The container's main process as the host sees it (`docker inspect` State.Pid)."""
        return self._pid

    def address(self, listener: Listener) -> tuple[str, int]:
        return self.ip, listener.port

    def logs(self) -> str:
        import docker.errors

        try:
            stdout, stderr = self.container.get_logs()
        except (docker.errors.NotFound, AttributeError):
            return ""
        return stdout.decode(errors="replace") + stderr.decode(errors="replace")

    def status(self) -> str:
        """The engine's state of the container now: "running", "exited", ..."""
        wrapped = self.container.get_wrapped_container()
        wrapped.reload()
        return str(wrapped.status)

    def check_running(self) -> None:
        wrapped = self.container.get_wrapped_container()
        wrapped.reload()
        state = wrapped.attrs["State"]
        if state["Status"] in ("exited", "dead"):
            raise TargetProblem(
                f"{self.target.name} exited {state['ExitCode']} before it was ready:\n"
                f"{self.logs()[-LOG_TAIL:]}"
            )

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
        """Remove the container (killing it if it still runs); idempotent."""
        import docker.errors
        from testcontainers.core.exceptions import ContainerStartException

        gone = (docker.errors.NotFound, docker.errors.APIError, ContainerStartException)
        with contextlib.suppress(*gone):  # never created, or already removed
            self.container.get_wrapped_container().remove(force=True)
