"""Exact bytes as readable text: the notation reproducer files use (docs/fuzzing.md).

`\\n`, `\\r`, `\\t`, `\\\\` and `\\xHH` stand for one byte each; every other
character stands for its UTF-8 bytes, so `收到的信息:` reads as itself. The
text lives in a TOML literal string ('...'), which does no escaping of its own,
so a `'` is written `\\x27`.
"""

from __future__ import annotations

_NAMED = {"n": 0x0A, "r": 0x0D, "t": 0x09, "\\": 0x5C}
_NAMES = {value: f"\\{name}" for name, value in _NAMED.items()}


def unescape(text: str) -> bytes:
    """The bytes `text` stands for; ValueError (with the offset) on a bad escape."""
    out = bytearray()
    index = 0
    while index < len(text):
        char = text[index]
        if char != "\\":
            out += char.encode()
            index += 1
            continue
        name = text[index + 1 : index + 2]
        if name in _NAMED:
            out.append(_NAMED[name])
            index += 2
        elif name == "x" and _is_hex(text[index + 2 : index + 4]):
            out.append(int(text[index + 2 : index + 4], 16))
            index += 4
        else:
            raise ValueError(f"bad escape {text[index : index + 4]!r} at character {index}")
    return bytes(out)


def _is_hex(pair: str) -> bool:
    return len(pair) == 2 and all(c in "0123456789abcdefABCDEF" for c in pair)


def escape(data: bytes) -> str:
    """Text that `unescape` turns back into exactly `data`.

    Printable ASCII stays as is (but `\\` and `'`), printable non-ASCII
    characters stay when they are valid UTF-8, everything else is `\\xHH`.
    """
    parts: list[str] = []
    index = 0
    while index < len(data):
        byte = data[index]
        if byte in _NAMES:
            parts.append(_NAMES[byte])
        elif 0x20 <= byte < 0x7F and byte != 0x27:
            parts.append(chr(byte))
        elif byte >= 0xC0 and (char := _utf8_char(data, index)):
            parts.append(char)
            index += len(char.encode())
            continue
        else:
            parts.append(f"\\x{byte:02x}")
        index += 1
    return "".join(parts)


def _utf8_char(data: bytes, index: int) -> str:
    """The printable character a UTF-8 sequence at `index` encodes, or ''."""
    for size in (2, 3, 4):
        try:
            char = data[index : index + size].decode()
        except UnicodeDecodeError:
            continue
        return char if char.isprintable() else ""
    return ""
