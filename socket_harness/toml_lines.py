"""Where each key of a TOML document is: the line numbers tomllib does not keep.

tomllib (the standard library's parser) gives values only, and tomlkit, which
keeps the document's layout, exposes no positions either (its issue #55), so a
profile error finds its line here: a small scanner over a document tomllib has
already accepted, following table headers, arrays of tables, dotted keys,
inline tables, arrays and strings (multi-line ones included), so text inside a
string is never taken for a key.
"""

from __future__ import annotations

import bisect
import contextlib
import tomllib
from collections.abc import Mapping

KeyPath = tuple[str | int, ...]
"""A value's place: table and key names, and 0-based indexes into arrays (of tables)."""

_BARE_KEY = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_SCALAR_END = frozenset(",]}#\r\n")


class _Unexpected(Exception):
    """The scanner met text it does not follow; the lines found so far are kept."""


def key_lines(text: str) -> dict[KeyPath, int]:
    """Map each key, table header and array element of `text` to its 1-based line.

    `text` must be a document that `tomllib.loads` accepts. Keys of a table
    defined only implicitly (by a dotted key or a deeper header) map to the
    line that first mentions them; `[[x]]` tables are `("x", 0)`, `("x", 1)`...
    """
    scanner = _Scanner(text)
    # Only a document tomllib rejects can stop it early; the positions found so far stay useful.
    with contextlib.suppress(_Unexpected, IndexError, ValueError):
        scanner.document()
    return scanner.found


def line_of(lines: Mapping[KeyPath, int], path: KeyPath) -> int:
    """The line of `path`, else of its longest prefix that has one, else 1.

    A missing key is thus reported at its table's header, and a value inside an
    inline table or array at the key that holds it.
    """
    for end in range(len(path), 0, -1):
        line = lines.get(path[:end])
        if line is not None:
            return line
    return 1


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.found: dict[KeyPath, int] = {}
        self.arrays: dict[KeyPath, int] = {}  # array of tables -> how many so far
        self.newlines = [i for i, char in enumerate(text) if char == "\n"]

    # --- positions ------------------------------------------------------------

    def line(self, pos: int) -> int:
        return bisect.bisect_left(self.newlines, pos) + 1

    def record(self, path: KeyPath, pos: int) -> None:
        self.found.setdefault(path, self.line(pos))

    def peek(self, count: int = 1) -> str:
        return self.text[self.pos : self.pos + count]

    def expect(self, token: str) -> None:
        if not self.text.startswith(token, self.pos):
            raise _Unexpected(f"expected {token!r} at {self.pos}")
        self.pos += len(token)

    def skip_blanks(self) -> None:
        while self.peek() in (" ", "\t"):
            self.pos += 1

    def skip_space(self) -> None:
        """Blanks, newlines and comments."""
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char in " \t\r\n":
                self.pos += 1
            elif char == "#":
                end = self.text.find("\n", self.pos)
                self.pos = len(self.text) if end < 0 else end
            else:
                return

    # --- structure ------------------------------------------------------------

    def document(self) -> None:
        table: KeyPath = ()
        while True:
            self.skip_space()
            if self.pos >= len(self.text):
                return
            if self.peek(2) == "[[":
                table = self.header(array=True)
            elif self.peek() == "[":
                table = self.header(array=False)
            else:
                self.key_value(table)

    def header(self, *, array: bool) -> KeyPath:
        start = self.pos
        self.pos += 2 if array else 1
        names = self.key()
        self.skip_blanks()
        self.expect("]]" if array else "]")
        path: KeyPath = ()
        for index, name in enumerate(names):
            path = (*path, name)
            if array and index == len(names) - 1:
                count = self.arrays.get(path, 0)
                self.arrays[path] = count + 1
                self.record(path, start)
                path = (*path, count)
            elif path in self.arrays:  # a deeper header inside the latest [[...]] table
                path = (*path, self.arrays[path] - 1)
            self.record(path, start)
        return path

    def key_value(self, table: KeyPath) -> None:
        start = self.pos
        names = self.key()
        path = table
        for name in names:
            path = (*path, name)
            self.record(path, start)
        self.skip_blanks()
        self.expect("=")
        self.skip_blanks()
        self.value(path)

    def key(self) -> list[str]:
        """A dotted key's names (bare, "basic" or 'literal')."""
        names: list[str] = []
        while True:
            self.skip_blanks()
            char = self.peek()
            if char == '"':
                start = self.pos
                self.basic_string()
                names.append(tomllib.loads(f"k = {self.text[start : self.pos]}")["k"])
            elif char == "'":
                start = self.pos
                self.literal_string()
                names.append(self.text[start + 1 : self.pos - 1])
            else:
                start = self.pos
                while self.peek() and self.peek() in _BARE_KEY:
                    self.pos += 1
                if self.pos == start:
                    raise _Unexpected(f"no key at {start}")
                names.append(self.text[start : self.pos])
            self.skip_blanks()
            if self.peek() != ".":
                return names
            self.pos += 1

    def value(self, path: KeyPath) -> None:
        if self.peek(3) in ('"""', "'''"):
            self.multiline_string(self.peek(3))
        elif self.peek() == '"':
            self.basic_string()
        elif self.peek() == "'":
            self.literal_string()
        elif self.peek() == "[":
            self.array(path)
        elif self.peek() == "{":
            self.inline_table(path)
        else:  # number, boolean, date-time (which may hold a blank)
            start = self.pos
            while self.pos < len(self.text) and self.text[self.pos] not in _SCALAR_END:
                self.pos += 1
            if self.pos == start:
                raise _Unexpected(f"no value at {start}")

    def array(self, path: KeyPath) -> None:
        self.expect("[")
        index = 0
        while True:
            self.skip_space()
            if self.peek() == "]":
                self.pos += 1
                return
            self.record((*path, index), self.pos)
            self.value((*path, index))
            index += 1
            self.skip_space()
            if self.peek() == ",":
                self.pos += 1

    def inline_table(self, path: KeyPath) -> None:
        self.expect("{")
        while True:
            self.skip_space()
            if self.peek() == "}":
                self.pos += 1
                return
            self.key_value(path)
            self.skip_space()
            if self.peek() == ",":
                self.pos += 1

    # --- strings --------------------------------------------------------------

    def basic_string(self) -> None:
        self.expect('"')
        while True:
            char = self.text[self.pos]
            self.pos += 2 if char == "\\" else 1
            if char == '"':
                return

    def literal_string(self) -> None:
        self.expect("'")
        end = self.text.index("'", self.pos)
        self.pos = end + 1

    def multiline_string(self, quotes: str) -> None:
        self.expect(quotes)
        while True:
            if quotes == '"""' and self.text[self.pos] == "\\":
                self.pos += 2
            elif self.text.startswith(quotes, self.pos):
                self.pos += 3
                for _ in range(2):  # up to two quotes just before the closing ones are content
                    if self.peek() == quotes[0]:
                        self.pos += 1
                return
            else:
                self.pos += 1
