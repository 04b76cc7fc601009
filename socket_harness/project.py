"""The project's own server as a target: targets/socket-harness.toml, plus a caller's overrides.

The one description of the server the fast tier, the container tier, bench and
`make fuzz` run (socket_harness.sut runs it): its name, stop signal, wire
constants and promises come from the profile; a caller overrides where it
listens (`--listen` URLs) and how it is started (its environment or command),
as `SERVER_*` variables (README, "Server": every option has one).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from .load import load
from .profile import Framing, Image, Listener, Readiness, Setup, Target, frozen_mapping

PROFILE = Path(__file__).resolve().parents[1] / "targets" / "socket-harness.toml"


@cache
def profile() -> Target:
    """targets/socket-harness.toml, read once (ProfileError if it is missing or wrong)."""
    return load(PROFILE)


def server_env(options: Mapping[str, Any]) -> dict[str, str]:
    """Server options as their documented variables: `max_connections=2` ->
    {"SERVER_MAX_CONNECTIONS": "2"} (README, "Server", the env column)."""
    return {f"SERVER_{key.upper()}": str(value) for key, value in options.items()}


def listener_of(url: str) -> Listener:
    """`line://0.0.0.0:9001` as a Listener named after its framing (port 0 stays 0: the
    caller learns the real one). ValueError for anything else."""
    scheme, sep, rest = url.partition("://")
    _, colon, port = rest.rpartition(":")
    if not sep or not colon or not port.isdigit():
        raise ValueError(f"{url!r}: expected FRAMING://HOST:PORT")
    framing = Framing(scheme)
    return Listener(framing.value, framing, int(port))


def project_target(
    listen: Iterable[str] | None = None,
    environment: Mapping[str, str] | None = None,
    command: Iterable[str] | None = None,
    image: str | None = None,
    readiness: Readiness | None = None,
) -> Target:
    """The project's server (`profile()`) with overrides; each None keeps the profile's.

    `listen`: listener URLs (`seed://0.0.0.0:9000`), one listener per URL; `environment`
    and `command` replace the profile's setup (so a test's options mean exactly what it
    says); `image`: the image to run (an image ID); `readiness`: how to know it started.
    """
    target = profile()
    changes: dict[str, Any] = {}
    if listen is not None:
        listeners: list[Listener] = []
        for url in listen:
            listener = listener_of(url)
            if any(item.name == listener.name for item in listeners):  # names are unique
                listener = dataclasses.replace(listener, name=f"{listener.name}-{len(listeners)}")
            listeners.append(listener)
        changes["listeners"] = tuple(listeners)
    if environment is not None or command is not None:
        changes["setup"] = Setup(
            command=tuple(command) if command is not None else target.setup.command,
            environment=frozen_mapping(environment)
            if environment is not None
            else target.setup.environment,
        )
    if image is not None:
        changes["source"] = Image(image)
    if readiness is not None:
        changes["readiness"] = readiness
    return dataclasses.replace(target, **changes)
