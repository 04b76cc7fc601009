"""Listener and target URLs."""

from __future__ import annotations

import re

import pytest

from socket_harness.protocol import Endpoint, Framing, parse_endpoint


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("seed://0.0.0.0:9000", Endpoint(Framing.SEED, "0.0.0.0", 9000)),
        ("line://server:9001", Endpoint(Framing.LINE, "server", 9001)),
        ("frame://127.0.0.1:0", Endpoint(Framing.FRAME, "127.0.0.1", 0)),
        ("line://[::1]:9001", Endpoint(Framing.LINE, "::1", 9001)),
        # The largest TCP port: "a number from 0 to 65535" includes its bound.
        ("frame://127.0.0.1:65535", Endpoint(Framing.FRAME, "127.0.0.1", 65535)),
    ],
)
def test_valid_urls_parse(url: str, expected: Endpoint) -> None:
    assert parse_endpoint(url) == expected
    assert str(expected) == url


@pytest.mark.parametrize(
    "url",
    [
        *("http://h:1", "line://h", "line://:80", "line://h:99999", "line://h:1/x", "h:1"),
        # a query, a fragment, user info: each alone is "more" than HOST:PORT
        *("line://h:x", "line://h:1?x", "line://h:1#x", "line://u@h:1"),
    ],
)
def test_invalid_urls_are_refused_plainly(url: str) -> None:
    with pytest.raises(ValueError, match=r"line://|scheme|port|HOST"):
        parse_endpoint(url)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("line://h:x", "'line://h:x': the port must be a number from 0 to 65535, not 'x'"),
        (
            "line://h:65536",
            "'line://h:65536': the port must be a number from 0 to 65535, not '65536'",
        ),
        ("line://h:+1", "'line://h:+1': the port must be a number from 0 to 65535, not '+1'"),
        (
            "line://h:\u0661",
            "'line://h:\u0661': the port must be a number from 0 to 65535, not '\u0661'",
        ),
        ("line://[::1:9", "'line://[::1:9': an IPv6 host is written in brackets, [::1]"),
        ("line://u@h:1", "'line://u@h:1': expected line://HOST:PORT and nothing more"),
        ("line://h\udcff:1", "'line://h\\udcff:1': control characters or bytes that are not UTF-8"),
        ("line://h\n:1", "'line://h\\n:1': control characters or bytes that are not UTF-8"),
    ],
)
def test_url_errors_are_in_the_projects_words(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        parse_endpoint(url)
