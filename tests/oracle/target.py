"""Play a golden exchange against a server under test, in either tier.

A tier gives a `ServerUnderTest` (a process on loopback, or a container reached
at its bridge IP); `play` does what the row's `how` says over real sockets and
returns every byte the server sent, `check` compares them with the row's.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from typing import Protocol

from . import model
from .golden import GoldenExchange
from .wire import TIMEOUT, WirePeer, first_difference

SIGNALS = ("SIGTERM", "SIGINT")
# The promises (docs/promises.md) the golden rows check, the same in both tiers:
# every tier plays every row, so the two test modules share one list.
EXCHANGE_PROMISES = (
    "golden/exchanges",
    "proto/greeting",
    "errors/err-reply",
    "line/message-body",
    "line/partial-at-eof",
    "frame/length-prefix",
    "limits/exact-bound",
    "seed/no-wait-for-eof",
    "seed/rest-ignored",
    "seed/one-read-8192",
    "errors/too-large",
    "errors/busy",
    "errors/idle-timeout",
)
SIGNAL_PROMISES = ("golden/exchanges", "errors/shutting-down", "server/shutdown-drain")


class ServerUnderTest(Protocol):
    """What the oracle needs of a server: where it listens and a way to signal it."""

    @property
    def name(self) -> str:
        """How failure messages name it (a process id, a container name)."""
        ...

    def address(self, framing: str) -> tuple[str, int]:
        """(host, port) of its `framing` listener."""
        ...

    def send_signal(self, name: str) -> None:
        """Deliver signal `name` (`SIGSTOP`, `SIGCONT`, `SIGTERM`, `SIGINT`) to the server."""
        ...


@contextlib.contextmanager
def stopped(server: ServerUnderTest) -> Iterator[None]:
    """The server stopped (SIGSTOP) for the block, continued (SIGCONT) after it, even on error."""
    server.send_signal("SIGSTOP")
    try:
        yield
    finally:
        server.send_signal("SIGCONT")


def connect(server: ServerUnderTest, row: GoldenExchange) -> WirePeer:
    host, port = server.address(row.listener)
    return WirePeer(f"{server.name} [{row.id}]", host, port)


def write_all(peer: WirePeer, row: GoldenExchange) -> None:
    # Each write acknowledged before the next: the writes reach the server apart.
    for data in row.writes:
        peer.write_acknowledged(data)


@contextlib.contextmanager
def hold_the_slot(server: ServerUnderTest, row: GoldenExchange) -> Iterator[WirePeer]:
    """A greeted connection holding a `--max-connections 1` server's only slot.

    A slot freed a moment ago may not be free yet (the server frees it after
    the close is sent): a holder refused `ERR busy` tries again, for up to
    the peer's timeout.
    """
    greeting = model.greeting(row.listener)
    deadline = time.monotonic() + TIMEOUT
    while True:
        holder = connect(server, row)
        try:
            greeted = holder.await_bytes(len(greeting), "the holder's greeting")
        except AssertionError:  # refused (ERR busy, then the close): the slot is not free yet
            holder.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)
            continue
        with holder:
            assert greeted.startswith(greeting), f"the holder got {greeted!r}, not the greeting"
            yield holder
        return


def play(server: ServerUnderTest, row: GoldenExchange) -> bytes:
    """Every byte the server sends on the row's connection, up to its close.

    Signal rows are played by `play_signalled`, which needs a server of their own.
    """
    if row.how in SIGNALS:
        raise ValueError(f"{row.id}: a {row.how} row stops the server: use play_signalled")
    if row.how == "queued":
        with stopped(server):
            peer = connect(server, row)
            write_all(peer, row)
        with peer:
            return peer.read_until_close("the answer to bytes queued before its first read")
    if row.how == "busy":
        with hold_the_slot(server, row), connect(server, row) as peer:
            return peer.read_until_close("ERR busy and the close")
    with connect(server, row) as peer:
        write_all(peer, row)
        if row.how == "eof":
            peer.half_close()
        return peer.read_until_close(f"the answer to {len(row.sent)} bytes")


def play_signalled(server: ServerUnderTest, rows: Sequence[GoldenExchange]) -> dict[str, bytes]:
    """Rows of one signal, on one server: all connect (and are greeted) and write, the
    server gets the signal once, then each reads until the close. {row id: bytes}."""
    signals = {row.how for row in rows}
    if len(signals) != 1 or not signals <= set(SIGNALS):
        raise ValueError(f"one signal per call, got {sorted(signals)}")
    peers: list[tuple[GoldenExchange, WirePeer]] = []
    with contextlib.ExitStack() as stack:
        for row in rows:
            peer = stack.enter_context(connect(server, row))
            # Greeted means accepted: the signal finds the connection open, not queued.
            peer.await_bytes(len(model.greeting(row.listener)), "the greeting")
            write_all(peer, row)
            peers.append((row, peer))
        server.send_signal(signals.pop())
        return {
            row.id: peer.read_until_close("the shutdown reply and the close") for row, peer in peers
        }


def verdict(row: GoldenExchange, got: bytes) -> str | None:
    """None when `got` is the row's bytes; else a one-paragraph account of the difference."""
    if got == row.sends:
        return None
    options = "".join(f", {arg}" for arg in row.cli_args())
    why = row.note or "docs/protocol.md"
    return (
        f"golden exchange {row.id} ({row.listener}, {row.how}{options}; {why}): "
        f"{first_difference(row.sends, got)}"
    )


def check(server: ServerUnderTest, row: GoldenExchange) -> None:
    """Play `row` against `server`; AssertionError naming the row and the first difference."""
    problem = verdict(row, play(server, row))
    assert problem is None, problem
