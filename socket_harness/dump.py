"""Write a `Target` back as a profile's TOML text: `load` of it gives the same Target.

Used to save a profile made from pytest options, and to show the profile a
report was made against. Paths are written absolute; every field is written,
defaults included, so the text says exactly what was tested.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from .profile import (
    Address,
    Backlog,
    Build,
    GracefulStop,
    Health,
    IdleTimeout,
    Image,
    MaxConnections,
    MaxMessageBytes,
    MaxSessions,
    Promise,
    Readiness,
    Setup,
    Target,
)

_BARE = re.compile(r"[A-Za-z0-9_-]+")
_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f"}
_SHORT_ESCAPES["\r"] = "\\r"

Value = str | int | float | bool | tuple[str, ...] | Mapping[str, str]


def string(text: str) -> str:
    """`text` as a TOML basic string: quotes, backslashes and control characters escaped."""
    out = []
    for char in text:
        if char in _SHORT_ESCAPES:
            out.append(_SHORT_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04X}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def key(name: str) -> str:
    return name if _BARE.fullmatch(name) else string(name)


def value(item: Value) -> str:
    """One TOML value: string, integer, float, boolean, array of strings, inline table."""
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, int | float):
        return repr(item)
    if isinstance(item, str):
        return string(item)
    if isinstance(item, tuple):
        return "[" + ", ".join(string(part) for part in item) + "]"
    pairs = ", ".join(f"{key(name)} = {string(text)}" for name, text in item.items())
    return "{ " + pairs + " }" if pairs else "{}"


def _table(header: str, fields: Mapping[str, Value | None]) -> list[str]:
    lines = [header]
    lines += [f"{key(name)} = {value(item)}" for name, item in fields.items() if item is not None]
    return [*lines, ""]


def _setup(setup: Setup) -> dict[str, Value | None]:
    return {"command": setup.command, "environment": setup.environment or None}


def _promise(promise: Promise) -> dict[str, Value | None]:
    fields: dict[str, Value | None]
    if isinstance(promise, MaxConnections):
        fields = {"limit": promise.limit, "overflow": promise.overflow.value}
    elif isinstance(promise, Backlog):
        fields = {"backlog": promise.backlog, "max_connections": promise.max_connections}
    elif isinstance(promise, IdleTimeout):
        fields = {"seconds": promise.seconds}
    elif isinstance(promise, MaxMessageBytes):
        fields = {"limit": promise.limit}
    elif isinstance(promise, MaxSessions):
        fields = {"limit": promise.limit, "exit_code": promise.exit_code}
    elif isinstance(promise, GracefulStop):
        fields = {
            "signal": promise.signal,
            "drain_timeout": promise.drain_timeout,
            "drained_exit_code": promise.drained_exit_code,
            "aborted_exit_code": promise.aborted_exit_code,
        }
    else:
        assert isinstance(promise, Health)
        fields = {"address": str(promise.address), "reply_prefix": promise.reply_prefix.decode()}
    return {**fields, **_setup(promise.setup)}


def dumps(target: Target) -> str:
    """`target` as profile TOML text (its wire constants must be UTF-8, as loaded ones are)."""
    source = target.source
    head: dict[str, Value | None] = {"name": target.name}
    if isinstance(source, Image):
        head["image"] = source.reference
    elif isinstance(source, Address):
        head["address"] = str(source)
    head.update({**_setup(target.setup), "stop_signal": target.stop_signal})
    if target.readiness is not Readiness.CONNECT:
        head["readiness"] = target.readiness.value
    lines = _table("[target]", head)
    if isinstance(source, Build):
        lines += _table(
            "[build]",
            {
                "context": str(source.context),
                "dockerfile": str(source.dockerfile),
                "args": source.args or None,
            },
        )
    for listener in target.listeners:
        fields = {"name": listener.name, "framing": listener.framing.value, "port": listener.port}
        lines += _table("[[listeners]]", fields)
    wire = target.wire
    lines += _table(
        "[wire]",
        {
            "greeting": False if wire.greeting is None else wire.greeting.decode(),
            "ack_prefix": wire.ack_prefix.decode(),
            "error_prefix": wire.error_prefix.decode(),
        },
    )
    promises = target.promises
    for entry in promises.max_connections:
        lines += _table("[[promises.max_connections]]", _promise(entry))
    for name in promises.declared():
        promise = getattr(promises, name)
        if name != "max_connections":
            lines += _table(f"[promises.{name}]", _promise(promise))
    return "\n".join(lines)
