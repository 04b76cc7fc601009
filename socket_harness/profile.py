"""A target profile: what the harness tests and what it may expect of it, as frozen values.

A *target* is one TCP service under test (the system under test). Its profile says
how to get it running (an image, a build, or the address of a service already
running), where it listens and in which framing, the wire constants it speaks,
and the *promises* it makes (limits, backlog, idle timeout, graceful stop, ...).
Checks read only the profile: a check whose promise is not declared is skipped
as "not declared by the target".

The wire defaults are written here as literals from docs/protocol.md on purpose:
the harness's oracle must not share code (`protocol/`) with the server it checks.
Profiles are read by `socket_harness.load` (TOML) and `socket_harness.options`
(pytest options); docs/targets.md documents every field.
"""

from __future__ import annotations

import enum
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

# docs/protocol.md, "The socket-harness wire protocol": the tutorial's words, as UTF-8.
DEFAULT_GREETING = "测试成功!\n".encode()
DEFAULT_ACK_PREFIX = "收到的信息:".encode()
DEFAULT_ERROR_PREFIX = b"ERR "
DEFAULT_HEALTH_REPLY_PREFIX = b"OK"


class Framing(enum.Enum):
    """How messages are delimited on a listener (docs/protocol.md).

    `seed`: the tutorial's one-shot exchange (greeting, one read of up to 8192
    bytes, the answer, close); `line`: `\\n`-terminated messages; `frame`: a
    4-byte big-endian length prefix and the body.
    """

    SEED = "seed"
    LINE = "line"
    FRAME = "frame"


class Overflow(enum.Enum):
    """What a target does with a connection beyond its connection limit.

    `pause`: it stops accepting, so the kernel's accept queue holds the next
    backlog+1 connects and later ones time out in SYN_SENT (never refused);
    `reject`: it accepts and answers the error `busy` instead of the greeting,
    then closes (README, "Limits and the backlog").
    """

    PAUSE = "pause"
    REJECT = "reject"


def frozen_mapping(items: Mapping[str, str] | None = None) -> Mapping[str, str]:
    """A read-only copy of `items` (a profile is immutable all the way down)."""
    return types.MappingProxyType(dict(items or {}))


class Readiness(enum.Enum):
    """How the harness knows a started target is ready (always protocol-level, never a log).

    `connect`: every listener accepts a connection and, where a greeting is
    declared, sends it. `listening`: every listener's port is in LISTEN state in
    the target's network namespace (its /proc/PID/net/tcp read from the host),
    with no connection made: for a target that counts every connection it
    accepts (the tutorial's server exits after five).
    """

    CONNECT = "connect"
    LISTENING = "listening"


# --- how to get the target --------------------------------------------------------


@dataclass(frozen=True)
class Image:
    """Run this image reference (`name[:tag][@digest]`), pulled or found locally."""

    reference: str


@dataclass(frozen=True)
class Build:
    """Build the image first, as `docker build` would.

    `context` and `dockerfile` are absolute paths (a profile's relative paths
    resolve against the profile file's directory); `args` are build arguments
    (`--build-arg NAME=VALUE`).
    """

    context: Path
    dockerfile: Path
    args: Mapping[str, str] = field(default_factory=frozen_mapping)


@dataclass(frozen=True)
class Address:
    """A service already running at `host:port`: nothing is started or stopped.

    Checks that need the target's container (graceful stop, file descriptors,
    memory, accept-queue depth) are reported *not applicable* for such a target.
    """

    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


Source = Image | Build | Address


# --- where it listens and what it says -------------------------------------------


@dataclass(frozen=True)
class Listener:
    """One listening port of the target and its framing.

    `port` is the port inside the container (or on the address's host); `name`
    tells listeners apart in reports (default: the framing's name).
    """

    name: str
    framing: Framing
    port: int


@dataclass(frozen=True)
class Wire:
    """The target's wire constants, as bytes (docs/protocol.md).

    `greeting`: sent first on every connection (as-is on seed and line
    listeners, as one frame's body on frame listeners), or None for a target
    that greets nobody. `ack_prefix`: what every answer starts with before the
    message (empty for a plain echo service). `error_prefix`: what an error
    reply starts with before its reason (`ERR ` + `too-large`, ...).
    """

    greeting: bytes | None = DEFAULT_GREETING
    ack_prefix: bytes = DEFAULT_ACK_PREFIX
    error_prefix: bytes = DEFAULT_ERROR_PREFIX


# --- what it promises ------------------------------------------------------------


@dataclass(frozen=True)
class Setup:
    """How to start the target: its command (argv after the image's entry point; None keeps
    the image's own) and environment variables.

    On a promise it is merged over the target's own (`Target.setup_for`): the
    promise holds when the target is started so, and its checks start it so.
    """

    command: tuple[str, ...] | None = None
    environment: Mapping[str, str] = field(default_factory=frozen_mapping)

    def over(self, base: Setup) -> Setup:
        """This setup applied over `base`: its command replaces, its variables are added."""
        return Setup(
            command=base.command if self.command is None else self.command,
            environment=frozen_mapping({**base.environment, **self.environment}),
        )


@dataclass(frozen=True)
class MaxConnections:
    """At most `limit` connections are open at once, across all listeners; the next one is
    handled as `overflow` says."""

    limit: int
    overflow: Overflow
    setup: Setup = field(default_factory=Setup)


@dataclass(frozen=True)
class Backlog:
    """The listen backlog B: with every connection slot taken (`max_connections` of them),
    exactly B+1 further connects complete (the kernel's accept queue holds them), later
    ones time out, and the queued ones are served in connect order as slots free.

    Linux queues B+1 (it refuses a connection only once more than B are queued)
    and caps B at `net.core.somaxconn`. `max_connections` defaults to the limit
    of a `pause` MaxConnections promise with the same setup, else 1.
    """

    backlog: int
    max_connections: int = 1
    setup: Setup = field(default_factory=Setup)


@dataclass(frozen=True)
class IdleTimeout:
    """A peer that sends nothing for `seconds` gets the error `idle-timeout` and a close."""

    seconds: float
    setup: Setup = field(default_factory=Setup)


@dataclass(frozen=True)
class MaxMessageBytes:
    """A message of `limit` bytes is answered; one byte more gets the error `too-large` and a
    close (docs/protocol.md, "Limits, exactly at their bounds")."""

    limit: int
    setup: Setup = field(default_factory=Setup)


@dataclass(frozen=True)
class MaxSessions:
    """After `limit` connections were admitted the target stops listening and, once they
    ended, exits with `exit_code`."""

    limit: int
    exit_code: int = 0
    setup: Setup = field(default_factory=Setup)


@dataclass(frozen=True)
class GracefulStop:
    """On `signal` (a name such as `SIGTERM`) the target stops listening, answers what is in
    flight, tells idle peers `shutting-down`, and exits `drained_exit_code` once all are
    closed; whatever is still open after `drain_timeout` seconds is aborted and it exits
    `aborted_exit_code` (None: not promised)."""

    drain_timeout: float
    signal: str = "SIGTERM"
    drained_exit_code: int = 0
    aborted_exit_code: int | None = None
    setup: Setup = field(default_factory=Setup)


@dataclass(frozen=True)
class Health:
    """Every connection to `address` (`HOST:PORT`; a wildcard host such as 0.0.0.0 means
    the target's own address) is answered with a reply starting `reply_prefix`, then closed,
    and takes no connection slot."""

    address: Address
    reply_prefix: bytes = DEFAULT_HEALTH_REPLY_PREFIX
    setup: Setup = field(default_factory=Setup)


Promise = (
    MaxConnections | Backlog | IdleTimeout | MaxMessageBytes | MaxSessions | GracefulStop | Health
)


@dataclass(frozen=True)
class Promises:
    """Every promise the target makes; an empty tuple or None is "not declared".

    `max_connections` may be declared once per setup (the project's server keeps
    it in both overflow modes, each with its own environment).
    """

    max_connections: tuple[MaxConnections, ...] = ()
    backlog: Backlog | None = None
    idle_timeout: IdleTimeout | None = None
    max_message_bytes: MaxMessageBytes | None = None
    max_sessions: MaxSessions | None = None
    graceful_stop: GracefulStop | None = None
    health: Health | None = None

    def declared(self) -> tuple[str, ...]:
        """The names of the declared promises, in the profile's order of fields."""
        names = [name for name in PROMISE_NAMES if getattr(self, name)]
        return tuple(names)


PROMISE_NAMES = (
    "max_connections",
    "backlog",
    "idle_timeout",
    "max_message_bytes",
    "max_sessions",
    "graceful_stop",
    "health",
)


# --- the target ------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """One target profile.

    `source` says how to get it; `setup` how to start it (not for an `Address`);
    `stop_signal` is the signal the harness stops it with (None: the image's own
    STOPSIGNAL); `readiness` how its start is known complete; `listeners` are never
    empty; `path` is the profile file (None when it came from options).
    """

    name: str
    source: Source
    listeners: tuple[Listener, ...]
    setup: Setup = field(default_factory=Setup)
    stop_signal: str | None = None
    readiness: Readiness = Readiness.CONNECT
    wire: Wire = field(default_factory=Wire)
    promises: Promises = field(default_factory=Promises)
    path: Path | None = None

    @property
    def has_container(self) -> bool:
        """False for an `Address` target: checks needing its container are not applicable."""
        return not isinstance(self.source, Address)

    def listener(self, framing: Framing) -> Listener | None:
        """The first listener speaking `framing`, or None."""
        return next((item for item in self.listeners if item.framing is framing), None)

    def setup_for(self, promise: Promise | None = None) -> Setup:
        """How to start the target for a check of `promise` (None: the target's own setup)."""
        return self.setup if promise is None else promise.setup.over(self.setup)
