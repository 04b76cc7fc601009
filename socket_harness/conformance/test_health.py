"""health/*: the health address answers and closes."""

from __future__ import annotations

import pytest

from ..plugin import TargetPeer
from ..profile import Health, Listener
from ..wire import WirePeer


@pytest.mark.check("health/answers")
@pytest.mark.promise("health")
def test_the_health_address_answers_with_its_prefix(
    target_peer: TargetPeer, target_promise: Health
) -> None:
    address = target_promise.address
    host = address.host
    if host in ("0.0.0.0", "::", ""):  # a wildcard: the target's own address
        host, _ = target_peer.service.address(target_peer.target.listeners[0])
    assert isinstance(target_peer.target.listeners[0], Listener)
    with WirePeer(f"{target_peer.target.name} health", host, address.port) as conn:
        got = conn.read_until_close("the health reply")
    prefix = target_promise.reply_prefix
    assert got.startswith(prefix), f"health replied {got!r}, not starting {prefix!r}"
