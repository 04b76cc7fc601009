"""ci/venv.sh makes a .venv again when the last one was cut short (Ctrl-C during creation).

Run on a copy of the script in an empty directory, with stand-ins: PYTHON is a script
that "creates" a venv whose python accepts everything (pip imports, installs succeed);
a half-made .venv is one whose python has no pip (exit 1), as `python -m venv` leaves it
when stopped before ensurepip finished.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
TIMEOUT = 10.0  # s: the stand-ins are shell scripts
WORKING = "#!/bin/sh\nexit 0\n"  # a venv python: `import pip` and `pip install` succeed
NO_PIP = "#!/bin/sh\nexit 1\n"  # a venv python without pip: everything fails
# `python -m venv DIR` makes DIR/bin/python a working one; -c and --version pass.
MAKER = """#!/bin/sh
case "$1" in
    -m) mkdir -p "$3/bin" && printf '#!/bin/sh\\nexit 0\\n' >"$3/bin/python"
        chmod +x "$3/bin/python" ;;
    --version) echo "Python 3 (stand-in)" ;;
esac
exit 0
"""


def executable(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    (tmp_path / "ci").mkdir()
    shutil.copy2(ROOT / "ci" / "venv.sh", tmp_path / "ci" / "venv.sh")
    for name in ("requirements-dev.txt", "requirements-mutation.txt", "pyproject.toml"):
        (tmp_path / name).write_text("")
    executable(tmp_path / "maker", MAKER)
    return tmp_path


def venv(checkout: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(checkout / "ci" / "venv.sh")],
        env={**os.environ, "PYTHON": str(checkout / "maker")},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def test_a_half_made_venv_is_made_again(checkout: Path) -> None:
    executable(checkout / ".venv" / "bin" / "python", NO_PIP)
    result = venv(checkout)
    assert result.returncode == 0, result.stderr
    assert "venv: .venv was left half-made" in result.stderr
    assert "venv: creating .venv" in result.stderr
    assert (checkout / ".venv" / ".made").exists()
    assert (checkout / ".venv" / "bin" / "python").read_text() == WORKING


def test_a_made_venv_is_kept(checkout: Path) -> None:
    # One from before the marker (its pip imports) gets the marker; the next run trusts it.
    executable(checkout / ".venv" / "bin" / "python", WORKING)
    (checkout / ".venv" / "kept").write_text("")
    for _ in range(2):
        result = venv(checkout)
        assert result.returncode == 0, result.stderr
        assert "creating" not in result.stderr
    assert (checkout / ".venv" / "kept").exists()
    assert (checkout / ".venv" / ".made").exists()
