"""Where the CLI's messages come from: arguments (with backslash escapes), files, stdin."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import BinaryIO

from ..protocol import Framing

# \xHH is one byte; \uXXXX is that character in UTF-8; the rest as in Python.
# Any other backslash is an invalid escape: a usage error, never sent as written.
_ESCAPE = re.compile(
    r"\\(?:(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|[\\nrt0abfv'\"])|x.{0,2}|u.{0,4}|.?)", re.DOTALL
)
_SIMPLE = {
    "\\": b"\\",
    "n": b"\n",
    "r": b"\r",
    "t": b"\t",
    "0": b"\0",
    "a": b"\a",
    "b": b"\b",
    "f": b"\f",
    "v": b"\v",
    "'": b"'",
    '"': b'"',
}
ESCAPES = r"\r \n \t \\ \0 \a \b \f \v \' \" \xHH \uXXXX"


def _utf8(text: str) -> bytes:
    # surrogateescape gives back the exact bytes of a non-UTF-8 argument.
    return text.encode("utf-8", "surrogateescape")


def unescape(text: str) -> bytes:
    """An argument's bytes with backslash escapes resolved; other text stays UTF-8.

    `Ho\\r\\nfirst blood\\r\\n` gives b"Ho\\r\\nfirst blood\\r\\n" (real CR LF).
    Raises ValueError for a backslash that starts none of ESCAPES (`\\xZZ`, `\\q`,
    a lone one at the end) and for `\\uD800`..`\\uDFFF` (surrogates are no characters).
    """
    out = bytearray()
    pos = 0
    for match in _ESCAPE.finditer(text):
        out += _utf8(text[pos : match.start()])
        escape = match.group(1)
        if escape is None:
            what = _printable(match.group(0)) if match.group(0) != "\\" else "\\ at the end"
            raise ValueError(f"invalid escape {what}; {_ESCAPE_HELP}")
        if escape[0] == "x":
            out.append(int(escape[1:], 16))
        elif escape[0] == "u":
            code = int(escape[1:], 16)
            if 0xD800 <= code <= 0xDFFF:
                raise ValueError(f"invalid escape {match.group(0)}: a surrogate is no character")
            out += chr(code).encode("utf-8")
        else:
            out += _SIMPLE[escape]
        pos = match.end()
    out += _utf8(text[pos:])
    return bytes(out)


_ESCAPE_HELP = f"the escapes are {ESCAPES}; \\\\ is a backslash"


def _printable(text: str) -> str:
    # An escape's text on one line: a control character after the backslash as Python
    # writes it; an argument's non-UTF-8 byte (a surrogate) is left for options.shown.
    return "".join(
        c if c.isprintable() or "\udc80" <= c <= "\udcff" else repr(c)[1:-1] for c in text
    )


def split_for(framing: Framing, data: bytes) -> list[bytes]:
    """The messages `data` holds: on line://, each `\\n` ends one (a final one is
    implied); on seed:// and frame://, all of it is one message."""
    if framing is not Framing.LINE or b"\n" not in data:
        return [data]
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    return lines


def gather(
    framing: Framing,
    arguments: Sequence[str],
    files: Sequence[str],
    stdin: BinaryIO | None,
) -> list[bytes]:
    """Messages from arguments (`-` = stdin, read raw), then files (raw), in order.

    `stdin` is read only for a `-`; None means it was closed at start. Raises
    ValueError for an invalid escape, a `-` with no stdin to read, or a file that
    cannot be read.
    """
    sources: list[bytes] = []
    for number, argument in enumerate(arguments, 1):
        if argument == "-":
            sources.append(read_stdin(stdin))
            continue
        try:
            sources.append(unescape(argument))
        except ValueError as exc:
            raise ValueError(f"MESSAGE {number}: {exc}") from None
    for path in files:
        try:
            with open(path, "rb") as handle:
                sources.append(handle.read())
        except OSError as exc:
            raise ValueError(f"--file {path!r}: {exc.strerror or exc}") from None
    return [message for source in sources for message in split_for(framing, source)]


def read_stdin(stdin: BinaryIO | None) -> bytes:
    """All of stdin, raw; ValueError when it is closed or cannot be read."""
    if stdin is None:
        raise ValueError("'-' reads stdin, but stdin is closed")
    try:
        return stdin.read()
    except OSError as exc:
        raise ValueError(f"'-': cannot read stdin: {exc.strerror or exc}") from None
