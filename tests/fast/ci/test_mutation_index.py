"""`make mutation`'s coverage index: a mutant runs only the tests that ran its statement.

ci/lib/mutation_tests.py --baseline --index runs the mapped tests under coverage with a
context per test (ci/lib/mutation_contexts.py), a server subprocess included; a mutant
then runs the tests that ran the statement it changed, or none (it survives). Checked on
a small real project in a temporary directory: a test that runs the code in a
subprocess, one that runs it in-process, and two that share a module-scoped subprocess.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SELECTOR = ROOT / "ci" / "lib" / "mutation_tests.py"
sys.path.insert(0, str(ROOT / "ci" / "lib"))
import mutation_index  # noqa: E402  (ci/lib is not a package: the scripts run as files)

TIMEOUT = 60.0  # s, the baseline run under coverage

THING = textwrap.dedent(
    """\
    def branch(n):
        if n == 1:
            return "one"
        if n == 2:
            return "two"
        if n == 3:
            return "three"
        return "never"
    """
)
TESTS = textwrap.dedent(
    """\
    import subprocess
    import sys

    import pytest

    from server.thing import branch


    def run(n):
        code = f"import server.thing; print(server.thing.branch({n}))"
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              check=True, timeout=30).stdout


    @pytest.fixture(scope="module")
    def shared():
        return run(3)


    def test_a_subprocess():
        assert run(1) == "one\\n"


    def test_b_in_process():
        assert branch(2) == "two"


    def test_c_shared(shared):
        assert shared == "three\\n"


    def test_d_shared(shared):
        assert shared == "three\\n"
    """
)
NODE = "tests/test_thing.py::"
LINE_ONE, LINE_TWO, LINE_THREE, LINE_NEVER = 3, 5, 7, 8  # THING's return lines


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(checkout, scratch tree, index): the small project, its copy, the baseline's index."""
    root = tmp_path_factory.mktemp("checkout")
    (root / "server").mkdir()
    (root / "server" / "__init__.py").write_text("")
    (root / "server" / "thing.py").write_text(THING)
    (root / "tests").mkdir()
    (root / "tests" / "test_thing.py").write_text(TESTS)
    (root / "conftest.py").write_text("")  # pytest puts the tree on sys.path
    (root / "map.toml").write_text('[tests]\n"server/thing.py" = ["tests/test_thing.py"]\n')
    tree = tmp_path_factory.mktemp("tree")
    shutil.copytree(root, tree, dirs_exist_ok=True)
    index = tree / "index.json"
    result = selector(tree, root, "--index", str(index), "--baseline", "server")
    assert result.returncode == 0, result.stdout + result.stderr
    return root, tree, index


def selector(tree: Path, root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SELECTOR), str(root / "map.toml"), str(root), *args],
        cwd=tree,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def mutate(tree: Path, line: int, new: str) -> None:
    path = tree / "server" / "thing.py"
    lines = THING.splitlines(keepends=True)
    lines[line - 1] = new
    path.write_text("".join(lines))


def chosen(project: tuple[Path, Path, Path], line: int) -> list[str]:
    """The node IDs the selector runs for a mutant of THING's `line`."""
    root, tree, index = project
    mutate(tree, line, '        return "mutant"\n')
    try:
        result = selector(tree, root, "--index", str(index), "--print")
    finally:
        (tree / "server" / "thing.py").write_text(THING)
    assert result.returncode == 0, result.stderr
    found, command = result.stdout.splitlines()
    assert found == "server/thing.py"
    return [arg for arg in shlex.split(command) if "::" in arg]


def test_the_index_names_the_test_whose_subprocess_ran_the_line(
    project: tuple[Path, Path, Path],
) -> None:
    index = json.loads(project[2].read_text())
    lines = index["files"]["server/thing.py"]
    assert lines[str(LINE_ONE)] == [NODE + "test_a_subprocess"]
    assert lines[str(LINE_TWO)] == [NODE + "test_b_in_process"]
    assert str(LINE_NEVER) not in lines


def test_a_mutant_runs_only_the_tests_that_ran_its_statement(
    project: tuple[Path, Path, Path],
) -> None:
    assert chosen(project, LINE_ONE) == [NODE + "test_a_subprocess"]
    assert chosen(project, LINE_TWO) == [NODE + "test_b_in_process"]


def test_tests_sharing_a_module_scoped_fixture_run_together(
    project: tuple[Path, Path, Path],
) -> None:
    # The shared subprocess ran under test_c's context only; test_d depends on it too.
    assert chosen(project, LINE_THREE) == [NODE + "test_c_shared", NODE + "test_d_shared"]


def test_a_mutant_no_test_reaches_survives_without_a_run(
    project: tuple[Path, Path, Path],
) -> None:
    root, tree, index = project
    mutate(tree, LINE_NEVER, '    return "mutant"\n')
    try:
        result = selector(tree, root, "--index", str(index))
    finally:
        (tree / "server" / "thing.py").write_text(THING)
    assert result.returncode == 0
    # On stdout, where cosmic-ray keeps it for the report (a test command's stderr it drops).
    survived = f"mutation_tests: no mapped test runs server/thing.py:{LINE_NEVER}: survived\n"
    assert result.stdout == survived


def test_a_mutant_of_a_line_run_at_import_runs_every_mapped_test(
    project: tuple[Path, Path, Path],
) -> None:
    # `def branch` runs at import, outside any test in the pytest process: no narrowing.
    root, tree, index = project
    mutate(tree, 1, "def branch(n, unused=None):\n")
    try:
        result = selector(tree, root, "--index", str(index), "--print")
    finally:
        (tree / "server" / "thing.py").write_text(THING)
    assert shlex.split(result.stdout.splitlines()[1])[-1] == "tests/test_thing.py"


def test_changed_lines_are_the_originals_replaced_or_removed() -> None:
    assert mutation_index.changed_lines("a\nb\nc\n", "a\nB\nc\n") == {2}
    assert mutation_index.changed_lines("a\nb\nc\n", "a\nc\n") == {2}
    assert mutation_index.changed_lines("a\nb\n", "a\nb\n") == set()


def test_a_statement_is_its_header_or_all_its_lines() -> None:
    source = "x = (1 +\n     2)\nif x:\n    y = 1\n"
    assert mutation_index.statement_lines(source, 2) == {1, 2}
    assert mutation_index.statement_lines(source, 3) == {3}
    assert mutation_index.statement_lines(source, 4) == {4}


def test_a_test_under_which_nothing_was_measured_runs_for_every_mutant() -> None:
    # A server started with `python -S` never loads coverage's start-up hook: the test
    # that started it is "unseen", and what its server ran is unknown.
    index = mutation_index.Index(
        files={"server/a.py": {"3": ["t.py::seen"], "4": []}},
        nodes=["t.py::seen", "t.py::unseen"],
        shared=[],
        unseen=["t.py::unseen"],
    )
    assert mutation_index.tests_for(index, "server/a.py", {3}) == {"t.py::seen", "t.py::unseen"}
    assert mutation_index.tests_for(index, "server/a.py", {9}) == {"t.py::unseen"}
