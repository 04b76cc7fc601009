"""Where the CLI's messages come from: arguments (with backslash escapes), files, stdin."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import BinaryIO

from protocol import Framing

# \xHH is one byte; \uXXXX is that character in UTF-8; the rest as in Python.
_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|[\\nrt0abfv'\"])")
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


def _utf8(text: str) -> bytes:
    # surrogateescape gives back the exact bytes of a non-UTF-8 argument.
    return text.encode("utf-8", "surrogateescape")


def unescape(text: str) -> bytes:
    """An argument's bytes with backslash escapes resolved; other text stays UTF-8.

    `Ho\\r\\nfirst blood\\r\\n` gives b"Ho\\r\\nfirst blood\\r\\n" (real CR LF);
    an unknown escape such as `\\q` is kept as written.
    """
    out = bytearray()
    pos = 0
    for match in _ESCAPE.finditer(text):
        out += _utf8(text[pos : match.start()])
        escape = match.group(1)
        if escape[0] == "x":
            out.append(int(escape[1:], 16))
        elif escape[0] == "u":
            out += chr(int(escape[1:], 16)).encode("utf-8", "surrogatepass")
        else:
            out += _SIMPLE[escape]
        pos = match.end()
    out += _utf8(text[pos:])
    return bytes(out)


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
    stdin: BinaryIO,
) -> list[bytes]:
    """Messages from arguments (`-` = stdin, read raw), then files (raw), in order.

    Raises OSError for a file that cannot be read.
    """
    sources: list[bytes] = []
    for argument in arguments:
        sources.append(stdin.read() if argument == "-" else unescape(argument))
    for path in files:
        with open(path, "rb") as handle:
            sources.append(handle.read())
    return [message for source in sources for message in split_for(framing, source)]
