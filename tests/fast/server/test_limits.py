"""--max-connections (pause and reject), the listen backlog, --max-sessions, sizes, idle timeout."""

from __future__ import annotations

import itertools
import os
import resource
import signal
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pytest

from socket_harness.protocol import Framing
from tests.fast.server.peer import Peer, connect_refused, wait_until
from tests.fast.server.process import RunningServer, ServerFactory
from tests.oracle import model
from tests.oracle.model import ACK_PREFIX

# How long a connect may take before it counts as "not completed" (loopback answers in µs).
UNANSWERED_CONNECT = 0.3
# How long we watch for a greeting that must not come.
SILENCE = 0.3


@pytest.mark.covers("server/max-connections", "server/overflow-pause-backlog")
def test_pause_holds_the_next_connection_until_a_slot_frees_across_listeners(
    server_factory: ServerFactory,
) -> None:
    server = server_factory("--max-connections", "1", listen=["line", "frame"])
    with Peer(server.endpoint("line")) as holder:
        holder.expect_greeting()
        waiting = Peer(server.endpoint("frame"))  # completes: the kernel queues it
        assert waiting.nothing_arrives(SILENCE)
        assert health_answer(server).startswith(b"OK")  # health takes no slot
    with waiting:
        waiting.expect_greeting()
        waiting.expect_answer(b"now")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time `pid` has used so far (/proc/PID/stat, fields 14 and 15)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rpartition(")")[2].split()  # fields[0] is field 3, the state
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# How long we watch a full server, and the CPU it may use meanwhile: an idle loop uses
# none; one woken again and again by the queued connect uses all it gets.
FULL_WATCH = 1.0
FULL_CPU = 0.1


@pytest.mark.covers("server/overflow-pause-backlog")
@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_pause_mode_waits_for_a_free_slot_without_spinning(
    server_factory: ServerFactory, loop: str
) -> None:
    # README: the server stops watching its listeners the moment the last slot is taken;
    # a connect queued meanwhile does not wake it.
    if loop == "uvloop":
        pytest.importorskip("uvloop")
    server = server_factory("--max-connections", "1", "--loop", loop, listen=["line"])
    with Peer(server.endpoint("line")) as holder:
        holder.expect_greeting()
        with Peer(server.endpoint("line")) as waiting:  # completes: the kernel queues it
            before = cpu_seconds(server.pid)
            assert waiting.nothing_arrives(FULL_WATCH)
            used = cpu_seconds(server.pid) - before
            assert used < FULL_CPU, f"{used:.2f} s of CPU in {FULL_WATCH} s while full"
            holder.close()
            waiting.expect_greeting()


@pytest.mark.covers("server/max-connections")
def test_a_burst_never_has_more_than_max_connections_open(server_factory: ServerFactory) -> None:
    limit, clients = 3, 12
    server = server_factory("--max-connections", str(limit), "--backlog", "64", listen=["line"])
    peers = [Peer(server.endpoint("line")) for _ in range(clients)]  # all queued at once

    def exchange(peer: Peer) -> None:
        with peer:
            peer.expect_greeting()
            peer.expect_answer(b"burst")

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(exchange, peers))  # re-raises the first failure
    wait_until(lambda: len(server.events("close")) == clients)
    open_now = most_open = 0
    for fields in server.events():
        open_now += {"open": 1, "close": -1}.get(fields.get("event", ""), 0)
        most_open = max(most_open, open_now)
    assert most_open == limit


@pytest.mark.covers("server/max-connections")
@pytest.mark.parametrize("overflow", ["pause", "reject"])
def test_max_connections_0_is_unlimited(server_factory: ServerFactory, overflow: str) -> None:
    # README: `--max-connections N` ... 0 = unlimited. More than one at a time, both modes.
    server = server_factory("--max-connections", "0", "--overflow", overflow, listen=["line"])
    peers = [Peer(server.endpoint("line")) for _ in range(3)]
    try:
        for peer in peers:
            peer.expect_greeting()
        for peer in peers:
            peer.expect_answer(b"all open at once")
    finally:
        for peer in peers:
            peer.close()
    assert not server.events("error")


def health_answer(server: RunningServer) -> bytes:
    assert server.health is not None
    with socket.create_connection(server.health, timeout=5) as sock:
        return sock.recv(4096)


@pytest.mark.covers("errors/busy", "server/overflow-reject")
@pytest.mark.parametrize("framing", ["seed", "line", "frame"])
def test_reject_sends_err_busy_instead_of_the_greeting(
    server_factory: ServerFactory, framing: str
) -> None:
    server = server_factory("--max-connections", "1", "--overflow", "reject", listen=[framing])
    with Peer(server.endpoint(framing)) as holder:
        holder.expect_greeting()
        with Peer(server.endpoint(framing)) as refused:
            assert refused.read_to_eof() == model.error(framing, "busy")
        busy = server.wait_for_event("error", reason="busy")
        assert busy["listener"] == server.url(framing)
    server.wait_for_event("close")
    # The slot is free again: the next connection is served.
    with Peer(server.endpoint(framing)) as later:
        later.expect_greeting()
    server.signal(signal.SIGTERM)
    assert server.wait() == 0
    summary = server.events("summary")[0]
    assert (summary["connections"], summary["errors"]) == ("2", "busy:1")


def accept_queue_depth(port: int) -> int:
    """Completed connects waiting for accept() on 127.0.0.1:port (rx_queue of a LISTEN row)."""
    with open("/proc/net/tcp") as table:
        rows = [line.split() for line in table.readlines()[1:]]
    for row in rows:
        if row[1] == f"0100007F:{port:04X}" and row[3] == "0A":  # 0A = LISTEN
            return int(row[4].split(":")[1], 16)
    raise AssertionError(f"no listening socket on 127.0.0.1:{port}")


@pytest.mark.covers("server/backlog", "server/overflow-pause-backlog")
@pytest.mark.parametrize(
    ("backlog", "loop"), [(0, "asyncio"), (2, "asyncio"), (4, "asyncio"), (2, "uvloop")]
)
def test_backlog_queues_exactly_backlog_plus_one_then_serves_them_in_order(
    server_factory: ServerFactory, backlog: int, loop: str
) -> None:
    if loop == "uvloop":
        pytest.importorskip("uvloop")
    server = server_factory(
        "--max-connections", "1", "--backlog", str(backlog), "--idle-timeout", "0",
        "--loop", loop, listen=["line"],
    )  # fmt: skip
    endpoint = server.endpoint("line")
    holder = Peer(endpoint)
    holder.expect_greeting()

    queued: list[Peer] = []
    timed_out = 0
    for _ in range(backlog + 3):
        try:
            queued.append(Peer(endpoint, timeout=UNANSWERED_CONNECT))
        except TimeoutError:
            timed_out += 1  # SYN dropped: the accept queue is full (not refused)
    ports = [peer.local_port for peer in queued]
    try:
        assert len(queued) == backlog + 1
        assert timed_out == 2
        # They wait in the kernel: the server has not called accept() for any of them.
        assert accept_queue_depth(endpoint.port) == backlog + 1
        assert all(peer.nothing_arrives(0.05) for peer in queued)

        holder.close()
        for position, peer in enumerate(queued):
            peer.sock.settimeout(5.0)
            peer.expect_greeting()  # times out if the server took another one first
            peer.send(f"{position}\n".encode())
            assert peer.read_line() == ACK_PREFIX + f"{position}\n".encode()
            peer.close()
    finally:
        holder.close()
        for peer in queued:
            peer.close()
    server.wait_for_event("open", peer=f"127.0.0.1:{ports[-1]}")
    opened = [event["peer"] for event in server.events("open")]
    assert opened[1:] == [f"127.0.0.1:{port}" for port in ports]


@pytest.mark.covers("server/max-sessions", "server/exit-0")
def test_max_sessions_exits_zero_after_serving_n_and_refuses_more(
    server_factory: ServerFactory,
) -> None:
    server = server_factory("--max-sessions", "2", listen=["seed"])
    endpoint = server.endpoint("seed")
    for text in (b"one", b"two"):
        with Peer(endpoint) as peer:
            peer.send(text)
            assert peer.read_to_eof().endswith(ACK_PREFIX + text + b"\n")
    assert server.wait() == 0
    assert connect_refused(endpoint)
    assert server.events("shutdown")[0]["reason"] == "max-sessions"
    assert server.events("summary")[0]["connections"] == "2"


@pytest.mark.covers("server/max-sessions")
def test_after_max_sessions_it_stops_listening_while_the_sessions_go_on(
    server_factory: ServerFactory,
) -> None:
    # README: after N connections were admitted: stop listening, exit 0 when they end.
    server = server_factory("--max-sessions", "1", listen=["line"])
    endpoint = server.endpoint("line")
    with Peer(endpoint) as session:
        session.expect_greeting()
        server.wait_for_event("shutdown", reason="max-sessions")
        assert connect_refused(endpoint)  # the server still runs: its listener is closed
        session.expect_answer(b"still served")
    assert server.wait() == 0


@pytest.mark.covers("limits/exact-bound", "errors/too-large", "server/max-message-bytes")
@pytest.mark.parametrize("framing", ["seed", "line", "frame"])
def test_too_large_is_enforced_exactly_at_the_bound(
    server_factory: ServerFactory, framing: str
) -> None:
    limit = 1000
    server = server_factory("--max-message-bytes", str(limit), listen=[framing])
    endpoint = server.endpoint(framing)
    with Peer(endpoint) as peer:
        peer.expect_greeting()
        peer.expect_answer(b"x" * limit)
    with Peer(endpoint) as peer:
        peer.expect_greeting()
        peer.send_message(b"y" * (limit + 1))
        assert peer.read_to_eof() == model.error(framing, "too-large")
    error = server.wait_for_event("error", reason="too-large")
    assert error["limit"] == str(limit)
    assert server.wait_for_event("close", reason="too-large")


@pytest.mark.covers("errors/too-large")
@pytest.mark.parametrize("framing", ["line", "frame"])
def test_messages_before_an_oversize_one_are_answered_first(
    server_factory: ServerFactory, framing: str
) -> None:
    server = server_factory("--max-message-bytes", "100", listen=[framing])
    with Peer(server.endpoint(framing)) as peer:
        peer.expect_greeting()
        peer.send(model.message(framing, b"fine") + model.message(framing, b"z" * 101))
        assert peer.read_to_eof() == model.ack(framing, b"fine") + model.error(framing, "too-large")


@pytest.mark.covers("errors/too-large")
def test_frame_header_announcing_too_much_is_refused_before_the_body(
    server_factory: ServerFactory,
) -> None:
    server = server_factory(listen=["frame"])
    with Peer(server.endpoint("frame")) as peer:
        peer.expect_greeting()
        peer.send(b"\xff\xff\xff\xff")  # 4 GiB announced, nothing of it sent
        assert peer.read_to_eof() == model.error("frame", "too-large")


@pytest.mark.covers("errors/idle-timeout", "server/idle-timeout")
@pytest.mark.parametrize("framing", ["seed", "line", "frame"])
def test_idle_peer_gets_err_idle_timeout_and_is_closed(
    server_factory: ServerFactory, framing: str
) -> None:
    server = server_factory("--idle-timeout", "0.5", listen=[framing])
    with Peer(server.endpoint(framing)) as peer:
        peer.expect_greeting()
        started = time.monotonic()
        assert peer.read_to_eof() == model.error(framing, "idle-timeout")
        assert time.monotonic() - started >= 0.45
    assert server.wait_for_event("close")["reason"] == "idle-timeout"


@pytest.mark.covers("server/idle-timeout")
def test_an_idle_peer_is_cut_off_after_the_idle_timeout_not_twice_that(
    server_factory: ServerFactory,
) -> None:
    # README: a peer that sends nothing and drains none of its answers for S s is cut
    # off. The greeting the kernel took is not the peer draining: it once bought a second
    # period (2 s here). 1.4 s of slack for a loaded machine, still short of 2 S.
    server = server_factory("--idle-timeout", "2", listen=["line"])
    with Peer(server.endpoint("line")) as peer:
        peer.expect_greeting()
        started = time.monotonic()
        assert peer.read_to_eof() == model.error("line", "idle-timeout")
        waited = time.monotonic() - started
    assert 1.9 <= waited < 3.4, f"cut off after {waited:.2f} s, not the 2 s of --idle-timeout"


@pytest.mark.covers("server/idle-timeout")
def test_received_data_keeps_a_peer_from_idling_out(server_factory: ServerFactory) -> None:
    server = server_factory("--idle-timeout", "0.3", listen=["line"])
    sent = 0
    with Peer(server.endpoint("line")) as peer:
        peer.expect_greeting()
        deadline = time.monotonic() + 1.0  # over three idle periods
        while time.monotonic() < deadline:
            peer.send(b"x")  # a partial line is activity too
            sent += 1
            assert peer.nothing_arrives(0.1)
        peer.send(b"\n")
        assert peer.read_line() == ACK_PREFIX + b"x" * sent + b"\n"
    assert not server.events("error")


@pytest.mark.covers("server/idle-timeout")
def test_a_peer_that_only_drains_its_answers_is_not_idle(server_factory: ServerFactory) -> None:
    # README: cut off is a peer that sends nothing *and drains none of its answers* for
    # S s. This one sends its lines at once, then only reads, for over two idle periods:
    # its answers wait in the server's buffer (no backpressure below --send-buffer-bytes)
    # and leave as it takes them. It reads 4 MiB/s: the server's kernel takes more of
    # them in steps of up to megabytes (its send buffer), not per read (at 640 KiB/s a
    # 0.5 s idle timeout saw no progress in one period; 1 MiB/s passes here).
    server = server_factory(
        "--idle-timeout", "1", "--send-buffer-bytes", str(64 * 1024 * 1024), listen=["line"]
    )
    line = b"d" * 1023 + b"\n"
    count = 16 * 1024
    answer = ACK_PREFIX + line
    with Peer(server.endpoint("line")) as peer:
        peer.expect_greeting()
        peer.send(line * count)
        started = time.monotonic()
        received = bytearray()
        while time.monotonic() - started < 2.5:
            received += peer.read_exactly(256 * 1024)
            time.sleep(0.0625)  # pacing a slow reader, not a wait for readiness
        assert len(received) < count * len(answer)  # still draining after 2.5 idle periods
        received += peer.read_exactly(count * len(answer) - len(received))
        assert received == answer * count
        peer.expect_answer(b"still served")
    assert not server.events("error")


@pytest.mark.covers("server/idle-timeout")
def test_idle_timeout_zero_disables_it(server_factory: ServerFactory) -> None:
    server = server_factory("--idle-timeout", "0", listen=[Framing.LINE.value])
    with Peer(server.endpoint("line")) as peer:
        peer.expect_greeting()
        assert peer.nothing_arrives(0.6)
        peer.send(b"still here\n")
        assert peer.read_line() == ACK_PREFIX + b"still here\n"


@pytest.mark.covers("errors/lingering-close", "server/lingering-close")
@pytest.mark.parametrize("framing", ["line", "frame"])
def test_too_large_reply_survives_a_peer_that_keeps_sending(
    server_factory: ServerFactory, framing: str
) -> None:
    # Closing with the rest of the oversize message unread would reset the
    # connection and could destroy `ERR too-large` before the peer reads it.
    server = server_factory("--max-message-bytes", "1000", listen=[framing])
    oversize = model.message(framing, b"q" * (4 * 1024 * 1024))
    with Peer(server.endpoint(framing)) as peer, ThreadPoolExecutor(1) as pool:
        peer.expect_greeting()
        sending = pool.submit(peer.send, oversize)
        assert peer.read_to_eof() == model.error(framing, "too-large")
        sending.result(timeout=10)  # the server read (and dropped) all of it: no reset
    assert server.wait_for_event("close", reason="too-large")


@pytest.mark.covers("server/out-of-fds")
def test_out_of_file_descriptors_it_logs_backs_off_and_serves_the_queued_client_later(
    server_factory: ServerFactory,
) -> None:
    server = server_factory(listen=["line"])
    # Room for exactly two more open files in the server: its third accept() hits EMFILE.
    in_use = len(os.listdir(f"/proc/{server.pid}/fd"))
    resource.prlimit(server.pid, resource.RLIMIT_NOFILE, (in_use + 2, in_use + 2))
    first, second = Peer(server.endpoint("line")), Peer(server.endpoint("line"))
    try:
        first.expect_greeting()
        second.expect_greeting()
        with Peer(server.endpoint("line")) as queued:  # the kernel completes it; accept() fails
            failed = server.wait_for_event("error", reason="accept")
            assert queued.nothing_arrives(SILENCE)
            first.close()  # a descriptor is free again: the retry after the back-off takes it
            queued.expect_greeting()
            # README: it stops accepting for 1 s (then the retry takes the queued client).
            # The line's `ts` is the wall clock when accept() failed, cut to the millisecond.
            waited = time.time() - datetime.fromisoformat(failed["ts"]).timestamp()
            assert 1.0 <= waited < 1.6
            queued.expect_answer(b"served after the back-off")
        second.expect_answer(b"and the others were served throughout")
    finally:
        first.close()
        second.close()
    assert "Traceback" not in server.stderr_text()
    # One line per back-off period, not one per spin of a loop that keeps failing.
    accept_errors = [e for e in server.events("error") if e.get("reason") == "accept"]
    assert 1 <= len(accept_errors) <= 3


@pytest.mark.covers("server/accept-batch")
@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_a_listener_takes_at_most_64_pending_connects_per_turn_of_the_loop(
    server_factory: ServerFactory, loop: str
) -> None:
    # 100 connects queued on each of two listeners while the server is stopped: at one
    # wake-up both are readable, and the `open` lines (in accept order) come in runs of
    # 64 per listener, then the remaining 36 of each.
    if loop == "uvloop":
        pytest.importorskip("uvloop")
    server = server_factory("--loop", loop, listen=["line", "frame"])
    endpoints = [server.endpoint("line"), server.endpoint("frame")]
    peers: list[socket.socket] = []
    try:
        with server.stopped():
            for _ in range(100):
                for endpoint in endpoints:  # line first: its listener is readable first
                    peers.append(
                        socket.create_connection((endpoint.host, endpoint.port), timeout=5)
                    )
        wait_until(lambda: len(server.events("open")) == 200)
    finally:
        for peer in peers:
            peer.close()
    opened = [fields["listener"] for fields in server.events("open")]
    runs = [(url, len(list(group))) for url, group in itertools.groupby(opened)]
    line, frame = (str(endpoint) for endpoint in endpoints)
    assert runs == [(line, 64), (frame, 64), (line, 36), (frame, 36)]
