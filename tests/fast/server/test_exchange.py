"""Each framing's exchange against the real server process, byte for byte."""

from __future__ import annotations

import json
import re
import signal
import socket
import struct
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.fast.server.peer import Peer
from tests.fast.server.process import RunningServer, ServerFactory
from tests.oracle import model
from tests.oracle.model import ACK_PREFIX, GREETING
from tests.oracle.wire import WirePeer, first_difference


@pytest.fixture
def server(server_factory: ServerFactory) -> RunningServer:
    return server_factory()


def raw_line(server: RunningServer, event: str) -> str:
    """The first text log line of `event`, as written (the test reads its quoting too)."""
    return next(line for line in server.log_lines() if f" event={event} " in line)


@pytest.mark.covers("seed/no-wait-for-eof", "proto/greeting")
def test_seed_answers_the_tutorial_client_byte_for_byte(server: RunningServer) -> None:
    # The tutorial's PHP client: one write, no half-close, then read until EOF.
    with Peer(server.endpoint("seed")) as peer:
        peer.send(b"Ho\r\nfirst blood\r\n")
        received = peer.read_to_eof()
    assert received == (
        "测试成功!\n".encode() + "收到的信息:".encode() + b"Ho\r\nfirst blood\r\n" + b"\n"
    )
    close = server.wait_for_event("close", reason="answered")
    assert close["messages"] == "1"
    assert close["bytes_in"] == str(len(b"Ho\r\nfirst blood\r\n"))


@pytest.mark.covers("seed/one-read-8192", "seed/rest-ignored")
def test_seed_reads_once_at_most_8192_bytes(server: RunningServer) -> None:
    # 4 MiB still arriving after the one read: the answer must not be reset away.
    payload = bytes(range(256)) * 16384
    with Peer(server.endpoint("seed")) as peer, ThreadPoolExecutor(1) as pool:
        peer.expect_greeting()
        sending = pool.submit(peer.send, payload)
        answer = peer.read_to_eof()
        sending.result(timeout=10)  # the server drained the rest instead of resetting
    # Loopback's segments hold 65483 bytes (at least 16 KiB while the send buffer
    # grows): the one read finds 8192 bytes or more, and takes exactly 8192.
    assert answer == model.ack("seed", payload[:8192]), first_difference(
        model.ack("seed", payload[:8192]), answer
    )


@pytest.mark.covers("seed/one-read-8192", "seed/rest-ignored")
@pytest.mark.parametrize("size", [8191, 8192, 8193, 16384, 65536])
def test_seed_answers_exactly_8192_bytes_of_what_was_queued(
    server: RunningServer, size: int
) -> None:
    # The server stopped while the bytes arrive: its first read finds all of them
    # queued, whatever the segments, and must take exactly min(size, 8192).
    payload = bytes(range(256)) * (size // 256) + b"\xff" * (size % 256)
    with WirePeer(f"server process {server.pid}", *address(server, "seed")) as peer:
        server.signal(signal.SIGSTOP)
        try:
            peer.write_acknowledged(payload)
        finally:
            server.signal(signal.SIGCONT)
        answer = peer.read_until_close()
    expected = model.exchange("seed", payload[:8192], 8192)
    assert answer == expected, first_difference(expected, answer)


@pytest.mark.covers("seed/one-read-8192")
@pytest.mark.parametrize("size", [8193, 16384, 65483])
def test_seed_takes_8192_bytes_of_one_loopback_segment(server: RunningServer, size: int) -> None:
    # One write of up to 65483 bytes is one segment on loopback: the server's one
    # read gets all of it, and answers exactly its first 8192 bytes.
    payload = b"s" * 8192 + b"t" * (size - 8192)
    with WirePeer(f"server process {server.pid}", *address(server, "seed")) as peer:
        peer.write(payload)
        answer = peer.read_until_close()
    assert answer == model.exchange("seed", b"s" * 8192, 8192), first_difference(
        model.exchange("seed", b"s" * 8192, 8192), answer
    )


def address(server: RunningServer, framing: str) -> tuple[str, int]:
    endpoint = server.endpoint(framing)
    return endpoint.host, endpoint.port


@pytest.mark.covers("seed/close-before-sending")
def test_seed_peer_that_closes_before_sending_gets_nothing_more(server: RunningServer) -> None:
    with Peer(server.endpoint("seed")) as peer:
        peer.expect_greeting()
        peer.sock.shutdown(2)  # SHUT_RDWR: a FIN, nothing sent
    close = server.wait_for_event("close")
    assert close["reason"] == "peer-closed"
    assert close["messages"] == "0"
    assert not server.events("error")


@pytest.mark.covers("line/pipelined-in-order")
def test_line_answers_each_message_in_order(server: RunningServer) -> None:
    messages = [b"hello", b"", b"with\rcarriage return", "中文".encode(), bytes(range(10))]
    with Peer(server.endpoint("line")) as peer:
        assert peer.read_line() == GREETING
        for body in messages:
            peer.send_message(body)
            assert peer.read_line() == ACK_PREFIX + body + b"\n"


@pytest.mark.covers("line/message-body")
def test_line_keeps_a_carriage_return_before_the_newline(server: RunningServer) -> None:
    # docs/protocol.md: any byte but `\n` is body, `\r` included (no CRLF stripping).
    with Peer(server.endpoint("line")) as peer:
        peer.expect_greeting()
        peer.send(b"a\r\n\r\n")
        peer.sock.shutdown(1)  # SHUT_WR
        assert peer.read_to_eof() == (
            b"\xe6\x94\xb6\xe5\x88\xb0\xe7\x9a\x84\xe4\xbf\xa1\xe6\x81\xaf:a\r\n"
            b"\xe6\x94\xb6\xe5\x88\xb0\xe7\x9a\x84\xe4\xbf\xa1\xe6\x81\xaf:\r\n"
        )


@pytest.mark.covers("line/pipelined-in-order")
def test_line_pipelined_messages_are_answered_in_order(server: RunningServer) -> None:
    bodies = [f"message {i}".encode() for i in range(2000)]
    with Peer(server.endpoint("line")) as peer:
        peer.expect_greeting()
        peer.send(b"".join(body + b"\n" for body in bodies))
        answers = [peer.read_line() for _ in bodies]
    assert answers == [ACK_PREFIX + body + b"\n" for body in bodies]


@pytest.mark.covers("line/half-close")
def test_line_half_close_still_gets_every_answer_then_eof(server: RunningServer) -> None:
    with Peer(server.endpoint("line")) as peer:
        peer.expect_greeting()
        peer.send(b"one\ntwo\npartial")
        peer.sock.shutdown(1)  # SHUT_WR
        assert peer.read_to_eof() == ACK_PREFIX + b"one\n" + ACK_PREFIX + b"two\n"
    truncated = server.wait_for_event("error", reason="truncated")
    assert truncated["bytes"] == str(len(b"partial"))
    assert server.wait_for_event("close")["reason"] == "peer-closed"


@pytest.mark.covers("frame/length-prefix")
def test_frame_answers_binary_and_empty_bodies(server: RunningServer) -> None:
    bodies = [b"abc", b"", bytes(range(256)), b"\x00\n\r\xff" * 1000]
    with Peer(server.endpoint("frame")) as peer:
        assert peer.read_raw_reply() == struct.pack(">I", len(GREETING)) + GREETING
        for body in bodies:
            peer.send_message(body)
            answer = ACK_PREFIX + body
            assert peer.read_raw_reply() == struct.pack(">I", len(answer)) + answer


@pytest.mark.covers("frame/length-prefix")
def test_frame_split_into_single_bytes_decodes_the_same(server: RunningServer) -> None:
    bodies = [b"first", b"", b"third"]
    wire = b"".join(struct.pack(">I", len(body)) + body for body in bodies)
    with Peer(server.endpoint("frame")) as peer:
        peer.expect_greeting()
        for i in range(len(wire)):
            peer.send(wire[i : i + 1])
        for body in bodies:
            assert peer.read_raw_reply() == model.ack("frame", body)


@pytest.mark.covers("server/log-summary")
def test_summary_counts_what_was_served(server: RunningServer) -> None:
    with Peer(server.endpoint("line")) as peer:
        peer.expect_greeting()
        peer.send(b"a\nb\n")
        peer.read_line()
        peer.read_line()
    server.wait_for_event("close")
    server.signal(signal.SIGTERM)
    assert server.wait() == 0
    summary = server.events("summary")[0]
    assert summary["connections"] == "1"
    assert summary["messages"] == "2"
    assert summary["bytes_in"] == "4"
    assert summary["bytes_out"] == str(len(GREETING) + 2 * len(ACK_PREFIX + b"a\n"))
    assert summary["exit_code"] == "0"
    assert ' errors="" ' in raw_line(server, "summary")  # README "Logs": none


@pytest.mark.covers("server/log-text-values", "server/log-timestamp", "server/log-summary")
def test_text_log_values_are_seconds_to_the_millisecond_and_sorted_reason_counts(
    server_factory: ServerFactory,
) -> None:
    server = server_factory("--max-message-bytes", "4", listen=["line"])
    with Peer(server.endpoint("line")) as peer:
        peer.expect_greeting()
        peer.send(b"abc")  # a partial message, then EOF: truncated
        peer.sock.shutdown(socket.SHUT_WR)
        assert peer.read_to_eof() == b""
    with Peer(server.endpoint("line")) as peer:
        peer.expect_greeting()
        peer.send(b"too long\n")
        assert peer.read_to_eof() == b"ERR too-large\n"
    server.wait_for_event("close", reason="too-large")
    server.signal(signal.SIGTERM)
    assert server.wait() == 0
    lines = server.log_lines()
    # README "Logs": ts is UTC to the millisecond; duration is seconds with three decimals.
    assert all(re.match(r"ts=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ", line) for line in lines)
    durations = [fields["duration"] for fields in server.events("close")]
    assert len(durations) == 2
    assert all(re.fullmatch(r"\d+\.\d{3}", duration) for duration in durations)
    # errors: reason:count pairs, sorted by reason (truncated came first).
    assert " errors=too-large:1,truncated:1 " in raw_line(server, "summary")


@pytest.mark.covers("server/log-close-duration")
def test_the_close_line_says_how_long_the_connection_was_served(server: RunningServer) -> None:
    # README "Logs": a close line's duration is the seconds from its accept to its end.
    # This peer stays 1.2 s after its greeting: the duration is at least the stay it
    # measured, and at most the time from before its connect to reading the close line.
    began = time.monotonic()
    with Peer(server.endpoint("line")) as peer:
        peer.expect_greeting()
        greeted = time.monotonic()
        assert peer.nothing_arrives(1.2)
        stayed = time.monotonic() - greeted
        mine = f"127.0.0.1:{peer.local_port}"
    duration = float(server.wait_for_event("close", peer=mine)["duration"])
    elapsed = time.monotonic() - began
    # Three decimals: up to half a millisecond either way of the server's own reading.
    assert stayed - 0.001 <= duration <= elapsed + 0.001, (stayed, duration, elapsed)


@pytest.mark.covers("server/log-format")
def test_json_log_format_has_the_same_events(server_factory: ServerFactory) -> None:
    server = server_factory("--log-format", "json", listen=["line"])
    with Peer(server.endpoint("line")) as peer:
        peer.expect_greeting()
    server.wait_for_event("close")
    records = [json.loads(line) for line in server.log_lines()]
    assert [record["event"] for record in records] == ["listening", "ready", "open", "close"]
    assert records[2]["listener"] == server.url("line")
    assert records[3]["reason"] == "peer-closed"
    assert all({"ts", "level", "event"} <= record.keys() for record in records)


@pytest.mark.covers("server/loop", "server/listen")
@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_every_event_loop_serves_every_framing(server_factory: ServerFactory, loop: str) -> None:
    if loop == "uvloop":
        pytest.importorskip("uvloop")
    server = server_factory("--loop", loop)
    assert server.events("ready")[0]["loop"] == loop
    for framing in ("seed", "line", "frame"):
        with Peer(server.endpoint(framing)) as peer:
            peer.expect_greeting()
            peer.expect_answer(b"ping")
