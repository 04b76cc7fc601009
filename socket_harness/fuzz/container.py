"""The project's server in its container, under coverage.py: the default campaign target.

The fuzz image is the server image plus coverage.py, unpacked from its pinned
PyPI wheel (requirements-dev.txt) the way bench/images.py adds uvloop; it is
rebuilt only when the server image changes. Its coverage data goes to a host
directory mounted at /coverage and is written when the server exits: `stop()`
sends SIGTERM (docker stop), the server drains and exits, coverage saves.
"""

from __future__ import annotations

import hashlib
import platform
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import docker
import docker.errors

from ..images import ImageProblem, build
from ..labels import harness_labels
from ..project import project_target
from ..sut import ContainerRun, TargetProblem
from .properties import Target as Limits
from .targets import (
    COVERAGERC,
    READY_TIMEOUT,
    REPO,
    STOP_TIMEOUT,
    Stopped,
    TargetError,
    _problems,
    _summary,
    server_args,
)

FUZZ_IMAGE = "socket-harness/server:fuzz-coverage"
DOCKERFILE = Path(__file__).with_name("coverage.Dockerfile")
WHEELS = REPO / "build" / "fuzz" / "wheels"
BUILT_FROM = "org.socket-harness.fuzz.server-image"


def pinned(name: str) -> str:
    """The version requirements-dev.txt pins for `name`."""
    text = (REPO / "requirements-dev.txt").read_text()
    match = re.search(rf"^{re.escape(name)}==(\S+)", text, re.MULTILINE)
    if not match:
        raise TargetError(f"requirements-dev.txt pins no {name} version")
    return match.group(1)


def _wheel(version: str, python: str) -> Path:
    """coverage's wheel for the image's CPython, fetched once into build/fuzz/wheels."""
    cp = f"cp{python.replace('.', '')}"
    found = sorted(WHEELS.glob(f"coverage-{version}-{cp}-*manylinux*.whl"))
    if found:
        return found[-1]
    WHEELS.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check"]
    command += [f"coverage=={version}", "--only-binary=:all:", "--no-deps", "--dest", str(WHEELS)]
    command += ["--implementation", "cp", "--python-version", python]
    for tag in ("manylinux2014", "manylinux_2_17", "manylinux_2_28", "manylinux1"):
        command += ["--platform", f"{tag}_{platform.machine()}"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    found = sorted(WHEELS.glob(f"coverage-{version}-{cp}-*.whl"))
    if result.returncode != 0 or not found:
        why = (result.stderr.strip().splitlines() or ["no matching wheel"])[-1]
        raise TargetError(f"no coverage {version} wheel for CPython {python}: {why}")
    return found[-1]


def build_fuzz_image(client: docker.DockerClient) -> str:
    """The server image (built or confirmed by the suite's own build) plus coverage.py."""
    try:
        server = build(apps=("server",))["server"]
    except ImageProblem as exc:
        raise TargetError(str(exc)) from None
    # The tag named after this checkout's own build ID: another tree's build cannot move it.
    server_id, server_image = server.id, server.tag
    # The recipe is part of the identity: a changed Dockerfile or rc file rebuilds.
    recipe = hashlib.sha256(DOCKERFILE.read_bytes() + COVERAGERC.read_bytes()).hexdigest()[:12]
    with_coverage = f"coverage-{pinned('coverage')} recipe-{recipe}"
    try:
        labels = client.images.get(FUZZ_IMAGE).labels
        if labels.get(BUILT_FROM) == f"{server_id} {with_coverage}":
            return FUZZ_IMAGE
    except docker.errors.ImageNotFound:
        pass
    script = "import platform, site; print(platform.python_version(), site.getsitepackages()[0])"
    output: bytes = client.containers.run(
        server_image, entrypoint=["python3", "-c", script], network_mode="none", remove=True
    )
    version, site_dir = output.decode().split()
    wheel = _wheel(pinned("coverage"), ".".join(version.split(".")[:2]))
    with tempfile.TemporaryDirectory(prefix="fuzz-coverage-") as context:
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(Path(context) / "site")
        shutil.copy(DOCKERFILE, Path(context) / "Dockerfile")
        shutil.copy(COVERAGERC, Path(context) / "coveragerc")
        client.images.build(
            path=context,
            tag=FUZZ_IMAGE,
            buildargs={"SERVER_IMAGE": server_image, "SITE_PACKAGES": site_dir},
            labels={BUILT_FROM: f"{server_id} {with_coverage}"},
            rm=True,
            forcerm=True,
        )
    return FUZZ_IMAGE


class ContainerTarget:
    """A fuzz-image container on the default bridge, reached at its address there: the
    project's server (socket_harness.project) run by socket_harness.sut.ContainerRun,
    ready when every listener greets (socket_harness.ready)."""

    def __init__(self, coverage_dir: Path, limits: Limits) -> None:
        self.limits = limits
        self.coverage_dir: Path | None = coverage_dir
        try:
            self._client = docker.from_env(timeout=120)
            self._client.ping()
        except docker.errors.DockerException as exc:
            raise TargetError(f"no Docker Engine: {exc} (or give --target local)") from None
        image = build_fuzz_image(self._client)
        coverage_dir.mkdir(parents=True, exist_ok=True)
        coverage_dir.chmod(0o777)  # the server runs as uid 10001
        args = server_args(limits.max_message_bytes, limits.idle_timeout)
        shown = " ".join(shlex.quote(arg) for arg in args)
        self.description = f"{image} (python -m socket_harness.server {shown})"
        # The image's defaults (text log, its listeners), the campaign's options.
        target = project_target(environment={}, command=args, image=image)
        try:
            self._sut = ContainerRun(
                target,
                image,
                labels=harness_labels("make fuzz"),
                run={"volumes": {str(coverage_dir.resolve()): {"bind": "/coverage", "mode": "rw"}}},
                timeout=READY_TIMEOUT,
            )
        except TargetProblem as exc:
            raise TargetError(f"{FUZZ_IMAGE} not ready: {exc}") from None
        self._ports = {item.framing.value: item for item in target.listeners}

    def address(self, framing: str) -> tuple[str, int]:
        return self._sut.address(self._ports[framing])

    def stop(self) -> Stopped:
        """docker stop (SIGTERM: drain, exit, coverage saves), then remove the container."""
        try:
            self._sut.container.get_wrapped_container().stop(timeout=int(STOP_TIMEOUT))
            code = self._sut.wait_exit(STOP_TIMEOUT)
            log = self._sut.logs()
        finally:
            self._sut.remove()
            self._client.close()
        return Stopped(code, _summary(log), _problems(log))
