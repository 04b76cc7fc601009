"""The oracle itself: the golden table is well formed and complete, and the reference
model, written from the prose of docs/protocol.md, predicts every golden row.

Two writings of one specification (the hand-written hex of the table, the
model's functions) checked against each other; the server is checked against
both elsewhere (tests/fast/server/test_golden.py, tests/containers/test_golden.py).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.oracle import model
from tests.oracle.golden import (
    GoldenExchange,
    GoldenTableError,
    golden_exchanges,
    parse_bytes,
    parse_options,
    parse_table,
    parse_writes,
)

ROWS = golden_exchanges()
ORACLE = Path(model.__file__).resolve().parent
# README, the options table: the server's defaults.
DEFAULT_MAX_MESSAGE_BYTES = 2097152
UNDER_TEST = ("protocol", "server", "client")


def predict(row: GoldenExchange) -> bytes:
    """What the model says a server sends on the row's connection, up to its close."""
    framing = row.listener
    limit = int(row.option("max-message-bytes") or DEFAULT_MAX_MESSAGE_BYTES)
    if row.how == "busy":
        return model.error(framing, "busy")
    greeting = model.greeting(framing)
    if row.how in ("SIGTERM", "SIGINT"):
        return greeting + model.error(framing, "shutting-down")
    reading = model.read(framing, row.sent, limit)
    answers = model.answers(framing, row.sent, limit)
    if (
        row.how == "write"
        and not reading.too_large
        and not reading.messages
        and row.option("idle-timeout")
    ):
        return greeting + model.error(framing, "idle-timeout")
    return greeting + answers


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_the_model_predicts_each_golden_exchange(row: GoldenExchange) -> None:
    assert predict(row) == row.sends


def test_the_oracle_imports_nothing_under_test() -> None:
    for path in sorted(ORACLE.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert name.split(".")[0] not in UNDER_TEST, f"{path.name} imports {name}"


def rows_where(**fields: object) -> list[GoldenExchange]:
    return [row for row in ROWS if all(getattr(row, k) == v for k, v in fields.items())]


@pytest.mark.parametrize("framing", model.FRAMINGS)
def test_the_table_covers_each_framing_at_its_edges(framing: str) -> None:
    rows = rows_where(listener=framing)
    sent = [row.sent for row in rows]
    # Every special byte, at the end of a message (seed: the whole payload).
    for special in (b"\r", b"\0", b"\xff"):
        assert any(special in data for data in sent), f"{framing}: no row sends {special!r}"
    assert any(b"\xe6\xb5" in data and b"\xe6\xb5\x8b" not in data for data in sent), (
        f"{framing}: no row cuts a UTF-8 character across two messages"
    )
    assert any(not row.writes for row in rows), f"{framing}: no row without a message"
    sizes = {len(body) for row in rows for body in model.read(framing, row.sent, 1 << 30).messages}
    assert {1} <= sizes, f"{framing}: no one-byte message"
    if framing != "seed":  # seed cannot send an empty message: there is no boundary
        assert 0 in sizes, f"{framing}: no empty message"
    for reason in model.REASONS:
        error = model.error(framing, reason)
        assert any(row.sends.endswith(error) for row in rows), f"{framing}: no ERR {reason} row"


@pytest.mark.parametrize("framing", model.FRAMINGS)
def test_the_table_has_each_limit_at_its_bound_and_one_over(framing: str) -> None:
    bounds: dict[int, set[bool]] = {}
    for row in rows_where(listener=framing):
        option = row.option("max-message-bytes")
        if option is None:
            continue
        limit = int(option)
        reading = model.read(framing, row.sent, 1 << 30)  # the sizes, with no limit
        too_large = model.read(framing, row.sent, limit).too_large
        if limit in {len(body) for body in reading.messages} and not too_large:
            bounds.setdefault(limit, set()).add(True)
        if too_large:
            bounds.setdefault(limit, set()).add(False)
    assert bounds, f"{framing}: no row states a limit"
    for limit, outcomes in bounds.items():
        # A seed read is at most 8192 bytes: a limit of 8192 or more cannot be broken.
        sides = {True} if framing == "seed" and limit >= model.SEED_READ_SIZE else {True, False}
        assert outcomes == sides, f"{framing}, limit {limit}: not both sides of it"


def test_seed_rows_pin_the_one_read_of_8192_bytes() -> None:
    queued = {len(row.sent) for row in rows_where(listener="seed", how="queued")}
    assert {8191, 8192, 8193} <= queued
    assert any(size > 2 * 8192 for size in queued), "no seed row far over one read"


def test_bytes_cells_parse_as_documented() -> None:
    assert parse_bytes("`e6b5 8b 78*3`") == b"\xe6\xb5\x8bxxx"
    assert parse_bytes("-") == b""
    assert parse_writes("`61 0d / 0a`") == (b"a\r", b"\n")
    assert parse_writes("-") == ()
    assert parse_options("`--max-connections 1 --overflow reject`") == (
        ("max-connections", "1"),
        ("overflow", "reject"),
    )


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("no table at all", "no <!-- golden"),
        ("| a | b |", "no <!-- golden"),
    ],
)
def test_a_missing_table_is_an_error(text: str, problem: str) -> None:
    with pytest.raises(GoldenTableError, match=problem):
        parse_table(text)


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        ("| `x` | seed | - | write | `0g` | `00` | |", "not hex"),
        ("| `x` | seed | - | write | `0` | `00` | |", "not hex"),
        ("| `x` | tcp | - | write | `00` | `00` | |", "unknown listener"),
        ("| `x` | seed | - | shout | `00` | `00` | |", "unknown how"),
        ("| `x` | seed | `--idle-timeout` | write | `00` | `00` | |", "pairs"),
        ("| `x` | seed | - | write | `00` | `00` |", "columns"),
        ("| `x` | seed | - | write | `00 / ` | `00` | |", "empty write"),
    ],
)
def test_a_malformed_row_is_an_error(row: str, problem: str) -> None:
    table = "<!-- golden-exchanges: begin -->\n| h |\n|---|\n" + row
    with pytest.raises(GoldenTableError, match=problem):
        parse_table(table + "\n<!-- golden-exchanges: end -->")
