"""`python -m socket_harness.client URL [MESSAGE ...]`: talk to a server once.

Prints what it sent back."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ..protocol import Endpoint, Framing, Greeting
from . import streams
from .base import expect_ack, expect_greeting
from .errors import EXIT_CODES, ClientError
from .messages import ESCAPES, gather
from .options import Parser, add_timeouts, count
from .output import Output
from .sync import Connection, connect, wait_ready
from .wire import Wire
from .wire_options import URL_HELP, add_wire_options, resolve

# The messages are sent from a list of N references per message: a million is 8 MB of it.
MAX_REPEAT = 1_000_000


def exit_code_table() -> str:
    return "\n".join(f"  {code:>3}  {meaning}" for code, meaning in sorted(EXIT_CODES.items()))


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="python -m socket_harness.client",
        description=(
            "Connect to a socket-harness server (or any target: see the wire constants),\n"
            "print its greeting, send each MESSAGE and print each answer as the server\n"
            "sent it (frame://: the frame bodies, one per line). seed:// opens one\n"
            "connection per message (the tutorial's exchange); line:// and frame:// send\n"
            "every message on one connection, each after the answer to the one before.\n"
            "A timeout names what it waited for; bytes that look like another framing's\n"
            "greeting are named as such.\n"
            "stdin is read only for a '-' message. Errors are one line on stderr.\n"
            "Load generator: python -m socket_harness.client load --help"
        ),
        epilog="exit codes:\n"
        + exit_code_table()
        + "\n\nexample, a line echo with no greeting and no ack prefix (socat):\n"
        + "  socat TCP-LISTEN:7000,fork,reuseaddr EXEC:cat &\n"
        + "  python -m socket_harness.client --greeting none --ack-prefix '' "
        + "line://127.0.0.1:7000 hello",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("url", metavar="URL", help=URL_HELP)
    parser.add_argument(
        "messages",
        metavar="MESSAGE",
        nargs="*",
        help=(
            f"a message; backslash escapes ({ESCAPES}) are resolved, any other "
            "backslash is a usage error; '-' reads stdin (raw). On line:// each newline "
            "ends a message. No message: print the greeting and close."
        ),
    )
    parser.add_argument(
        "--file",
        action="append",
        default=[],
        metavar="F",
        help="a message from file F, raw (repeatable)",
    )
    parser.add_argument(
        "--repeat",
        type=count(0, MAX_REPEAT),
        default=1,
        metavar="N",
        help=f"send the messages N times, 0 to {MAX_REPEAT} (default 1)",
    )
    parser.add_argument(
        "--wait-ready",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="retry connecting, with backoff, until the server greets or SECONDS pass",
    )
    add_timeouts(parser)
    add_wire_options(parser)
    parser.add_argument(
        "--json", action="store_true", help="print one JSON document instead of the server's bytes"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m socket_harness.client ARGS` (or `load ARGS`); the exit code (see exit_code_table).

    Closed or broken standard streams end in their documented exit code too (streams.py).
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["load"]:
        from .load import main as load_main

        return streams.run(lambda: load_main(arguments[1:]))
    return streams.run(lambda: run(arguments))


def run(argv: list[str]) -> int:
    parser = build_parser()
    args = parser.parse_intermixed_args(argv)  # options may come after messages, and before
    try:
        endpoint, wire = resolve(args)
        stdin = None if sys.stdin is None else sys.stdin.buffer  # None: closed at start
        messages = gather(endpoint.framing, args.messages, args.file, stdin) * args.repeat
        if endpoint.framing is Framing.SEED and b"" in messages:
            raise ValueError("seed:// cannot send an empty message: the server reads once")
    except (ValueError, OSError) as exc:
        parser.error(str(exc))
    output = Output(str(endpoint), args.json, streams.stdout())
    exit_code = 0
    try:
        talk(endpoint, wire, messages, args, output)
    except ClientError as exc:
        output.failed(exc)
        exit_code = exc.exit_code
    except KeyboardInterrupt:
        exit_code = streams.INTERRUPTED_EXIT
    output.finish(exit_code)
    return exit_code


def talk(
    endpoint: Endpoint,
    wire: Wire,
    messages: list[bytes],
    args: argparse.Namespace,
    output: Output,
) -> None:
    """One connection per seed message, or one for all line/frame messages."""
    if endpoint.framing is Framing.SEED and messages:
        groups = [[message] for message in messages]
    else:
        groups = [messages]
    for index, group in enumerate(groups):
        with open_greeted(endpoint, wire, args, output, first=index == 0) as conn:
            conn.first_message_number = index + 1  # seed: one message per connection
            for message in group:
                reply = conn.roundtrip(message)
                output.reply(conn, message, reply)
                expect_ack(reply)


def open_greeted(
    endpoint: Endpoint, wire: Wire, args: argparse.Namespace, output: Output, *, first: bool
) -> Connection:
    """A connection whose greeting was read and printed (a target that sends none: opened)."""
    if first and args.wait_ready > 0:
        conn = wait_ready(
            endpoint,
            args.wait_ready,
            connect_timeout=args.connect_timeout,
            op_timeout=args.timeout,
            greeting=wire.greeting,
            ack_prefix=wire.ack_prefix,
            error_prefix=wire.error_prefix,
        )
        output.greeting(conn, Greeting() if wire.greets else None)
        return conn
    conn = connect(
        endpoint,
        connect_timeout=args.connect_timeout,
        timeout=args.timeout,
        greeting=wire.greeting,
        ack_prefix=wire.ack_prefix,
        error_prefix=wire.error_prefix,
    )
    if not wire.greets:
        output.greeting(conn, None)
        return conn
    try:
        reply = conn.receive()
        output.greeting(conn, reply)
        expect_greeting(reply)
    except BaseException:
        conn.close()
        raise
    return conn
