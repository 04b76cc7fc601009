"""Readiness as a testcontainers wait strategy: ready.wait_ready behind WaitStrategy.

    strategy = ProtocolReady(sut, timeout=60.0)
    strategy.wait_until_ready(container)    # or DockerContainer(...).waiting_for(strategy)

`sut` is the started target (socket_harness.sut.ContainerRun, or anything
`ready.Startable`): where its listeners are, its PID for LISTEN state read from
the host, whether it still runs. The check is the protocol's (a connect and the
declared greeting, or LISTEN state: docs/targets.md `readiness`), never a log
line. Kept apart from ready.py so that importing the readiness rules does not
import testcontainers (its configuration is read at import: the suite disables
Ryuk first).
"""

from __future__ import annotations

from collections.abc import Iterable

from testcontainers.core.wait_strategies import WaitStrategy
from testcontainers.core.waiting_utils import WaitStrategyTarget

from .profile import Readiness
from .ready import STARTUP_TIMEOUT, Startable, wait_ready


class ProtocolReady(WaitStrategy):
    """Wait until `sut` is ready at the protocol level (`readiness`: the target's own unless
    given; `also_listening`: more ports that must be in LISTEN state, e.g. a health port).

    `timeout` (seconds; or `with_startup_timeout`) bounds the whole wait. Raises
    ready.TargetProblem (one line): not ready in time, the target exited, or it accepted
    and then sent other bytes than its declared greeting, or nothing within
    ready.GREETING_TIMEOUT seconds.
    """

    def __init__(
        self,
        sut: Startable,
        readiness: Readiness | None = None,
        also_listening: Iterable[int] = (),
        timeout: float = STARTUP_TIMEOUT,
    ) -> None:
        super().__init__()
        self.sut = sut
        self.readiness = readiness
        self.also_listening = tuple(also_listening)
        self._startup_timeout = timeout

    def wait_until_ready(self, container: WaitStrategyTarget) -> None:
        """Block until ready (the container is `sut`'s; its state comes through `sut`)."""
        wait_ready(self.sut, self.readiness, self._startup_timeout, self.also_listening)
