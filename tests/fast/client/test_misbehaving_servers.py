"""Servers the real one never imitates: silent, tutorial-style, garbage. Typed errors, no hang."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from socket_harness import client
from socket_harness.client import aio
from socket_harness.protocol import Framing
from tests.fast.client.helpers import run_cli
from tests.fast.client.peers import (
    Script,
    ScriptedPeer,
    acks_frames_altered,
    acks_the_first_line_twice,
    never_greets,
    sends_garbage,
    tutorial_without_answer,
)
from tests.oracle import model


@pytest.mark.parametrize("framing", list(Framing))
def test_never_greeting_server_times_out(framing: Framing) -> None:
    with ScriptedPeer(never_greets) as peer, client.connect(peer.url(framing), timeout=0.3) as conn:
        started = time.monotonic()
        with pytest.raises(client.ClientTimeout) as caught:
            conn.greeting()
    assert time.monotonic() - started < 3
    assert caught.value.exit_code == 4


def test_never_greeting_server_times_out_async() -> None:
    async def talk(url: str) -> None:
        async with await aio.connect(url, timeout=0.3) as conn:
            await conn.greeting()

    with ScriptedPeer(never_greets) as peer, pytest.raises(client.ClientTimeout):
        asyncio.run(talk(peer.url("line")))


@pytest.mark.covers("client/exit-4")
def test_cli_against_a_never_greeting_server_exits_4() -> None:
    with ScriptedPeer(never_greets) as peer:
        done = run_cli(peer.url("seed"), "hello", "--timeout", "0.3", timeout=10)
    assert done.returncode == 4
    assert done.stdout == b""
    assert b"timeout" in done.stderr
    assert b"Traceback" not in done.stderr


@pytest.mark.parametrize("framing", list(Framing))
def test_tutorial_server_without_answer_is_closed_early(framing: Framing) -> None:
    peer = ScriptedPeer(tutorial_without_answer(framing))
    with (
        peer,
        client.connect(peer.url(framing), timeout=5) as conn,
        pytest.raises(client.ClosedEarly, match="before replying"),
    ):
        conn.exchange(b"Ho first blood")


@pytest.mark.covers("client/exit-5")
def test_cli_against_a_tutorial_server_without_answer_exits_5_plainly() -> None:
    with ScriptedPeer(tutorial_without_answer("seed")) as peer:
        done = run_cli(peer.url("seed"), r"Ho\r\nfirst blood\r\n", timeout=10)
    assert done.returncode == 5
    assert done.stdout == model.GREETING  # what the server did send, as it sent it
    assert done.stderr.startswith(b"client: closed-early: ")
    assert b"Traceback" not in done.stderr


@pytest.mark.parametrize("framing", [Framing.SEED, Framing.LINE])
def test_garbage_is_unexpected_bytes(framing: Framing) -> None:
    with ScriptedPeer(sends_garbage) as peer, client.connect(peer.url(framing), timeout=5) as conn:
        started = time.monotonic()
        with pytest.raises(client.UnexpectedBytes, match="HTTP"):
            conn.greeting()
    assert time.monotonic() - started < 3  # caught without waiting for a close


@pytest.mark.covers("client/exit-7")
def test_cli_against_garbage_exits_7() -> None:
    with ScriptedPeer(sends_garbage) as peer:
        done = run_cli("--json", peer.url("line"), "hi", timeout=10)
    assert done.returncode == 7
    assert b'"kind": "unexpected-bytes"' in done.stdout
    assert b"Traceback" not in done.stderr


def failed_load(script: Script, url_framing: str, *options: str) -> dict[str, Any]:
    """`client load --json` against a scripted peer: a plain exit 1, and its report."""
    with ScriptedPeer(script) as peer:
        done = run_cli(
            "load", "--json", peer.url(url_framing), "--connections", "1", "--processes", "1",
            *options, timeout=20,
        )  # fmt: skip
    assert b"Traceback" not in done.stderr, done.stderr
    assert done.returncode == 1
    report: dict[str, Any] = json.loads(done.stdout)
    return report


@pytest.mark.covers("load/acks-checked")
def test_load_against_a_server_acking_twice_counts_unexpected_bytes() -> None:
    report = failed_load(acks_the_first_line_twice, "line", "--messages", "2", "--window", "1")
    assert report["errors"] == {"unexpected-bytes": 1}
    assert report["completed"] == 1


@pytest.mark.parametrize(
    "alter",
    [
        pytest.param(lambda m: m[:-1] + bytes([m[-1] ^ 1]), id="last-byte-changed"),
        pytest.param(lambda m: m[:-1], id="one-byte-short"),
        pytest.param(lambda m: m + b"x", id="one-byte-more"),
        pytest.param(lambda m: b"9" + m[1:], id="first-byte-changed"),
    ],
)
@pytest.mark.covers("load/acks-checked")
def test_load_counts_an_ack_that_does_not_echo_its_message(alter: Callable[[bytes], bytes]) -> None:
    report = failed_load(acks_frames_altered(alter), "frame", "--messages", "3", "--size", "65536")
    assert report["errors"] == {"unexpected-bytes": 1}
    assert report["completed"] == 0
