"""Command line, environment variables, exit codes and the health probe."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from socket_harness.protocol import Endpoint, Framing
from socket_harness.server.config import OPTIONS
from tests.fast.client.peers import Script, ScriptedPeer, hold_until_client_closes
from tests.fast.server.peer import Peer, wait_until
from tests.fast.server.process import REPO_ROOT, ServerFactory
from tests.fast.server.test_gone_peer import server_side
from tests.harness.engine import unavailable
from tests.harness.tcp import ipv6_loopback
from tests.oracle import model

TIMEOUT = 15.0


def run_module(
    *args: str, env: dict[str, str] | None = None, python: Sequence[str] = ()
) -> subprocess.CompletedProcess[str]:
    clean = {key: value for key, value in os.environ.items() if not key.startswith("SERVER_")}
    return subprocess.run(
        [sys.executable, *python, "-m", *args],
        cwd=REPO_ROOT,
        env={**clean, "PYTHONPATH": str(REPO_ROOT), **(env or {})},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


@pytest.mark.covers("server/help")
def test_help_documents_every_option_its_variable_and_the_exit_codes() -> None:
    result = run_module("socket_harness.server", "--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())  # argparse wraps lines
    for option in OPTIONS:
        assert option.flag in text
        assert option.env in text
    for needle in (
        "--listen",
        "SERVER_LISTEN",
        "exit codes",
        "3 drain timed out",
        "4 the log had nowhere to go",
        "128+N stopped by signal N before ready (143 SIGTERM, 130 SIGINT)",
    ):
        assert needle in text
    # Each option's variable and default, as README's options table states them.
    for env, default in (
        ("SERVER_MAX_CONNECTIONS", "10000"),
        ("SERVER_OVERFLOW", "pause"),
        ("SERVER_BACKLOG", "512"),
        ("SERVER_IDLE_TIMEOUT", "55"),
        ("SERVER_MAX_MESSAGE_BYTES", "2097152"),
        ("SERVER_SEND_BUFFER_BYTES", "1048576"),
        ("SERVER_MAX_SESSIONS", "0"),
        ("SERVER_DRAIN_TIMEOUT", "3"),
        ("SERVER_HEALTH", "127.0.0.1:9099"),
        ("SERVER_LOG_FORMAT", "text"),
        ("SERVER_LOG_LEVEL", "info"),
        ("SERVER_LOOP", "auto"),
    ):
        assert f"(env {env}; default: {default})" in text


@pytest.mark.covers("server/exit-2")
@pytest.mark.parametrize(
    ("args", "env", "complaint"),
    [
        (["--listen", "http://127.0.0.1:1"], {}, "scheme"),
        (["--backlog", "-1"], {}, "--backlog"),
        # listen(2) takes a C int: beyond it Python raised OverflowError (a traceback, exit 1).
        (["--backlog", "2147483648"], {}, "must be from 0 to 2147483647"),
        ([], {"SERVER_BACKLOG": "99999999999999999999"}, "SERVER_BACKLOG"),
        (["--max-connections", "2147483648"], {}, "--max-connections"),
        (["--overflow", "drop"], {}, "--overflow"),
        ([], {"SERVER_IDLE_TIMEOUT": "soon"}, "SERVER_IDLE_TIMEOUT"),
        ([], {"SERVER_LISTEN": "line://127.0.0.1"}, "HOST:PORT"),
    ],
)
def test_usage_errors_exit_2_and_say_what_is_wrong(
    args: list[str], env: dict[str, str], complaint: str
) -> None:
    result = run_module("socket_harness.server", *args, env=env)
    assert result.returncode == 2
    assert complaint in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.covers("server/exit-1", "troubleshooting/port-in-use")
def test_address_in_use_exits_1_with_a_log_line_and_one_line_on_stderr(
    server_factory: ServerFactory,
) -> None:
    first = server_factory(listen=["line"])
    second = server_factory(listen=[first.url("line")], ready=False)
    assert second.wait(timeout=TIMEOUT) == 1
    error = second.wait_for_event("error", reason="startup")
    assert error["listener"] == first.url("line")
    assert error["detail"] == "[Errno 98] Address already in use"
    assert second.stderr_text() == (
        f"python -m socket_harness.server: error: cannot listen on {first.url('line')}: "
        "[Errno 98] Address already in use"
    )


@pytest.mark.covers("server/exit-1")
def test_address_in_use_with_the_log_on_stderr_says_it_once_there(
    server_factory: ServerFactory,
) -> None:
    # stdout closed at start: the log is on stderr, so its error line is the one line
    # README promises there; the plain `python -m socket_harness.server: error:` line
    # would say the same thing a second time.
    first = server_factory(listen=["line"])
    second = server_factory(
        listen=[first.url("line")],
        launcher=["sh", "-c", 'exec "$@" >&-', "sh"],
        ready=False,
        log_on="stderr",
    )
    assert second.wait(timeout=TIMEOUT) == 1
    lines = second.stderr_text().splitlines()
    assert not [line for line in lines if line.startswith("python -m socket_harness.server:")]
    events = [(fields["event"], fields.get("reason")) for fields in second.events()]
    assert events == [("log", "stdout-closed"), ("error", "startup")]


@pytest.mark.covers("server/exit-1", "troubleshooting/port-in-use")
def test_health_address_in_use_exits_1_with_a_log_line_and_one_line_on_stderr(
    server_factory: ServerFactory,
) -> None:
    first = server_factory(listen=["line"])
    assert first.health is not None
    health = f"{first.health[0]}:{first.health[1]}"
    second = server_factory("--health", health, listen=["line"], ready=False)
    assert second.wait(timeout=TIMEOUT) == 1
    assert second.wait_for_event("error", reason="startup")["health"] == health
    # asyncio words the bind error itself: "[Errno 98] error while attempting to bind ..."
    (line,) = second.stderr_text().splitlines()
    assert line.startswith(
        f"python -m socket_harness.server: error: cannot open the health endpoint {health}: "
    )
    assert "[Errno 98]" in line


@pytest.mark.covers("server/exit-1", "server/health")
def test_a_health_host_with_an_unclosed_bracket_is_a_bad_address_exit_1(
    server_factory: ServerFactory,
) -> None:
    # README: an IPv6 HOST goes in brackets (`[::1]:9099`), and a bad `--health` address
    # is a startup failure (exit 1). `[127.0.0.1` opens a bracket it never closes: no host
    # to strip brackets from; the startup line names the address as given.
    server = server_factory("--health", "[127.0.0.1:0", listen=["line"], ready=False)
    assert server.wait(timeout=TIMEOUT) == 1
    assert server.wait_for_event("error", reason="startup")["health"] == "[127.0.0.1:0"
    assert not server.events("ready")


@pytest.mark.covers("server/exit-1")
def test_uvloop_asked_for_but_missing_exits_1_with_one_line_on_stderr() -> None:
    # -S: no site-packages, so uvloop is really not importable; the server needs none.
    result = run_module(
        "socket_harness.server", "--loop", "uvloop", "--listen", "line://127.0.0.1:0", python=["-S"]
    )
    assert result.returncode == 1
    assert "reason=startup" in result.stdout
    assert result.stderr == (
        "python -m socket_harness.server: error: --loop uvloop: No module named 'uvloop'\n"
    )


# A launcher that runs the interpreter with -S: no site-packages, so uvloop is really not
# importable (`sh -c 'script' ARG0 ARGS...`: "$0" is the interpreter).
WITHOUT_SITE_PACKAGES = ("sh", "-c", 'exec "$0" -S "$@"')


@pytest.mark.covers("server/help", "server/loop")
def test_auto_runs_the_standard_loop_where_uvloop_is_missing(
    server_factory: ServerFactory,
) -> None:
    # README: uvloop is used when importable, never required; `--loop auto` is the default.
    server = server_factory("--loop", "auto", listen=["line"], launcher=WITHOUT_SITE_PACKAGES)
    assert server.events("ready")[0]["loop"] == "asyncio"
    with Peer(server.endpoint("line")) as peer:
        peer.expect_greeting()
        peer.expect_answer(b"served without uvloop")
    server.signal(signal.SIGTERM)
    assert server.wait(timeout=TIMEOUT) == 0
    assert server.stderr_text() == ""


@pytest.mark.covers("server/listen")
def test_environment_variables_configure_the_server(server_factory: ServerFactory) -> None:
    server = server_factory(
        listen=[],
        env={
            "SERVER_LISTEN": "frame://127.0.0.1:0 line://127.0.0.1:0",
            "SERVER_MAX_CONNECTIONS": "3",
            "SERVER_OVERFLOW": "reject",
            "SERVER_BACKLOG": "9",
            "SERVER_LOG_FORMAT": "json",
        },
    )
    ready = server.events("ready")[0]
    assert (ready["max_connections"], ready["overflow"], ready["backlog"]) == ("3", "reject", "9")
    assert set(server.listeners) == {"frame", "line"}
    assert server.log_lines()[0].startswith("{")


def probe(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_module("socket_harness.server.probe", "--timeout", "1", *args, env=env)


def test_the_probe_function_can_be_imported_and_called_without_running_the_command(
    server_factory: ServerFactory,
) -> None:
    # `probe(host, port, timeout)` is the module's function for a caller of its own; only
    # `python -m` runs the command (which would parse this interpreter's argv and exit).
    server = server_factory(listen=["line"])
    assert server.health is not None
    host, port = server.health
    clean = {key: value for key, value in os.environ.items() if not key.startswith("SERVER_")}
    code = f"from socket_harness.server.probe import probe\nprint(probe({host!r}, {port}, 5.0))"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env={**clean, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert (result.returncode, result.stdout, result.stderr) == (
        0,
        "OK connections=0 listeners=1\n",
        "",
    )


@pytest.mark.covers("server/probe", "server/health-answer", "server/health")
def test_probe_is_healthy_and_leaves_no_trace_in_the_log(server_factory: ServerFactory) -> None:
    server = server_factory(listen=["line"])
    assert server.health is not None
    host, port = server.health
    for result in (probe(f"{host}:{port}"), probe(env={"SERVER_HEALTH": f"0.0.0.0:{port}"})):
        assert result.returncode == 0, result.stdout
        assert result.stdout.startswith("OK")
    # A real connection after the probes: nothing may have been logged in between.
    before = len(server.log_lines())
    with Peer(server.endpoint("line")) as peer:
        peer.expect_greeting()
    server.wait_for_event("close")
    assert [fields["event"] for fields in server.events()[before:]] == ["open", "close"]
    assert server.events("ready")[0]["listeners"] == "1"
    server.signal(signal.SIGTERM)
    assert server.wait() == 0
    assert server.events("summary")[0]["connections"] == "1"  # probes are not sessions


@pytest.mark.covers("server/probe")
def test_probe_is_unhealthy_when_nothing_answers() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    result = probe(f"127.0.0.1:{port}")
    assert result.returncode == 1
    assert result.stdout.startswith("unhealthy")
    assert probe(env={"SERVER_HEALTH": ""}).returncode == 1


@pytest.mark.covers("server/probe", "server/probe-verdict")
@pytest.mark.parametrize(
    ("address", "env"),
    [("no-port-here", None), (None, {"SERVER_HEALTH": ":9099"})],
    ids=["argument", "SERVER_HEALTH"],
)
def test_probe_of_a_malformed_address_is_unhealthy_not_a_usage_error(
    address: str | None, env: dict[str, str] | None
) -> None:
    result = probe(*([address] if address else []), env=env)
    assert result.returncode == 1  # README: 1 otherwise (Docker reserves 2)
    assert result.stdout.startswith("unhealthy: ")
    assert result.stdout.count("\n") == 1
    assert result.stderr == ""


@pytest.mark.covers("server/probe", "server/probe-verdict")
def test_probe_of_an_endpoint_that_never_stops_sending_quotes_80_characters_and_ends() -> None:
    def endless(sock: socket.socket) -> None:
        # One byte, read alone; then 4096 at a time: the probe's reads add up to 4097,
        # never to exactly 4096, and no read of it ever waits.
        sock.sendall(b"N")
        here, there = sock.getsockname()[1], sock.getpeername()[1]

        def unread() -> int:  # the probe side's rx_queue (/proc/net/tcp)
            row = server_side(there, here)
            return -1 if row is None else int(row[4].split(":")[1], 16)

        wait_until(lambda: unread() == 0)
        while True:
            sock.sendall(b"o" * 4096)

    with ScriptedPeer(endless) as other:
        result = probe(f"127.0.0.1:{other.port}")
    assert result.returncode == 1
    excerpt = "'N" + "o" * 79 + "'"  # the answer's first 80 characters, quoted
    assert result.stdout == f"unhealthy: 127.0.0.1:{other.port}: unexpected answer {excerpt}\n"
    assert result.stderr == ""


def sends_then_stays_open(size: int) -> Script:
    """An endpoint that sends `size` bytes, then neither sends more nor closes until the
    probe does."""

    def script(sock: socket.socket) -> None:
        sock.sendall(b"n" * size)
        hold_until_client_closes(sock)

    return script


@pytest.mark.covers("server/probe-verdict")
@pytest.mark.parametrize(
    ("size", "verdict"),
    [(4095, "timed out"), (4096, "unexpected answer '" + "n" * 80 + "'")],
    ids=["4095-waits-for-the-rest", "4096-is-enough"],
)
def test_probe_reads_an_answer_until_the_endpoints_eof_or_4096_bytes(
    size: int, verdict: str
) -> None:
    # README: the probe stops reading at the endpoint's EOF or once it has 4096 bytes;
    # short of that, an endpoint that stays open is waited for until `--timeout` (1 s).
    with ScriptedPeer(sends_then_stays_open(size)) as other:
        result = probe(f"127.0.0.1:{other.port}")
    assert result.returncode == 1
    assert result.stdout == f"unhealthy: 127.0.0.1:{other.port}: {verdict}\n"


@pytest.mark.covers("server/probe")
def test_probe_gives_a_silent_endpoint_3_seconds_by_default() -> None:
    # README: `--timeout S`, 3 by default, bounds the connect and each read. Timed from
    # the endpoint's accept to the probe's close (its FIN), not from the process start.
    waited: list[float] = []

    def silent(sock: socket.socket) -> None:
        accepted = time.monotonic()
        hold_until_client_closes(sock)
        waited.append(time.monotonic() - accepted)

    with ScriptedPeer(silent) as other:
        result = run_module("socket_harness.server.probe", f"127.0.0.1:{other.port}")
        wait_until(lambda: bool(waited))
    assert result.stdout == f"unhealthy: 127.0.0.1:{other.port}: timed out\n"
    assert 2.5 <= waited[0] < 3.5


@pytest.mark.covers("server/probe", "server/health-answer")
def test_probe_needs_the_loop_to_answer_not_just_an_open_port(
    server_factory: ServerFactory,
) -> None:
    server = server_factory(listen=["line"])
    assert server.health is not None
    host, port = server.health
    server.signal(signal.SIGSTOP)  # the port stays open (the kernel accepts), nobody answers
    try:
        result = probe(f"{host}:{port}")
    finally:
        server.signal(signal.SIGCONT)
    assert result.returncode == 1
    assert probe(f"{host}:{port}").returncode == 0


def port_free_on_both_families() -> int:
    """A port that neither IPv4 nor IPv6 has in use now: a dual-stack socket's own."""
    with socket.socket(socket.AF_INET6) as probe:
        probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        probe.bind(("::", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.mark.covers("server/listen-ipv6-only")
def test_an_ipv6_wildcard_listener_leaves_ipv4_to_a_listener_of_its_own(
    server_factory: ServerFactory,
) -> None:
    # README: `[::]` listens on IPv6 only, so an IPv4 listener can share its port. Two
    # framings on one port number: each family's greeting says which listener answered.
    if not ipv6_loopback():
        pytest.skip("no IPv6 loopback (::1) on this host")
    port = port_free_on_both_families()
    server = server_factory(listen=[f"line://127.0.0.1:{port}", f"frame://[::]:{port}"])
    assert [e["listener"] for e in server.events("listening")] == [
        f"line://127.0.0.1:{port}",
        f"frame://[::]:{port}",
    ]
    with Peer(Endpoint(Framing.LINE, "127.0.0.1", port)) as ipv4:
        assert ipv4.read_exactly(14) == "测试成功!\n".encode()
    with Peer(Endpoint(Framing.FRAME, "::1", port)) as ipv6:
        # A frame: its length (uint32, big-endian) and the 14 bytes.
        assert ipv6.read_exactly(18) == b"\x00\x00\x00\x0e" + "测试成功!\n".encode()


# A mount namespace whose /etc/hosts is the file given as $0, then the rest of argv.
WITH_HOSTS = ("unshare", "--mount", "sh", "-c", 'mount --bind "$0" /etc/hosts && exec "$@"')


def resolved_with_hosts(hosts: Path, name: str) -> list[str]:
    """The addresses `name` resolves to under `hosts`, in the system's order (getent)."""
    try:
        result = subprocess.run(
            [*WITH_HOSTS, str(hosts), "getent", "ahosts", name],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        unavailable(f"cannot run unshare: {exc}")
    if result.returncode != 0:
        unavailable(f"unshare --mount fails here: {result.stderr.strip()}")
    ordered = [line.split()[0] for line in result.stdout.splitlines() if " STREAM" in line]
    return list(dict.fromkeys(ordered))


@pytest.mark.covers("server/listen-name")
def test_a_host_name_listens_on_the_first_address_it_resolves_to(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    # README: a HOST name listens on its first address in the system's order, the one
    # getent ahosts lists first. A name with an IPv6 and an IPv4 loopback address.
    if not ipv6_loopback():
        pytest.skip("no IPv6 loopback (::1) on this host")
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 two-families\n::1 two-families\n")
    first, other = resolved_with_hosts(hosts, "two-families")
    server = server_factory(listen=["line://two-families:0"], launcher=(*WITH_HOSTS, str(hosts)))
    port = server.endpoint("line").port
    with Peer(Endpoint(Framing.LINE, first, port)) as peer:
        assert peer.read_exactly(14) == "测试成功!\n".encode()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((other, port), timeout=5).close()


@pytest.mark.covers("server/health", "server/health-answer", "server/probe")
def test_health_listens_on_an_ipv6_address_given_in_brackets(
    server_factory: ServerFactory,
) -> None:
    if not ipv6_loopback():
        pytest.skip("no IPv6 loopback (::1) on this host")
    server = server_factory("--health", "[::1]:0", listen=["line"])
    health = server.events("ready")[0]["health"]
    host, _, port = health.rpartition(":")
    assert host == "[::1]"  # the ready line names the address it was given
    with socket.create_connection(("::1", int(port)), timeout=5) as sock:
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
    assert answer == b"OK connections=0 listeners=1\n"
    result = probe(health)  # the probe reads the same notation
    assert result.returncode == 0, result.stdout
    assert result.stdout.startswith("OK")


@pytest.mark.covers("server/health", "troubleshooting/port-in-use")
def test_health_can_be_disabled(server_factory: ServerFactory) -> None:
    server = server_factory("--health", "", listen=["line"])
    assert server.health is None


def time_wait_on_port(port: int) -> bool:
    """Some IPv4 socket with local port `port` is in TIME_WAIT (/proc/net/tcp state 06)."""
    with open("/proc/net/tcp") as table:
        rows = [line.split() for line in table.readlines()[1:]]
    return any(int(row[1].rpartition(":")[2], 16) == port and row[3] == "06" for row in rows)


@pytest.mark.covers("server/listen-reuseaddr")
def test_a_server_started_again_at_once_listens_on_its_predecessors_port(
    server_factory: ServerFactory,
) -> None:
    # The server ends a seed exchange first (FIN after the answer), so the connection's
    # socket waits out TIME_WAIT on the listener's port after the server has exited.
    first = server_factory(listen=["seed"])
    port = first.endpoint("seed").port
    with Peer(first.endpoint("seed")) as peer:
        peer.expect_greeting()
        peer.send(b"hi")
        assert peer.read_to_eof() == model.ack("seed", b"hi")
    first.wait_for_event("close", reason="answered")
    first.signal(signal.SIGTERM)
    assert first.wait(timeout=5) == 0
    assert time_wait_on_port(port)  # what a listener without SO_REUSEADDR cannot bind past
    second = server_factory(listen=[f"seed://127.0.0.1:{port}"])
    assert [e["listener"] for e in second.events("listening")] == [f"seed://127.0.0.1:{port}"]


@pytest.mark.covers("server/health-backlog")
def test_health_queues_17_checks_while_the_loop_cannot_answer(
    server_factory: ServerFactory,
) -> None:
    # README: backlog 16, so the kernel's accept queue holds 17 completed connects (B+1,
    # as for the listeners); a further SYN is dropped: its connect times out.
    server = server_factory(listen=["line"])
    assert server.health is not None
    checks: list[socket.socket] = []
    timed_out = 0
    try:
        with server.stopped():
            for _ in range(19):
                try:
                    checks.append(socket.create_connection(server.health, timeout=0.3))
                except TimeoutError:
                    timed_out += 1
        assert (len(checks), timed_out) == (17, 2)
        for check in checks:  # each queued one is answered once the loop runs again
            check.settimeout(5)
            assert check.recv(4096).startswith(b"OK connections=0 ")
    finally:
        for check in checks:
            check.close()
