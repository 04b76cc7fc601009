"""The server and client images, built once per run through testcontainers' DockerImage.

Docker's layer cache makes a rebuild of an unchanged tree a check, not a build,
so `make test` after `make images` costs a second or two here, and a changed
server or client is never tested through a stale image.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import docker.errors
from testcontainers.core.image import DockerImage

from .containers import CLIENT_IMAGE, SERVER_IMAGE

ROOT = Path(__file__).resolve().parents[2]
BASE_IMAGE_FILE = ROOT / "build" / "base-image"
DOCKERFILES = {SERVER_IMAGE: "server/Dockerfile", CLIENT_IMAGE: "client/Dockerfile"}


class ImageProblem(Exception):
    """The images cannot be had; the message says what to run."""


def base_image() -> str:
    """The base image `ci/bootstrap.sh` chose for this machine."""
    try:
        return BASE_IMAGE_FILE.read_text().strip()
    except FileNotFoundError:
        raise ImageProblem(
            f"{BASE_IMAGE_FILE.relative_to(ROOT)} is missing: run ci/bootstrap.sh "
            "(or `make images`) once on this machine"
        ) from None


def build_args() -> dict[str, str]:
    """The build arguments ci/build-images.sh passes, so each reuses the other's cache."""
    match = re.search(r'^version = "(.*)"', (ROOT / "pyproject.toml").read_text(), re.MULTILINE)
    git = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    return {
        "BASE_IMAGE": base_image(),
        "VERSION": match.group(1) if match else "dev",
        "REVISION": git.stdout.strip() if git.returncode == 0 else "unknown",
    }


def build_images() -> dict[str, str]:
    """Build (or confirm from cache) both images; {tag: image id}."""
    args = build_args()
    built: dict[str, str] = {}
    for tag, dockerfile in DOCKERFILES.items():
        image = DockerImage(
            path=ROOT,
            tag=tag,
            dockerfile_path=dockerfile,
            clean_up=False,  # the images are the product, kept for the next run and `make demo`
            buildargs=args,
        )
        try:
            image.build()
        except docker.errors.BuildError as exc:
            log = "".join(str(chunk.get("stream", "")) for chunk in exc.build_log)
            raise ImageProblem(f"building {tag} from {dockerfile} failed: {exc}\n{log}") from None
        built[tag] = str(image.get_wrapped_image().id)
    return built
