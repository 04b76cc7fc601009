"""What a breaker found in profile validation (issues 10/11): addresses, bounds on integers
and durations, file kinds and sizes, wire bytes that break framing, contradictory promises,
two targets of one name. Each bad profile is one ProfileError line naming where it is."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from socket_harness.load import MAX_PROFILE_BYTES, check_distinct_names
from socket_harness.targets import Address, ProfileError, from_options, load
from tests.unit.test_targets_load import MINIMAL, write


def at(address: str) -> str:
    return MINIMAL.replace('image = "example/echo:1"', f"address = {address!r}")


# --- HOST:PORT: one rule for the profile's address and --target-address --------------

BAD_ADDRESSES = [
    ("[::1:7000", "unbalanced brackets"),
    ("::1:7000", "needs brackets"),
    ("a b:80", "not a hostname"),
    ("ho$t:80", "not a hostname"),
    ("localhost:\u0663\u0663", "not a number from 1 to 65535"),  # Arabic-Indic digits 33
    ("[zz]:80", "not an IPv6 address"),
    ("300.1.1.1:80", "not an IPv4 address"),
    ("-lead:80", "not a hostname"),
    ("h:0", "not a number from 1 to 65535"),
    ("h:65536", "not a number from 1 to 65535"),
    ("h:" + "9" * 5000, "not a number from 1 to 65535"),
    ("h:", "not a number"),
    (":80", "is not HOST:PORT"),
    ("9099", "is not HOST:PORT"),
]


@pytest.mark.parametrize(("address", "words"), BAD_ADDRESSES)
def test_a_bad_address_in_a_profile_names_its_line(
    tmp_path: Path, address: str, words: str
) -> None:
    path = write(tmp_path, at(address))
    with pytest.raises(ProfileError) as raised:
        load(path)
    assert (raised.value.line, raised.value.key) == (2, "target.address")
    assert words in raised.value.message
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize(("address", "words"), BAD_ADDRESSES)
def test_a_bad_target_address_option_is_the_same_error(address: str, words: str) -> None:
    with pytest.raises(ProfileError) as raised:
        from_options({"--target-address": address, "--target-listener": ["line"]})
    assert raised.value.key == "--target-address"
    assert words in raised.value.message


@pytest.mark.parametrize(
    ("address", "host", "port"),
    [
        ("[::1]:7000", "::1", 7000),
        ("127.0.0.1:1", "127.0.0.1", 1),
        ("localhost:65535", "localhost", 65535),
        ("svc-1.example.com:80", "svc-1.example.com", 80),
        ("[fe80::1%eth0]:80", "fe80::1%eth0", 80),
    ],
)
def test_good_addresses_keep_host_and_port(
    tmp_path: Path, address: str, host: str, port: int
) -> None:
    assert load(write(tmp_path, at(address))).source == Address(host, port)


# --- integers and durations that would overflow or wait for a day --------------------

PROMISES = [
    # (the promise table after MINIMAL and a blank line, the key, its line, the words)
    ("[promises.backlog]\nbacklog = 99999999999999999999999\n", "promises.backlog.backlog", 9,
     "must be from 0 to 2147483647"),
    ("[promises.backlog]\nbacklog = 2147483648\n", "promises.backlog.backlog", 9,
     "2147483648 is out of range: must be from 0 to 2147483647"),
    ("[promises.backlog]\nbacklog = 1\nmax_connections = 2147483648\n",
     "promises.backlog.max_connections", 10, "must be from 1 to 2147483647"),
    ("[promises.max_connections]\nlimit = 2147483648\noverflow = 'pause'\n",
     "promises.max_connections.limit", 9, "must be from 1 to 2147483647"),
    ("[promises.max_sessions]\nlimit = 2147483648\n", "promises.max_sessions.limit", 9,
     "must be from 1 to 2147483647"),
    ("[promises.max_message_bytes]\nlimit = 2147483648\n", "promises.max_message_bytes.limit",
     9, "must be from 1 to 2147483647"),
    ("[promises.idle_timeout]\nseconds = 86400\n", "promises.idle_timeout.seconds", 9,
     "at most 300 seconds"),
    ("[promises.graceful_stop]\ndrain_timeout = 300.5\n",
     "promises.graceful_stop.drain_timeout", 9, "at most 300 seconds"),
]  # fmt: skip


@pytest.mark.parametrize(("table", "key", "line", "words"), PROMISES, ids=[p[1] for p in PROMISES])
def test_counts_and_waits_are_bounded(
    tmp_path: Path, table: str, key: str, line: int, words: str
) -> None:
    path = write(tmp_path, MINIMAL + "\n" + table)
    with pytest.raises(ProfileError) as raised:
        load(path)
    assert (raised.value.line, raised.value.key) == (line, key)
    assert words in raised.value.message


def test_the_bounds_themselves_are_accepted(tmp_path: Path) -> None:
    text = MINIMAL + textwrap.dedent("""
        [promises.backlog]
        backlog = 2147483647
        [promises.idle_timeout]
        seconds = 300
        [promises.graceful_stop]
        drain_timeout = 300
    """)
    promises = load(write(tmp_path, text)).promises
    assert promises.backlog is not None
    assert promises.backlog.backlog == 2**31 - 1
    assert promises.idle_timeout is not None
    assert promises.idle_timeout.seconds == 300.0


def test_an_option_is_bounded_alike() -> None:
    with pytest.raises(ProfileError, match=r"^--target-idle-timeout: 86400.0 is out of range"):
        from_options({"--target-image": "x", "--target-listener": ["line:7"],
                      "--target-idle-timeout": "86400"})  # fmt: skip


# --- what the file is ------------------------------------------------------------------


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    result: list[BaseException] = []
    reader = threading.Thread(target=lambda: _catch(result, fifo), daemon=True)
    reader.start()
    reader.join(timeout=10.0)
    if reader.is_alive():  # unblock the open() it is stuck in, then fail
        with open(fifo, "wb"):
            pass
        pytest.fail("loading a FIFO waited for a writer")
    assert str(result[0]) == f"{fifo}: not a regular file (a FIFO)"


def _catch(result: list[BaseException], path: Path) -> None:
    try:
        load(path)
    except ProfileError as exc:
        result.append(exc)


@pytest.mark.parametrize(
    ("path", "kind"), [("/dev/null", "a character device"), (".", "a directory")]
)
def test_a_device_or_directory_is_refused(path: str, kind: str) -> None:
    with pytest.raises(ProfileError) as raised:
        load(path)
    assert str(raised.value) == f"{path}: not a regular file ({kind})"


def test_a_file_over_the_bound_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.toml"
    path.write_bytes(MINIMAL.encode() + b"#" * MAX_PROFILE_BYTES)
    with pytest.raises(ProfileError) as raised:
        load(path)
    assert str(raised.value) == f"{path}: larger than 1048576 bytes: not a profile"


def test_a_byte_order_mark_is_named(tmp_path: Path) -> None:
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + MINIMAL.encode())
    with pytest.raises(ProfileError) as raised:
        load(path)
    assert str(raised.value) == (
        f"{path}:1: starts with a UTF-8 byte-order mark: save it without one"
    )


def test_an_integer_of_thousands_of_digits_is_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL.replace("port = 7", "port = " + "9" * 5000))
    with pytest.raises(ProfileError, match="not valid TOML: Exceeds the limit"):
        load(path)


# --- wire bytes that break framing, and contradictions -----------------------------

CONTRADICTIONS = [
    ("a NUL in the greeting", MINIMAL + '[wire]\ngreeting = "hi\\u0000"\n', 8, "wire.greeting",
     "must not hold a NUL"),
    ("a newline in the ack prefix", MINIMAL + '[wire]\nack_prefix = "ok\\n"\n', 8,
     "wire.ack_prefix", "must not hold a newline: on line listener 'line'"),
    ("a newline in the error prefix", MINIMAL + '[wire]\nerror_prefix = "E\\n"\n', 8,
     "wire.error_prefix", "must not hold a newline"),
    ("the health port is a listener's", MINIMAL + "[promises.health]\naddress = '0.0.0.0:7'\n",
     8, "promises.health.address", "port 7 is already used by listener 'line'"),
    ("two connection limits for one setup",
     MINIMAL + "[[promises.max_connections]]\nlimit = 2\noverflow = 'pause'\n"
     "[[promises.max_connections]]\nlimit = 5\noverflow = 'pause'\n", 10,
     "promises.max_connections[1]", "the same setup (command and environment) as "
     "promises.max_connections[0]"),
    ("pause and reject for one setup",
     MINIMAL + "[[promises.max_connections]]\nlimit = 2\noverflow = 'pause'\n"
     "[[promises.max_connections]]\nlimit = 2\noverflow = 'reject'\n", 10,
     "promises.max_connections[1]", "one limit and one overflow"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "line", "key", "words"),
    [case[1:] for case in CONTRADICTIONS],
    ids=[case[0] for case in CONTRADICTIONS],
)
def test_a_contradiction_names_file_line_and_key(
    tmp_path: Path, text: str, line: int, key: str, words: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ProfileError) as raised:
        load(path)
    assert (raised.value.line, raised.value.key) == (line, key)
    assert words in raised.value.message
    assert str(raised.value) == f"{path}:{line}: {key}: {raised.value.message}"


def test_a_newline_in_a_prefix_is_fine_without_a_line_listener(tmp_path: Path) -> None:
    text = MINIMAL.replace('"line"', '"frame"') + '[wire]\nack_prefix = "ok\\n"\n'
    assert load(write(tmp_path, text)).wire.ack_prefix == b"ok\n"


def test_limits_of_different_setups_are_kept(tmp_path: Path) -> None:
    text = MINIMAL + (
        "[[promises.max_connections]]\nlimit = 2\noverflow = 'pause'\nenvironment = { M = 'p' }\n"
        "[[promises.max_connections]]\nlimit = 5\noverflow = 'reject'\nenvironment = { M = 'r' }\n"
    )
    assert len(load(write(tmp_path, text)).promises.max_connections) == 2


# --- two targets of one name -----------------------------------------------------------


def test_two_targets_of_one_name_name_both_files(tmp_path: Path) -> None:
    first = write(tmp_path, MINIMAL, "refused.toml")
    (tmp_path / "sub").mkdir()
    second = write(tmp_path / "sub", MINIMAL, "refused.toml")
    targets = [load(first), load(second)]
    with pytest.raises(ProfileError) as raised:
        check_distinct_names(targets)
    assert str(raised.value) == (
        f"--target: two targets are named 'refused': {first} and {second} "
        "(give one another [target] name)"
    )


def test_targets_of_distinct_names_pass(tmp_path: Path) -> None:
    named = MINIMAL.replace("[target]\n", "[target]\nname = 'other'\n")
    check_distinct_names([load(write(tmp_path, MINIMAL)), load(write(tmp_path, named, "b.toml"))])


def test_the_plugin_refuses_two_targets_of_one_name_before_collecting(tmp_path: Path) -> None:
    """The rule reaches the command line: one usage line (pytest's exit 4), no traceback."""
    first = write(tmp_path, MINIMAL, "refused.toml")
    (tmp_path / "sub").mkdir()
    second = write(tmp_path / "sub", MINIMAL, "refused.toml")
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--pyargs"]
    command += ["socket_harness.conformance", "--target", str(first), "--target", str(second)]
    done = subprocess.run(
        [*command, "--list-checks"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 4, done.stdout + done.stderr
    assert "two targets are named 'refused'" in done.stderr, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
