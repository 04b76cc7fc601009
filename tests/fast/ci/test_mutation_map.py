"""`make mutation`'s map: every file cosmic-ray mutates has its tests, and the selector finds them.

ci/mutation-map.toml gives each file of protocol/ and server/ the fast tests a mutant of
it runs (docs/mutation.md); ci/lib/mutation_tests.py finds the one file a mutant changed
by comparing the scratch tree with the checkout. Checked on the real map and on real
copies of the tree with one file changed, through the selector's `--print`.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
MAP = ROOT / "ci" / "mutation-map.toml"
SELECTOR = ROOT / "ci" / "lib" / "mutation_tests.py"
TIMEOUT = 30.0  # s
MUTATED = ("protocol", "server")  # what ci/mutation.sh mutates; __main__.py it leaves out


def rows() -> dict[str, list[str]]:
    """The map's `[tests]` table as written."""
    with MAP.open("rb") as handle:
        table: dict[str, list[str]] = tomllib.load(handle)["tests"]
    return table


def mutated_files() -> set[str]:
    """Every file cosmic-ray mutates: *.py under protocol/ and server/ but __main__.py."""
    return {
        path.relative_to(ROOT).as_posix()
        for folder in MUTATED
        for path in (ROOT / folder).rglob("*.py")
        if path.name != "__main__.py"
    }


def select(
    tree: Path, *, run: bool = False, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the selector in `tree` with `--print` (`run`: for real); exit, stdout, stderr."""
    return subprocess.run(
        [sys.executable, str(SELECTOR), str(MAP), str(ROOT), *([] if run else ["--print"])],
        cwd=tree,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the checkout's protocol/ and server/, as ci/mutation.sh's scratch tree has."""
    for folder in MUTATED:
        shutil.copytree(ROOT / folder, tmp_path / folder, symlinks=True)
    return tmp_path


def test_every_file_cosmic_ray_mutates_has_a_row_and_no_row_is_stale() -> None:
    missing = mutated_files() - set(rows())
    stale = set(rows()) - mutated_files()
    assert not missing, f"ci/mutation-map.toml has no tests for {sorted(missing)}"
    assert not stale, f"ci/mutation-map.toml names files that are gone: {sorted(stale)}"


def test_every_mapped_test_is_an_existing_fast_test_named_once_per_row() -> None:
    for name, tests in rows().items():
        assert tests, f"{name}: no tests"
        assert len(set(tests)) == len(tests), f"{name}: a test named twice: {tests}"
        for test in tests:
            assert test.startswith(("tests/unit/", "tests/fast/")), f"{name}: {test} is not fast"
            assert (ROOT / test).is_file(), f"{name}: {test} does not exist"


@pytest.mark.parametrize("changed", ["server/limits.py", "protocol/line.py"])
def test_the_selector_runs_the_changed_files_tests_in_the_maps_order(
    tree: Path, changed: str
) -> None:
    with (tree / changed).open("a") as handle:
        handle.write("# a mutant\n")
    result = select(tree)
    assert result.returncode == 0, result.stderr
    found, command = result.stdout.splitlines()
    assert found == changed
    argv = shlex.split(command)
    assert argv[1:5] == ["-m", "pytest", "-x", "-q"]
    assert argv[-len(rows()[changed]) :] == rows()[changed]


def test_mutation_tests_overrides_the_map(tree: Path) -> None:
    with (tree / "server" / "outbox.py").open("a") as handle:
        handle.write("# a mutant\n")
    result = select(tree, env={"MUTATION_TESTS": "tests/unit/test_url.py -k ipv6"})
    assert result.returncode == 0, result.stderr
    assert shlex.split(result.stdout.splitlines()[1])[-3:] == [
        "tests/unit/test_url.py",
        "-k",
        "ipv6",
    ]


@pytest.mark.parametrize("edits", [0, 2])
def test_not_exactly_one_changed_file_is_one_line_and_exit_2(tree: Path, edits: int) -> None:
    # On stdout: cosmic-ray keeps a test command's stdout for the report, not its stderr.
    for name in ("protocol/url.py", "server/stats.py")[:edits]:
        with (tree / name).open("a") as handle:
            handle.write("# a mutant\n")
    result = select(tree)
    assert result.returncode == 2
    assert result.stderr == ""
    assert len(result.stdout.splitlines()) == 1
    assert result.stdout.startswith("mutation_tests: one mutated file expected, found ")


def check(tree: Path, *paths: str) -> subprocess.CompletedProcess[str]:
    """The selector's check before a run: every file to mutate under `paths` has a row."""
    return subprocess.run(
        [sys.executable, str(SELECTOR), str(MAP), str(tree), "--check", *paths],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def test_the_check_before_a_run_passes_the_checkouts_paths(tree: Path) -> None:
    result = check(tree, "protocol", "server", "protocol/url.py", "server/")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("make", "path", "words"),
    [
        # Without a row its mutants ran no test and counted as killed.
        ("server/extra.py", "server", "server/extra.py has no row in ci/mutation-map.toml"),
        ("server/extra.py", "server/extra.py", "server/extra.py has no row"),
        ("server/Dockerfile", "server/Dockerfile", "no Python file for cosmic-ray to mutate"),
        ("server/empty/README", "server/empty", "no Python file for cosmic-ray to mutate"),
        ("server/__main__.py", "server/__main__.py", "no Python file for cosmic-ray"),
    ],
)
def test_the_check_before_a_run_refuses_what_no_test_would_cover(
    tree: Path, make: str, path: str, words: str
) -> None:
    (tree / make).parent.mkdir(exist_ok=True)
    (tree / make).write_text("")
    result = check(tree, path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith("mutation: error: ")
    assert words in result.stderr


def test_the_mutated_files_bytecode_never_outlives_its_run(tree: Path) -> None:
    # A .pyc is trusted by mtime (whole seconds) and size: one of a mutant could pass for
    # the restored file's, so the selector removes the mutated file's, Python's and pytest's.
    cache = tree / "protocol" / "__pycache__"
    cache.mkdir(exist_ok=True)
    mine = [cache / "line.cpython-311.pyc", cache / "line.cpython-311-pytest-8.3.5.pyc"]
    other = cache / "url.cpython-311.pyc"
    for pyc in (*mine, other):
        pyc.write_bytes(b"stale")
    with (tree / "protocol" / "line.py").open("a") as handle:
        handle.write("# a mutant\n")
    result = select(tree, run=True, env={"MUTATION_TESTS": "--version"})
    assert result.returncode == 0, result.stderr
    assert not [pyc.name for pyc in mine if pyc.exists()]
    assert other.read_bytes() == b"stale"
