"""`python -m socket_harness.replay FILE... [--target HOST:PORT]`: replay reproducers.

Each file is played over real sockets against its target (the address it was
found on, or --target) and gets one line: PASS, FAIL (with the first
difference) or SKIP. Exit 0 when every file passed, 1 when one failed or its
target could not be reached, 2 on a usage error (bad arguments, a file that is
not a reproducer). The verdict compares bytes with the expectation written in
the file (the spec's bytes, docs/fuzzing.md), nothing else.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from socket_harness.fuzz.play import TargetUnreachable, play
from socket_harness.fuzz.reproducer import FRAMINGS, ReproducerError, load

EXIT_PASS = 0
EXIT_FAIL = 1
EXIT_USAGE = 2


def parse_address(text: str) -> tuple[str, int]:
    """HOST:PORT, [V6]:PORT or a framing URL (line://HOST:PORT); ValueError if neither."""
    _, sep, rest = text.partition("://")
    address = rest if sep else text
    host, colon, port = address.rpartition(":")
    if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{text!r}: expected HOST:PORT")
    return host.strip("[]"), int(port)


def _framing_of(text: str) -> str | None:
    scheme, sep, _ = text.partition("://")
    return scheme if sep else None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m socket_harness.replay",
        description="Replay reproducer files (docs/fuzzing.md) against a target; one line each.",
        epilog="exit codes: 0 all passed, 1 a file failed (or its target was unreachable), "
        "2 usage error",
    )
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE", help="reproducer .toml")
    parser.add_argument(
        "--target",
        metavar="HOST:PORT",
        help="where to replay (also line://HOST:PORT); default: each file's [target] address",
    )
    parser.add_argument(
        "--framing",
        choices=FRAMINGS,
        help="replay only the files of this framing, skip the others (one listener, many files)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        metavar="S",
        help="seconds per connect and expect (default: file's)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    target: tuple[str, int] | None = None
    if args.target is not None:
        try:
            target = parse_address(args.target)
        except ValueError as exc:
            parser.error(f"--target: {exc}")
        scheme = _framing_of(args.target)
        if scheme is not None and args.framing is not None and scheme != args.framing:
            parser.error(f"--target is {scheme}://, --framing is {args.framing}")
        args.framing = args.framing or scheme
    if args.timeout is not None and not args.timeout > 0:
        parser.error("--timeout must be over 0 seconds")
    try:
        reproducers = [(path, load(path)) for path in args.files]
    except ReproducerError as exc:
        print(f"replay: {exc}", file=sys.stderr)
        return EXIT_USAGE
    status = EXIT_PASS
    for path, reproducer in reproducers:
        if args.timeout is not None:
            reproducer = replace(reproducer, timeout=args.timeout)
        if args.framing is not None and reproducer.framing != args.framing:
            print(f"SKIP {path}: {reproducer.framing}, not {args.framing}")
            continue
        where = target
        if where is None:
            try:
                where = parse_address(reproducer.address)
            except ValueError:
                print(f"replay: {path}: no [target] address: give --target", file=sys.stderr)
                return EXIT_USAGE
        host, port = where
        try:
            outcome = play(reproducer, host, port)
        except TargetUnreachable as exc:
            print(f"FAIL {path}: {exc}")
            status = EXIT_FAIL
            continue
        url = f"{reproducer.framing}://{host}:{port}"
        if outcome.failure is None:
            print(f"PASS {path} against {url} ({outcome.steps_run} steps, {outcome.seconds:.2f} s)")
        else:
            print(f"FAIL {path} against {url}: {outcome.failure.detail}")
            status = EXIT_FAIL
    return status


if __name__ == "__main__":
    sys.exit(main())
