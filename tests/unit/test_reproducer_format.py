"""Reproducer files keep exact bytes: escaping and the TOML round trip lose nothing."""

from __future__ import annotations

import tomllib

from hypothesis import given
from hypothesis import strategies as st

from socket_harness.fuzz.escape import escape, unescape
from socket_harness.fuzz.reproducer import (
    Expect,
    ExpectEof,
    Failure,
    Pause,
    Reproducer,
    Reset,
    Send,
    Shutdown,
    Step,
    dumps,
    parse,
)


@given(st.binary(max_size=300) | st.text(max_size=100).map(str.encode))
def test_escape_round_trips_any_bytes(data: bytes) -> None:
    assert unescape(escape(data)) == data


def test_escape_keeps_text_readable() -> None:
    assert escape("收到的信息:a\r\n".encode() + b"\x00'\\") == "收到的信息:a\\r\\n\\x00\\x27\\\\"


conns = st.integers(1, 4)
steps = st.one_of(
    st.builds(Send, conns, st.binary(max_size=80) | st.just(b"y" * 100)),
    st.builds(Pause, st.sampled_from([0.0, 0.001, 0.5])),
    st.builds(Shutdown, conns),
    st.builds(Reset, conns),
    st.builds(Expect, conns, st.binary(max_size=80)),
    st.builds(ExpectEof, conns),
)


@given(
    st.lists(steps, min_size=1, max_size=8),
    st.text(max_size=30),
    st.none() | st.builds(Failure, st.integers(1, 8), st.binary(max_size=40), st.text(max_size=40)),
)
def test_a_reproducer_survives_the_file(
    drawn: list[Step], title: str, failure: Failure | None
) -> None:
    reproducer = Reproducer(
        title=title,
        framing="frame",
        steps=tuple(drawn),
        max_message_bytes=1000,
        address="127.0.0.1:9002",
        failure=failure,
    )
    assert parse(tomllib.loads(dumps(reproducer))) == reproducer
