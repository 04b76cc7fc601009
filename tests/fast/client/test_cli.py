"""`python -m socket_harness.client` as a process.

Output bytes, JSON, message sources, every exit code.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from socket_harness import client
from socket_harness.protocol import Framing
from tests.fast.client.helpers import free_port, run_cli, start_cli
from tests.fast.client.peers import ScriptedPeer, closes_at_once
from tests.fast.server.process import RunningServer, ServerFactory
from tests.oracle import model
from tests.oracle.model import GREETING

ACK = model.ACK_PREFIX


@pytest.mark.covers("client/prints-as-sent", "client/exit-0")
def test_seed_prints_exactly_what_the_tutorial_server_sent(server: RunningServer) -> None:
    done = run_cli(server.url("seed"), r"Ho\r\nfirst blood\r\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "测试成功!\n收到的信息:Ho\r\nfirst blood\r\n\n".encode()
    assert done.stderr == b""


@pytest.mark.covers("client/connections")
def test_line_sends_each_line_on_one_connection(server: RunningServer) -> None:
    done = run_cli(server.url("line"), r"one\ntwo", "三")
    assert done.returncode == 0, done.stderr
    assert done.stdout == GREETING + ACK + b"one\n" + ACK + b"two\n" + ACK + "三\n".encode()


@pytest.mark.covers("client/prints-as-sent")
def test_frame_prints_bodies_one_per_line(server: RunningServer) -> None:
    done = run_cli(server.url("frame"), r"\x00\x01", "two words")
    assert done.returncode == 0, done.stderr
    assert done.stdout == GREETING + ACK + b"\x00\x01\n" + ACK + b"two words\n"


@pytest.mark.covers("client/json")
@pytest.mark.parametrize("framing", list(Framing))
def test_json_document_names_each_exchange(server: RunningServer, framing: Framing) -> None:
    done = run_cli("--json", "--repeat", "2", server.url(framing), "é!")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["exit_code"] == 0
    assert doc["error"] is None
    exchanges = [e for c in doc["connections"] for e in c["exchanges"]]
    assert exchanges == [{"sent": "é!", "answer": "é!"}] * 2
    # seed: one connection per message; line and frame: one for all.
    assert len(doc["connections"]) == (2 if framing is Framing.SEED else 1)
    greeting = model.greeting(framing).decode("utf-8", "backslashreplace")
    assert all(c["greeting"] == greeting for c in doc["connections"])


@pytest.mark.covers("client/file")
def test_messages_from_stdin_and_files_are_raw(server: RunningServer, tmp_path: Path) -> None:
    path = tmp_path / "body"
    path.write_bytes(b"file \\n body")
    done = run_cli("--file", str(path), server.url("frame"), "-", stdin=b"stdin\\r body")
    assert done.returncode == 0, done.stderr
    assert done.stdout == GREETING + ACK + b"stdin\\r body\n" + ACK + b"file \\n body\n"


@pytest.mark.covers("client/connections", "client/repeat")
def test_repeat_on_seed_opens_a_connection_per_message(server: RunningServer) -> None:
    done = run_cli("--repeat", "3", server.url("seed"), "again")
    assert done.returncode == 0, done.stderr
    assert done.stdout == (GREETING + ACK + b"again\n") * 3


@pytest.mark.covers("client/connections", "client/repeat")
def test_options_and_messages_mix_in_any_order(server: RunningServer) -> None:
    done = run_cli(server.url("line"), "--wait-ready", "3", "hi", "--repeat", "2", "yo")
    assert done.returncode == 0, done.stderr
    assert done.stdout == GREETING + (ACK + b"hi\n" + ACK + b"yo\n") * 2


@pytest.mark.covers("client/no-message")
def test_no_message_prints_the_greeting_only(server: RunningServer) -> None:
    done = run_cli(server.url("line"))
    assert (done.returncode, done.stdout) == (0, GREETING)


@pytest.mark.covers("client/exit-2", "client/repeat", "load/processes-option")
@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["http://127.0.0.1:80", "x"], b"scheme"),
        (["line://127.0.0.1:9", "--repeat", "-1"], b"--repeat"),
        (["line://127.0.0.1:9", "--file", "/nonexistent/message"], b"No such file"),
        (["seed://127.0.0.1:9", ""], b"empty message"),
        (["line://127.0.0.1:9", "--timeout", "soon"], b"not a number of seconds"),
        (["line://127.0.0.1:9", "--connect-timeout", "0"], b"more than 0 seconds"),
        (["line://127.0.0.1:9", "--timeout", "inf"], b"at most 31536000 seconds"),
        (["line://127.0.0.1:9", "--connect-timeout", "1e300"], b"at most 31536000 seconds"),
        (["load", "line://127.0.0.1:9", "--duration-limit", "nan"], b"more than 0 seconds"),
        # Counts are bounded: no OverflowError, no list of a billion messages (MemoryError).
        (
            ["line://127.0.0.1:9", "a", "--repeat", "99999999999999999999"],
            b"--repeat: must be from 0 to 1000000",
        ),
        (["line://127.0.0.1:9", "--repeat", "1000000000", "a"], b"must be from 0 to 1000000"),
        (["line://127.0.0.1:9", "--repeat", "-1", "a"], b"--repeat: must be from 0"),
        (
            ["load", "line://127.0.0.1:9", "--connections", "99999999999999999999"],
            b"--connections: must be from 1 to 1000000000",
        ),
        (["load", "line://127.0.0.1:9", "--size", "99999999999"], b"--size: must be from 0"),
        (["load", "line://127.0.0.1:9", "--processes", "5000"], b"--processes: must be from 1"),
        (["load", "line://127.0.0.1:9", "--processes", "1025"], b"must be from 1 to 1024"),
        (["load", "line://127.0.0.1:9", "--window", "0"], b"--window: must be from 1"),
    ],
)
def test_usage_errors_exit_2(args: list[str], words: bytes) -> None:
    done = run_cli(*args)
    assert done.returncode == 2
    assert words in done.stderr
    assert_one_usage_line(
        done.stderr, b"python -m socket_harness.client load" if args[0] == "load" else None
    )


def assert_one_usage_line(stderr: bytes, prog: bytes | None = None) -> None:
    """README: a usage error is one line on stderr, never a traceback or a usage block."""
    prog = prog or b"python -m socket_harness.client"
    assert stderr.startswith(b"client: usage-error: "), stderr
    assert stderr.endswith(b" (see " + prog + b" --help)\n"), stderr
    assert stderr.count(b"\n") == 1, stderr


@pytest.mark.covers("client/escapes", "client/exit-2")
@pytest.mark.parametrize(
    "message",
    [r"\xZZ", r"a\x4", r"\u12", r"\u12g4", r"\q", "trailing \\", r"\ud800", r"ok\n\xZZ"],
)
def test_an_invalid_escape_is_a_usage_error_and_nothing_is_sent(
    server_factory: ServerFactory, message: str
) -> None:
    server = server_factory(listen=["line"])
    done = run_cli(server.url("line"), "fine", message)
    assert done.returncode == 2
    assert done.stdout == b""
    assert b"MESSAGE 2: invalid escape " in done.stderr
    assert_one_usage_line(done.stderr)
    # Nothing was sent: our own connection is the first the server logs.
    run_cli(server.url("line"))
    server.wait_for_event("close")
    assert len(server.events("open")) == 1


@pytest.mark.covers("client/one-line-errors")
@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("line://127.0.0.1:x", b"the port must be a number from 0 to 65535, not 'x'"),
        ("line://127.0.0.1:99999", b"the port must be a number from 0 to 65535, not '99999'"),
        ("line://127.0.0.1:-1", b"the port must be a number from 0 to 65535, not '-1'"),
        ("line://127.0.0.1:9:1", b"the port must be a number from 0 to 65535, not '9:1'"),
        ("line://[::1:9001", b"an IPv6 host is written in brackets, [::1]"),
        ("line://user@127.0.0.1:9", b"expected line://HOST:PORT and nothing more"),
        ("frame://127.0.0.1", b"expected frame://HOST:PORT"),
    ],
)
def test_url_errors_are_in_the_projects_words(url: str, words: bytes) -> None:
    done = run_cli(url, "x")
    assert done.returncode == 2
    assert words in done.stderr
    assert b"Port" not in done.stderr  # urllib's "Port could not be cast to integer value"
    assert b"Invalid IPv6 URL" not in done.stderr
    assert_one_usage_line(done.stderr)


def argv_bytes(data: bytes) -> str:
    """An argument of raw bytes, as Python hands a non-UTF-8 one to the program."""
    return data.decode("utf-8", "surrogateescape")


@pytest.mark.covers("client/one-line-errors")
@pytest.mark.parametrize(
    ("args", "shown"),
    [
        ([argv_bytes(b"line://127.0.0.1:\xff9"), "x"], b"'line://127.0.0.1:\\xff9'"),
        ([argv_bytes(b"line://h\xfe:9"), "x"], b"'line://h\\xfe:9'"),
        (["line://127.0.0.1:9", "--timeout", argv_bytes(b"\xff")], b"seconds: '\\xff'"),
        (["line://127.0.0.1:9", "--file", argv_bytes(b"/nonexistent/\xff")], b"t/\\xff'"),
        (["line://127.0.0.1:9", argv_bytes(b"\\\xff")], b"invalid escape \\\\xff;"),
        (["load", argv_bytes(b"seed://h:\xff")], b"'seed://h:\\xff'"),
    ],
)
def test_non_utf8_argument_bytes_are_shown_as_hex_escapes(args: list[str], shown: bytes) -> None:
    done = run_cli(*args)
    assert done.returncode == 2
    assert shown in done.stderr
    assert b"\\udc" not in done.stderr  # Python's surrogate escapes are no one's words
    prog = (
        b"python -m socket_harness.client load"
        if args[0] == "load"
        else b"python -m socket_harness.client"
    )
    assert_one_usage_line(done.stderr, prog)


def test_help_documents_every_exit_code() -> None:
    done = run_cli("--help")
    assert done.returncode == 0
    for code in (b"0", b"2", b"3", b"4", b"5", b"6", b"7", b"8", b"130", b"141"):
        assert re.search(rb"\n +" + code + b"  ", done.stdout), code


@pytest.mark.covers("client/exit-3")
def test_nothing_listening_exits_3() -> None:
    done = run_cli(f"line://127.0.0.1:{free_port()}", "x")
    assert done.returncode == 3
    assert done.stderr.startswith(b"client: connect-failed: ")


@pytest.mark.covers("client/exit-6")
def test_server_error_exits_6_and_prints_the_err_line(server_factory: ServerFactory) -> None:
    small = server_factory("--max-message-bytes", "4", listen=["line"])
    done = run_cli(small.url("line"), "ok", "too long")
    assert done.returncode == 6
    assert done.stdout == GREETING + ACK + b"ok\n" + b"ERR too-large\n"
    assert b"too-large" in done.stderr


@pytest.mark.covers("client/json", "client/exit-6")
def test_server_error_in_json_names_the_reason(server_factory: ServerFactory) -> None:
    small = server_factory("--max-message-bytes", "4", listen=["frame"])
    done = run_cli("--json", small.url("frame"), "too long")
    doc = json.loads(done.stdout)
    assert done.returncode == doc["exit_code"] == 6
    assert doc["error"]["reason"] == "too-large"
    assert doc["connections"][0]["exchanges"] == [{"sent": "too long", "error": "too-large"}]


@pytest.mark.covers("client/wait-ready")
def test_wait_ready_outlasts_a_server_that_starts_late(server_factory: ServerFactory) -> None:
    """First a port proxy with no backend (accepts, closes), then nothing, then the server."""
    port = free_port()
    with ScriptedPeer(closes_at_once, port=port) as proxy:
        cli = start_cli("--wait-ready", "20", f"line://127.0.0.1:{port}", "late")
        proxy.wait_accepted(2)  # the client came, failed, and came back
    late = server_factory(listen=[f"line://127.0.0.1:{port}"])
    out, err = cli.communicate(timeout=20)
    assert cli.returncode == 0, err
    assert out == GREETING + ACK + b"late\n"
    late.wait_for_event("close", messages="1")


@pytest.mark.covers("client/wait-ready")
def test_wait_ready_gives_up_with_connect_failed() -> None:
    done = run_cli("--wait-ready", "0.5", f"frame://127.0.0.1:{free_port()}", "x")
    assert done.returncode == 3


@pytest.mark.covers("client/exit-6")
def test_busy_instead_of_greeting_exits_6(server_factory: ServerFactory) -> None:
    full = server_factory("--max-connections", "1", "--overflow", "reject", listen=["seed"])
    with client.connect(full.url("seed"), timeout=5) as holder:
        holder.greeting()
        done = run_cli("--json", full.url("seed"), "hello")
    doc = json.loads(done.stdout)
    assert done.returncode == doc["exit_code"] == 6
    assert doc["connections"] == [{"greeting": None, "error": "busy", "exchanges": []}]
    assert doc["error"]["reason"] == "busy"
