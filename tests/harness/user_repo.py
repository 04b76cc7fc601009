"""A user's side of the harness: a copy of this checkout as they would get it, their own
environment, and their own service (a standard-library line echo with nothing of this
project in it). Shared by the install test (`pip install` in a fresh venv) and the action
test (action.yml's steps run as GitHub's runner runs them).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.harness.images import ROOT

# The user's service: every line back as it came, no greeting, no prefix; nothing of this
# project in it (it imports only the standard library).
ECHO_PY = ROOT / "tests" / "fast" / "line_echo.py"
ECHO_PORT = 9000
# What the whole conformance suite does against it with a profile that declares no promise:
# CHECKS checks (socket_harness/conformance), these pass, the rest are "not declared".
CHECKS = 24  # the suite's checks, as `--list-checks` counts them
WIRE_CHECKS = (
    "payload/echo-exact",
    "payload/pipelined-in-order",
    "payload/any-chunking",
    "faults/reset-then-serves",
    "faults/half-close-gets-every-answer",
    "faults/garbage-answered-per-framing",
    "faults/never-reading-peer-bounded",
    "faults/connect-flood-then-serves",
    "stateful/many-connections-any-order",
)

# Its Dockerfile; {base} is the base image ci/bootstrap.sh chose (images.base_image()).
ECHO_DOCKERFILE = """\
FROM {base}
COPY echo.py /srv/echo.py
USER 10001:10001
EXPOSE 9000
CMD ["python3", "-u", "/srv/echo.py", "9000", "0.0.0.0"]
"""


def write_echo_service(directory: Path, base: str) -> Path:
    """Write echo.py and a Dockerfile FROM `base` into `directory` (created): the build context."""
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy(ECHO_PY, directory / "echo.py")
    (directory / "Dockerfile").write_text(ECHO_DOCKERFILE.format(base=base))
    return directory


def copy_checkout(destination: Path) -> Path:
    """What a clone of this checkout holds (tracked and new, unignored files; symlinks kept),
    copied to `destination`: the tree `pip install` or an action's checkout sees."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout.split(b"\0")
    for name in filter(None, listed):
        source = ROOT / os.fsdecode(name)
        if not source.is_symlink() and not source.exists():
            continue  # deleted in the work tree, not yet in the index
        target = destination / os.fsdecode(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            target.symlink_to(os.readlink(source))
        else:
            shutil.copy2(source, target)
    return destination


def user_env() -> dict[str, str]:
    """The user's environment: no CI=true, nothing pointing into this repository."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST")}
    for key in ("CI", "PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"):
        env.pop(key, None)
    return env
