"""Loading target profiles: the shipped one, the defaults, relative paths, and every kind of
bad profile named by FILE:LINE: KEY."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from socket_harness.targets import (
    Address,
    Backlog,
    Build,
    Framing,
    GracefulStop,
    Health,
    IdleTimeout,
    Image,
    Listener,
    MaxConnections,
    MaxMessageBytes,
    MaxSessions,
    Overflow,
    ProfileError,
    Setup,
    Wire,
    load,
)

ROOT = Path(__file__).resolve().parents[2]
PROJECT_PROFILE = ROOT / "targets" / "socket-harness.toml"

# docs/protocol.md's table, as the bytes it spells out (not protocol/'s constants).
GREETING = bytes.fromhex("e6b58be8af95e68890e58a9f210a")
ACK_PREFIX = "收到的信息:".encode()

MINIMAL = """\
[target]
image = "example/echo:1"

[[listeners]]
framing = "line"
port = 7
"""


def write(tmp_path: Path, text: str, name: str = "profile.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_the_project_profile_declares_every_promise_with_the_container_tier_values() -> None:
    target = load(PROJECT_PROFILE)
    assert target.name == "socket-harness"
    assert target.source == Build(ROOT, ROOT / "server" / "Dockerfile", {})
    assert target.listeners == (
        Listener("seed", Framing.SEED, 9000),
        Listener("line", Framing.LINE, 9001),
        Listener("frame", Framing.FRAME, 9002),
    )
    assert target.wire == Wire(GREETING, ACK_PREFIX, b"ERR ")
    assert target.stop_signal == "SIGTERM"
    promises = target.promises
    assert promises.declared() == (
        "max_connections",
        "backlog",
        "idle_timeout",
        "max_message_bytes",
        "max_sessions",
        "graceful_stop",
        "health",
    )
    assert [(p.limit, p.overflow) for p in promises.max_connections] == [
        (2, Overflow.PAUSE),
        (2, Overflow.REJECT),
    ]
    assert promises.backlog is not None
    assert (promises.backlog.backlog, promises.backlog.max_connections) == (3, 1)
    assert promises.idle_timeout is not None
    assert promises.idle_timeout.seconds == 1.0
    assert promises.max_message_bytes == MaxMessageBytes(32 * 1024)
    assert promises.max_sessions is not None
    assert (promises.max_sessions.limit, promises.max_sessions.exit_code) == (3, 0)
    stop = promises.graceful_stop
    assert stop is not None
    assert (stop.signal, stop.drain_timeout, stop.drained_exit_code, stop.aborted_exit_code) == (
        "SIGTERM",
        3.0,
        0,
        3,
    )
    assert promises.health is not None
    assert promises.health.address == Address("0.0.0.0", 9099)
    # Each promise's checks start the server with its options, over the target's own.
    backlog_env = target.setup_for(promises.backlog).environment
    assert dict(backlog_env) == {
        "SERVER_LOG_FORMAT": "json",
        "SERVER_MAX_MESSAGE_BYTES": "32768",
        "SERVER_BACKLOG": "3",
        "SERVER_MAX_CONNECTIONS": "1",
        "SERVER_OVERFLOW": "pause",
    }
    assert target.has_container


def test_a_minimal_profile_gets_the_documented_defaults(tmp_path: Path) -> None:
    target = load(write(tmp_path, MINIMAL, "echo.toml"))
    assert target.name == "echo"  # the file's stem
    assert target.source == Image("example/echo:1")
    assert target.listeners == (Listener("line", Framing.LINE, 7),)
    assert target.wire == Wire(GREETING, ACK_PREFIX, b"ERR ")
    assert target.setup == Setup(None, {})
    assert target.stop_signal is None
    assert target.promises.declared() == ()
    assert target.path == tmp_path / "echo.toml"


def test_a_plain_echo_service_at_an_address(tmp_path: Path) -> None:
    text = """\
    [target]
    address = "[::1]:7000"

    [[listeners]]
    framing = "line"

    [wire]
    greeting = false
    ack_prefix = ""
    """
    target = load(write(tmp_path, text))
    assert target.source == Address("::1", 7000)
    assert target.listeners == (Listener("line", Framing.LINE, 7000),)  # the address's port
    assert target.wire == Wire(None, b"", b"ERR ")
    assert not target.has_container


def test_build_paths_resolve_against_the_profile_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "app" / "docker").mkdir(parents=True)
    (tmp_path / "app" / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "app" / "docker" / "Other").write_text("FROM scratch\n")
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    default = write(profiles, MINIMAL.replace('image = "example/echo:1"', "") + BUILD_DEFAULT)
    other = write(profiles, MINIMAL.replace('image = "example/echo:1"', "") + BUILD_OTHER, "o.toml")
    monkeypatch.chdir(tmp_path / "app" / "docker")  # not where the paths start
    assert load(default).source == Build(tmp_path / "app", tmp_path / "app" / "Dockerfile", {})
    assert load(other).source == Build(
        tmp_path / "app", tmp_path / "app" / "docker" / "Other", {"VERSION": "1"}
    )


BUILD_DEFAULT = """
[build]
context = "../app"
"""
BUILD_OTHER = """
[build]
context = "../app"
dockerfile = "../app/docker/Other"
args = { VERSION = "1" }
"""


def test_backlog_slots_default_to_a_pause_limit_of_the_same_setup(tmp_path: Path) -> None:
    shared = (
        MINIMAL
        + """
[promises.max_connections]
limit = 2
overflow = "pause"

[promises.backlog]
backlog = 4
"""
    )
    assert load(write(tmp_path, shared)).promises.backlog == Backlog(4, 2)
    own_setup = shared + 'environment = { BACKLOG = "4" }\n'
    backlog = load(write(tmp_path, own_setup)).promises.backlog
    assert backlog is not None
    assert backlog.max_connections == 1
    rejecting = shared.replace('"pause"', '"reject"')
    assert load(write(tmp_path, rejecting)).promises.backlog == Backlog(4, 1)


def test_every_promise_field_is_read(tmp_path: Path) -> None:
    text = (
        MINIMAL
        + """
[target.environment]
MODE = "test"

[[promises.max_connections]]
limit = 5
overflow = "reject"
command = ["--max", "5"]

[promises.backlog]
backlog = 0
max_connections = 2

[promises.idle_timeout]
seconds = 2

[promises.max_message_bytes]
limit = 1

[promises.max_sessions]
limit = 5
exit_code = 4

[promises.graceful_stop]
signal = "SIGINT"
drain_timeout = 0
drained_exit_code = 1
aborted_exit_code = 130

[promises.health]
address = "127.0.0.1:8080"
reply_prefix = "healthy"
"""
    )
    target = load(write(tmp_path, text))
    promises = target.promises
    assert promises.max_connections == (
        MaxConnections(5, Overflow.REJECT, Setup(("--max", "5"), {})),
    )
    assert target.setup_for(promises.max_connections[0]) == Setup(("--max", "5"), {"MODE": "test"})
    assert promises.backlog == Backlog(0, 2)
    assert promises.idle_timeout == IdleTimeout(2.0)
    assert promises.max_message_bytes == MaxMessageBytes(1)
    assert promises.max_sessions == MaxSessions(5, 4)
    assert promises.graceful_stop == GracefulStop(0.0, "SIGINT", 1, 130)
    assert promises.health == Health(Address("127.0.0.1", 8080), b"healthy")


# --- bad profiles: each names FILE:LINE: KEY --------------------------------------------

BAD = [
    # (what, the profile's text, line, key, words of the message)
    ("unknown top-level key", MINIMAL + "[promise]\nbacklog = 1\n", 7, "promise", "unknown key"),
    (
        "unknown key, with a near name",
        MINIMAL + "\n[promises.backlog]\nbacklg = 3\n",
        9,
        "promises.backlog.backlg",
        "did you mean 'backlog'",
    ),
    (
        "unknown key in a listener",
        MINIMAL + "host = 'x'\n",
        7,
        "listeners[0].host",
        "unknown key in [listeners[0]]",
    ),
    ("port of the wrong type", MINIMAL.replace("port = 7", 'port = "7"'), 6, "listeners[0].port",
     "must be a whole number, not a string"),
    ("a boolean for a number", MINIMAL.replace("port = 7", "port = true"), 6, "listeners[0].port",
     "not a boolean"),
    ("port out of range", MINIMAL.replace("port = 7", "port = 65536"), 6, "listeners[0].port",
     "65536 is out of range"),
    ("port zero", MINIMAL.replace("port = 7", "port = 0"), 6, "listeners[0].port", "out of range"),
    ("framing that does not exist", MINIMAL.replace('"line"', '"http"'), 5,
     "listeners[0].framing", "'http' is not one of seed, line, frame"),
    (
        "overflow mode that does not exist",
        MINIMAL + "\n[promises.max_connections]\nlimit = 2\noverflow = 'queue'\n",
        10,
        "promises.max_connections.overflow",
        "'queue' is not one of pause, reject",
    ),
    (
        "second overflow mode that does not exist",
        MINIMAL + "\n[[promises.max_connections]]\nlimit = 2\noverflow = 'pause'\n"
        "\n[[promises.max_connections]]\nlimit = 2\noverflow = 'drop'\n",
        14,
        "promises.max_connections[1].overflow",
        "'drop' is not one of",
    ),
    ("build context that is missing", "[build]\ncontext = 'nowhere'\n" + MINIMAL.split("\n", 2)[2],
     2, "build.context", "no such directory"),
    ("neither image, build nor address", MINIMAL.replace('image = "example/echo:1"', ""), 1,
     "target", "say how to get the target: one of target.image, [build], target.address"),
    ("image and address", MINIMAL.replace("[target]\n", "[target]\naddress = 'h:1'\n"), 2,
     "target.address", "give only one of"),
    ("image and build", MINIMAL + "[build]\ncontext = '.'\n", 7, "build", "are both set"),
    ("image reference", MINIMAL.replace("example/echo:1", "Example/Echo"), 2, "target.image",
     "not an image reference"),
    ("environment value not a string",
     MINIMAL.replace("[target]\n", "[target]\nenvironment = { PORT = 7 }\n"), 2,
     "target.environment.PORT", 'must be a string, not an integer (write "7")'),
    ("signal name", MINIMAL.replace("[target]\n", "[target]\nstop_signal = 'TERM'\n"), 2,
     "target.stop_signal", "write 'SIGTERM'"),
    ("greeting of the wrong type", MINIMAL + "[wire]\ngreeting = true\n", 8, "wire.greeting",
     "a string (or false: no greeting)"),
    ("ack prefix taken for an error", MINIMAL + "[wire]\nack_prefix = 'ERR ok'\n", 8,
     "wire.ack_prefix", "taken for an error"),
    ("no listeners", MINIMAL.split("\n\n")[0] + "\n", 1, "listeners", "at least one listener"),
    ("listener without a port", MINIMAL.replace("port = 7\n", ""), 4, "listeners[0].port",
     "missing: every listener needs one"),
    ("two listeners on one port", MINIMAL + "\n[[listeners]]\nframing = 'seed'\nport = 7\n", 10,
     "listeners[1].port", "port 7 is already used by listener 'line'"),
    (
        "promise without its value",
        MINIMAL + "\n[promises.graceful_stop]\naborted_exit_code = 3\n",
        8,
        "promises.graceful_stop.drain_timeout",
        "missing: the graceful_stop promise needs it",
    ),
    ("exit code out of range",
     MINIMAL + "\n[promises.max_sessions]\nlimit = 1\nexit_code = 256\n", 10,
     "promises.max_sessions.exit_code", "from 0 to 255"),
    ("idle timeout of zero", MINIMAL + "\n[promises.idle_timeout]\nseconds = 0\n", 9,
     "promises.idle_timeout.seconds", "more than 0 seconds"),
    ("uncatchable drain signal",
     MINIMAL + "\n[promises.graceful_stop]\ndrain_timeout = 1\nsignal = 'SIGKILL'\n", 10,
     "promises.graceful_stop.signal", "cannot be caught"),
    ("environment for a running service",
     MINIMAL.replace('image = "example/echo:1"', 'address = "h:7"\nenvironment = { A = "1" }'), 3,
     "target.environment", "does not apply with target.address"),
    ("health address", MINIMAL + "\n[promises.health]\naddress = '9099'\n", 9,
     "promises.health.address", "not HOST:PORT"),
    ("not TOML", MINIMAL + "port = \n", 7, "", "not valid TOML"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "line", "key", "words"), [case[1:] for case in BAD], ids=[case[0] for case in BAD]
)
def test_a_bad_profile_names_file_line_and_key(
    tmp_path: Path, text: str, line: int, key: str, words: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ProfileError) as raised:
        load(path)
    error = raised.value
    assert (error.path, error.line, error.key) == (path, line, key)
    assert words in error.message
    where = f"{path}:{line}: {key}: " if key else f"{path}:{line}: "
    assert str(error) == where + error.message
    assert "\n" not in str(error)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ProfileError) as raised:
        load(tmp_path / "absent.toml")
    assert str(raised.value) == f"{tmp_path / 'absent.toml'}: no such file"


def test_a_file_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(MINIMAL.encode() + b"# caf\xe9\n")
    with pytest.raises(ProfileError, match=r"latin1\.toml: not UTF-8 text"):
        load(path)
