"""The client CLI, library and load generator with a target's own wire constants
(docs/targets.md, `[wire]`): `--greeting TEXT|none`, `--ack-prefix TEXT`, `--error-prefix TEXT`,
`--target FILE`, and the same keyword arguments of `connect` / `aio.connect`.

The targets are real processes and sockets: a line echo that nobody here wrote the protocol
for (tests/fast/line_echo.py: no greeting, an empty ack prefix, as `socat ... EXEC:cat`), and
scripted peers with other constants. What they must send is written here as literal bytes.
"""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import pytest

from socket_harness import client
from socket_harness.client import aio
from socket_harness.protocol import Ack
from tests.fast.client.helpers import run_cli
from tests.fast.client.peers import ScriptedPeer

ECHO_WIRE = ("--greeting", "none", "--ack-prefix", "")
# A line that is not UTF-8, one with escapes resolved by the CLI, and an empty one.
ECHO_MESSAGES = ("hello", "caf\\xe9 \\t tab", "")
ECHO_ANSWERS = b"hello\ncaf\xe9 \t tab\n\n"

# Scripted targets with constants of their own.
HI = b"hi\n"
OK = b"ok:"
ERR = b"E! "


def frame(body: bytes) -> bytes:
    """docs/protocol.md, `frame`: a 4-byte big-endian length, then the body."""
    return len(body).to_bytes(4, "big") + body


def recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("the client closed")
        data += chunk
    return data


def frame_target(sock: socket.socket) -> None:
    """Greets `hi` in a frame, answers each frame `ok:` + body, and `E! too-large` to `big`."""
    sock.sendall(frame(HI))
    while True:
        body = recv_exactly(sock, int.from_bytes(recv_exactly(sock, 4), "big"))
        if body == b"big":
            sock.sendall(frame(ERR + b"too-large"))
            return
        sock.sendall(frame(OK + body))


def seed_target(sock: socket.socket) -> None:
    """The tutorial's exchange with other words: `hi\\n`, one read, `ok:` + it + `\\n`, close."""
    sock.sendall(HI)
    sock.sendall(OK + sock.recv(8192) + b"\n")


def url(port: int) -> str:
    return f"line://127.0.0.1:{port}"


# --- the CLI ----------------------------------------------------------------------


@pytest.mark.covers("client/wire-constants")
def test_cli_talks_to_a_line_echo_with_no_greeting_and_no_ack_prefix(echo_port: int) -> None:
    done = run_cli(*ECHO_WIRE, url(echo_port), *ECHO_MESSAGES)
    assert (done.returncode, done.stderr) == (0, b"")
    assert done.stdout == ECHO_ANSWERS  # no greeting printed: none came


def test_cli_json_has_no_greeting_and_every_answer(echo_port: int) -> None:
    done = run_cli("--json", *ECHO_WIRE, url(echo_port), "one", "two")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["connections"] == [
        {
            "greeting": None,
            "exchanges": [{"sent": "one", "answer": "one"}, {"sent": "two", "answer": "two"}],
        }
    ]


def test_cli_with_the_default_constants_waits_for_a_greeting_the_echo_never_sends(
    echo_port: int,
) -> None:
    done = run_cli("--timeout", "1", url(echo_port), "hello")
    assert done.returncode == 4, done.stderr  # ClientTimeout
    assert b"the greeting" in done.stderr


def test_cli_with_a_wrong_ack_prefix_names_the_echo_s_bytes_unexpected(echo_port: int) -> None:
    done = run_cli("--greeting", "none", "--ack-prefix", "ok:", url(echo_port), "hello")
    assert done.returncode == 7, done.stderr  # UnexpectedBytes: b"hello" lacks the prefix
    assert done.stderr.count(b"\n") == 1
    assert b"Traceback" not in done.stderr


@pytest.mark.covers("client/wire-constants")
def test_cli_takes_the_constants_and_the_address_from_a_profile(
    echo_port: int, tmp_path: Path
) -> None:
    profile = tmp_path / "echo.toml"
    profile.write_text(
        f'[target]\naddress = "127.0.0.1:{echo_port}"\n\n'
        f'[[listeners]]\nname = "lines"\nframing = "line"\nport = {echo_port}\n\n'
        '[wire]\ngreeting = false\nack_prefix = ""\n'
    )
    by_name = run_cli("--target", str(profile), "lines", *ECHO_MESSAGES)
    assert (by_name.returncode, by_name.stderr, by_name.stdout) == (0, b"", ECHO_ANSWERS)
    by_url = run_cli("--target", str(profile), url(echo_port), "hello")
    assert (by_url.returncode, by_url.stdout) == (0, b"hello\n")
    # An option overrides the profile's value.
    overridden = run_cli("--target", str(profile), "--ack-prefix", "ok:", "lines", "hello")
    assert overridden.returncode == 7, overridden.stderr


@pytest.mark.covers("client/wire-constants")
def test_cli_speaks_other_constants_on_seed_and_frame() -> None:
    wire = ("--greeting", "hi\\n", "--ack-prefix", "ok:", "--error-prefix", "E! ")
    with ScriptedPeer(seed_target) as peer:
        done = run_cli(*wire, f"seed://127.0.0.1:{peer.port}", "Ho\\r\\n")
        assert (done.returncode, done.stderr) == (0, b"")
        assert done.stdout == HI + OK + b"Ho\r\n\n"
    with ScriptedPeer(frame_target) as peer:
        done = run_cli(*wire, f"frame://127.0.0.1:{peer.port}", "a", "big")
        assert done.returncode == 6, done.stderr  # ServerRefused: E! too-large
        assert done.stdout == b"hi\nok:a\nE! too-large\n"  # frame bodies, one a line


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--ack-prefix", "ERR x"), b"starts with the error prefix"),
        (("--error-prefix", ""), b"error prefix may not be empty"),
        (("--greeting", ""), b"--greeting none"),
        (("--greeting", "\\q"), b"--greeting: invalid escape"),
        (("--greeting", "no newline"), b"on line:// the greeting must end with"),
        (("--target", "/nowhere/x.toml"), b"/nowhere/x.toml: no such file"),
    ],
)
def test_bad_wire_options_are_one_line_usage_errors(args: tuple[str, ...], says: bytes) -> None:
    done = run_cli(*args, "line://127.0.0.1:9", "hello")
    assert done.returncode == 2, done.stderr
    assert says in done.stderr
    assert done.stderr.count(b"\n") == 1, done.stderr


def test_a_listener_name_needs_a_profile_with_an_address(tmp_path: Path) -> None:
    profile = tmp_path / "image.toml"
    profile.write_text('[target]\nimage = "x"\n\n[[listeners]]\nframing = "line"\nport = 7\n')
    done = run_cli("--target", str(profile), "line", "hello")
    assert done.returncode == 2
    assert b"give a URL, line://HOST:7" in done.stderr
    done = run_cli("--target", str(profile), "frames", "hello")
    assert b"no listener named 'frames' (it has: line)" in done.stderr


# --- the library ------------------------------------------------------------------


@pytest.mark.covers("client/wire-constants")
def test_sync_library_talks_to_the_echo(echo_port: int) -> None:
    with client.connect(url(echo_port), timeout=5, greeting=None, ack_prefix=b"") as conn:
        conn.greeting()  # nothing to read
        assert conn.request(b"caf\xe9") == b"caf\xe9"
        assert conn.request(b"") == b""  # an empty line back: an echo's, not a seed answer
        conn.send_many([b"1", b"2", b"3"])
        assert [conn.receive() for _ in range(3)] == [Ack(b) for b in (b"1", b"2", b"3")]
    ready = client.wait_ready(url(echo_port), 5, greeting=None, ack_prefix=b"")
    with ready:
        assert ready.request(b"x") == b"x"


@pytest.mark.covers("client/wire-constants")
def test_async_library_talks_to_the_echo(echo_port: int) -> None:
    async def talk() -> list[bytes]:
        conn = await aio.wait_ready(url(echo_port), 5, greeting=None, ack_prefix=b"")
        async with conn:
            return [await conn.request(b"one"), await conn.exchange(b"two")]

    assert asyncio.run(talk()) == [b"one", b"two"]


@pytest.mark.covers("client/wire-constants")
def test_library_with_a_frame_target_of_other_constants() -> None:
    with ScriptedPeer(frame_target) as peer:
        address = f"frame://127.0.0.1:{peer.port}"
        with client.connect(address, greeting=HI, ack_prefix=OK, error_prefix=ERR) as conn:
            assert conn.exchange(b"\n\0") == b"\n\0"
            with pytest.raises(client.ServerRefused, match="too-large"):
                conn.request(b"big")

        async def talk() -> bytes:
            opened = aio.connect(address, greeting=HI, ack_prefix=OK, error_prefix=ERR)
            async with await opened as conn:
                return await conn.exchange(b"async")

        assert asyncio.run(talk()) == b"async"


def test_library_rejects_constants_that_cannot_be_told_apart() -> None:
    with pytest.raises(ValueError, match="starts with the error prefix"):
        client.connect("line://127.0.0.1:9", ack_prefix=b"ERR x")


# --- the load generator -----------------------------------------------------------


def load(*args: str) -> tuple[int, dict[str, object]]:
    done = run_cli("load", "--json", "--processes", "1", *args)
    assert b"Traceback" not in done.stderr, done.stderr
    return done.returncode, json.loads(done.stdout)


@pytest.mark.covers("client/wire-constants")
def test_load_counts_every_ack_of_the_echo(echo_port: int) -> None:
    code, report = load(
        *ECHO_WIRE,
        *("--connections", "4", "--concurrency", "2", "--messages", "50", "--size", "16"),
        url(echo_port),
    )
    assert code == 0, report
    assert report["completed"] == 200
    assert report["connections"] == {"ok": 4, "failed": 0}
    assert report["errors"] == {}
    assert report["ok"] is True


def test_load_with_a_wrong_ack_prefix_counts_no_ack(echo_port: int) -> None:
    code, report = load(
        "--greeting", "none", "--ack-prefix", "ok:", "--connections", "2", "--messages", "5",
        "--timeout", "2", url(echo_port),
    )  # fmt: skip
    assert code == 1
    assert report["completed"] == 0
    assert report["connections"] == {"ok": 0, "failed": 2}
    assert report["ok"] is False


def test_load_with_a_seed_target_of_other_constants() -> None:
    with ScriptedPeer(seed_target) as peer:
        code, report = load(
            *("--greeting", "hi\\n", "--ack-prefix", "ok:", "--connections", "5"),
            f"seed://127.0.0.1:{peer.port}",
        )
    assert code == 0, report
    assert report["completed"] == 5
