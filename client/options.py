"""Command-line parsing the CLI and the load generator share: one-line usage errors, timeouts."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, NoReturn

from . import streams

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

USAGE_EXIT = 2

# How Python spells a byte of argv that is not UTF-8: a lone surrogate U+DC80..U+DCFF
# (surrogateescape), raw in some messages and as repr()'s `\udcff` escape in others.
_ESCAPED_BYTE = re.compile(r"[\udc80-\udcff]|(?<!\\)((?:\\\\)*)\\udc([89a-f][0-9a-f])")


def shown(text: str) -> str:
    """`text` for a message: each byte of an argument that is not UTF-8 as `\\xNN`."""

    def byte(match: re.Match[str]) -> str:
        if match.group(2) is not None:
            return f"{match.group(1)}\\x{match.group(2)}"
        return f"\\x{ord(match.group(0)) - 0xDC00:02x}"

    return _ESCAPED_BYTE.sub(byte, text)


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line on stderr and exit 2, and whose
    --help fails as any other output does when stdout is broken (streams.py).

    `client: usage-error: MESSAGE (see PROG --help)`, argv bytes that are not
    UTF-8 shown as `\\xNN`.
    """

    def error(self, message: str) -> NoReturn:
        streams.warn(f"client: usage-error: {shown(message)} (see {self.prog} --help)")
        sys.exit(USAGE_EXIT)

    def print_help(self, file: SupportsWrite[str] | None = None) -> None:
        if file is not None:
            super().print_help(file)
            return
        streams.write(streams.stdout(), self.format_help().encode())


# Longer than any run, and short enough for every timer (socket timeouts overflow near 2**63 ns).
MAX_SECONDS = 365 * 24 * 3600


def seconds(text: str) -> float:
    """An argparse type: a number of seconds, more than 0 and at most MAX_SECONDS."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds: {text!r}")
    if not value <= MAX_SECONDS:  # inf, or a timer that could not be set
        raise argparse.ArgumentTypeError(f"must be at most {MAX_SECONDS} seconds: {text!r}")
    return value


def count(least: int, most: int) -> Callable[[str], int]:
    """An argparse type: a whole number from `least` to `most` (ASCII digits, as int() takes).

    The bound keeps a typo from becoming an OverflowError or a list of a billion messages.
    """

    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if not least <= value <= most:
            raise argparse.ArgumentTypeError(f"must be from {least} to {most}: {text!r}")
        return value

    return convert


def add_timeouts(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--connect-timeout", type=seconds, default=5.0, metavar="S", help="per connect (default 5)"
    )
    parser.add_argument(
        "--timeout",
        type=seconds,
        default=10.0,
        metavar="S",
        help="per read or write of a reply or message (default 10)",
    )
