"""Focused tests for gaps `make mutation` found (docs/mutation.md lists each survivor).

Expectations are the specification's literal numbers and bytes (README "Server",
docs/protocol.md), never protocol/'s constants.
"""

from __future__ import annotations

import dataclasses
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import cast

import pytest

from socket_harness.protocol import (
    Ack,
    ErrorReason,
    FrameDecoder,
    Greeting,
    LineDecoder,
    MessageTooLarge,
    ProtocolError,
    ServerError,
    classify_body,
    encode_frame,
    parse_endpoint,
    parse_seed_response,
    reply_limit,
)
from socket_harness.server.config import parse_config
from socket_harness.server.logs import EventLog, timestamp

# docs/protocol.md: the greeting's body, 测试成功! without its newline.
GREETING_BODY = bytes.fromhex("e6b58be8af95e68890e58a9f21")


class _Sized:
    """A stand-in body of `size` bytes that allocates none (2**32 real bytes is 4 GiB)."""

    def __init__(self, size: int) -> None:
        self.size = size

    def __len__(self) -> int:
        return self.size

    def __radd__(self, header: bytes) -> bytes:
        return header + b"<body>"


@pytest.mark.covers("frame/length-prefix")
def test_a_frame_body_of_2_to_the_32_minus_1_bytes_is_the_largest_a_header_can_say() -> None:
    assert encode_frame(cast(bytes, _Sized(2**32 - 1))) == b"\xff\xff\xff\xff<body>"
    with pytest.raises(ValueError, match="cannot exceed"):
        encode_frame(cast(bytes, _Sized(2**32)))


@pytest.mark.covers("server/max-message-bytes", "server/backlog", "server/idle-timeout")
def test_the_servers_defaults_are_the_documented_ones() -> None:
    # README "Server", the options table, literally.
    config = parse_config([], environ={})
    assert config.max_connections == 10000
    assert config.overflow == "pause"
    assert config.backlog == 512
    assert config.idle_timeout == 55
    assert config.max_message_bytes == 2097152
    assert config.send_buffer_bytes == 1048576
    assert config.max_sessions == 0
    assert config.drain_timeout == 3
    assert [str(endpoint) for endpoint in config.listen] == [
        "seed://0.0.0.0:9000",
        "line://0.0.0.0:9001",
        "frame://0.0.0.0:9002",
    ]


@pytest.mark.covers("decoders/feed", "frame/length-prefix")
@pytest.mark.parametrize(
    ("first", "second"),
    [
        (b"\x00\x00\x00\x03a", b"\x00\x00"),  # what is held sorts after the new bytes
        (b"\x00\x00\x00\x03a", b"\xff\xff"),  # ... and before them
        (b"\x00", b"\x00\x00\x03a\x00\x00"),
    ],
)
def test_a_frame_cut_inside_is_joined_whatever_the_bytes(first: bytes, second: bytes) -> None:
    decoder = FrameDecoder(16)
    assert decoder.feed(first) == []
    assert decoder.feed(second) == [(first + second)[4:]]
    assert decoder.buffered == 0


@pytest.mark.covers("decoders/feed", "frame/length-prefix")
def test_a_frame_still_incomplete_after_a_second_feed_is_held_whole() -> None:
    decoder = FrameDecoder(16)
    assert decoder.feed(b"\x00\x00\x00\x05a") == []
    assert decoder.feed(b"\x00\x00") == []  # what is held sorts after the new bytes
    assert decoder.buffered == 7
    assert decoder.feed(b"\x00\x00") == [b"a\x00\x00\x00\x00"]


@pytest.mark.covers("decoders/feed", "errors/too-large")
@pytest.mark.parametrize(
    ("first", "second"),
    [
        (b"\x00\x00\x01", b"\x00"),  # 256 > 16: the held part sorts after the new byte
        (b"\x00\x00", b"\x00\x11"),  # 17 > 16: ... and before
        (b"\x00\x00\x00\x01a\x00", b"\x00\x00\x11"),  # a message completed before it
    ],
)
def test_a_frame_header_over_the_limit_cut_across_feeds_is_too_large(
    first: bytes, second: bytes
) -> None:
    decoder = FrameDecoder(16)
    done = decoder.feed(first)
    with pytest.raises(MessageTooLarge) as raised:
        decoder.feed(second)
    assert done + raised.value.complete == ([b"a"] if first.startswith(b"\x00\x00\x00\x01") else [])
    assert raised.value.limit == 16


@pytest.mark.covers("errors/too-large")
def test_a_too_large_line_reports_its_own_length_after_earlier_messages() -> None:
    # The server's `error reason=too-large size=N` (README "Logs") is the line's length.
    with pytest.raises(MessageTooLarge) as raised:
        LineDecoder(4).feed(b"ok\n" + b"x" * 10 + b"\n")
    assert (raised.value.size, raised.value.limit, raised.value.complete) == (10, 4, [b"ok"])


@pytest.mark.covers("replies/classify")
def test_replies_and_endpoints_are_immutable_values() -> None:
    assert hash(Greeting()) == hash(Greeting())
    values: list[tuple[object, str]] = [
        (Ack(b"x"), "payload"),
        (ServerError(ErrorReason("busy")), "reason"),
        (parse_endpoint("line://127.0.0.1:9001"), "port"),
        (parse_seed_response(GREETING_BODY + b"\n"), "greeted"),
    ]
    for value, field in values:
        assert hash(value) == hash(value)
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(value, field, None)


@pytest.mark.covers("replies/classify", "seed/parse-response")
def test_unexpected_bytes_are_quoted_up_to_80_bytes() -> None:
    body = bytes(range(0x30, 0x30 + 100))
    with pytest.raises(ProtocolError) as raised:
        classify_body(body, b"greeting")
    assert repr(body[:80]) in str(raised.value)
    assert repr(body[:81]) not in str(raised.value)
    with pytest.raises(ProtocolError) as raised:
        parse_seed_response(body)
    assert repr(body[:80]) in str(raised.value)
    assert repr(body[:81]) not in str(raised.value)


@pytest.mark.covers("replies/classify")
@pytest.mark.parametrize(
    "body",
    [GREETING_BODY + b"!", GREETING_BODY + b"\n", b"\xff", GREETING_BODY[:-1]],
    ids=["greeting-and-more", "greeting-and-newline", "ff", "greeting-cut-short"],
)
def test_only_the_greeting_itself_is_a_greeting(body: bytes) -> None:
    # Bytes that sort before or after the greeting, or start with it, are not it.
    assert classify_body(GREETING_BODY, GREETING_BODY) == Greeting()
    with pytest.raises(ProtocolError):
        classify_body(body, GREETING_BODY)


@pytest.mark.covers("replies/classify")
def test_the_longest_reply_is_an_ack_of_the_longest_message() -> None:
    # docs/protocol.md: an ack is 收到的信息: (16 bytes of UTF-8) followed by the message.
    assert reply_limit(0) == 16
    assert reply_limit(2 * 1024 * 1024) == 2 * 1024 * 1024 + 16


@pytest.mark.covers("server/health")
@pytest.mark.parametrize("address", [":9099", "127.0.0.1:", "9099", "127.0.0.1:65536"])
def test_a_health_address_without_its_host_or_port_is_a_usage_error(
    address: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # README "Server": `--health HOST:PORT`; a bad value is a usage error (exit 2).
    with pytest.raises(SystemExit) as exited:
        parse_config(["--health", address], environ={})
    assert exited.value.code == 2
    assert "expected HOST:PORT" in capsys.readouterr().err


@pytest.mark.covers("server/health")
@pytest.mark.parametrize(
    ("address", "host", "port"),
    [
        ("127.0.0.1:9099", "127.0.0.1", 9099),
        ("[::1]:9099", "::1", 9099),
        ("127.0.0.1:65535", "127.0.0.1", 65535),
    ],
    ids=["ipv4", "ipv6-in-brackets", "largest-port"],
)
def test_a_health_address_is_host_and_port(address: str, host: str, port: int) -> None:
    # README "Server": `--health HOST:PORT`, an IPv6 HOST in brackets (`[::1]:9099`);
    # a TCP port is 16 bits, so 65535 is the largest (65536 is refused, above).
    health = parse_config(["--health", address], environ={}).health
    assert health is not None
    assert (health.host, health.port) == (host, port)
    assert str(health) == address
    assert parse_config(["--health", ""], environ={}).health is None


@pytest.mark.covers("server/health")
def test_the_parsed_configuration_and_health_address_are_immutable_values() -> None:
    config = parse_config(["--health", "127.0.0.1:9099"], environ={})
    health = config.health
    assert health is not None
    assert hash(health) == hash(parse_config(["--health", "127.0.0.1:9099"], environ={}).health)
    for value, field in ((config, "backlog"), (health, "port")):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(value, field, 1)


@pytest.mark.covers("server/backlog")
def test_a_count_may_be_2_to_the_31_minus_1_the_largest_c_int() -> None:
    # README "Server": `--backlog B` ... 0 to 2147483647; every count option is bounded so.
    config = parse_config(
        ["--backlog", "2147483647", "--max-connections", "2147483647"], environ={}
    )
    assert (config.backlog, config.max_connections) == (2147483647, 2147483647)


@pytest.mark.covers("server/backlog", "server/exit-2")
@pytest.mark.parametrize("option", ["--max-message-bytes", "--send-buffer-bytes"])
def test_the_message_and_send_buffer_limits_are_counts_from_1(
    option: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # README "Server": every count option is bounded, these two from 1 (not 0); beyond
    # is a usage error (exit 2).
    dest = option[2:].replace("-", "_")
    assert getattr(parse_config([option, "1"], environ={}), dest) == 1
    with pytest.raises(SystemExit) as exited:
        parse_config([option, "0"], environ={})
    assert exited.value.code == 2
    assert "'0': must be from 1 to 2147483647" in capsys.readouterr().err


@pytest.mark.covers("server/exit-2")
@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["--max-connections", "many"], "'many' is not a whole number"),
        (["--backlog", "1.5"], "'1.5' is not a whole number"),
        (["--idle-timeout", "inf"], "'inf': must be a finite number of seconds, 0 or more"),
        (["--drain-timeout", "nan"], "'nan': must be a finite number of seconds, 0 or more"),
        (["--drain-timeout", "-1"], "'-1': must be a finite number of seconds, 0 or more"),
    ],
    ids=["count-not-a-number", "count-not-whole", "seconds-infinite", "seconds-nan", "negative"],
)
def test_a_value_that_is_not_a_count_or_finite_seconds_is_a_usage_error(
    args: list[str], complaint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # README "Server": a bad value is a usage error (exit 2, argparse's message on stderr).
    with pytest.raises(SystemExit) as exited:
        parse_config(args, environ={})
    assert exited.value.code == 2
    assert complaint in capsys.readouterr().err


@pytest.mark.covers("server/log-timestamp")
@pytest.mark.parametrize(
    ("now", "ts"),
    [
        (1700000000.0, "2023-11-14T22:13:20.000Z"),
        (1700000000.25, "2023-11-14T22:13:20.250Z"),
        # The last instant a float can tell before the next second: still .999 of this one.
        (math.nextafter(1700000001.0, 0.0), "2023-11-14T22:13:20.999Z"),
        (1700000001.0, "2023-11-14T22:13:21.000Z"),
    ],
    ids=["whole-second", "quarter", "last-instant-of-the-second", "next-second"],
)
def test_a_log_timestamp_is_utc_to_the_millisecond_cut_not_rounded(now: float, ts: str) -> None:
    # README "Logs": `ts` is UTC to the millisecond, cut: `2023-11-14T22:13:20.999Z`.
    # (1700000000 s after the epoch is 2023-11-14 22:13:20 UTC.)
    assert timestamp(now) == ts


@pytest.mark.covers("server/log-timestamp")
@pytest.mark.parametrize(
    ("now", "ts"),
    [
        (1.25, "1970-01-01T00:00:01.250Z"),  # a clock at the epoch: a machine without an RTC
        (0.5, "1970-01-01T00:00:00.500Z"),
        (1700000000.25, "2023-11-14T22:13:20.250Z"),
    ],
    ids=["second-1", "second-0", "2023"],
)
def test_the_first_log_timestamp_of_a_process_has_its_date_and_time(now: float, ts: str) -> None:
    # The date and time of a second are formatted once, at its first line: the first
    # line of a process, whatever its second, must have them too. A fresh interpreter,
    # so this call is the module's first.
    code = f"from socket_harness.server.logs import timestamp; print(timestamp({now!r}))"
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert result.stdout == ts + "\n"


@pytest.mark.covers("server/log-timestamp")
def test_a_log_timestamp_after_the_clock_was_set_back_has_that_seconds_date_and_time() -> None:
    # The wall clock can step back (an NTP step, `date -s`): a line after it is stamped
    # with its own second, not the one formatted last.
    assert timestamp(1700000061.5) == "2023-11-14T22:14:21.500Z"
    assert timestamp(1700000000.25) == "2023-11-14T22:13:20.250Z"


def test_a_log_stream_closed_under_the_log_is_given_up_not_raised(tmp_path: Path) -> None:
    # EventLog: a stream whose write fails (ValueError for a closed file) is given up;
    # with none left `lost` is true and `when_lost` is called once, and the caller's
    # log call returns (a log line must never take the server down).
    stream = (tmp_path / "log").open("w")
    stream.close()
    log = EventLog(stream=stream)
    calls: list[str] = []
    log.when_lost = lambda: calls.append("lost")
    log.info("ready")
    log.info("open")
    assert (log.lost, log.stream, calls) == (True, "", ["lost"])


@pytest.mark.covers("seed/parse-response")
@pytest.mark.parametrize(
    "rest",
    [b"XXX busy\n", b"ERR busy", b"ERR busy\r\n"],
    ids=["no-err-prefix", "no-newline", "cr-before-newline"],
)
def test_a_seed_error_is_err_a_reason_and_a_newline_nothing_else(rest: bytes) -> None:
    # docs/protocol.md: `ERR <reason>\n`, literally; anything near it fits no reply.
    assert parse_seed_response(GREETING_BODY + b"\nERR busy\n").error == ErrorReason("busy")
    with pytest.raises(ProtocolError):
        parse_seed_response(GREETING_BODY + b"\n" + rest)
