"""The server and client images of this checkout, built by its ci/build-images.sh.

Used by the test suite (once per run) and by `make fuzz`; it runs the checkout's own
script, so it needs the repository (it is not for an installed copy without one).

The script is the one build path (`make images`, `make demo`, `make bench` and
the suite): it builds without a tag, names each image by the ID the build
returned (`socket-harness/server:ID12`) and prints that ID. The suite runs
containers by that ID, never by a tag another run could move, so two runs on
one Docker engine, from two checkouts with different code, each test their own.
Docker's layer cache makes a rebuild of an unchanged tree a check, not a build
(a second or two), and a changed server or client is never tested through a
stale image.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASE_IMAGE_FILE = ROOT / "build" / "base-image"
APPS = ("server", "client")
BUILD_TIMEOUT = 600.0  # seconds, both images from an empty cache on a busy 2-core machine


class ImageProblem(Exception):
    """The images cannot be had; the message says what to run."""


@dataclass(frozen=True)
class BuiltImage:
    """One image as ci/build-images.sh reported it: `app` ("server" or "client"), the image
    ID the build returned (`sha256:` + 64 hex digits) and the tag named after that ID."""

    app: str
    id: str
    tag: str


def base_image() -> str:
    """The base image `ci/bootstrap.sh` chose for this machine."""
    try:
        return BASE_IMAGE_FILE.read_text().strip()
    except FileNotFoundError:
        raise ImageProblem(
            f"{BASE_IMAGE_FILE.relative_to(ROOT)} is missing: run ci/bootstrap.sh "
            "(or `make images`) once on this machine"
        ) from None


def parse_built(stdout: str) -> dict[str, BuiltImage]:
    """ci/build-images.sh's stdout (`APP ID TAG` lines) by app; ImageProblem if malformed."""
    built: dict[str, BuiltImage] = {}
    for line in stdout.splitlines():
        fields = line.split()
        if len(fields) != 3 or not fields[1].startswith("sha256:"):
            raise ImageProblem(f"ci/build-images.sh printed {line!r}, not `APP ID TAG`")
        built[fields[0]] = BuiltImage(*fields)
    return built


def build(checkout: Path = ROOT, apps: tuple[str, ...] = APPS) -> dict[str, BuiltImage]:
    """Run `checkout`'s ci/build-images.sh for `apps`; {app: BuiltImage}.

    Raises ImageProblem with the script's output when a build fails or times out.
    """
    command = [str(checkout / "ci" / "build-images.sh"), *apps]
    try:
        result = subprocess.run(
            command, cwd=checkout, capture_output=True, text=True, timeout=BUILD_TIMEOUT
        )
    except subprocess.TimeoutExpired:
        raise ImageProblem(f"{' '.join(command)} took more than {BUILD_TIMEOUT:.0f} s") from None
    if result.returncode != 0:
        raise ImageProblem(
            f"{' '.join(command)} exited {result.returncode}:\n{result.stderr.strip()}"
        )
    built = parse_built(result.stdout)
    if sorted(built) != sorted(apps):
        raise ImageProblem(f"ci/build-images.sh built {sorted(built)}, not {sorted(apps)}")
    return built


def build_images() -> dict[str, str]:
    """Build (or confirm from cache) both images of this checkout; {app: image ID}.

    ImageProblem (saying what to run) when build/base-image is missing or a build fails.
    """
    base_image()  # bootstrapping is `make`'s job, not a test session's: say so instead
    return {app: image.id for app, image in build().items()}
