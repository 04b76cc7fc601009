"""The Outbox's counts at a partial write whose size the kernel decides byte for byte.

Over TCP, how much of a write the kernel takes depends on the socket's memory
accounting, so no test can make it end exactly on an answer's last byte, or one byte
short of a write's end. A pipe can: pipe(7) gives it a capacity (one page here,
F_SETPIPE_SZ), and a non-blocking write of more than PIPE_BUF bytes into an empty pipe
takes exactly that capacity (Linux fills whole pages). The Outbox serves any asyncio
write transport the same way (server/outbox.py: "`sent` and `answers` count what the
kernel took"), so an event loop's own pipe transport drives it here.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import io
import os
from collections.abc import Callable, Iterator
from typing import cast

import pytest

from socket_harness.server.outbox import Outbox

PAGE = 4096  # the pipe's capacity: one page (F_SETPIPE_SZ rounds up to a page)
TIMEOUT = 5.0  # seconds for the loop to hand the rest to the kernel


class _Forwarder(asyncio.BaseProtocol):
    """A write pipe's protocol that tells the Outbox of each step, as Connection does."""

    def __init__(self) -> None:
        self.outbox: Outbox | None = None
        self.resumed = asyncio.Event()
        self.lost = asyncio.Event()

    def resume_writing(self) -> None:
        assert self.outbox is not None
        self.outbox.progress()
        self.resumed.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost.set()


@contextlib.contextmanager
def _one_page_pipe() -> Iterator[tuple[int, io.FileIO]]:
    """(read end, write end as the file object a write transport takes over)."""
    read_end, write_end = os.pipe()
    pipe = io.FileIO(write_end, "wb")  # both loops close it with the transport
    try:
        assert fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, PAGE) == PAGE
        yield read_end, pipe
    finally:
        os.close(read_end)
        pipe.close()  # a no-op once the transport closed it


def _run(loop_name: str, scenario: Callable[[Outbox, _Forwarder, int], object]) -> None:
    """Run `scenario(outbox, protocol, read_end)` on `loop_name`'s loop, the Outbox
    writing to a one-page pipe through that loop's write-pipe transport."""
    factory: Callable[[], asyncio.AbstractEventLoop] = asyncio.new_event_loop
    if loop_name == "uvloop":
        uvloop = pytest.importorskip("uvloop")
        factory = uvloop.new_event_loop

    async def main() -> None:
        with _one_page_pipe() as (read_end, pipe):
            loop = asyncio.get_running_loop()
            transport, protocol = await loop.connect_write_pipe(_Forwarder, pipe)
            # A pipe's write transport has the methods of a socket's that the Outbox
            # uses for sending (write, buffer size and limits, closing, abort).
            outbox = Outbox(cast(asyncio.Transport, transport), high_water=None, idle_timeout=0)
            protocol.outbox = outbox
            try:
                result = scenario(outbox, protocol, read_end)
                if asyncio.iscoroutine(result):
                    await asyncio.wait_for(result, TIMEOUT)
            finally:
                transport.abort()
                # The loop lets go of the pipe before the test ends (uvloop aborts the
                # process when a descriptor it still watches is closed under it).
                await asyncio.wait_for(protocol.lost.wait(), TIMEOUT)

    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(main())


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_joined_answers_the_kernel_took_whole_count_at_once_even_ending_on_its_last_byte(
    loop: str,
) -> None:
    # Joined answers of 2048 + 2048 + 10 bytes: the pipe takes the first 4096, so the
    # second ends exactly on the last byte taken. It counts at once, not at the next step.
    def scenario(outbox: Outbox, _protocol: _Forwarder, _read_end: int) -> None:
        assert outbox.send_joined([b"a" * 2048, b"b" * 2048, b"c" * 10])
        assert (outbox.sent, outbox.pending, outbox.answers) == (4096, 10, 2)

    _run(loop, scenario)


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_a_reply_the_kernel_took_all_but_its_last_byte_of_counts_once_that_byte_goes(
    loop: str,
) -> None:
    # 4097 bytes into a one-page pipe: 4096 taken, 1 left in the loop's buffer. The
    # Outbox must hear when that last byte goes (its limits re-armed just below 1).
    async def scenario(outbox: Outbox, protocol: _Forwarder, read_end: int) -> None:
        assert outbox.send(b"r" * 4097, answers=1)
        assert (outbox.sent, outbox.pending, outbox.answers) == (4096, 1, 0)
        assert len(os.read(read_end, 2 * PAGE)) == 4096  # room again: the loop sends the byte
        await protocol.resumed.wait()
        assert (outbox.sent, outbox.pending, outbox.answers) == (4097, 0, 1)

    _run(loop, scenario)
