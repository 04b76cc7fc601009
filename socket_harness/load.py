"""Read a target profile from a TOML file (tomllib, standard library) and validate it."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path

from .errors import ProfileError
from .profile import Target
from .toml_lines import KeyPath, key_lines, line_of
from .validate import dotted, validate

# How the messages write a table that is not a key = value.
_TABLES: Mapping[KeyPath, str] = {("build",): "[build]", ("listeners",): "[[listeners]]"}
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


def parse(path: Path, text: str | None = None) -> tuple[dict[str, object], str]:
    """The file's tables and its text (read from `path` unless given); a missing, unreadable
    or non-TOML file is ProfileError."""
    try:
        text = path.read_text(encoding="utf-8") if text is None else text
    except FileNotFoundError:
        raise ProfileError(path, None, "", "no such file") from None
    except UnicodeDecodeError as exc:
        raise ProfileError(path, None, "", f"not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise ProfileError(path, None, "", exc.strerror or str(exc)) from None
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as exc:
        found = _TOML_LINE.search(str(exc))
        line = int(found.group(1)) if found else None
        raise ProfileError(path, line, "", f"not valid TOML: {exc}") from None


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
