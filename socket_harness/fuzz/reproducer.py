"""Reproducer files: one exchange with a target, byte for byte, as TOML (docs/fuzzing.md).

A reproducer is a list of steps over numbered connections: what to write (each
`send` is one write), how long to pause, when to half-close or reset, and what
the target must answer (`expect`: exact bytes; `expect_eof`: nothing more, then
the target's FIN). The expected bytes are the spec's (socket_harness.fuzz.model),
written into the file; replaying needs nothing but the file and a target.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .escape import escape, unescape

FORMAT = 1
FRAMINGS = ("seed", "line", "frame")
# A run of one byte at least this long is written as { bytes = 'x', repeat = N }.
_RUN = 32


class ReproducerError(Exception):
    """A file that is not a valid reproducer; the message names the file and the problem."""


@dataclass(frozen=True, slots=True)
class Send:
    """One write of `data` on connection `conn` (opened by its first step)."""

    conn: int
    data: bytes


@dataclass(frozen=True, slots=True)
class Pause:
    """Wait `seconds` before the next step (the plan's own timing, not a readiness wait)."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Shutdown:
    """Half-close: shutdown(SHUT_WR), a FIN after what was sent; reading goes on."""

    conn: int


@dataclass(frozen=True, slots=True)
class Reset:
    """Close with SO_LINGER 0: the kernel sends RST, dropping anything unsent or unread."""

    conn: int


@dataclass(frozen=True, slots=True)
class Expect:
    """The target's next bytes on `conn` are exactly `data` (within the file's timeout)."""

    conn: int
    data: bytes


@dataclass(frozen=True, slots=True)
class ExpectEof:
    """The target sends nothing more on `conn` and closes it (FIN, not RST)."""

    conn: int


Step = Send | Pause | Shutdown | Reset | Expect | ExpectEof


@dataclass(frozen=True, slots=True)
class Failure:
    """What came back where the target first differed from the expectation."""

    step: int  # position in steps, from 1
    got: bytes
    detail: str


@dataclass(frozen=True, slots=True)
class Reproducer:
    """A whole reproducer file.

    `framing` and `max_message_bytes` say which listener and limit the expected
    bytes assume; `address` is where it was found (HOST:PORT, replaced by
    `replay --target`); `timeout` bounds every connect and expect, in seconds.
    """

    title: str
    framing: str
    steps: tuple[Step, ...]
    max_message_bytes: int = 2 * 1024 * 1024
    timeout: float = 5.0
    property: str = "hand-written"
    address: str = ""
    target: str = ""
    found: str = ""
    failure: Failure | None = None
    labels: tuple[str, ...] = field(default=(), compare=False)

    def connections(self) -> list[int]:
        """The connection numbers in the order they are first used."""
        seen: list[int] = []
        for step in self.steps:
            conn = getattr(step, "conn", None)
            if conn is not None and conn not in seen:
                seen.append(conn)
        return seen

    def with_failure(self, failure: Failure, address: str, target: str, found: str) -> Reproducer:
        return replace(self, failure=failure, address=address, target=target, found=found)


# --- reading ---------------------------------------------------------------------------


def load(path: Path) -> Reproducer:
    """Read and check a reproducer file; ReproducerError (one line) when it is not one."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ReproducerError(f"{path}: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ReproducerError(f"{path}: not TOML: {exc}") from None
    try:
        return parse(document)
    except (KeyError, TypeError, ValueError) as exc:
        raise ReproducerError(f"{path}: {_reason(exc)}") from None


def _reason(exc: Exception) -> str:
    return f"missing key {exc}" if isinstance(exc, KeyError) else str(exc)


def _bytes(value: Any, where: str) -> bytes:
    """A byte string: escaped text, or a list of escaped texts and {bytes, repeat} runs."""
    if isinstance(value, str):
        try:
            return unescape(value)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
    if isinstance(value, list):
        return b"".join(_bytes(piece, where) for piece in value)
    if isinstance(value, dict) and set(value) == {"bytes", "repeat"}:
        repeat = value["repeat"]
        if not isinstance(repeat, int) or repeat < 0:
            raise ValueError(f"{where}: repeat must be a whole number, 0 or more")
        return _bytes(value["bytes"], where) * repeat
    raise ValueError(f"{where}: expected escaped bytes, a list of them or {{bytes, repeat}}")


def _conn(entry: dict[str, Any], where: str) -> int:
    conn = entry.get("conn", 1)
    if not isinstance(conn, int) or conn < 1:
        raise ValueError(f"{where}: conn must be a whole number, 1 or more")
    return conn


_ACTIONS = ("send", "pause", "shutdown", "close", "expect", "expect_eof")


def _step(entry: Any, index: int) -> Step:
    where = f"step {index}"
    if not isinstance(entry, dict):
        raise ValueError(f"{where}: expected a table like {{ conn = 1, send = 'x' }}")
    actions = [key for key in _ACTIONS if key in entry]
    unknown = set(entry) - {*_ACTIONS, "conn", "got"}
    if len(actions) != 1 or unknown:
        raise ValueError(f"{where}: needs exactly one of {', '.join(_ACTIONS)}")
    action = actions[0]
    value = entry[action]
    if action == "pause":
        if not isinstance(value, int | float) or value < 0:
            raise ValueError(f"{where}: pause is seconds, 0 or more")
        return Pause(float(value))
    conn = _conn(entry, where)
    if action == "send":
        return Send(conn, _bytes(value, where))
    if action == "expect":
        return Expect(conn, _bytes(value, where))
    if action == "shutdown":
        if value != "write":
            raise ValueError(f'{where}: shutdown = "write" is the only half-close')
        return Shutdown(conn)
    if action == "close":
        if value != "reset":
            raise ValueError(f'{where}: close = "reset" is the only explicit close')
        return Reset(conn)
    if value is not True:
        raise ValueError(f"{where}: expect_eof = true")
    return ExpectEof(conn)


def parse(document: dict[str, Any]) -> Reproducer:
    """A Reproducer from parsed TOML; KeyError, TypeError or ValueError when malformed."""
    if document.get("format") != FORMAT:
        raise ValueError(f"format = {FORMAT} expected (got {document.get('format')!r})")
    framing = document["framing"]
    if framing not in FRAMINGS:
        raise ValueError(f"framing {framing!r}: expected one of {', '.join(FRAMINGS)}")
    steps = tuple(_step(entry, index) for index, entry in enumerate(document["steps"], 1))
    if not steps:
        raise ValueError("no steps")
    target = document.get("target", {})
    failure = None
    if "failure" in document:
        raw = document["failure"]
        failure = Failure(int(raw["step"]), _bytes(raw.get("got", ""), "failure"), raw["detail"])
    limit = document.get("max_message_bytes", 2 * 1024 * 1024)
    timeout = document.get("timeout", 5.0)
    if not isinstance(limit, int) or limit < 1:
        raise ValueError("max_message_bytes must be a whole number, 1 or more")
    if not isinstance(timeout, int | float) or timeout <= 0:
        raise ValueError("timeout must be a number of seconds over 0")
    return Reproducer(
        title=str(document["title"]),
        framing=framing,
        steps=steps,
        max_message_bytes=limit,
        timeout=float(timeout),
        property=str(document.get("property", "hand-written")),
        address=str(target.get("address", "")),
        target=str(target.get("description", "")),
        found=str(target.get("found", "")),
        failure=failure,
    )


# --- writing ---------------------------------------------------------------------------


def _quote(text: str) -> str:
    """A TOML string: literal ('...') when it can be, else basic with escapes."""
    if "'" not in text and text.isprintable():
        return f"'{text}'"
    quoted = []
    for char in text:
        if char in '"\\':
            quoted.append("\\" + char)
        elif char.isprintable():
            quoted.append(char)
        else:
            quoted.append(f"\\u{ord(char):04x}" if ord(char) < 0x10000 else f"\\U{ord(char):08x}")
    return '"' + "".join(quoted) + '"'


def _literal(data: bytes) -> str:
    """`data` as the file writes bytes: one escaped literal, or a list with runs."""
    pieces: list[str] = []
    plain = bytearray()
    index = 0
    while index < len(data):
        end = index
        while end < len(data) and data[end] == data[index]:
            end += 1
        if end - index >= _RUN:
            if plain:
                pieces.append(f"'{escape(bytes(plain))}'")
                plain.clear()
            pieces.append(
                f"{{ bytes = '{escape(data[index : index + 1])}', repeat = {end - index} }}"
            )
        else:
            plain += data[index:end]
        index = end
    if plain or not pieces:
        pieces.append(f"'{escape(bytes(plain))}'")
    return pieces[0] if len(pieces) == 1 else "[" + ", ".join(pieces) + "]"


def _format_step(step: Step) -> str:
    match step:
        case Send(conn, data):
            return f"{{ conn = {conn}, send = {_literal(data)} }}"
        case Pause(seconds):
            return f"{{ pause = {seconds!r} }}"
        case Shutdown(conn):
            return f'{{ conn = {conn}, shutdown = "write" }}'
        case Reset(conn):
            return f'{{ conn = {conn}, close = "reset" }}'
        case Expect(conn, data):
            return f"{{ conn = {conn}, expect = {_literal(data)} }}"
        case ExpectEof(conn):
            return f"{{ conn = {conn}, expect_eof = true }}"
    raise TypeError(f"not a step: {step!r}")


def dumps(reproducer: Reproducer) -> str:
    """The file text for `reproducer` (load(dumps(r)) == r)."""
    r = reproducer
    lines = [
        "# socket-harness reproducer (docs/fuzzing.md). Replay it against any target:",
        "#   python -m socket_harness.replay THIS_FILE --target HOST:PORT",
        f"format = {FORMAT}",
        f"title = {_quote(r.title)}",
        f"property = {_quote(r.property)}",
        f"framing = {_quote(r.framing)}",
        "# The limit the expected bytes assume (the target's --max-message-bytes).",
        f"max_message_bytes = {r.max_message_bytes}",
        "# Seconds each connect and each expect may take.",
        f"timeout = {r.timeout!r}",
    ]
    if r.labels:
        lines.append("# drawn: " + ", ".join(r.labels))
    lines.append("steps = [")
    for index, step in enumerate(r.steps):
        mark = "  # <- failed here" if r.failure is not None and r.failure.step == index + 1 else ""
        lines.append(f"    {_format_step(step)},{mark}")
    lines += ["]", "", "[target]  # where it was found; `replay --target` replaces the address"]
    lines.append(f"address = {_quote(r.address)}")
    if r.target:
        lines.append(f"description = {_quote(r.target)}")
    if r.found:
        lines.append(f"found = {_quote(r.found)}")
    if r.failure is not None:
        lines += [
            "",
            "[failure]  # what came back there",
            f"step = {r.failure.step}",
            f"got = {_literal(r.failure.got)}",
            f"detail = {_quote(r.failure.detail)}",
        ]
    return "\n".join(lines) + "\n"
