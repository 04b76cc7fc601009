"""What bytes that fit no reply most likely are: the opening of a listener of another framing.

A client pointed at the wrong port (`frame://` at a line listener) fails on the
first bytes the server sends: its greeting, or `ERR <reason>` instead of it
(docs/protocol.md, "Greeting" and "Errors"). Naming the listener those bytes
belong to says what to fix; the byte count a wrong length prefix makes does not.
"""

from __future__ import annotations

from ..protocol import ErrorReason, Framing
from .wire import DEFAULT_WIRE, Wire

# Fewer bytes than this match too much by chance (a frame header is 4).
_MIN_MATCH = 4


def _framings(names: list[Framing]) -> str:
    return " or ".join(f"{framing.value}://" for framing in names)


def _openings(framing: Framing, wire: Wire) -> list[tuple[bytes, str]]:
    """(bytes, what they are) a listener of another framing sends first; ours left out."""
    found: dict[bytes, list[Framing]] = {}
    names: dict[bytes, str] = {}
    for other in Framing:
        candidates: list[tuple[bytes, bytes, str]] = []
        if wire.greeting is not None:
            greetings = (wire.greeting_bytes(other), wire.greeting_bytes(framing))
            candidates.append((*greetings, "the greeting"))
        candidates += [
            (
                wire.error_bytes(other, reason),
                wire.error_bytes(framing, reason),
                (wire.error_prefix + reason.value.encode()).decode("utf-8", "backslashreplace"),
            )
            for reason in ErrorReason
        ]
        for data, our_data, what in candidates:
            if data == our_data:
                continue  # the same bytes on our framing: no sign of a mismatch
            found.setdefault(data, []).append(other)
            names[data] = what
    return [
        (data, f"{names[data]} of a {_framings(others)} listener") for data, others in found.items()
    ]


def first_bytes_hint(framing: Framing, first: bytes, wire: Wire = DEFAULT_WIRE) -> str | None:
    """Which other listener a connection's first bytes most likely came from, or None.

    `first` is what the connection received first (the start of it is enough), from a
    target speaking `wire`,
    e.g. for frame:// and b"\\xe6\\xb5\\x8b\\xe8...": "they look like the greeting of
    a seed:// or line:// listener, not a frame:// one".
    """
    if len(first) < _MIN_MATCH:
        return None
    for data, what in _openings(framing, wire):
        if first.startswith(data) or data.startswith(first):
            return f"the first bytes look like {what}, not a {framing.value}:// one"
    return None


def empty_line_hint(framing: Framing, wire: Wire) -> str | None:
    """Why a line:// client got an empty line after an answer: a seed:// listener's answer.

    A seed server answers what it read plus `\\n` and closes; what a line
    client sent ends with `\\n`, so the answer ends with an empty line. A line
    server never sends one (an empty message's ack is the ack prefix), unless its ack
    prefix is empty: a line echo answers an empty line with one.
    """
    if framing is not Framing.LINE or not wire.ack_prefix:
        return None
    return (
        "an empty line after an answer, as a seed:// listener sends "
        "(it answers once, what it read plus a newline, and closes), not a line:// one"
    )


def seed_stall_hint(received: bytes, wire: Wire) -> str | None:
    """Why a seed:// client still waits for the close after the greeting.

    `received` is what came after the greeting. A seed server answers at once
    and closes; a line:// listener greets the same way but answers each line
    and keeps the connection open, and before a newline answers nothing.
    """
    if received.startswith(wire.ack_prefix) and received.endswith(b"\n"):
        return (
            "an answer came but the server kept the connection open, as a line:// listener "
            "does (a seed:// server closes after its answer)"
        )
    if not received:
        return (
            "nothing came after the greeting; a line:// listener, which greets the same way, "
            "waits for a newline before it answers"
        )
    return None  # part of an answer: a slow seed server, most likely
