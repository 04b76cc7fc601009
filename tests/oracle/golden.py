"""The golden exchanges of docs/protocol.md, parsed from the document itself.

The table sits between `<!-- golden-exchanges: begin -->` and
`<!-- golden-exchanges: end -->`; docs/protocol.md ("Golden exchanges") says
what each column means. Nothing here knows a byte of the protocol: the bytes
are the document's, so a change to the specification changes the oracle and
nothing else.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

SPEC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
BEGIN = "<!-- golden-exchanges: begin -->"
END = "<!-- golden-exchanges: end -->"
FRAMINGS = ("seed", "line", "frame")
# How the client behaves (docs/protocol.md, "Golden exchanges").
HOWS = ("write", "eof", "queued", "busy", "SIGTERM", "SIGINT")
COLUMNS = 7
_REPEAT = re.compile(r"^([0-9a-f]{2})\*([0-9]+)$")
_HEX = re.compile(r"^(?:[0-9a-f]{2})+$")


class GoldenTableError(ValueError):
    """docs/protocol.md's golden table does not follow its documented form."""


@dataclass(frozen=True)
class GoldenExchange:
    """One row: connect to `listener` of a server started with `options`, behave as
    `how` says, write each of `writes`; the server must send exactly `sends`, then close.

    `options` maps a server option to its value (`{"max-message-bytes": "16"}`);
    `writes` are the client's writes in order; `sends` is every byte until the close.
    """

    id: str
    listener: str
    options: tuple[tuple[str, str], ...]
    how: str
    writes: tuple[bytes, ...]
    sends: bytes
    note: str

    @property
    def sent(self) -> bytes:
        """All the client writes, as one byte string."""
        return b"".join(self.writes)

    def option(self, name: str) -> str | None:
        """The value of server option `name` (without `--`), None when not given."""
        return dict(self.options).get(name)

    def cli_args(self) -> list[str]:
        """The options as server command-line arguments."""
        return [arg for name, value in self.options for arg in (f"--{name}", value)]

    def env(self) -> dict[str, str]:
        """The options as keyword arguments of the container tier's `start_server`."""
        return {name.replace("-", "_"): value for name, value in self.options}


def parse_bytes(cell: str) -> bytes:
    """`e6b5 8b 78*3` -> b'\\xe6\\xb5\\x8bxxx'; `-` or empty -> b''."""
    cell = cell.strip().strip("`").strip()
    if cell in ("", "-"):
        return b""
    out = bytearray()
    for token in cell.split():
        repeat = _REPEAT.match(token)
        if repeat:
            out += bytes.fromhex(repeat.group(1)) * int(repeat.group(2))
        elif _HEX.match(token):
            out += bytes.fromhex(token)
        else:
            raise GoldenTableError(f"not hex bytes: {token!r} in {cell!r}")
    return bytes(out)


def parse_writes(cell: str) -> tuple[bytes, ...]:
    """The client column: writes separated by `/`; `-` is no write."""
    cell = cell.strip().strip("`").strip()
    if cell in ("", "-"):
        return ()
    writes = tuple(parse_bytes(part) for part in cell.split("/"))
    if not all(writes):
        raise GoldenTableError(f"an empty write in {cell!r}")
    return writes


def parse_options(cell: str) -> tuple[tuple[str, str], ...]:
    """`--max-message-bytes 16 --overflow reject` -> (("max-message-bytes", "16"), ...)."""
    cell = cell.strip().strip("`").strip()
    if cell in ("", "-"):
        return ()
    words = shlex.split(cell)
    if len(words) % 2 or not all(word.startswith("--") for word in words[::2]):
        raise GoldenTableError(f"options must be `--name value` pairs: {cell!r}")
    return tuple((name[2:], value) for name, value in zip(words[::2], words[1::2], strict=True))


def parse_row(line: str) -> GoldenExchange:
    cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
    if len(cells) != COLUMNS:
        raise GoldenTableError(f"{len(cells)} columns, not {COLUMNS}: {line!r}")
    ident, listener, options, how, writes, sends, note = cells
    ident = ident.strip("`")
    if listener not in FRAMINGS:
        raise GoldenTableError(f"{ident}: unknown listener {listener!r}")
    if how not in HOWS:
        raise GoldenTableError(f"{ident}: unknown how {how!r}, expected one of {HOWS}")
    return GoldenExchange(
        id=ident,
        listener=listener,
        options=parse_options(options),
        how=how,
        writes=parse_writes(writes),
        sends=parse_bytes(sends),
        note=note,
    )


def parse_table(text: str) -> list[GoldenExchange]:
    """Every row between the markers of `text` (GoldenTableError when malformed)."""
    try:
        body = text.split(BEGIN, 1)[1].split(END, 1)[0]
    except IndexError:
        raise GoldenTableError(f"no {BEGIN} ... {END} in the specification") from None
    lines = [line for line in body.splitlines() if line.strip().startswith("|")]
    rows = [parse_row(line) for line in lines[2:]]  # after the header and its rule
    ids = [row.id for row in rows]
    duplicates = sorted({ident for ident in ids if ids.count(ident) > 1})
    if duplicates:
        raise GoldenTableError(f"duplicate ids: {duplicates}")
    if not rows:
        raise GoldenTableError("the golden table has no rows")
    return rows


def golden_exchanges(path: Path = SPEC) -> list[GoldenExchange]:
    """The golden exchanges of docs/protocol.md, in the document's order."""
    return parse_table(path.read_text(encoding="utf-8"))
