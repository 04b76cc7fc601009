"""Command line and environment: every option also has a SERVER_* variable (for Compose)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from ..protocol import DEFAULT_MAX_MESSAGE_BYTES, Endpoint, format_host_port, parse_endpoint

DEFAULT_LISTEN = "seed://0.0.0.0:9000 line://0.0.0.0:9001 frame://0.0.0.0:9002"
DEFAULT_HEALTH = "127.0.0.1:9099"
MAX_MESSAGE_BYTES = str(DEFAULT_MAX_MESSAGE_BYTES)


@dataclass(frozen=True, slots=True)
class HostPort:
    host: str
    port: int

    def __str__(self) -> str:
        return format_host_port(self.host, self.port)


@dataclass(frozen=True, slots=True)
class Config:
    listen: tuple[Endpoint, ...]
    max_connections: int
    overflow: str
    backlog: int
    idle_timeout: float
    max_message_bytes: int
    send_buffer_bytes: int
    max_sessions: int
    drain_timeout: float
    log_format: str
    log_level: str
    health: HostPort | None
    loop: str


def parse_host_port(text: str) -> HostPort:
    """`HOST:PORT` or `[V6]:PORT`; raises ValueError with a plain message."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"{text!r}: expected HOST:PORT")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return HostPort(host, int(port))


# listen(2) takes the backlog as a C int (Python raises OverflowError beyond it; the kernel
# then clamps it to net.core.somaxconn); every count option has the same bound.
MAX_COUNT = 2**31 - 1


def _whole(text: str, least: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a whole number") from None
    if not least <= value <= MAX_COUNT:
        raise ValueError(f"{text!r}: must be from {least} to {MAX_COUNT}")
    return value


def _count(text: str) -> int:
    return _whole(text, 0)


def _positive(text: str) -> int:
    return _whole(text, 1)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number of seconds") from None
    if not 0 <= value < float("inf"):
        raise ValueError(f"{text!r}: must be a finite number of seconds, 0 or more")
    return value


def _health(text: str) -> HostPort | None:
    return parse_host_port(text) if text.strip() else None


class Option(NamedTuple):
    flag: str
    env: str
    convert: Callable[[str], Any]
    default: str
    metavar: str
    help: str


def _choice(*allowed: str) -> Callable[[str], str]:
    def convert(text: str) -> str:
        if text not in allowed:
            raise ValueError(f"{text!r}: must be one of {', '.join(allowed)}")
        return text

    return convert


# Every option, its variable and its default: --help, parsing and the README follow this table.
OPTIONS = (
    Option("--max-connections", "SERVER_MAX_CONNECTIONS", _count, "10000", "N",
           "open connections allowed across all listeners; 0 = unlimited"),
    Option("--overflow", "SERVER_OVERFLOW", _choice("pause", "reject"), "pause", "pause|reject",
           "at max-connections: pause = stop accepting (the kernel backlog holds the rest), "
           "reject = accept, send `ERR busy`, close"),
    Option("--backlog", "SERVER_BACKLOG", _count, "512", "B",
           "passed to listen() as given, 0 to 2147483647 (a C int); Linux queues B+1 "
           "completed connects and silently caps B at net.core.somaxconn"),
    Option("--idle-timeout", "SERVER_IDLE_TIMEOUT", _seconds, "55", "S",
           "a peer that sends nothing (and drains none of its answers) for S seconds gets "
           "`ERR idle-timeout` and is closed; 0 disables"),
    Option("--max-message-bytes", "SERVER_MAX_MESSAGE_BYTES", _positive, MAX_MESSAGE_BYTES, "N",
           "longest message accepted; one byte more gets `ERR too-large` and a close"),
    Option("--send-buffer-bytes", "SERVER_SEND_BUFFER_BYTES", _positive, "1048576", "N",
           "answers queued for one peer beyond N bytes pause reading that peer until drained"),
    Option("--max-sessions", "SERVER_MAX_SESSIONS", _count, "0", "N",
           "exit 0 after N connections have been served; 0 = no limit"),
    Option("--drain-timeout", "SERVER_DRAIN_TIMEOUT", _seconds, "3", "S",
           "on SIGTERM/SIGINT, abort connections still open after S seconds (exit 3)"),
    Option("--health", "SERVER_HEALTH", _health, DEFAULT_HEALTH, "HOST:PORT",
           "health endpoint for `python -m socket_harness.server.probe`; empty disables"),
    Option("--log-format", "SERVER_LOG_FORMAT", _choice("text", "json"), "text", "text|json",
           "text = logfmt, json = one object per line"),
    Option("--log-level", "SERVER_LOG_LEVEL", _choice("info", "warning"), "info", "info|warning",
           "warning = leave out the info lines about single connections (open, close, "
           "shutting-down); the server's own events are always written"),
    Option("--loop", "SERVER_LOOP", _choice("auto", "asyncio", "uvloop"), "auto",
           "auto|asyncio|uvloop", "event loop; auto = uvloop when importable"),
)  # fmt: skip


EPILOG = """\
exit codes: 0 clean (max-sessions reached, or a complete drain after SIGTERM/SIGINT),
1 startup failure (address in use, ...; also one line on stderr), 2 usage error,
3 drain timed out or a second signal arrived: connections were aborted,
4 the log had nowhere to go (stdout and stderr both closed or broken),
128+N stopped by signal N before ready (143 SIGTERM, 130 SIGINT): nothing served.

Logs go to stdout, one event per line (text = logfmt, or json); to stderr once
stdout is closed or its reader is gone.
"""


def _dest(option: Option) -> str:
    return option.flag[2:].replace("-", "_")


def _for_argparse(convert: Callable[[str], Any]) -> Callable[[str], Any]:
    """argparse shows an ArgumentTypeError's own message (a ValueError's it hides)."""

    def wrapped(text: str) -> Any:
        try:
            return convert(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return wrapped


def _default(parser: argparse.ArgumentParser, option: Option, environ: Mapping[str, str]) -> Any:
    """The option's value when not on the command line: its variable, else the default."""
    text = environ.get(option.env)
    if text is None:
        return option.convert(option.default)
    try:
        return option.convert(text)
    except ValueError as exc:
        parser.error(f"{option.env}: {exc}")


def build_parser(environ: Mapping[str, str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m socket_harness.server",
        description="socket-harness TCP server: seed, line and frame listeners in one process.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--listen",
        action="append",
        metavar="URL",
        help="seed://HOST:PORT | line://HOST:PORT | frame://HOST:PORT, repeatable; port 0 = "
        f"ephemeral (env SERVER_LISTEN, space-separated; default: {DEFAULT_LISTEN})",
    )
    for option in OPTIONS:
        parser.add_argument(
            option.flag,
            type=_for_argparse(option.convert),
            metavar=option.metavar,
            help=f"{option.help} (env {option.env}; default: {option.default or 'empty'})",
        )
    # After every argument exists, so a bad variable's usage message is complete.
    for option in OPTIONS:
        parser.set_defaults(**{_dest(option): _default(parser, option, environ)})
    return parser


def parse_config(
    argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None
) -> Config:
    """Parse argv and SERVER_* variables; a bad value exits 2 (argparse's usage error)."""
    env = os.environ if environ is None else environ
    parser = build_parser(env)
    args = parser.parse_args(argv)
    values = {_dest(option): getattr(args, _dest(option)) for option in OPTIONS}
    urls = args.listen or env.get("SERVER_LISTEN", DEFAULT_LISTEN).split()
    if not urls:
        parser.error("at least one --listen URL is needed")
    try:
        listen = tuple(parse_endpoint(url) for url in urls)
    except ValueError as exc:
        parser.error(str(exc))
    return Config(listen=listen, **values)
