"""`seed://HOST:PORT`, `line://HOST:PORT`, `frame://HOST:PORT` endpoints."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from .constants import Framing


def format_host_port(host: str, port: int) -> str:
    """`host:port`, an IPv6 host in brackets (`[::1]:9000`)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@dataclass(frozen=True, slots=True)
class Endpoint:
    framing: Framing
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.framing.value}://{format_host_port(self.host, self.port)}"


def parse_endpoint(url: str) -> Endpoint:
    """Parse a listener or target URL; raises ValueError with a plain message.

    The port is 0 to 65535 in ASCII digits; an IPv6 host is in brackets.
    """
    if not url.isprintable():  # argv bytes that are not UTF-8 arrive as (unprintable) surrogates
        raise ValueError(f"{url!r}: control characters or bytes that are not UTF-8")
    try:
        parts = urlsplit(url)
    except ValueError:  # urllib's "Invalid IPv6 URL": a [ without its ], or the reverse
        raise ValueError(f"{url!r}: an IPv6 host is written in brackets, [::1]") from None
    try:
        framing = Framing(parts.scheme)
    except ValueError:
        schemes = ", ".join(f"{f.value}://" for f in Framing)
        raise ValueError(f"{url!r}: the scheme must be one of {schemes}") from None
    expected = f"{framing.value}://HOST:PORT"
    if parts.path not in ("", "/") or parts.query or parts.fragment or "@" in parts.netloc:
        raise ValueError(f"{url!r}: expected {expected} and nothing more")
    port = parts.netloc.rpartition("]")[2].partition(":")[2]  # after an IPv6 host's ]
    if not parts.hostname or not port:
        raise ValueError(f"{url!r}: expected {expected}")
    if not (port.isascii() and port.isdigit() and int(port) <= 65535):
        raise ValueError(f"{url!r}: the port must be a number from 0 to 65535, not {port!r}")
    return Endpoint(framing, parts.hostname, int(port))
