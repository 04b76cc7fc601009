"""`seed://HOST:PORT`, `line://HOST:PORT`, `frame://HOST:PORT` endpoints."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from .constants import Framing


@dataclass(frozen=True, slots=True)
class Endpoint:
    framing: Framing
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.framing.value}://{host}:{self.port}"


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
