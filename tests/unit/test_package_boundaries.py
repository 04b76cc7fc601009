"""The installed package stands alone: socket_harness imports nothing from tests/ (an
installed copy has no tests package), and the harness's label keys are written once, in
socket_harness/labels.py (ci/sweep.sh and the suite find objects by them)."""

from __future__ import annotations

import ast
import os
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
