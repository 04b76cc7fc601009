"""Run the fast tests mapped to the one file a mutant changed (`make mutation`, ci/mutation.sh).

Usage: python ci/lib/mutation_tests.py MAP ROOT [--index FILE] [--print | --baseline PATH]
       python ci/lib/mutation_tests.py MAP ROOT --check PATH...

Run from the scratch tree (build/mutation/tree) as cosmic-ray's test command. cosmic-ray
writes one mutant into one file of the tree and runs this; it finds that file by
comparing each file MAP names with ROOT's copy (the checkout the tree was copied from),
then runs pytest with `-x` over only the tests MAP gives that file, in MAP's order (the
cheapest, most pointed first: `-x` stops at the first failure). MUTATION_TESTS, when
set, replaces the mapped tests for every file. With --print it prints the file and the
command instead of running it (tests/fast/ci/test_mutation_map.py uses that). With
--baseline PATH (no mutant yet) it runs every test mapped to a file under PATH (a file or
folder), once each: they must pass unmutated. Bytecode caching is turned back on for
the tests (cosmic-ray turns it off; pytest starts in half the time with it), and the
mutated file's .pyc is removed before and after its run.

With --index FILE (ci/lib/mutation_index.py), --baseline runs under coverage with a
context per test and writes FILE; a mutant then runs only those of its file's mapped tests
that ran the mutated statement in the baseline, and survives without a run when none
did (one line on stdout says so: cosmic-ray keeps a test command's stdout, which the
report shows, and drops its stderr). A statement run outside any test (at import, in a
fixture wider than a test) cannot be narrowed: every mapped test runs.

MAP is ci/mutation-map.toml: `[tests]` with `"protocol/line.py" = ["tests/unit/...", ...]`.
With --check PATH... (before a run, from the checkout ROOT) it checks that every file
cosmic-ray will mutate under each PATH (*.py but __main__.py, the rule of
tests/fast/ci/test_mutation_map.py) has a row in MAP: a file without one would have every
mutant counted as killed (no tests to run). Exit 2 with one line naming what is wrong.

The baseline's pytest runs in a session of its own: at SIGTERM (ci/mutation.sh's time
limit) or SIGINT (Ctrl-C) the selector sends the signal to that whole session (pytest and
the servers it started) and waits for it.

Exit: pytest's own code; 2 with one line on stdout when no file or more than one differs
(cosmic-ray then counts the mutant as killed, so the line says why).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

import mutation_index


def load_map(path: Path) -> dict[str, list[str]]:
    """MAP's `[tests]` table: repo-relative file -> pytest arguments (test files or folders).

    Raises ValueError when the table is missing or a value is not a list of strings.
    """
    with path.open("rb") as handle:
        table = tomllib.load(handle).get("tests")
    if not isinstance(table, dict):
        raise ValueError(f"{path}: no [tests] table")
    for name, tests in table.items():
        if not isinstance(tests, list) or not all(isinstance(t, str) for t in tests) or not tests:
            raise ValueError(f"{path}: {name} must map to a non-empty list of test paths")
    return table


def changed_files(files: list[str], tree: Path, root: Path) -> list[str]:
    """Those of `files` (repo-relative) whose bytes differ between `tree` and `root`."""
    return [name for name in files if (tree / name).read_bytes() != (root / name).read_bytes()]


def forget_bytecode(path: Path) -> None:
    """Remove every cached bytecode of `path`: its __pycache__/STEM.*.pyc, Python's and pytest's.

    Bytecode is cached between mutants (pytest's start-up costs half as much with it), but a
    .pyc is trusted by the source's mtime in whole seconds and its size: one of a mutant
    could pass for the restored file's, so the mutated file's never outlives its run.
    """
    for pyc in (path.parent / "__pycache__").glob(f"{path.stem}.*.pyc"):
        pyc.unlink(missing_ok=True)


def run(command: list[str], extra_env: dict[str, str] | None = None) -> int:
    """Run `command` with bytecode caching on (cosmic-ray turns it off); its exit code."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return subprocess.call(command, env={**env, **(extra_env or {})})


def run_stoppable(command: list[str], extra_env: dict[str, str] | None = None) -> int:
    """As run(), with `command` in a session of its own that SIGTERM and SIGINT stop whole.

    Either is passed on as SIGINT to the session's process group (pytest then tears its
    fixtures down: the servers it started stop too); SIGKILL follows for what has not
    ended 20 s later. Returns its exit code, or
    128 + the signal's number when one stopped it.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    process = subprocess.Popen(command, env={**env, **(extra_env or {})}, start_new_session=True)
    stopped_by: list[int] = []

    def forward(signum: int, _frame: object) -> None:
        stopped_by.append(signum)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGINT)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        code = None
        while code is None:
            try:
                # Once stopped, SIGKILL for whatever of the session outlives 20 s.
                code = process.wait(timeout=20 if stopped_by else 1)
            except subprocess.TimeoutExpired:
                if stopped_by:
                    break
        if stopped_by:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if stopped_by:
        return 128 + stopped_by[0]
    assert code is not None
    return code


def check_map(table: dict[str, list[str]], root: Path, paths: list[str]) -> str | None:
    """The one line saying what is wrong with mutating `paths` (under `root`), or None.

    Each path must hold a file cosmic-ray mutates (*.py but __main__.py) and each such
    file must have a row of `table`.
    """
    for path in paths:
        where = root / path
        if where.is_file():
            files = [where] if where.suffix == ".py" and where.name != "__main__.py" else []
        else:
            files = sorted(f for f in where.rglob("*.py") if f.name != "__main__.py")
        if not files:
            return f"{path}: no Python file for cosmic-ray to mutate there"
        for file in files:
            name = file.relative_to(root).as_posix()
            if name not in table:
                return f"{name} has no row in ci/mutation-map.toml: its mutants would run no test"
    return None


def baseline_with_index(command: list[str], path: str, index_file: Path) -> int:
    """Run the baseline `command` under coverage, a context per test; write the index.

    Every process of the run measures itself (COVERAGE_PROCESS_START: the pytest process
    and each server it starts), into parallel data files that are combined afterwards.
    Returns pytest's exit code; the index is written only when it is 0.
    """
    tree = Path.cwd()
    here = Path(__file__).resolve().parent
    with tempfile.TemporaryDirectory(prefix="mutation-coverage-", dir=index_file.parent) as tmp:
        data_file = Path(tmp) / "data"
        config = Path(tmp) / "coveragerc"
        config.write_text(mutation_index.rcfile(data_file, [tree / path.split("/")[0]]))
        groups = Path(tmp) / "groups.json"
        pythonpath = os.pathsep.join(filter(None, [str(here), os.environ.get("PYTHONPATH")]))
        code = run_stoppable(
            [*command, "-p", "mutation_contexts"],
            # An outer pytest's PYTEST_CURRENT_TEST would be this run's static context.
            {"COVERAGE_PROCESS_START": str(config), "MUTATION_GROUPS": str(groups),
             "PYTHONPATH": pythonpath, "PYTEST_CURRENT_TEST": ""},
        )  # fmt: skip
        if code != 0:
            return code
        from coverage import Coverage  # the mutation venv has it; the selector alone not

        combined = Coverage(config_file=str(config))
        combined.combine()
        combined.save()
        index = mutation_index.build(data_file, tree, groups)
    index_file.write_text(json.dumps(index))
    return 0


def narrowed(
    tests: list[str], index: mutation_index.Index, name: str, lines: set[int]
) -> list[str] | None:
    """Those node IDs under `tests` (files or folders) that ran `lines` of `name`.

    In the order of `tests`, then of collection. None when the index cannot narrow (a
    line ran outside a test): the caller runs `tests` whole.
    """
    chosen = mutation_index.tests_for(index, name, lines)
    if chosen is None:
        return None
    roots = [test.rstrip("/") for test in tests]
    collected = {node: place for place, node in enumerate(index["nodes"])}
    ranked: list[tuple[int, int, str]] = []
    for node in chosen:
        path = node.split("::", 1)[0]
        places = [n for n, root in enumerate(roots) if path == root or path.startswith(root + "/")]
        if places:
            ranked.append((places[0], collected.get(node, 0), node))
    return [node for _, _, node in sorted(ranked)]


def command_for(tests: list[str]) -> list[str]:
    """The pytest command line (argv) for one mutant: `-x`, quiet, no container tests."""
    override = os.environ.get("MUTATION_TESTS")
    chosen = shlex.split(override) if override else tests
    return [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
            "-m", "not container", *chosen]  # fmt: skip


def baseline_tests(table: dict[str, list[str]], path: str) -> list[str]:
    """Every test mapped to a file at or under `path`, once each, first-seen order.

    Raises ValueError when no file of the map is there.
    """
    under = [name for name in table if name == path or name.startswith(path.rstrip("/") + "/")]
    if not under:
        raise ValueError(f"no file of the map is at or under {path}")
    return list(dict.fromkeys(test for name in under for test in table[name]))


def main(argv: list[str]) -> int:
    """Find the mutated file, then run (or with --print, print) its tests' command."""
    parser = argparse.ArgumentParser(description="The tests for the file a mutant changed.")
    parser.add_argument("map", type=Path, help="ci/mutation-map.toml")
    parser.add_argument("root", type=Path, help="the checkout the scratch tree was copied from")
    parser.add_argument("--index", type=Path, help="the coverage index (written by --baseline)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--print", action="store_true", help="print the file and the command")
    mode.add_argument("--baseline", metavar="PATH", help="run every test mapped under PATH")
    mode.add_argument("--check", metavar="PATH", nargs="+", help="every file has a row")
    args = parser.parse_args(argv)
    table = load_map(args.map)
    if args.check:
        problem = check_map(table, args.root, args.check)
        if problem is not None:
            print(f"mutation: error: {problem}", file=sys.stderr)
            return 2
        return 0
    if args.baseline:
        command = command_for(baseline_tests(table, args.baseline))
        if args.index is None:
            return run_stoppable(command)
        return baseline_with_index(command, args.baseline, args.index)
    changed = changed_files(sorted(table), Path.cwd(), args.root)
    if len(changed) != 1:
        what = ", ".join(changed) or "none"
        print(f"mutation_tests: one mutated file expected, found {what}")
        return 2
    name = changed[0]
    tests = table[name]
    if args.index is not None and not os.environ.get("MUTATION_TESTS"):
        original = (args.root / name).read_text()
        lines: set[int] = set()
        for line in mutation_index.changed_lines(original, (Path.cwd() / name).read_text()):
            lines |= mutation_index.statement_lines(original, line)
        index: mutation_index.Index = json.loads(args.index.read_text())
        nodes = narrowed(tests, index, name, lines)
        if nodes == []:
            where = ",".join(str(line) for line in sorted(lines))
            print(f"mutation_tests: no mapped test runs {name}:{where}: survived")
            return 0
        tests = tests if nodes is None else nodes
    command = command_for(tests)
    if args.print:
        print(name)
        print(shlex.join(command))
        return 0
    mutated = Path.cwd() / name
    forget_bytecode(mutated)
    try:
        return run(command)
    finally:
        forget_bytecode(mutated)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
