"""Any valid profile written by `dumps` loads back as the same Target (hypothesis)."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from socket_harness.dump import string as dump_string
from socket_harness.dump import value as dump_value
from socket_harness.load import loads
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
    Readiness,
    Setup,
    Target,
    Wire,
    dumps,
)

# Text with what a TOML string must escape (quotes, backslashes, control characters) and
# what it must not mangle (UTF-8 beyond ASCII); any text at all is test_any_text_... below.
texts = st.text(st.sampled_from('a"\\\n\t\x00\x7f=:é测'), max_size=6)
names = st.builds(str.__add__, st.sampled_from("aé测"), texts)  # never blank
variables = st.dictionaries(
    st.text(st.sampled_from('A_"\\\n\x7fé测'), min_size=1, max_size=4),
    texts,
    max_size=3,
).map(frozen)
commands = st.none() | st.lists(texts, min_size=1, max_size=3).map(tuple)
setups = st.builds(Setup, commands, variables)
ports = st.integers(1, 65535)
hosts = st.sampled_from(["localhost", "server", "a-b.example", "127.0.0.1", "::1", "fe80::1"])
addresses = st.builds(Address, hosts, ports)
exit_codes = st.integers(0, 255)
# Quarter seconds shrink fast; any float at all is test_any_number_... below.
seconds = st.integers(0, 400).map(lambda quarters: quarters / 4)
signals = st.sampled_from(["SIGTERM", "SIGINT", "SIGQUIT", "SIGHUP", "SIGUSR1"])
references = st.sampled_from(
    [
        "echo",
        "socket-harness/server:local",
        "registry.example:5000/team/echo_svc:1.2-rc",
        "localhost/a.b__c:latest",
        "example/echo@sha256:" + "0123456789abcdef" * 4,
    ]
)


listeners = st.lists(
    st.builds(Listener, names, st.sampled_from(Framing), ports),
    min_size=1,
    max_size=4,
    unique_by=(lambda item: item.name, lambda item: item.port),
).map(tuple)
wires = st.builds(
    Wire,
    st.none() | texts.filter(lambda text: "\0" not in text).map(str.encode),  # no NUL greets
    texts.map(str.encode),
    st.text(st.sampled_from("ER :é"), min_size=1, max_size=4).map(str.encode),
).filter(lambda wire: not wire.ack_prefix.startswith(wire.error_prefix))


def promises(setup: st.SearchStrategy[Setup]) -> st.SearchStrategy[Promises]:
    optional = st.none().__or__
    return st.builds(
        Promises,
        max_connections=st.lists(
            st.builds(MaxConnections, st.integers(1, 10**6), st.sampled_from(Overflow), setup),
            max_size=2,
            unique_by=lambda item: (item.setup.command, tuple(item.setup.environment.items())),
        ).map(tuple),  # one setup, one limit
        backlog=optional(st.builds(Backlog, st.integers(0, 10**5), st.integers(1, 99), setup)),
        idle_timeout=optional(st.builds(IdleTimeout, seconds.filter(bool), setup)),
        max_message_bytes=optional(st.builds(MaxMessageBytes, st.integers(1, 2**31 - 1), setup)),
        max_sessions=optional(st.builds(MaxSessions, st.integers(1, 10**6), exit_codes, setup)),
        graceful_stop=optional(
            st.builds(GracefulStop, seconds, signals, exit_codes, st.none() | exit_codes, setup)
        ),
        health=optional(st.builds(Health, addresses, texts.map(str.encode), setup)),
    )


@given(st.text())
def test_any_text_is_written_as_a_toml_string_that_reads_back_the_same(text: str) -> None:
    assert tomllib.loads(f"key = {dump_string(text)}") == {"key": text}


@given(st.integers() | st.floats(allow_nan=False, allow_infinity=False))
def test_any_number_is_written_as_toml_that_reads_back_the_same(number: float) -> None:
    read = tomllib.loads(f"key = {dump_value(number)}")["key"]
    assert (type(read), read) == (type(number), number)


# Any existing context and Dockerfiles will do (a build's paths must exist): the repository.
ROOT = Path(__file__).resolve().parents[2]
builds = st.builds(
    Build,
    st.just(ROOT),
    st.sampled_from([ROOT / "server" / "Dockerfile", ROOT / "client" / "Dockerfile"]),
    variables,
)
started = {
    "setup": setups,
    "stop_signal": st.none() | signals,
    "readiness": st.sampled_from(Readiness),
    "promises": promises(setups),
}


def consistent(target: Target) -> bool:
    """The rules between fields: no newline in a prefix a line listener sends, and no
    health endpoint on a listener's port (docs/targets.md)."""
    if target.listener(Framing.LINE) and b"\n" in target.wire.ack_prefix + target.wire.error_prefix:
        return False
    health = target.promises.health
    return health is None or all(item.port != health.address.port for item in target.listeners)


# Built once, each field drawn on its own: simple to shrink, so a red run stays quick.
targets = st.one_of(
    st.builds(Target, names, st.builds(Image, references), listeners, wire=wires, **started),
    st.builds(Target, names, builds, listeners, wire=wires, **started),
    st.builds(Target, names, addresses, listeners, wire=wires, promises=promises(st.just(Setup()))),
).filter(consistent)


# One bug shrunk, not each, and no explain phase (it re-ran a failure about a thousand times,
# 40 s here, to mark which fields did not matter): a red run stays quick.
@settings(report_multiple_bugs=False, phases=tuple(set(Phase) - {Phase.explain}))
@given(targets)
def test_a_dumped_profile_loads_back_as_the_same_target(target: Target) -> None:
    text = dumps(target)
    path = ROOT / "generated.toml"  # named in errors only: the text is not saved
    loaded = loads(text, path)
    assert loaded == dataclasses.replace(target, path=path)
    assert dumps(loaded) == text
