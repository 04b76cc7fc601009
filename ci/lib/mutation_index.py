"""Which tests run which line of protocol/ and server/: `make mutation`'s coverage index.

Built once per run of ci/mutation.sh from the baseline (every mapped test, unmutated,
under coverage with a context per test: ci/lib/mutation_contexts.py), and read by
ci/lib/mutation_tests.py for each mutant: only the tests that ran the mutated statement
run against it. A mutant whose statement no test ran survives without a run.

The index is JSON: `{"files": {"server/app.py": {"12": [NODE_ID, ...] , ...}}, "nodes":
[every collected NODE_ID], "shared": [[NODE_ID, ...], ...], "unseen": [NODE_ID, ...]}`;
a line run outside any test (at import in the pytest process, in a fixture wider than a
test) lists "". "unseen" are the tests under which nothing was measured at all (a server
run with `python -S` never loads coverage's start-up hook): what they run is unknown, so
every mutant runs them.
"""

from __future__ import annotations

import ast
import difflib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import TypedDict

from coverage import CoverageData

OUTSIDE = ""  # the context of lines run outside any test
PHASES = (" (setup)", " (call)", " (teardown)")  # PYTEST_CURRENT_TEST's suffixes


class Index(TypedDict):
    """The index's JSON: lines by repo-relative file, node IDs, groups sharing a fixture."""

    files: dict[str, dict[str, list[str]]]
    nodes: list[str]
    shared: list[list[str]]
    unseen: list[str]


def rcfile(data_file: Path, sources: Iterable[Path]) -> str:
    """The coverage rcfile text: parallel data under `data_file`, contexts per test.

    A server subprocess reads it through COVERAGE_PROCESS_START at start-up and takes
    the PYTEST_CURRENT_TEST it inherits (node ID and phase) as its context.
    """
    source = ", ".join(str(path) for path in sources)
    return (
        "[run]\n"
        f"data_file = {data_file}\n"
        "parallel = true\n"
        f"source = {source}\n"
        "context = ${PYTEST_CURRENT_TEST-}\n"
    )


def node_of(context: str) -> str:
    """A context as a node ID: PYTEST_CURRENT_TEST's phase suffix removed."""
    for phase in PHASES:
        if context.endswith(phase):
            return context[: -len(phase)]
    return context


def build(data_file: Path, tree: Path, groups_file: Path) -> Index:
    """The index from combined coverage data (`data_file`) measured in `tree`.

    File names become relative to `tree`; files outside it are left out. Raises
    OSError/ValueError when the groups file (mutation_contexts.py) is missing or bad.
    """
    data = CoverageData(basename=str(data_file))
    data.read()
    files: dict[str, dict[str, list[str]]] = {}
    for measured in data.measured_files():
        path = Path(measured)
        if not path.is_relative_to(tree):
            continue
        lines = data.contexts_by_lineno(measured)
        files[path.relative_to(tree).as_posix()] = {
            str(line): sorted({node_of(context) for context in contexts})
            for line, contexts in lines.items()
        }
    groups = json.loads(groups_file.read_text())
    seen = {node for lines in files.values() for nodes in lines.values() for node in nodes}
    seen |= {node for group in groups["shared"] if seen & set(group) for node in group}
    unseen = [node for node in groups["nodes"] if node not in seen]
    return Index(files=files, nodes=groups["nodes"], shared=groups["shared"], unseen=unseen)


def changed_lines(original: str, mutated: str) -> set[int]:
    """Line numbers (1-based, of `original`) that a mutant replaced or removed."""
    before, after = original.splitlines(), mutated.splitlines()
    changed: set[int] = set()
    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    for tag, i1, i2, _, _ in matcher.get_opcodes():
        if tag == "equal":
            continue
        # An insertion touches the lines around it; a replacement or deletion its own.
        changed.update(range(i1 + 1, i2 + 1) if i2 > i1 else (i1, i1 + 1))
    return changed


def statement_lines(source: str, line: int) -> set[int]:
    """The lines of the innermost statement holding `line`: coverage marks some, not all.

    A compound statement (def, if, while, with, ...) counts its header only (up to its
    first body line), decorators included; a simple one all its lines.
    """
    best: ast.stmt | None = None
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.stmt) or node.end_lineno is None:
            continue
        first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
        if first <= line <= node.end_lineno and (best is None or node.lineno >= best.lineno):
            best = node
    if best is None:
        return {line}
    first = min([best.lineno, *(d.lineno for d in getattr(best, "decorator_list", []))])
    last = best.end_lineno or line
    body = getattr(best, "body", None)
    if isinstance(body, list) and body and body[0].lineno > line:
        last = body[0].lineno - 1  # the header of a compound statement
    return set(range(first, last + 1)) | {line}


def tests_for(index: Index, name: str, lines: set[int]) -> set[str] | None:
    """Node IDs that ran any of `lines` of `name`, and the unseen; None when a line ran
    outside a test.

    None means "cannot narrow": the caller runs every mapped test. An empty set means
    no test ran those lines (and every test was seen to run something).
    """
    by_line = index["files"].get(name, {})
    contexts = {context for line in lines for context in by_line.get(str(line), [])}
    if OUTSIDE in contexts:
        return None
    chosen = contexts & set(index["nodes"]) | set(index.get("unseen", []))
    for group in index["shared"]:
        if chosen & set(group):
            chosen |= set(group)
    return chosen
