"""A target from pytest options: the same fields, the same rules, errors naming the option."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from socket_harness.options import OptionValues, unescape
from socket_harness.targets import (
    OPTIONS,
    Address,
    Build,
    Framing,
    Image,
    Listener,
    ProfileError,
    Wire,
    from_options,
    load,
)

ROOT = Path(__file__).resolve().parents[2]
PROJECT_PROFILE = ROOT / "targets" / "socket-harness.toml"

EVERY_FIELD = """\
[target]
name = "mine"
image = "registry.example:5000/team/echo:2.1"
command = ["--port", "7", "--verbose"]
environment = { MODE = "test", LEVEL = "2" }
stop_signal = "SIGINT"
readiness = "listening"

[[listeners]]
name = "plain"
framing = "line"
port = 7

[[listeners]]
framing = "frame"
port = 8

[wire]
greeting = "hi\\n"
ack_prefix = "ok:"
error_prefix = "E "

[promises.max_connections]
limit = 3
overflow = "pause"

[promises.backlog]
backlog = 5

[promises.idle_timeout]
seconds = 2.5

[promises.max_message_bytes]
limit = 1000

[promises.max_sessions]
limit = 9
exit_code = 4

[promises.graceful_stop]
signal = "SIGINT"
drain_timeout = 4
drained_exit_code = 0
aborted_exit_code = 3

[promises.health]
address = "0.0.0.0:9099"
reply_prefix = "OK "
"""

EVERY_OPTION: OptionValues = {
    "--target-name": "mine",
    "--target-image": "registry.example:5000/team/echo:2.1",
    "--target-command": "--port 7 --verbose",
    "--target-env": ["MODE=test", "LEVEL=2"],
    "--target-stop-signal": "SIGINT",
    "--target-readiness": "listening",
    "--target-listener": ["plain=line:7", "frame:8"],
    "--target-greeting": "hi\\n",
    "--target-ack-prefix": "ok:",
    "--target-error-prefix": "E ",
    "--target-max-connections": "3",
    "--target-overflow": "pause",
    "--target-backlog": "5",
    "--target-idle-timeout": "2.5",
    "--target-max-message-bytes": "1000",
    "--target-max-sessions": "9",
    "--target-max-sessions-exit-code": "4",
    "--target-drain-signal": "SIGINT",
    "--target-drain-timeout": "4",
    "--target-drained-exit-code": "0",
    "--target-aborted-exit-code": "3",
    "--target-health": "0.0.0.0:9099",
    "--target-health-reply-prefix": "OK ",
    "--target-build-arg": None,  # not given
}


def test_options_give_the_same_target_as_the_same_fields_in_a_file(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(EVERY_FIELD, encoding="utf-8")
    from_file = load(path)
    assert from_options(EVERY_OPTION) == dataclasses.replace(from_file, path=None)
    assert from_file.promises.backlog is not None
    assert from_file.promises.backlog.max_connections == 3  # the pause limit of the same setup


def test_every_option_is_used_once_and_every_field_has_one() -> None:
    flags = [option.flag for option in OPTIONS]
    assert len(flags) == len(set(flags))
    assert all(flag.startswith("--target-") for flag in flags)
    given = set(EVERY_OPTION) | {"--target-build-context", "--target-build-dockerfile"}
    given |= {"--target-address"}
    assert given == set(flags)  # EVERY_OPTION above exercises all but the other sources


def test_a_plain_echo_at_an_address_as_the_issue_writes_it() -> None:
    target = from_options(
        {
            "--target-address": "127.0.0.1:7000",
            "--target-listener": ["line"],
            "--target-greeting": "none",
            "--target-ack-prefix": "",
        }
    )
    assert target.source == Address("127.0.0.1", 7000)
    assert target.name == "127.0.0.1:7000"
    assert target.listeners == (Listener("line", Framing.LINE, 7000),)
    assert target.wire == Wire(None, b"", b"ERR ")


def test_a_build_from_options_starts_where_the_command_was_typed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "svc").mkdir()
    (tmp_path / "svc" / "Dockerfile").write_text("FROM scratch\n")
    monkeypatch.chdir(tmp_path)
    options: OptionValues = {
        "--target-build-context": "svc",
        "--target-build-arg": ["A=1"],
        "--target-listener": ["seed:9000"],
    }
    built = Build(tmp_path / "svc", tmp_path / "svc" / "Dockerfile", {"A": "1"})
    target = from_options(options)
    assert target.name == "svc"
    assert target.source == built
    # Over a profile elsewhere, an option's path still starts here, not at the profile.
    (tmp_path / "profiles").mkdir()
    profile = tmp_path / "profiles" / "p.toml"
    profile.write_text('[target]\nimage = "x"\n', encoding="utf-8")
    assert from_options(options, profile).source == built


def test_options_override_a_profile_file() -> None:
    target = from_options(
        {
            "--target-image": "example/server:candidate",
            "--target-env": ["EXTRA=1"],
            "--target-listener": ["line:9001"],
            "--target-backlog": "8",
        },
        PROJECT_PROFILE,
    )
    project = load(PROJECT_PROFILE)
    assert target.source == Image("example/server:candidate")  # instead of the file's build
    assert dict(target.setup.environment) == {**project.setup.environment, "EXTRA": "1"}
    assert target.listeners == (Listener("line", Framing.LINE, 9001),)
    assert target.promises.backlog is not None
    assert target.promises.backlog.backlog == 8
    assert project.promises.backlog is not None
    assert target.promises.backlog.setup == project.promises.backlog.setup
    assert target.promises.graceful_stop == project.promises.graceful_stop
    assert target.name == "socket-harness"
    assert target.path == PROJECT_PROFILE


def test_a_bad_key_in_the_file_is_still_named_by_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "base.toml"
    path.write_text(EVERY_FIELD.replace("limit = 1000", "limit = -1"), encoding="utf-8")
    with pytest.raises(ProfileError) as raised:
        from_options({"--target-backlog": "2"}, path)
    assert (raised.value.path, raised.value.line) == (path, 34)
    assert raised.value.key == "promises.max_message_bytes.limit"


MINIMAL: OptionValues = {"--target-image": "example/echo", "--target-listener": ["line:7"]}

BAD = [
    # (what, the options, the option named, words of the message)
    ("not a number", {"--target-backlog": "many"}, "--target-backlog",
     "'many' is not a whole number"),
    ("port out of range", {"--target-listener": ["line:70000"]}, "--target-listener",
     "'line:70000': 70000 is out of range: must be from 1 to 65535"),
    ("framing that does not exist", {"--target-listener": ["line:7", "http:80"]},
     "--target-listener", "'http:80': 'http' is not one of seed, line, frame"),
    ("listener port not a number", {"--target-listener": ["line:x"]}, "--target-listener",
     "'x' is not a whole number"),
    ("listener port of Arabic-Indic digits (int() reads 33)",
     {"--target-listener": ["line:\u0663\u0663"]}, "--target-listener",
     "'\u0663\u0663' is not a whole number"),
    ("a number of 5000 digits", {"--target-backlog": "9" * 5000}, "--target-backlog",
     "has too many digits"),
    ("backlog beyond a C int", {"--target-backlog": "2147483648"}, "--target-backlog",
     "2147483648 is out of range: must be from 0 to 2147483647"),
    ("overflow mode that does not exist",
     {"--target-max-connections": "2", "--target-overflow": "queue"}, "--target-overflow",
     "'queue' is not one of pause, reject"),
    ("a promise without its value", {"--target-overflow": "pause"}, "--target-max-connections",
     "missing: the max_connections promise needs it"),
    ("two ways to get it", {"--target-address": "h:1"}, "--target-address",
     "give only one of --target-image, --target-build-context, --target-address"),
    ("no way to get it", {"--target-image": None}, "--target-image",
     "say how to get the target"),
    ("build context that is missing",
     {"--target-image": None, "--target-build-context": "/nowhere"}, "--target-build-context",
     "/nowhere: no such directory"),
    ("not NAME=VALUE", {"--target-env": ["FOO"]}, "--target-env", "'FOO' is not NAME=VALUE"),
    ("unbalanced quote", {"--target-command": 'run "now'}, "--target-command", "No closing"),
    ("bad escape", {"--target-greeting": "hi\\q"}, "--target-greeting", "\\q is not an escape"),
    ("environment of a running service",
     {"--target-image": None, "--target-address": "h:7", "--target-env": ["A=1"]}, "--target-env",
     "'A=1': does not apply with --target-address: nothing is started"),
    ("signal name", {"--target-stop-signal": "TERM"}, "--target-stop-signal", "write 'SIGTERM'"),
    ("unknown option", {"--target-bogus": "1"}, "--target-bogus", "not a target option"),
    ("negative drain timeout", {"--target-drain-timeout": "-1"}, "--target-drain-timeout",
     "-1.0 is out of range"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("values", "flag", "words"), [case[1:] for case in BAD], ids=[case[0] for case in BAD]
)
def test_a_bad_option_is_named(values: OptionValues, flag: str, words: str) -> None:
    with pytest.raises(ProfileError) as raised:
        from_options({**MINIMAL, **values})
    error = raised.value
    assert (error.path, error.line, error.key) == (None, None, flag)
    assert words in error.message
    assert str(error) == f"{flag}: {error.message}"


def test_escapes_are_those_of_a_toml_basic_string() -> None:
    assert unescape(r"a\n\r\t\\\"\u00e9\U0001F600") == 'a\n\r\t\\"é\U0001f600'
    assert unescape("测试成功!\\n") == "测试成功!\n"
    assert unescape("no escapes") == "no escapes"
