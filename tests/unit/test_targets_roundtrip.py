"""Any valid profile written by `dumps` loads back as the same Target (hypothesis)."""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from socket_harness.profile import frozen_mapping as frozen
from socket_harness.targets import (
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
    Promises,
    Setup,
    Source,
    Target,
    Wire,
    dumps,
    load,
)

# Any text a TOML string can hold: control characters, quotes and backslashes included.
texts = st.text(max_size=12)
names = texts.filter(lambda text: bool(text.strip()))
variables = st.dictionaries(
    st.text(min_size=1, max_size=8).filter(lambda name: "=" not in name and "\0" not in name),
    texts,
    max_size=3,
).map(frozen)
commands = st.none() | st.lists(texts, min_size=1, max_size=3).map(tuple)
setups = st.builds(Setup, commands, variables)
ports = st.integers(1, 65535)
hosts = st.from_regex(r"[a-z][a-z0-9.-]{0,10}", fullmatch=True) | st.ip_addresses().map(str)
addresses = st.builds(Address, hosts, ports)
exit_codes = st.integers(0, 255)
seconds = st.floats(min_value=0, allow_nan=False, allow_infinity=False)
signals = st.sampled_from(["SIGTERM", "SIGINT", "SIGQUIT", "SIGHUP", "SIGUSR1"])
references = st.from_regex(
    r"(registry\.example:5000/)?[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+)?(:[\w][\w.-]{0,8})?",
    fullmatch=True,
)


@st.composite
def listeners(draw: st.DrawFn) -> tuple[Listener, ...]:
    items = draw(st.lists(st.tuples(st.sampled_from(Framing), ports), min_size=1, max_size=4))
    label = draw(st.lists(names, min_size=len(items), max_size=len(items), unique=True))
    by_port = {port: (framing, name) for name, (framing, port) in zip(label, items, strict=True)}
    return tuple(Listener(name, framing, port) for port, (framing, name) in by_port.items())


@st.composite
def wires(draw: st.DrawFn) -> Wire:
    greeting = draw(st.none() | texts.map(str.encode))
    error_prefix = draw(st.text(min_size=1, max_size=6)).encode()
    ack_prefix = draw(texts).encode()
    assume(not ack_prefix.startswith(error_prefix))
    return Wire(greeting, ack_prefix, error_prefix)


def promises(setup: st.SearchStrategy[Setup]) -> st.SearchStrategy[Promises]:
    optional = st.none().__or__
    return st.builds(
        Promises,
        max_connections=st.lists(
            st.builds(MaxConnections, st.integers(1, 10**6), st.sampled_from(Overflow), setup),
            max_size=2,
        ).map(tuple),
        backlog=optional(st.builds(Backlog, st.integers(0, 10**5), st.integers(1, 99), setup)),
        idle_timeout=optional(st.builds(IdleTimeout, seconds.filter(bool), setup)),
        max_message_bytes=optional(st.builds(MaxMessageBytes, st.integers(1, 2**40), setup)),
        max_sessions=optional(st.builds(MaxSessions, st.integers(1, 10**6), exit_codes, setup)),
        graceful_stop=optional(
            st.builds(GracefulStop, seconds, signals, exit_codes, st.none() | exit_codes, setup)
        ),
        health=optional(st.builds(Health, addresses, texts.map(str.encode), setup)),
    )


@pytest.fixture(scope="module")
def context() -> Iterator[Path]:
    """A build context with two Dockerfiles (a build's paths must exist)."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory).resolve()
        (path / "Dockerfile").write_text("FROM scratch\n")
        (path / "Other.dockerfile").write_text("FROM scratch\n")
        yield path


@st.composite
def targets(draw: st.DrawFn, context: Path) -> Target:
    kind = draw(st.sampled_from(["image", "build", "address"]))
    source: Source
    if kind == "address":
        source = draw(addresses)
        setup, stop_signal, promise_setups = Setup(), None, st.just(Setup())
    else:
        if kind == "image":
            source = Image(draw(references))
        else:
            dockerfile = context / draw(st.sampled_from(["Dockerfile", "Other.dockerfile"]))
            source = Build(context, dockerfile, draw(variables))
        setup, stop_signal, promise_setups = draw(setups), draw(st.none() | signals), setups
    return Target(
        name=draw(names),
        source=source,
        listeners=draw(listeners()),
        setup=setup,
        stop_signal=stop_signal,
        wire=draw(wires()),
        promises=draw(promises(promise_setups)),
    )


@given(data=st.data())
def test_a_dumped_profile_loads_back_as_the_same_target(context: Path, data: st.DataObject) -> None:
    target = data.draw(targets(context))
    text = dumps(target)
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "generated.toml"
        path.write_text(text, encoding="utf-8")
        loaded = load(path)
    assert loaded == dataclasses.replace(target, path=path)
    assert dumps(loaded) == text
