"""Turn a profile's raw tables (TOML's types) into a `Target`, or a `ProfileError`.

One validator for both ways of writing a profile: `load` passes tomllib's
tables with an origin that names FILE:LINE and the dotted key; `options` passes
the same tables built from pytest options with an origin that names the option.
Every rule lives here once.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
from collections.abc import Collection, Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol, TypeVar

from .errors import ProfileError
from .hostport import parse_host_port
from .profile import (
    DEFAULT_ACK_PREFIX,
    DEFAULT_ERROR_PREFIX,
    DEFAULT_GREETING,
    DEFAULT_HEALTH_REPLY_PREFIX,
    Address,
    Backlog,
    Build,
    Framing,
    GracefulStop,
    Health,
    IdleTimeout,
    Image,
    Listener,
    MaxConnections,
    MaxMessageBytes,
    MaxSessions,
    Overflow,
    Promises,
    Readiness,
    Setup,
    Source,
    Target,
    Wire,
    frozen_mapping,
)
from .toml_lines import KeyPath

E = TypeVar("E", Framing, Overflow, Readiness)
P = TypeVar("P")

# signal(7) on Linux, where every target runs: not the host's list (it may be another OS).
SIGNALS = frozenset(
    (
        "SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGIOT", "SIGBUS",
        "SIGFPE", "SIGKILL", "SIGUSR1", "SIGSEGV", "SIGUSR2", "SIGPIPE", "SIGALRM", "SIGTERM",
        "SIGSTKFLT", "SIGCHLD", "SIGCONT", "SIGSTOP", "SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGURG",
        "SIGXCPU", "SIGXFSZ", "SIGVTALRM", "SIGPROF", "SIGWINCH", "SIGIO", "SIGPOLL", "SIGPWR",
        "SIGSYS",
    )
)  # fmt: skip
UNCATCHABLE = frozenset({"SIGKILL", "SIGSTOP"})

# A count (limit, backlog, sessions, bytes) is at most a C int: listen(2) takes an int and
# servers keep such limits in one; more is a typo, and would overflow where it is used.
MAX_COUNT = 2**31 - 1
# The longest a check may wait on a promised duration (idle timeout, drain timeout): a
# check waits about that long, and a run must end in minutes, not days.
MAX_WAIT_SECONDS = 300.0

# The image reference grammar of the distribution project (docker's `reference` package).
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_LABEL = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
# A first part is a registry only with a dot or a port in it, or as `localhost`.
_DOMAIN = rf"(?:{_LABEL}(?:\.{_LABEL})+(?::[0-9]+)?|{_LABEL}:[0-9]+|localhost)"
IMAGE_REFERENCE = re.compile(
    rf"(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*"
    r"(?::[\w][\w.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?"
)
_VARIABLE = re.compile(r"[^=\0]+")

TOP_KEYS = ("target", "build", "listeners", "wire", "promises")
TARGET_KEYS = (
    "name", "image", "address", "command", "environment", "stop_signal", "readiness"
)  # fmt: skip
BUILD_KEYS = ("context", "dockerfile", "args")
LISTENER_KEYS = ("name", "framing", "port")
WIRE_KEYS = ("greeting", "ack_prefix", "error_prefix")
SETUP_KEYS = ("command", "environment")
PROMISE_KEYS = {
    "max_connections": ("limit", "overflow"),
    "backlog": ("backlog", "max_connections"),
    "idle_timeout": ("seconds",),
    "max_message_bytes": ("limit",),
    "max_sessions": ("limit", "exit_code"),
    "graceful_stop": ("signal", "drain_timeout", "drained_exit_code", "aborted_exit_code"),
    "health": ("address", "reply_prefix"),
}


class Origin(Protocol):
    """Where the raw tables came from: it names a key, and makes the error for a bad value."""

    def name(self, path: KeyPath) -> str:
        """How a person writes `path` in this origin (`promises.backlog` or `--target-backlog`)."""
        ...

    def error(self, path: KeyPath, message: str) -> ProfileError:
        """The error for a bad value at `path` (FILE:LINE: KEY, or the option)."""
        ...


def dotted(path: KeyPath) -> str:
    """`("listeners", 1, "port")` -> `listeners[1].port`."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def toml_type(value: object) -> str:
    """A value's type as TOML names it, for messages."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return "a date or time"


def validate(
    raw: Mapping[str, Any], origin: Origin, base_dir: Path, default_name: str, path: Path | None
) -> Target:
    """Check every key of `raw` and build the `Target`; the first problem raises ProfileError.

    `base_dir` is where relative build paths start (the profile file's
    directory); `default_name` names the target when `target.name` is absent;
    `path` is the profile file, kept on the Target (None for options).
    """
    return _Validator(origin, base_dir).target(raw, default_name, path)


class _Validator:
    def __init__(self, origin: Origin, base_dir: Path) -> None:
        self.origin = origin
        self.base_dir = base_dir

    def fail(self, path: KeyPath, message: str) -> ProfileError:
        return self.origin.error(path, message)

    # --- shapes ---------------------------------------------------------------

    def table(self, value: object, path: KeyPath, keys: Collection[str]) -> Mapping[str, Any]:
        """`value` as a table holding none but `keys`."""
        if not isinstance(value, dict):
            raise self.fail(path, f"must be a table, not {toml_type(value)}")
        for key in value:
            if key not in keys:
                near = difflib.get_close_matches(key, keys, n=1)
                hint = f"did you mean {near[0]!r}? " if near else ""
                where = f"in [{dotted(path)}] " if path else "at the top "
                raise self.fail(
                    (*path, key), f"unknown key {where}({hint}known: {', '.join(keys)})"
                )
        return value

    def tables(self, value: object, path: KeyPath) -> Iterator[tuple[KeyPath, object]]:
        """An array of tables, each with its path; a single table counts as one."""
        if isinstance(value, dict):
            yield path, value
        elif isinstance(value, list) and value:
            for index, item in enumerate(value):
                yield (*path, index), item
        else:
            raise self.fail(path, f"must be a table or an array of tables, not {toml_type(value)}")

    # --- scalars --------------------------------------------------------------

    def string(self, table: Mapping[str, Any], path: KeyPath, key: str) -> str | None:
        value = table.get(key)
        if value is not None and not isinstance(value, str):
            raise self.fail((*path, key), f"must be a string, not {toml_type(value)}")
        return value

    def text(self, table: Mapping[str, Any], path: KeyPath, key: str) -> str | None:
        """A string that may not be empty."""
        value = self.string(table, path, key)
        if value is not None and not value.strip():
            raise self.fail((*path, key), "must not be empty")
        return value

    def integer(
        self, table: Mapping[str, Any], path: KeyPath, key: str, least: int, most: int = MAX_COUNT
    ) -> int | None:
        value = table.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail((*path, key), f"must be a whole number, not {toml_type(value)}")
        if not least <= value <= most:
            raise self.fail(
                (*path, key), f"{value} is out of range: must be from {least} to {most}"
            )
        return value

    def seconds(
        self, table: Mapping[str, Any], path: KeyPath, key: str, *, zero: bool
    ) -> float | None:
        value = table.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail((*path, key), f"must be a number of seconds, not {toml_type(value)}")
        if not math.isfinite(value) or value < 0 or (value == 0 and not zero):
            least = "0 or more" if zero else "more than 0"
            raise self.fail((*path, key), f"{value} is out of range: must be {least} seconds")
        if value > MAX_WAIT_SECONDS:
            raise self.fail(
                (*path, key),
                f"{value} is out of range: at most {MAX_WAIT_SECONDS:g} seconds "
                "(a check waits that long; docs/targets.md)",
            )
        return float(value)

    def exit_code(self, table: Mapping[str, Any], path: KeyPath, key: str) -> int | None:
        return self.integer(table, path, key, 0, 255)

    def choice(self, table: Mapping[str, Any], path: KeyPath, key: str, kind: type[E]) -> E | None:
        value = self.string(table, path, key)
        if value is None:
            return None
        try:
            return kind(value)
        except ValueError:
            known = ", ".join(item.value for item in kind)
            raise self.fail((*path, key), f"{value!r} is not one of {known}") from None

    def signal(self, table: Mapping[str, Any], path: KeyPath, key: str) -> str | None:
        value = self.string(table, path, key)
        if value is None:
            return None
        if value not in SIGNALS:
            spelled = f"SIG{value.upper()}" if f"SIG{value.upper()}" in SIGNALS else None
            hint = f" (write {spelled!r})" if spelled else " (a Linux signal name such as SIGTERM)"
            raise self.fail((*path, key), f"{value!r} is not a signal name{hint}")
        return value

    def address(self, table: Mapping[str, Any], path: KeyPath, key: str) -> Address | None:
        value = self.string(table, path, key)
        if value is None:
            return None
        try:
            host, port = parse_host_port(value)
        except ValueError as exc:
            raise self.fail((*path, key), str(exc)) from None
        return Address(host, port)

    def strings(self, table: Mapping[str, Any], path: KeyPath, key: str) -> tuple[str, ...] | None:
        value = table.get(key)
        if value is None:
            return None
        if not isinstance(value, list):
            raise self.fail((*path, key), f"must be an array of strings, not {toml_type(value)}")
        if not value:
            raise self.fail((*path, key), "must not be empty (leave it out to keep the default)")
        for index, item in enumerate(value):
            if not isinstance(item, str):
                raise self.fail((*path, key, index), f"must be a string, not {toml_type(item)}")
        return tuple(value)

    def variables(self, table: Mapping[str, Any], path: KeyPath, key: str) -> Mapping[str, str]:
        """A table of NAME = "value" strings (environment variables, build arguments)."""
        value = table.get(key, {})
        if not isinstance(value, dict):
            raise self.fail((*path, key), f"must be a table of strings, not {toml_type(value)}")
        for name, item in value.items():
            where = (*path, key, name)
            if not _VARIABLE.fullmatch(name):
                raise self.fail(where, f"{name!r} is not a variable name")
            if not isinstance(item, str):
                hint = f' (write "{item}")' if isinstance(item, int | float) else ""
                raise self.fail(where, f"must be a string, not {toml_type(item)}{hint}")
        return frozen_mapping(dict(value))

    def bytes_(self, table: Mapping[str, Any], path: KeyPath, key: str, default: bytes) -> bytes:
        value = self.string(table, path, key)
        return default if value is None else value.encode()

    def required(self, value: P | None, path: KeyPath, key: str) -> P:
        if value is None:
            if path[0] == "promises":
                needs = f"the {path[1]} promise needs it"
            elif path[0] == "listeners":
                needs = "every listener needs one"
            else:
                needs = f"{self.origin.name(path[:1])} needs it"
            raise self.fail((*path, key), f"missing: {needs}")
        return value

    # --- tables ---------------------------------------------------------------

    def target(self, raw: Mapping[str, Any], default_name: str, path: Path | None) -> Target:
        top = self.table(raw, (), TOP_KEYS)
        section = self.table(top.get("target", {}), ("target",), TARGET_KEYS)
        source = self.source(top, section)
        setup = Setup(
            self.strings(section, ("target",), "command"),
            self.variables(section, ("target",), "environment"),
        )
        stop_signal = self.signal(section, ("target",), "stop_signal")
        readiness = self.choice(section, ("target",), "readiness", Readiness)
        if isinstance(source, Address):
            for key in ("command", "environment", "stop_signal", "readiness"):
                if key in section:
                    raise self.not_started(("target", key))
        listeners = self.listeners(top.get("listeners"), source)
        return Target(
            name=self.text(section, ("target",), "name") or default_name,
            source=source,
            listeners=listeners,
            setup=setup,
            stop_signal=stop_signal,
            readiness=readiness or Readiness.CONNECT,
            wire=self.wire(top.get("wire", {}), listeners),
            promises=self.promises(top.get("promises", {}), source, listeners),
            path=path,
        )

    def not_started(self, where: KeyPath) -> ProfileError:
        address = self.origin.name(("target", "address"))
        return self.fail(where, f"does not apply with {address}: nothing is started")

    def source(self, top: Mapping[str, Any], section: Mapping[str, Any]) -> Source:
        ways: dict[KeyPath, bool] = {
            ("target", "image"): "image" in section,
            ("build",): "build" in top,
            ("target", "address"): "address" in section,
        }
        given = [way for way, present in ways.items() if present]
        names = ", ".join(self.origin.name(way) for way in ways)
        if not given:
            raise self.fail(("target",), f"say how to get the target: one of {names}")
        if len(given) > 1:
            both = " and ".join(self.origin.name(way) for way in given)
            raise self.fail(given[1], f"give only one of {names} ({both} are both set)")
        if given[0] == ("build",):
            return self.build(top["build"])
        if given[0] == ("target", "address"):
            address = self.address(section, ("target",), "address")
            return self.required(address, ("target",), "address")
        reference = self.required(self.text(section, ("target",), "image"), ("target",), "image")
        if not IMAGE_REFERENCE.fullmatch(reference):
            raise self.fail(
                ("target", "image"),
                f"{reference!r} is not an image reference (NAME[:TAG][@DIGEST], lowercase name)",
            )
        return Image(reference)

    def build(self, value: object) -> Build:
        path: KeyPath = ("build",)
        section = self.table(value, path, BUILD_KEYS)
        context_text = self.required(self.text(section, path, "context"), path, "context")
        context = (self.base_dir / context_text).resolve()
        if not context.is_dir():
            raise self.fail((*path, "context"), f"{context}: no such directory")
        dockerfile_text = self.text(section, path, "dockerfile")
        dockerfile = (
            context / "Dockerfile"
            if dockerfile_text is None
            else (self.base_dir / dockerfile_text).resolve()
        )
        if not dockerfile.is_file():
            raise self.fail((*path, "dockerfile"), f"{dockerfile}: no such file")
        return Build(context, dockerfile, self.variables(section, path, "args"))

    def listeners(self, value: object, source: Source) -> tuple[Listener, ...]:
        if value is None:
            raise self.fail(("listeners",), "missing: a target needs at least one listener")
        if not isinstance(value, list) or not value:
            got = "none" if value == [] else toml_type(value)
            raise self.fail(
                ("listeners",), f"must be an array of tables ([[listeners]]), not {got}"
            )
        found: list[Listener] = []
        for index, item in enumerate(value):
            path: KeyPath = ("listeners", index)
            table = self.table(item, path, LISTENER_KEYS)
            framing = self.required(self.choice(table, path, "framing", Framing), path, "framing")
            port = self.integer(table, path, "port", 1, 65535)
            if port is None and isinstance(source, Address):
                port = source.port  # the address's own port
            port = self.required(port, path, "port")
            name = self.text(table, path, "name") or framing.value
            for other in found:
                if other.name == name:
                    key = "name" if "name" in table else "framing"
                    raise self.fail((*path, key), f"a second listener named {name!r}")
                if other.port == port:
                    raise self.fail(
                        (*path, "port"), f"port {port} is already used by listener {other.name!r}"
                    )
            found.append(Listener(name, framing, port))
        return tuple(found)

    def wire(self, value: object, listeners: Collection[Listener]) -> Wire:
        path: KeyPath = ("wire",)
        table = self.table(value, path, WIRE_KEYS)
        greeting_value = table.get("greeting", DEFAULT_GREETING.decode())
        greeting: bytes | None
        if greeting_value is False:
            greeting = None
        elif isinstance(greeting_value, str):
            greeting = greeting_value.encode()
        else:
            message = f"must be a string (or false: no greeting), not {toml_type(greeting_value)}"
            raise self.fail((*path, "greeting"), message)
        if greeting is not None and b"\0" in greeting:
            raise self.fail((*path, "greeting"), "must not hold a NUL character (\\u0000)")
        ack_prefix = self.bytes_(table, path, "ack_prefix", DEFAULT_ACK_PREFIX)
        error_prefix = self.bytes_(table, path, "error_prefix", DEFAULT_ERROR_PREFIX)
        line = next((item for item in listeners if item.framing is Framing.LINE), None)
        for key, prefix in (("ack_prefix", ack_prefix), ("error_prefix", error_prefix)):
            if line is not None and b"\n" in prefix:
                raise self.fail((*path, key), f"must not hold a newline: on line listener "
                                f"{line.name!r} it would end the reply early")  # fmt: skip
        if not error_prefix:
            raise self.fail((*path, "error_prefix"), "must not be empty: every reply would be one")
        if ack_prefix.startswith(error_prefix):
            key = "ack_prefix" if "ack_prefix" in table else "error_prefix"
            raise self.fail((*path, key), "an answer would be taken for an error: an ack prefix "
                            "must not start with the error prefix")  # fmt: skip
        return Wire(greeting, ack_prefix, error_prefix)

    # --- promises -------------------------------------------------------------

    def promises(self, value: object, source: Source, listeners: Collection[Listener]) -> Promises:
        table = self.table(value, ("promises",), tuple(PROMISE_KEYS))
        made: dict[str, Any] = {}
        for name, item in table.items():
            build = getattr(self, f"promise_{name}")
            parts = [
                build(self.table(entry, where, (*PROMISE_KEYS[name], *SETUP_KEYS)), where, source)
                for where, entry in (
                    self.tables(item, ("promises", name))
                    if name == "max_connections"
                    else [(("promises", name), item)]
                )
            ]
            made[name] = tuple(parts) if name == "max_connections" else parts[0]
        self.one_limit_per_setup(made.get("max_connections", ()))
        health = made.get("health")
        if health is not None:
            self.health_port_free(health, listeners)
        backlog = made.get("backlog")
        if backlog is not None and "max_connections" not in table["backlog"]:
            # Unsaid, the slots to fill are those a connection limit of the same setup allows.
            same = [
                item
                for item in made.get("max_connections", ())
                if item.setup == backlog.setup and item.overflow is Overflow.PAUSE
            ]
            made["backlog"] = dataclasses.replace(
                backlog, max_connections=same[0].limit if same else 1
            )
        return Promises(**made)

    def one_limit_per_setup(self, limits: Collection[MaxConnections]) -> None:
        """One setup starts one server: it has one connection limit and one overflow."""
        seen: list[MaxConnections] = []
        for index, item in enumerate(limits):
            for other_index, other in enumerate(seen):
                if other.setup == item.setup:
                    raise self.fail(
                        ("promises", "max_connections", index),
                        f"the same setup (command and environment) as "
                        f"promises.max_connections[{other_index}]: one started target has one "
                        f"limit and one overflow; give each its own environment",
                    )
            seen.append(item)

    def health_port_free(self, health: Health, listeners: Collection[Listener]) -> None:
        for listener in listeners:
            if listener.port == health.address.port:
                raise self.fail(
                    ("promises", "health", "address"),
                    f"port {listener.port} is already used by listener {listener.name!r}",
                )

    def setup(self, table: Mapping[str, Any], path: KeyPath, source: Source) -> Setup:
        if isinstance(source, Address):
            for key in SETUP_KEYS:
                if key in table:
                    raise self.not_started((*path, key))
        return Setup(
            self.strings(table, path, "command"), self.variables(table, path, "environment")
        )

    def promise_max_connections(
        self, table: Mapping[str, Any], path: KeyPath, source: Source
    ) -> MaxConnections:
        return MaxConnections(
            limit=self.required(self.integer(table, path, "limit", 1), path, "limit"),
            overflow=self.required(
                self.choice(table, path, "overflow", Overflow), path, "overflow"
            ),
            setup=self.setup(table, path, source),
        )

    def promise_backlog(self, table: Mapping[str, Any], path: KeyPath, source: Source) -> Backlog:
        return Backlog(
            backlog=self.required(self.integer(table, path, "backlog", 0), path, "backlog"),
            max_connections=self.integer(table, path, "max_connections", 1) or 1,
            setup=self.setup(table, path, source),
        )

    def promise_idle_timeout(
        self, table: Mapping[str, Any], path: KeyPath, source: Source
    ) -> IdleTimeout:
        seconds = self.seconds(table, path, "seconds", zero=False)
        return IdleTimeout(self.required(seconds, path, "seconds"), self.setup(table, path, source))

    def promise_max_message_bytes(
        self, table: Mapping[str, Any], path: KeyPath, source: Source
    ) -> MaxMessageBytes:
        limit = self.required(self.integer(table, path, "limit", 1), path, "limit")
        return MaxMessageBytes(limit, self.setup(table, path, source))

    def promise_max_sessions(
        self, table: Mapping[str, Any], path: KeyPath, source: Source
    ) -> MaxSessions:
        return MaxSessions(
            limit=self.required(self.integer(table, path, "limit", 1), path, "limit"),
            exit_code=_or(self.exit_code(table, path, "exit_code"), 0),
            setup=self.setup(table, path, source),
        )

    def promise_graceful_stop(
        self, table: Mapping[str, Any], path: KeyPath, source: Source
    ) -> GracefulStop:
        signal = _or(self.signal(table, path, "signal"), "SIGTERM")
        if signal in UNCATCHABLE:
            raise self.fail(
                (*path, "signal"), f"{signal} cannot be caught: nothing can drain on it"
            )
        drain_timeout = self.seconds(table, path, "drain_timeout", zero=True)
        return GracefulStop(
            drain_timeout=self.required(drain_timeout, path, "drain_timeout"),
            signal=signal,
            drained_exit_code=_or(self.exit_code(table, path, "drained_exit_code"), 0),
            aborted_exit_code=self.exit_code(table, path, "aborted_exit_code"),
            setup=self.setup(table, path, source),
        )

    def promise_health(self, table: Mapping[str, Any], path: KeyPath, source: Source) -> Health:
        return Health(
            address=self.required(self.address(table, path, "address"), path, "address"),
            reply_prefix=self.bytes_(table, path, "reply_prefix", DEFAULT_HEALTH_REPLY_PREFIX),
            setup=self.setup(table, path, source),
        )


def _or(value: P | None, default: P) -> P:
    return default if value is None else value
