"""Where CLI messages come from, and how sends are cut into pieces."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from socket_harness.client.base import split_chunks
from socket_harness.client.messages import gather, split_for, unescape
from socket_harness.protocol import Framing


@pytest.mark.parametrize(
    ("argument", "expected"),
    [
        (r"Ho\r\nfirst blood\r\n", b"Ho\r\nfirst blood\r\n"),
        ("测试 é", "测试 é".encode()),
        (r"收到\t的", "收到\t的".encode()),
        (r"\x00\xff\x41", b"\x00\xffA"),
        (r"\u6d4b", "测".encode()),
        (r"\\n", b"\\n"),
        (r"\\q", b"\\q"),
        (r"\a\b\f\v\0\'\"", b"\a\b\f\v\0'\""),
        ("", b""),
    ],
)
def test_unescape_resolves_escapes_and_keeps_utf8(argument: str, expected: bytes) -> None:
    assert unescape(argument) == expected


@pytest.mark.parametrize(
    ("argument", "shown"),
    [
        (r"\xZZ", r"invalid escape \xZZ;"),
        (r"\x4", r"invalid escape \x4;"),
        (r"\u6d4", r"invalid escape \u6d4;"),
        (r"\q stays", r"invalid escape \q;"),
        ("end \\", r"invalid escape \ at the end;"),
        ("\\\n", r"invalid escape \\n;"),  # a backslash, then a real newline: one line
        (r"\udc80", r"invalid escape \udc80: a surrogate is no character"),
    ],
)
def test_an_invalid_escape_is_refused_not_kept(argument: str, shown: str) -> None:
    with pytest.raises(ValueError, match=re.escape(shown)):
        unescape(argument)


def test_unescape_keeps_non_utf8_argument_bytes() -> None:
    argument = b"\xff\xfe".decode("utf-8", "surrogateescape")  # how Python passes argv bytes
    assert unescape(argument) == b"\xff\xfe"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"a\nb\n", [b"a", b"b"]),
        (b"a\nb", [b"a", b"b"]),
        (b"Ho\r\n", [b"Ho\r"]),
        (b"\n", [b""]),
        (b"", [b""]),
    ],
)
def test_each_newline_ends_a_line_message(data: bytes, expected: list[bytes]) -> None:
    assert split_for(Framing.LINE, data) == expected


@pytest.mark.parametrize("framing", [Framing.SEED, Framing.FRAME])
def test_seed_and_frame_send_the_whole_text_as_one_message(framing: Framing) -> None:
    assert split_for(framing, b"a\nb\n") == [b"a\nb\n"]


def test_gather_reads_arguments_stdin_and_files_in_order(tmp_path: Path) -> None:
    path = tmp_path / "message.bin"
    path.write_bytes(b"from file\\n raw")
    stdin = io.BytesIO(b"from stdin\\r")
    got = gather(Framing.FRAME, [r"arg\r\n", "-"], [str(path)], stdin)
    assert got == [b"arg\r\n", b"from stdin\\r", b"from file\\n raw"]


@pytest.mark.parametrize(
    ("chunks", "pieces"),
    [
        (None, [b"abcdef"]),
        ([1, 2], [b"a", b"bc", b"def"]),
        ([4, 4], [b"abcd", b"ef"]),
        ([1, 1, 1, 1, 1, 1, 1], [b"a", b"b", b"c", b"d", b"e", b"f"]),
    ],
)
def test_split_chunks_cuts_and_keeps_the_rest(
    chunks: list[int] | None, pieces: list[bytes]
) -> None:
    assert split_chunks(b"abcdef", chunks) == pieces


def test_split_chunks_rejects_empty_pieces() -> None:
    with pytest.raises(ValueError, match="positive"):
        split_chunks(b"abc", [1, 0])
