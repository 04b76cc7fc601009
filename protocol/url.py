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
    """Parse a listener or target URL; raises ValueError with a plain message."""
    parts = urlsplit(url)
    try:
        framing = Framing(parts.scheme)
    except ValueError:
        schemes = ", ".join(f"{f.value}://" for f in Framing)
        raise ValueError(f"{url!r}: the scheme must be one of {schemes}") from None
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"{url!r}: expected {framing.value}://HOST:PORT and nothing more")
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"{url!r}: {exc}") from None
    if not parts.hostname or port is None:
        raise ValueError(f"{url!r}: expected {framing.value}://HOST:PORT")
    return Endpoint(framing, parts.hostname, port)
