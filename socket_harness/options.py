"""The profile's fields as command-line options (`--target-image`, `--target-listener`, ...).

`OPTIONS` lists every option with the profile key it sets, for the pytest plugin
to register; `from_options` turns their values (with or without a profile file
underneath) into a `Target` through the same validator as a TOML file, so a bad
value is the same usage error, naming the option instead of FILE:LINE.
"""

from __future__ import annotations

import copy
import os
import re
import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ProfileError
from .load import FileOrigin, parse
from .profile import Target
from .toml_lines import KeyPath
from .validate import dotted, validate

Parse = Callable[[str], object]


class _BadValue(ValueError):
    """An option's text that cannot be the value it sets; the message says why."""


def _text(text: str) -> str:
    return text


def _path(text: str) -> str:
    return str(Path(text).absolute())  # a command line's paths start where it was typed


_WHOLE = re.compile(r"[+-]?[0-9]+", re.ASCII)  # int() alone takes '٣٣' (33) and '1_0'


def _integer(text: str) -> int:
    if not _WHOLE.fullmatch(text.strip()):
        raise _BadValue(f"{text!r} is not a whole number")
    try:
        return int(text)
    except ValueError:  # more than 4300 digits (sys.get_int_max_str_digits)
        raise _BadValue(f"{text[:20]!r}... has too many digits") from None


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise _BadValue(f"{text!r} is not a number") from None


_ESCAPE = re.compile(r"\\(?:([\\\"nrtbf])|u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|(.?))", re.DOTALL)
_SIMPLE = {"\\": "\\", '"': '"', "n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f"}


def unescape(text: str) -> str:
    """Resolve the escapes of a TOML basic string (`\\n \\t \\\\ \\uXXXX` ...) in `text`."""

    def one(match: re.Match[str]) -> str:
        simple, short, long, bad = match.groups()
        if simple:
            return _SIMPLE[simple]
        if bad is not None:
            raise _BadValue(f'\\{bad} is not an escape (\\n \\r \\t \\\\ \\" \\uXXXX)')
        try:
            return chr(int(short or long, 16))
        except ValueError:
            raise _BadValue(f"{match.group(0)} is not a character") from None

    return _ESCAPE.sub(one, text)


def _greeting(text: str) -> object:
    return False if text == "none" else unescape(text)


def _argv(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError as exc:
        raise _BadValue(f"{text!r}: {exc}") from None


def _pair(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise _BadValue(f"{text!r} is not NAME=VALUE")
    return name, value


def _listener(text: str) -> dict[str, object]:
    """`[NAME=]FRAMING[:PORT]`: the port may be left out only for a target at an address."""
    name, sep, rest = text.rpartition("=")
    framing, colon, port = rest.partition(":")
    listener: dict[str, object] = {"framing": framing}
    if sep:
        listener["name"] = name
    if colon:
        listener["port"] = _integer(port)
    return listener


@dataclass(frozen=True)
class Option:
    """One command-line option: `flag` sets the profile key `path` to `parse(text)`.

    A `repeatable` option collects its values: NAME=VALUE pairs into a table, or
    listeners into the array of listeners.
    """

    flag: str
    path: KeyPath
    metavar: str
    help: str
    parse: Parse = _text
    repeatable: bool = False


OPTIONS = (
    Option("--target-name", ("target", "name"), "NAME", "the target's name in reports"),
    Option("--target-image", ("target", "image"), "IMAGE", "run this image"),
    Option("--target-build-context", ("build", "context"), "DIR",
           "build the image from this context directory", _path),
    Option("--target-build-dockerfile", ("build", "dockerfile"), "FILE",
           "the Dockerfile to build (default: DIR/Dockerfile)", _path),
    Option("--target-build-arg", ("build", "args"), "NAME=VALUE", "a build argument",
           _pair, repeatable=True),
    Option("--target-address", ("target", "address"), "HOST:PORT",
           "a service already running there: nothing is started"),
    Option("--target-command", ("target", "command"), "ARGS",
           "the container's command (shell words), after the image's entry point", _argv),
    Option("--target-env", ("target", "environment"), "NAME=VALUE",
           "an environment variable of the target", _pair, repeatable=True),
    Option("--target-stop-signal", ("target", "stop_signal"), "SIGNAL",
           "the signal that stops the target (default: the image's STOPSIGNAL)"),
    Option("--target-readiness", ("target", "readiness"), "connect|listening",
           "how readiness is known: connect (and greeting), or the listen socket in /proc"),
    Option("--target-listener", ("listeners",), "[NAME=]FRAMING[:PORT]",
           "a listener: seed, line or frame, and its port", _listener, repeatable=True),
    Option("--target-greeting", ("wire", "greeting"), "TEXT|none",
           "the greeting (escapes as in TOML: \\n ...), or none", _greeting),
    Option("--target-ack-prefix", ("wire", "ack_prefix"), "TEXT",
           "what each answer starts with ('' for a plain echo)", unescape),
    Option("--target-error-prefix", ("wire", "error_prefix"), "TEXT",
           "what an error reply starts with", unescape),
    Option("--target-max-connections", ("promises", "max_connections", "limit"), "N",
           "promise: at most N open connections", _integer),
    Option("--target-overflow", ("promises", "max_connections", "overflow"), "pause|reject",
           "promise: what happens to the connection over the limit"),
    Option("--target-backlog", ("promises", "backlog", "backlog"), "B",
           "promise: B+1 connects are queued while the slots are full", _integer),
    Option("--target-idle-timeout", ("promises", "idle_timeout", "seconds"), "S",
           "promise: a peer silent for S seconds is told idle-timeout and closed", _number),
    Option("--target-max-message-bytes", ("promises", "max_message_bytes", "limit"), "N",
           "promise: N bytes are answered, N+1 are too-large", _integer),
    Option("--target-max-sessions", ("promises", "max_sessions", "limit"), "N",
           "promise: after N connections the target exits", _integer),
    Option("--target-max-sessions-exit-code", ("promises", "max_sessions", "exit_code"), "CODE",
           "promise: its exit code then (default 0)", _integer),
    Option("--target-drain-timeout", ("promises", "graceful_stop", "drain_timeout"), "S",
           "promise: a graceful stop drains for at most S seconds", _number),
    Option("--target-drain-signal", ("promises", "graceful_stop", "signal"), "SIGNAL",
           "promise: the signal it drains on (default SIGTERM)"),
    Option("--target-drained-exit-code", ("promises", "graceful_stop", "drained_exit_code"),
           "CODE", "promise: exit code after a complete drain (default 0)", _integer),
    Option("--target-aborted-exit-code", ("promises", "graceful_stop", "aborted_exit_code"),
           "CODE", "promise: exit code after an aborted drain", _integer),
    Option("--target-health", ("promises", "health", "address"), "HOST:PORT",
           "promise: a health endpoint there"),
    Option("--target-health-reply-prefix", ("promises", "health", "reply_prefix"), "TEXT",
           "promise: what its reply starts with (default OK)", unescape),
)  # fmt: skip

_BY_FLAG = {option.flag: option for option in OPTIONS}
_BY_PATH = {option.path: option for option in OPTIONS}
_NAMES: Mapping[KeyPath, str] = {
    ("build",): "--target-build-context",
    ("target",): "--target-image",
}
_SOURCES = (("target", "image"), ("build",), ("target", "address"))

OptionValues = Mapping[str, str | Sequence[str] | None]
"""Option values by flag: a string, a list of strings for a repeatable one, or None: not given."""


class OptionOrigin:
    """Names options in errors; a key no option set is the profile file's (when there is one)."""

    def __init__(self, file: FileOrigin | None) -> None:
        self.file = file
        self.set: dict[KeyPath, tuple[Option, str]] = {}  # key -> the option and text that set it

    def name(self, path: KeyPath) -> str:
        option = _BY_PATH.get(path)
        if option is not None:
            return option.flag
        if path in _NAMES:
            return _NAMES[path]
        return self.file.name(path) if self.file else dotted(path)

    def error(self, path: KeyPath, message: str) -> ProfileError:
        for end in range(len(path), 0, -1):
            found = self.set.get(path[:end])
            if found is not None:
                option, text = found
                told = f"{text!r}: " if option.repeatable else ""
                return ProfileError(None, None, option.flag, told + message)
        if self.file is not None:
            return self.file.error(path, message)
        return ProfileError(None, None, self.name(path), message)


def _put(raw: dict[str, Any], path: KeyPath, value: object) -> None:
    """Set `raw[path]`, making tables on the way (an array of tables becomes one table);
    a table of variables is added to the file's own."""
    table = raw
    for part in path[:-1]:
        assert isinstance(part, str)
        inner = table.get(part)
        if not isinstance(inner, dict):
            inner = {}
            table[part] = inner
        table = inner
    last = path[-1]
    assert isinstance(last, str)
    before = table.get(last)
    table[last] = (
        {**before, **value} if isinstance(before, dict) and isinstance(value, dict) else value
    )


def from_options(values: OptionValues, base: str | os.PathLike[str] | None = None) -> Target:
    """A Target from option values (`{"--target-image": "x", "--target-listener": [...]}`).

    With `base` (a profile file), the options override its keys: an image,
    build or address option replaces the file's way of getting the target, and
    `--target-listener` replaces its listeners. Without it, an image, build
    context or address option and a listener are needed. A bad value raises
    ProfileError naming the option (`--target-backlog: ...`); a bad key of the
    file is named as `load` names it.
    """
    file: FileOrigin | None = None
    raw: dict[str, Any] = {}
    base_dir, name = Path.cwd(), "target"
    if base is not None:
        base_path = Path(base)
        parsed, text = parse(base_path)
        raw = copy.deepcopy(parsed)
        file = FileOrigin(base_path, text)
        base_dir, name = base_path.parent, base_path.stem
    origin = OptionOrigin(file)
    given = [(_option(flag), value) for flag, value in values.items() if value is not None]
    given.sort(key=lambda pair: OPTIONS.index(pair[0]))
    # Build arguments alone add to the file's build; any other source option replaces it.
    replaces = [o for o, _ in given if o.path[:1] == ("build",) and o.path != ("build", "args")]
    if replaces or any(option.path in _SOURCES for option, _ in given):
        raw.get("target", {}).pop("image", None)  # an option says how to get it: the file doesn't
        raw.get("target", {}).pop("address", None)
        raw.pop("build", None)
    for option, value in given:
        texts = [value] if isinstance(value, str) else list(value)
        try:
            parsed_values = [option.parse(text) for text in texts]
        except _BadValue as exc:
            raise ProfileError(None, None, option.flag, str(exc)) from None
        if option.path == ("listeners",):
            raw["listeners"] = parsed_values
            for index, text in enumerate(texts):
                origin.set[("listeners", index)] = (option, text)
            continue
        if option.repeatable:
            pairs = [pair for pair in parsed_values if isinstance(pair, tuple)]
            _put(raw, option.path, dict(pairs))
            for (key, _), text in zip(pairs, texts, strict=True):
                origin.set[(*option.path, key)] = (option, text)
        else:
            _put(raw, option.path, parsed_values[-1])
        origin.set.setdefault(option.path, (option, texts[-1]))
    if base is None:
        name = _default_name(raw)
    return validate(raw, origin, base_dir, name, Path(base) if base is not None else None)


def _option(flag: str) -> Option:
    option = _BY_FLAG.get(flag)
    if option is None:
        raise ProfileError(None, None, flag, "not a target option")
    return option


def _default_name(raw: Mapping[str, Any]) -> str:
    """The image, the address, or the build context's directory name."""
    target = raw.get("target", {})
    for key in ("image", "address"):
        if isinstance(target.get(key), str) and target[key]:
            return str(target[key])
    context = raw.get("build", {}).get("context")
    return Path(context).name if isinstance(context, str) and context else "target"
