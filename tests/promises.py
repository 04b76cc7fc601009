"""The promise map: each promise of README.md and docs/protocol.md, and the tests that check it.

A promise is a sentence or a table row of those documents followed by an HTML comment
(invisible when rendered) that names it:

    The server reads **once** (at most 8192 bytes) ... <!-- promise: seed/one-read-8192 -->
    | `--backlog B` | ... | <!-- promise: server/backlog tiers=fast,container --> |

`tiers=fast,container` says the promise is checked in both tiers, so each tier needs a
test of its own; without it one test in either tier will do. A test names what it
checks with `@pytest.mark.covers("seed/one-read-8192", ...)`. A test is in the
container tier when it is under tests/containers/ or is a check of the conformance
suite (socket_harness/conformance/, which tests/containers/test_conformance.py runs
against the project's server: collected here with targets/socket-harness.toml), in the
fast tier otherwise.

`python -m tests.promises` collects the suite (pytest's own collection: nothing runs,
no Docker needed) and writes docs/promises.md; `--check` only says whether that file
is up to date. tests/unit/test_promises.py fails when a promise has no test (in a tier
it names), a marker names no promise, or docs/promises.md is not what this writes.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = ("README.md", "docs/protocol.md")
MAP = ROOT / "docs" / "promises.md"
CONFORMANCE = ROOT / "socket_harness" / "conformance"
OWN_PROFILE = ROOT / "targets" / "socket-harness.toml"
CONTAINER_TIER = ("tests/containers/", "socket_harness/conformance/")
MARKER = "covers"
TIERS = ("fast", "container")
# `<!-- promise: ID -->` or `<!-- promise: ID tiers=fast,container -->`
PROMISE = re.compile(
    r"<!--\s*promise:\s*(?P<id>[a-z0-9][a-z0-9/_.-]*)(?:\s+tiers=(?P<tiers>[a-z,]+))?\s*-->"
)
ANY_COMMENT = re.compile(r"<!--.*?-->")
INLINE_CODE = re.compile(r"`[^`]*`")
CELL_SEPARATOR = re.compile(r"(?<!\\)\|")
MAX_TEXT = 220


@dataclass(frozen=True)
class Promise:
    """One documented promise: its id, where it is (`file § section`), what it says.

    The section, not a line number: the map must not change with every edit above it.

    `tiers` is the tiers that must each have a test: () for "at least one, any tier".
    """

    id: str
    where: str
    text: str
    tiers: tuple[str, ...] = ()


@dataclass
class Coverage:
    """The tests (pytest node ids without parameters) that name one promise, per tier."""

    fast: list[str] = field(default_factory=list)
    container: list[str] = field(default_factory=list)

    def of(self, tier: str) -> list[str]:
        """The tests of `tier` ("fast" or "container")."""
        return self.fast if tier == "fast" else self.container


def _plain(markdown: str) -> str:
    """Markdown text as one line: comments and emphasis marks gone, spaces collapsed."""
    text = ANY_COMMENT.sub("", markdown).replace("**", "")
    return " ".join(text.split())


def _shorten(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1].rstrip() + "…"


def _row_text(line: str, before: int) -> str:
    """A table row's cells (up to the comment) joined as one line of text."""
    cells = [_plain(cell) for cell in CELL_SEPARATOR.split(line[:before].strip().strip("|"))]
    return " — ".join(cell.replace("\\|", "|") for cell in cells if cell)


def promises_in(path: Path, name: str) -> list[Promise]:
    """Every promise of one Markdown file, in order; `name` is how `where` names the file.

    Raises ValueError for a comment that looks like a promise but does not parse, or an
    unknown tier.
    """
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Promise] = []
    section = ""
    index = 0
    while index < len(lines):
        line = lines[index]
        if not line.strip():
            index += 1
            continue
        if line.lstrip().startswith("```"):  # a code block: no promise, no heading
            index += 1
            while index < len(lines) and not lines[index].lstrip().startswith("```"):
                index += 1
            index += 1
            continue
        if line.startswith("#"):
            section = line.lstrip("#").strip().replace("`", "")
            index += 1
            continue
        if line.lstrip().startswith("|"):  # a table row is a block of its own
            block, first = [line], index
            index += 1
        else:  # a paragraph or a list item, up to a blank line or a table
            first = index
            block = []
            while index < len(lines) and lines[index].strip():
                if block and lines[index].lstrip().startswith(("|", "- ", "#")):
                    break
                block.append(lines[index])
                index += 1
        text = "\n".join(block)
        # inline code may show a promise comment as an example: blanked for the search
        searched = INLINE_CODE.sub(lambda code: " " * len(code[0]), text)
        start = 0
        for match in PROMISE.finditer(searched):
            tiers = tuple(match["tiers"].split(",")) if match["tiers"] else ()
            if any(tier not in TIERS for tier in tiers):
                raise ValueError(f"{name}: promise {match['id']}: unknown tier in {tiers}")
            if block[0].lstrip().startswith("|"):
                said = _row_text(block[0], match.start())
            else:
                # the text since the block's start or the previous promise in it
                said = _plain(text[start : match.start()]).removeprefix("- ")
            found.append(Promise(match["id"], f"{name} § {section}", _shorten(said), tiers))
            start = match.end()
        if "promise:" in ANY_COMMENT.sub(
            lambda m: "" if PROMISE.fullmatch(m[0]) else m[0], searched
        ):
            raise ValueError(f"{name}:{first + 1}: a promise comment that does not parse")
    return found


def documented_promises(root: Path = ROOT) -> list[Promise]:
    """The promises of README.md and docs/protocol.md, in document order."""
    return [p for doc in DOCUMENTS for p in promises_in(root / doc, doc)]


class _Collector:
    """A pytest plugin: records each collected test's `covers` ids, then deselects all.

    Deselecting before the suite's own hooks run keeps collection free of Docker
    (tests/conftest.py checks the engine only when container tests are selected).
    """

    def __init__(self) -> None:
        self.covers: dict[str, set[str]] = {}

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        for item in items:
            ids = {str(arg) for mark in item.iter_markers(MARKER) for arg in mark.args}
            if ids:
                test = item.nodeid.split("[", 1)[0]
                self.covers.setdefault(test, set()).update(ids)
        config.hook.pytest_deselected(items=list(items))
        items.clear()


def collect_covers(root: Path = ROOT) -> dict[str, list[str]]:
    """{test node id (no parameters): sorted promise ids} for the whole suite.

    Runs pytest's collection in a child process (a clean interpreter, so it can be
    called from inside a test run); raises RuntimeError when collection fails.
    """
    proc = subprocess.run(
        [sys.executable, "-m", "tests.promises", "--collect"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"collecting the suite failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}"
        )
    covers: dict[str, list[str]] = json.loads(proc.stdout.splitlines()[-1])
    return covers


def _collect_here() -> dict[str, list[str]]:
    collector = _Collector()
    code = pytest.main(
        [
            *("--collect-only", "-q", "-p", "no:cacheprovider"),
            *(str(ROOT / "tests"), str(CONFORMANCE), "--target", str(OWN_PROFILE)),
        ],
        plugins=[collector],
    )
    # 5: no tests selected (all deselected above), what a good collection ends with
    if code not in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        raise SystemExit(f"promises: pytest collection failed ({code})")
    return {test: sorted(ids) for test, ids in sorted(collector.covers.items())}


def tier_of(test: str) -> str:
    """ "container" for a test under tests/containers/ or a conformance check, else "fast"."""
    return "container" if test.startswith(CONTAINER_TIER) else "fast"


def coverage(promises: Iterable[Promise], covers: dict[str, list[str]]) -> dict[str, Coverage]:
    """{promise id: the tests that name it, per tier}; ids no promise has are left out."""
    result = {promise.id: Coverage() for promise in promises}
    for test, ids in sorted(covers.items()):
        for promise_id in ids:
            if promise_id in result:
                result[promise_id].of(tier_of(test)).append(test)
    return result


def _cell(tests: list[str]) -> str:
    return "<br>".join(f"`{test.removeprefix('tests/')}`" for test in tests) or "—"


def render(promises: list[Promise], covers: dict[str, list[str]]) -> str:
    """docs/promises.md's text for these promises and the tests' `covers` markers."""
    table = coverage(promises, covers)
    out = [
        "# Promise map",
        "",
        "Generated by `python -m tests.promises` from the `<!-- promise: ID -->` comments in",
        "README.md and docs/protocol.md and the tests' `@pytest.mark.covers(ID)` markers; do",
        "not edit. `tests/unit/test_promises.py` fails when a promise has no test (in each tier",
        "its `tiers=` names), when a marker names no promise, and when this file is not what",
        "the generator writes. Test paths are under `tests/`, except the conformance suite's",
        "checks (`socket_harness/conformance/`, container tier: run against the project's",
        "server by `tests/containers/test_conformance.py`).",
        "",
        f"{len(promises)} promises; {sum(1 for c in table.values() if c.fast)} checked in the fast "
        f"tier, {sum(1 for c in table.values() if c.container)} in the container tier.",
        "",
        "| promise | where | what it says | fast tier | container tier |",
        "|---|---|---|---|---|",
    ]
    for promise in promises:
        both = " (both tiers)" if promise.tiers == TIERS else ""
        said = promise.text.replace("|", "\\|")
        c = table[promise.id]
        out.append(
            f"| `{promise.id}`{both} | {promise.where} | {said} | {_cell(c.fast)} | "
            f"{_cell(c.container)} |"
        )
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write docs/promises.md (or, with --check, exit 1 if it is out of date)."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.promises", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--check", action="store_true", help="only check docs/promises.md")
    parser.add_argument("--collect", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.collect:
        print(json.dumps(_collect_here()))
        return 0
    text = render(documented_promises(), collect_covers())
    if args.check:
        if MAP.read_text(encoding="utf-8") != text:
            print("docs/promises.md is out of date: run python -m tests.promises", file=sys.stderr)
            return 1
        return 0
    MAP.write_text(text, encoding="utf-8")
    print(f"wrote {MAP.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
