"""Command-line options the CLI and the load generator share."""

from __future__ import annotations

import argparse


def seconds(text: str) -> float:
    """An argparse type: a positive number of seconds."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds: {text!r}")
    return value


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
