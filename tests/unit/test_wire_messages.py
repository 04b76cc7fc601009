"""What a failing check says about bytes (socket_harness/wire.py): the first line, which the
check x target table shows, gives both sides as Python bytes literals and where they part;
the second keeps them in hex for the detailed section."""

from __future__ import annotations

import pytest

from socket_harness.wire import first_difference, show


@pytest.mark.covers("conformance/failure-line")
def test_two_error_replies_are_shown_as_text_then_in_hex() -> None:
    text = first_difference(b"ERR too-large\n", b"ERR idle-timeout\n")
    one, two = text.splitlines()
    assert one == (
        r"expected b'ERR too-large\n' (14 bytes), got b'ERR idle-timeout\n' (17 bytes); "
        "they differ from byte 4 on"
    )
    assert two == (
        "in hex, bytes 0 to 16: expected 45 52 52 20 74 6f 6f 2d 6c 61 72 67 65 0a | "
        "got 45 52 52 20 69 64 6c 65 2d 74 69 6d 65 6f 75 74 0a"
    )


def test_a_difference_deep_in_a_payload_shows_a_window_marked_as_cut() -> None:
    expected, got = b"a" * 4000 + b"X" + b"b" * 100, b"a" * 4000 + b"Y" + b"b" * 100
    one, two = first_difference(expected, got).splitlines()
    window = "a" * 16 + "{}" + "b" * 23
    assert one == (
        f"expected ...b'{window.format('X')}'... (4101 bytes), "
        f"got ...b'{window.format('Y')}'... (4101 bytes); they differ from byte 4000 on"
    )
    assert two.startswith("in hex, bytes 3984 to 4023: expected 61 61 "), two


def test_an_answer_cut_short_or_running_on_says_so() -> None:
    short = first_difference(b"hello\n", b"hello").splitlines()[0]
    assert short.endswith("got is the first 5 expected bytes, then the end"), short
    more = first_difference(b"hello\n", b"hello\nthere").splitlines()[0]
    assert more.endswith("got is all 6 expected bytes, then more"), more


def test_received_bytes_are_shown_as_text_with_their_count() -> None:
    assert show(b"") == "0 bytes"
    assert show(b"first\nsecond\n") == r"13 bytes: b'first\nsecond\n'"
    assert show(b"x" * 70) == "70 bytes: ...b'" + "x" * 64 + "'"
