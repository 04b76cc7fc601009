"""Images a run needs: the base image, the project's server image, and a uvloop variant.

The uvloop variant is the project's server image plus uvloop unpacked from the
PyPI wheel (the images have no pip): the wheel is fetched on the host with
`pip download` for the container's Python version and copied in. When no wheel
fits, the variant is skipped and the run says why. The image is kept for the
next run while the server image it was built from is unchanged.
"""

from __future__ import annotations

import platform
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from .containers import LABELS, BenchError, Containers
from .servers import REPO, SERVER_IMAGE

UVLOOP_IMAGE = "socket-harness/server:bench-uvloop"
WHEELS = REPO / "build" / "bench" / "wheels"
DOCKERFILE = Path(__file__).with_name("uvloop.Dockerfile")
BUILT_FROM = "org.socket-harness.bench.server-image"


def base_image() -> str:
    """The base image reference ci/bootstrap.sh recorded."""
    path = REPO / "build" / "base-image"
    try:
        ref = path.read_text().strip()
    except FileNotFoundError:
        raise BenchError(f"{path} is missing: run ci/bootstrap.sh (make bootstrap) first") from None
    if not ref:
        raise BenchError(f"{path} is empty: run ci/bootstrap.sh again")
    return ref


def pinned_uvloop() -> str:
    text = (REPO / "requirements-dev.txt").read_text()
    match = re.search(r"^uvloop==(\S+)", text, re.MULTILINE)
    if not match:
        raise BenchError("requirements-dev.txt pins no uvloop version")
    return match.group(1)


def container_python(pool: Containers, image: str) -> tuple[str, str]:
    """(version, site-packages dir) of python3 inside `image`."""
    script = "import platform, site; print(platform.python_version(), site.getsitepackages()[0])"
    output: bytes = pool.client.containers.run(
        image, entrypoint=["python3", "-c", script], labels=LABELS, network_mode="none", remove=True
    )
    version, site_dir = output.decode().split()
    return version, site_dir


def _download_wheel(version: str, python: str) -> Path:
    machine = platform.machine()
    WHEELS.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--quiet",
        "--disable-pip-version-check",
        f"uvloop=={version}",
        "--only-binary=:all:",
        "--no-deps",
        "--implementation",
        "cp",
        "--python-version",
        python,
        "--dest",
        str(WHEELS),
    ]
    for tag in ("manylinux2014", "manylinux_2_17", "manylinux_2_28"):
        command += ["--platform", f"{tag}_{machine}"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    cp = f"cp{python.replace('.', '')}"
    found = sorted(WHEELS.glob(f"uvloop-{version}-{cp}-*.whl"))
    if result.returncode != 0 or not found:
        reason = result.stderr.strip().splitlines()[-1:] or ["no matching wheel"]
        raise BenchError(
            f"no uvloop {version} wheel for CPython {python} on {machine}: {reason[0]}"
        )
    return found[-1]


def build_uvloop_image(pool: Containers) -> str:
    """Build the uvloop variant (kept while the server image is the same one); raises
    BenchError saying why it cannot be had."""
    server_id = pool.client.images.get(SERVER_IMAGE).id
    if pool.image_present(UVLOOP_IMAGE):
        built_from = pool.client.images.get(UVLOOP_IMAGE).labels.get(BUILT_FROM)
        if built_from == server_id:
            return UVLOOP_IMAGE
    version, site_dir = container_python(pool, SERVER_IMAGE)
    wheel = _download_wheel(pinned_uvloop(), ".".join(version.split(".")[:2]))
    with tempfile.TemporaryDirectory(prefix="bench-uvloop-") as context:
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(Path(context) / "site")
        shutil.copy(DOCKERFILE, Path(context) / "Dockerfile")
        pool.client.images.build(
            path=context,
            tag=UVLOOP_IMAGE,
            buildargs={"SERVER_IMAGE": SERVER_IMAGE, "SITE_PACKAGES": site_dir},
            labels={**LABELS, BUILT_FROM: server_id},
            rm=True,
            forcerm=True,
        )
    return UVLOOP_IMAGE
