"""Read a target profile from a TOML file (tomllib, standard library) and validate it."""

from __future__ import annotations

import os
import re
import stat
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path

from .errors import ProfileError
from .profile import Target
from .toml_lines import KeyPath, key_lines, line_of
from .validate import dotted, validate

# How the messages write a table that is not a key = value.
_TABLES: Mapping[KeyPath, str] = {("build",): "[build]", ("listeners",): "[[listeners]]"}
# Profiles are a few hundred bytes; a bound keeps /dev/zero or a runaway file out of memory.
MAX_PROFILE_BYTES = 1024 * 1024
_TOML_LINE = re.compile(r"\(at line (\d+), column \d+\)")


class FileOrigin:
    """Errors at `path`'s lines: `FILE:LINE: promises.backlog.backlog: message`."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.lines = key_lines(text)

    def name(self, path: KeyPath) -> str:
        return _TABLES.get(path) or dotted(path)

    def line(self, path: KeyPath) -> int:
        return line_of(self.lines, path)

    def error(self, path: KeyPath, message: str) -> ProfileError:
        return ProfileError(self.path, self.line(path), dotted(path) or "(top)", message)


def read(path: Path) -> str:
    """The text of the profile file `path`: a regular file of at most MAX_PROFILE_BYTES of
    UTF-8. Anything else (missing, a directory, a FIFO or device, too big) is ProfileError,
    decided from stat() before it is opened: opening a FIFO would wait for a writer."""
    try:
        mode = path.stat().st_mode
        if not stat.S_ISREG(mode):
            raise ProfileError(path, None, "", f"not a regular file ({_kind(mode)})")
        with path.open("rb") as file:
            data = file.read(MAX_PROFILE_BYTES + 1)  # a file still growing is read no further
    except FileNotFoundError:
        raise ProfileError(path, None, "", "no such file") from None
    except OSError as exc:
        raise ProfileError(path, None, "", exc.strerror or str(exc)) from None
    if len(data) > MAX_PROFILE_BYTES:
        raise ProfileError(path, None, "", f"larger than {MAX_PROFILE_BYTES} bytes: not a profile")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProfileError(path, None, "", f"not UTF-8 text ({exc.reason})") from None


def _kind(mode: int) -> str:
    kinds = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
             (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))  # fmt: skip
    return next((name for test, name in kinds if test(mode)), "not a file")


def parse(path: Path, text: str | None = None) -> tuple[dict[str, object], str]:
    """The file's tables and its text (read from `path` unless given); a missing, unreadable,
    oversized, not-regular or non-TOML file is ProfileError."""
    text = read(path) if text is None else text
    if text.startswith("\ufeff"):
        raise ProfileError(path, 1, "", "starts with a UTF-8 byte-order mark: save it without one")
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as exc:
        found = _TOML_LINE.search(str(exc))
        line = int(found.group(1)) if found else None
        raise ProfileError(path, line, "", f"not valid TOML: {exc}") from None
    except ValueError as exc:  # tomllib's int() on an integer of more than 4300 digits
        raise ProfileError(path, None, "", f"not valid TOML: {exc}") from None


def load(path: str | os.PathLike[str]) -> Target:
    """The target profile in the TOML file `path`, validated (docs/targets.md).

    Relative build paths resolve against the file's directory; the target's
    name defaults to the file's stem. Raises ProfileError (`FILE:LINE: KEY:
    message`) for a missing file, bad TOML or any bad value.
    """
    return loads(None, path)


def loads(text: str | None, path: str | os.PathLike[str]) -> Target:
    """Like `load`, with the file's `text` given (None: read it), e.g. a profile not saved yet:
    `path` still names it in errors and is where its relative paths start."""
    file = Path(path)
    raw, text = parse(file, text)
    return validate(raw, FileOrigin(file, text), file.parent, file.stem, file)


def check_distinct_names(targets: Sequence[Target]) -> None:
    """Raise ProfileError when two targets of one run share a name: their rows in the
    report would be indistinguishable. The error names both profile files."""
    seen: dict[str, Target] = {}
    for target in targets:
        other = seen.setdefault(target.name, target)
        if other is not target:
            first = other.path or "the options"
            second = target.path or "the options"
            raise ProfileError(
                None,
                None,
                "--target",
                f"two targets are named {target.name!r}: {first} and {second} "
                "(give one another [target] name)",
            )
