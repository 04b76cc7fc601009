"""The wire options the CLI and the load generator share: `--greeting`, `--ack-prefix`,
`--error-prefix` and `--target FILE` (a target profile, docs/targets.md)."""

from __future__ import annotations

import argparse

from ..protocol import Endpoint, format_host_port
from .base import parse_url
from .messages import ESCAPES, unescape
from .wire import DEFAULT_WIRE, Wire

URL_HELP = (
    "seed://HOST:PORT, line://HOST:PORT or frame://HOST:PORT; with --target, also the name "
    "of one of the profile's listeners (its address and port)"
)


def add_wire_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "wire constants",
        "What the target says (docs/targets.md, [wire]); the defaults are docs/protocol.md's "
        f"greeting, ack prefix and error prefix. TEXT takes the backslash escapes ({ESCAPES}). "
        "An option overrides the --target profile's value.",
    )
    group.add_argument(
        "--greeting",
        metavar="TEXT|none",
        help="what the target sends first on every connection; none: it sends nothing",
    )
    group.add_argument(
        "--ack-prefix",
        metavar="TEXT",
        help="what every answer has before the message; '' for a plain echo",
    )
    group.add_argument(
        "--error-prefix", metavar="TEXT", help="what an error reply has before its reason"
    )
    group.add_argument(
        "--target",
        metavar="FILE",
        help="a target profile (TOML): its [wire] constants, and with a listener name for "
        "URL its address",
    )


def _option(name: str, text: str) -> bytes:
    try:
        return unescape(text)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None


def resolve(args: argparse.Namespace) -> tuple[Endpoint, Wire]:
    """The endpoint (`args.url`) and wire constants the options name.

    Raises ValueError (a usage error) for a bad URL, a bad escape, a profile that does
    not load (`FILE:LINE: KEY: message`), a listener the profile does not have, or wire
    constants that cannot be told apart.
    """
    wire = DEFAULT_WIRE
    endpoint: Endpoint | None = None
    if args.target is not None:
        wire, endpoint = _from_profile(args.target, args.url)
    if endpoint is None:
        endpoint = parse_url(args.url)
    greeting = wire.greeting
    if args.greeting is not None:
        greeting = None if args.greeting == "none" else _option("--greeting", args.greeting)
        if greeting == b"":
            raise ValueError("--greeting: empty; a target that sends nothing: --greeting none")
    ack_prefix = wire.ack_prefix
    if args.ack_prefix is not None:
        ack_prefix = _option("--ack-prefix", args.ack_prefix)
    error_prefix = wire.error_prefix
    if args.error_prefix is not None:
        error_prefix = _option("--error-prefix", args.error_prefix)
    wire = Wire(greeting, ack_prefix, error_prefix)
    wire.check_framing(endpoint.framing)
    return endpoint, wire


def _from_profile(path: str, url: str) -> tuple[Wire, Endpoint | None]:
    # Standard library only (tomllib): the client image copies these modules too.
    from ..errors import ProfileError
    from ..load import load
    from ..profile import Address

    try:
        target = load(path)
    except ProfileError as exc:
        raise ValueError(str(exc)) from None
    declared = target.wire
    wire = Wire(declared.greeting, declared.ack_prefix, declared.error_prefix)
    if "://" in url:
        return wire, None
    names = ", ".join(listener.name for listener in target.listeners)
    listener = next((item for item in target.listeners if item.name == url), None)
    if listener is None:
        raise ValueError(f"{path}: no listener named {url!r} (it has: {names})")
    if not isinstance(target.source, Address):
        raise ValueError(
            f"{path}: the target is started from an image, so its address is not known: "
            f"give a URL, {listener.framing.value}://HOST:{listener.port}"
        )
    host_port = format_host_port(target.source.host, listener.port)
    return wire, parse_url(f"{listener.framing.value}://{host_port}")
