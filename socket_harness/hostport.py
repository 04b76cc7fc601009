"""The one rule for a profile's `HOST:PORT` (`target.address`, `--target-address`, health).

HOST is a hostname of RFC 1123 labels, an IPv4 address, or an IPv6 address in brackets
(RFC 3986's IP-literal, `[::1]:7000`); PORT is ASCII digits, 1 to 65535.
"""

from __future__ import annotations

import ipaddress
import re

# RFC 1123 section 2.1: letters, digits and inner hyphens, 1-63 characters a label.
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?", re.ASCII)
_PORT = re.compile(r"[0-9]{1,5}", re.ASCII)  # [0-9] only: str.isdigit() takes '٣' too
MAX_HOSTNAME = 253  # RFC 1035 section 2.3.4, without the final dot
FORMAT = "HOST:PORT (IPv6: [HOST]:PORT)"


def parse_host_port(text: str) -> tuple[str, int]:
    """`"host:7000"`, `"10.0.0.1:7000"`, `"[::1]:7000"` -> (host without brackets, port).

    Raises ValueError with a one-line reason (not HOST:PORT, an unbracketed IPv6,
    a bad hostname, a port out of 1-65535).
    """
    host, sep, port = text.rpartition(":")
    if not sep or not host or "]" in port:  # `[::1]`: the last colon is the address's
        raise ValueError(f"{text!r} is not {FORMAT}")
    if host.startswith("[") or host.endswith("]"):
        host = _ipv6(text, host)
    elif ":" in host:
        raise ValueError(f"{text!r}: an IPv6 address needs brackets, as in [::1]:7000")
    else:
        _hostname(text, host)
    if not _PORT.fullmatch(port) or not 1 <= int(port) <= 65535:
        raise ValueError(f"{text!r}: port {port!r} is not a number from 1 to 65535")
    return host, int(port)


def _ipv6(text: str, host: str) -> str:
    inner = host[1:-1]
    if not (host.startswith("[") and host.endswith("]")) or "[" in inner or "]" in inner:
        raise ValueError(f"{text!r}: unbalanced brackets (IPv6: [HOST]:PORT)")
    try:
        ipaddress.IPv6Address(inner)
    except ValueError:
        raise ValueError(f"{text!r}: {inner!r} in brackets is not an IPv6 address") from None
    return inner


def _hostname(text: str, host: str) -> None:
    labels = host.split(".")
    if all(label.isascii() and label.isdigit() for label in labels):
        try:  # all digits: only an IPv4 address, never a name (RFC 1123 section 2.1)
            ipaddress.IPv4Address(host)
        except ValueError:
            raise ValueError(f"{text!r}: {host!r} is not an IPv4 address") from None
        return
    if len(host) > MAX_HOSTNAME or not all(_LABEL.fullmatch(label) for label in labels):
        raise ValueError(
            f"{text!r}: {host!r} is not a hostname (letters, digits, inner '-', dot-separated), "
            "an IPv4 or a [bracketed] IPv6 address"
        )
