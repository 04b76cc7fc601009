"""The promise map (tests/promises.py): every documented promise is checked, and the map is current.

The suite is collected once (pytest's collection in a child process; nothing runs) and
each test reads what it needs from that: a promise with no test in a tier it names, a
`covers` marker naming no promise, or a docs/promises.md that is not what the generator
writes now fails here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import promises
from tests.promises import Promise


@pytest.fixture(scope="module")
def covers() -> dict[str, list[str]]:
    return promises.collect_covers()


@pytest.fixture(scope="module")
def documented() -> list[Promise]:
    return promises.documented_promises()


def test_promise_ids_are_unique(documented: list[Promise]) -> None:
    seen: dict[str, str] = {}
    twice = [
        f"{p.id} ({seen[p.id]} and {p.where})"
        for p in documented
        if seen.setdefault(p.id, p.where) != p.where
    ]
    assert not twice, f"promise ids used twice: {twice}"


def test_every_promise_has_a_test_in_each_tier_it_names(
    documented: list[Promise], covers: dict[str, list[str]]
) -> None:
    table = promises.coverage(documented, covers)
    missing = []
    for promise in documented:
        found = table[promise.id]
        for tier in promise.tiers or ("any",):
            tests = found.fast + found.container if tier == "any" else found.of(tier)
            if not tests:
                where = "any tier" if tier == "any" else f"the {tier} tier"
                missing.append(f"{promise.id} ({promise.where}): no test in {where}")
    assert not missing, "promises no test covers (@pytest.mark.covers):\n" + "\n".join(missing)


def test_every_marker_names_a_documented_promise(
    documented: list[Promise], covers: dict[str, list[str]]
) -> None:
    known = {p.id for p in documented}
    unknown = sorted(
        f"{test}: {pid}" for test, ids in covers.items() for pid in ids if pid not in known
    )
    assert not unknown, (
        "covers markers naming no promise in README.md or docs/protocol.md:\n" + "\n".join(unknown)
    )


def test_docs_promises_md_is_what_the_generator_writes(
    documented: list[Promise], covers: dict[str, list[str]]
) -> None:
    expected = promises.render(documented, covers)
    assert promises.MAP.read_text(encoding="utf-8") == expected, (
        "docs/promises.md is out of date: run python -m tests.promises"
    )


def test_a_promise_comment_that_does_not_parse_is_an_error(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text("It answers. <!-- promise: Bad ID -->\n", encoding="utf-8")
    with pytest.raises(ValueError, match="does not parse"):
        promises.promises_in(doc, "doc.md")


def test_a_promise_names_its_sentence_or_row(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text(
        "# Top\n\nIntro.\n\n## Part\n\nIt reads once. <!-- promise: a/one --> It closes\n"
        "after. <!-- promise: a/two -->\n\n"
        "| `x\\|y` | 1 | <!-- promise: a/row tiers=fast,container --> |\n",
        encoding="utf-8",
    )
    found = promises.promises_in(doc, "doc.md")
    assert [(p.id, p.where, p.text, p.tiers) for p in found] == [
        ("a/one", "doc.md § Part", "It reads once.", ()),
        ("a/two", "doc.md § Part", "It closes after.", ()),
        ("a/row", "doc.md § Part", "`x|y` — 1", ("fast", "container")),
    ]
