"""The installed package stands alone: socket_harness imports nothing from tests/ (an
installed copy has no tests package), and the harness's label keys are written once, in
socket_harness/labels.py (ci/sweep.sh and the suite find objects by them)."""

from __future__ import annotations

import ast
import os
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "socket_harness"
# The keys as README ("Workers") states them: the oracle, not labels.py's spelling.
LABEL_KEYS = (
    "org.socket-harness.test",
    "org.socket-harness.session",
    "org.socket-harness.worker",
    "org.socket-harness.owner",
)


def package_files() -> list[Path]:
    """Every module of socket_harness, through its linked-in protocol/server/client."""
    return sorted(
        Path(folder, name)
        for folder, _, names in os.walk(PACKAGE, followlinks=True)
        for name in names
        if name.endswith(".py")
    )


def imported_modules(path: Path) -> list[str]:
    """Absolute module names `path` imports (relative imports stay inside the package)."""
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


def test_socket_harness_imports_nothing_from_tests() -> None:
    files = package_files()
    assert len(files) > 50, f"only {len(files)} modules found under {PACKAGE}"
    offenders = [
        f"{path.relative_to(PACKAGE.parent)} imports {name}"
        for path in files
        for name in imported_modules(path)
        if name == "tests" or name.startswith("tests.")
    ]
    assert not offenders, "\n".join(offenders)


def test_label_keys_are_written_only_in_labels_py() -> None:
    written = {
        key: sorted(
            str(path.relative_to(PACKAGE.parent))
            for path in package_files()
            if key in path.read_text()
        )
        for key in LABEL_KEYS
    }
    assert written == {key: ["socket_harness/labels.py"] for key in LABEL_KEYS}


def test_the_image_build_finds_this_checkouts_script() -> None:
    from socket_harness.images import BASE_IMAGE_FILE, ROOT

    assert (ROOT / "ci" / "build-images.sh").is_file(), ROOT
    assert BASE_IMAGE_FILE == ROOT / "build" / "base-image"


def top_level_modules_imported(path: Path) -> set[str]:
    """The socket_harness/*.py modules (`name.py`) that `path`, inside client/ or at the
    package's top, imports relatively (`from ..load import` in client/, `from .load` at top)."""
    top = 2 if path.parent.name == "client" else 1
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == top and node.module:
            head = node.module.split(".")[0]
            if (PACKAGE / f"{head}.py").is_file():
                found.add(f"{head}.py")
    return found


def test_the_client_image_copies_every_module_its_profile_reader_imports() -> None:
    """client/Dockerfile copies socket_harness/*.py files by name (the image is the
    standard library plus these): they must be exactly what client/ imports from the
    package's top, with their own imports, else `--target` fails in the image only."""
    dockerfile = (PACKAGE.parent / "client" / "Dockerfile").read_text()
    copied = set(re.findall(r"socket_harness/([a-z_]+\.py)", dockerfile)) - {"__init__.py"}
    needed: set[str] = set()
    todo = list((PACKAGE.parent / "client").glob("*.py"))
    while todo:
        for name in top_level_modules_imported(todo.pop()) - needed:
            needed.add(name)
            todo.append(PACKAGE / name)
    assert copied == needed, f"client/Dockerfile copies {sorted(copied)}, needs {sorted(needed)}"
