"""Listener and target URLs."""

from __future__ import annotations

import pytest

from protocol import Endpoint, Framing, parse_endpoint


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("seed://0.0.0.0:9000", Endpoint(Framing.SEED, "0.0.0.0", 9000)),
        ("line://server:9001", Endpoint(Framing.LINE, "server", 9001)),
        ("frame://127.0.0.1:0", Endpoint(Framing.FRAME, "127.0.0.1", 0)),
        ("line://[::1]:9001", Endpoint(Framing.LINE, "::1", 9001)),
    ],
)
def test_valid_urls_parse(url: str, expected: Endpoint) -> None:
    assert parse_endpoint(url) == expected
    assert str(expected) == url


@pytest.mark.parametrize(
    "url",
    ["http://h:1", "line://h", "line://:80", "line://h:99999", "line://h:1/x", "h:1", "line://h:x"],
)
def test_invalid_urls_are_refused_plainly(url: str) -> None:
    with pytest.raises(ValueError, match=r"line://|scheme|port|HOST"):
        parse_endpoint(url)
