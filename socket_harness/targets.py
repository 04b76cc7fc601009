"""Target profiles: the one place a check learns what it is testing (docs/targets.md).

    from socket_harness.targets import load, from_options, ProfileError

    target = load("targets/socket-harness.toml")     # or from_options({...}) from pytest
    target.listener(Framing.LINE).port               # 9001
    target.promises.backlog                          # Backlog(backlog=3, ...) or None
    target.has_container                             # False for an address: no fd/RSS checks

The modules: `profile` (the frozen dataclasses and the wire defaults of
docs/protocol.md), `load` (TOML files), `options` (pytest options), `validate`
(the rules both share), `toml_lines` (a key's line), `dump` (back to TOML).
"""

from __future__ import annotations

from .dump import dumps
from .errors import ProfileError
from .load import load
from .options import OPTIONS, Option, from_options
from .profile import (
    DEFAULT_ACK_PREFIX,
    DEFAULT_ERROR_PREFIX,
    DEFAULT_GREETING,
    PROMISE_NAMES,
    Address,
    Backlog,
    Build,
    Framing,
    GracefulStop,
    Health,
    IdleTimeout,
    Image,
    Listener,
    MaxConnections,
    MaxMessageBytes,
    MaxSessions,
    Overflow,
    Promise,
    Promises,
    Readiness,
    Setup,
    Source,
    Target,
    Wire,
)

__all__ = [
    "DEFAULT_ACK_PREFIX",
    "DEFAULT_ERROR_PREFIX",
    "DEFAULT_GREETING",
    "OPTIONS",
    "PROMISE_NAMES",
    "Address",
    "Backlog",
    "Build",
    "Framing",
    "GracefulStop",
    "Health",
    "IdleTimeout",
    "Image",
    "Listener",
    "MaxConnections",
    "MaxMessageBytes",
    "MaxSessions",
    "Option",
    "Overflow",
    "ProfileError",
    "Promise",
    "Promises",
    "Readiness",
    "Setup",
    "Source",
    "Target",
    "Wire",
    "dumps",
    "from_options",
    "load",
]
