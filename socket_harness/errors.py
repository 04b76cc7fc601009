"""The one error a bad profile raises: a usage error that names where the bad value is."""

from __future__ import annotations

from pathlib import Path


class ProfileError(Exception):
    """A bad target profile (unknown key, wrong type, a value out of range, ...).

    It is a usage error, raised while the profile is read, before any container
    starts. `path` is the profile file and `line` the 1-based line of `key` in it;
    both are None when the value came from a pytest option, and then `key` is
    the option's name (`--target-backlog`). Otherwise `key` is the value's dotted
    key (`promises.backlog.backlog`, `listeners[1].port`).

    `str()` is one line: `FILE:LINE: KEY: message` or, for an option, `KEY: message`.
    An error about the file as a whole (missing, not TOML) has no key (`key` is
    empty) and, when it is not about one place in it, no line: `FILE: message`.
    """

    def __init__(self, path: Path | None, line: int | None, key: str, message: str) -> None:
        self.path = path
        self.line = line
        self.key = key
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        parts = []
        if self.path is not None:
            parts.append(str(self.path) if self.line is None else f"{self.path}:{self.line}")
        if self.key:
            parts.append(self.key)
        return ": ".join([*parts, self.message])
