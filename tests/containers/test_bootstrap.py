"""ci/bootstrap.sh and its base-image decision, run for real against this machine's engine.

Only one branch uses a stand-in: "BASE_IMAGE can be pulled" needs a registry,
and this machine has none, so a `docker` wrapper on PATH serves `pull` from the
local image store and passes every other command to the real CLI.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.errors
import pytest

from tests.harness.labels import SESSION_ID, SESSION_LABEL, TEST_LABEL

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_BASE = "socket-harness/python-base:bookworm"
# Port 9 on loopback: a pull from it is refused at once and never leaves the machine.
UNREACHABLE_REGISTRY = "127.0.0.1:9"


def run(
    script: str, tmp_path: Path, timeout: float = 120, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run a ci/ script with its build/ output in `tmp_path`, a clean BASE_IMAGE and `env`."""
    full_env = {k: v for k, v in os.environ.items() if k not in ("BASE_IMAGE", "BASE_IMAGE_REPO")}
    full_env.update(BUILD_DIR=str(tmp_path), **env)
    return subprocess.run(
        [script],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def chosen(result: subprocess.CompletedProcess[str], tmp_path: Path) -> str:
    """The reference the script printed, after checking it also wrote build/base-image."""
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "base-image").read_text() == result.stdout
    return result.stdout.strip()


@pytest.fixture(scope="module")
def default_base(images: dict[str, str], docker_client: docker.DockerClient) -> str:
    """The machine's base image (ci/bootstrap.sh built or chose it before the images)."""
    docker_client.images.get(DEFAULT_BASE)
    return DEFAULT_BASE


@pytest.fixture
def scratch_tags(docker_client: docker.DockerClient) -> Iterator[list[str]]:
    """Image references a test creates; removed afterwards (a tag only, or the built image)."""
    tags: list[str] = []
    yield tags
    for tag in tags:
        with contextlib.suppress(docker.errors.ImageNotFound):
            docker_client.images.remove(tag)


def debian_mirror(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """ci/lib/common.sh's `debian_mirror`, run in `env`."""
    return subprocess.run(
        ["bash", "-c", ". ci/lib/common.sh && debian_mirror"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def apt_state() -> str:
    """A digest of the system's apt sources, which the bootstrap must never change."""
    digest = hashlib.sha256()
    etc = Path("/etc/apt")
    for path in sorted([*etc.rglob("*.sources"), *etc.rglob("*.list")]):
        digest.update(path.as_posix().encode() + path.read_bytes())
    return digest.hexdigest()


@pytest.mark.covers("bootstrap/idempotent")
def test_bootstrap_again_changes_nothing_and_says_what_it_found(
    default_base: str, tmp_path: Path
) -> None:
    apt_before = apt_state()
    result = run("ci/bootstrap.sh", tmp_path)

    assert chosen(result, tmp_path) == default_base
    assert "docker engine: reachable" in result.stderr
    assert "compose: docker compose 2." in result.stderr
    assert f"reusing {default_base}" in result.stderr
    assert apt_state() == apt_before


@pytest.mark.covers("bootstrap/base-image", "bootstrap/base-image-variable")
def test_base_image_present_locally_is_used_as_is(
    default_base: str, docker_client: docker.DockerClient, scratch_tags: list[str], tmp_path: Path
) -> None:
    mine = f"socket-harness-test/base:present-{SESSION_ID}"
    docker_client.images.get(default_base).tag(mine)
    scratch_tags.append(mine)

    result = run("ci/lib/base-image.sh", tmp_path, BASE_IMAGE=mine)

    assert chosen(result, tmp_path) == mine
    assert f"BASE_IMAGE={mine} is present locally" in result.stderr


@pytest.mark.covers("bootstrap/base-image", "bootstrap/base-image-variable")
def test_base_image_that_can_be_pulled_is_pulled(
    default_base: str, scratch_tags: list[str], tmp_path: Path
) -> None:
    real_docker = shutil.which("docker")
    assert real_docker is not None
    calls = tmp_path / "pulls.log"
    fake = tmp_path / "bin" / "docker"
    fake.parent.mkdir()
    # `docker pull REF` becomes a tag of the local default base; the rest is the real CLI.
    fake.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = pull ]; then\n'
        "    for ref; do ref_last=$ref; done\n"
        f'    echo "pull $ref_last" >>{calls}\n'
        f'    exec {real_docker} tag {default_base} "$ref_last"\n'
        "fi\n"
        f'exec {real_docker} "$@"\n'
    )
    fake.chmod(0o755)
    wanted = f"{UNREACHABLE_REGISTRY}/socket-harness-test/pullable:{SESSION_ID}"
    scratch_tags.append(wanted)

    result = run(
        "ci/lib/base-image.sh",
        tmp_path,
        BASE_IMAGE=wanted,
        PATH=f"{fake.parent}{os.pathsep}{os.environ['PATH']}",
    )

    assert chosen(result, tmp_path) == wanted
    assert f"pulled BASE_IMAGE={wanted}" in result.stderr
    assert calls.read_text() == f"pull {wanted}\n"


@pytest.mark.covers(
    "bootstrap/base-image", "bootstrap/base-image-variable", "troubleshooting/no-registry"
)
def test_base_image_that_cannot_be_had_falls_back_to_the_offline_one(
    default_base: str, tmp_path: Path
) -> None:
    # A real pull, from a registry address where nothing listens.
    wanted = f"{UNREACHABLE_REGISTRY}/socket-harness-test/absent:{SESSION_ID}"

    result = run("ci/lib/base-image.sh", tmp_path, BASE_IMAGE=wanted)

    assert chosen(result, tmp_path) == default_base
    assert f"BASE_IMAGE={wanted} is not present and cannot be pulled" in result.stderr
    assert f"reusing {default_base}" in result.stderr


@pytest.mark.timeout(900)
@pytest.mark.covers("bootstrap/base-image")
def test_base_image_is_built_offline_when_none_is_there_then_reused(
    docker_client: docker.DockerClient, scratch_tags: list[str], tmp_path: Path
) -> None:
    if debian_mirror(dict(os.environ)).returncode != 0:
        pytest.skip("no Debian mirror in /etc/apt or DEBIAN_MIRROR: nothing to build from here")
    # A repository name of its own, so the machine's base image is neither used nor replaced.
    repo = f"socket-harness-test/python-base-{SESSION_ID}"
    built = f"{repo}:bookworm"
    scratch_tags.append(built)
    labels = f"{TEST_LABEL}=1 {SESSION_LABEL}={SESSION_ID}"

    first = run(
        "ci/lib/base-image.sh", tmp_path, 900, BASE_IMAGE_REPO=repo, BASE_IMAGE_LABELS=labels
    )

    assert chosen(first, tmp_path) == built
    assert f"building {built} offline" in first.stderr
    image = docker_client.images.get(built)
    assert image.labels[TEST_LABEL] == "1"
    version = docker_client.containers.run(
        built,
        ["python3", "-c", "import sys; print(*sys.version_info[:2])"],
        network_mode="none",
        labels={TEST_LABEL: "1", SESSION_LABEL: SESSION_ID},
        remove=True,
    )
    assert version.decode().split() == ["3", "11"]  # Debian bookworm's python3

    again = run("ci/lib/base-image.sh", tmp_path, BASE_IMAGE_REPO=repo)

    assert chosen(again, tmp_path) == built
    assert f"reusing {built}" in again.stderr
    assert docker_client.images.get(built).id == image.id


@pytest.mark.parametrize(
    ("files", "mirror"),
    [
        pytest.param(
            {
                "sources.list.d/debian.sources": (
                    "Types: deb\nURIs: http://security.example.invalid/debian-security\n"
                    "Suites: bookworm-security\nComponents: main\n\n"
                    "Types: deb\nURIs: http://mirror.example.invalid/debian\n"
                    "Suites: bookworm bookworm-updates\nComponents: main\n"
                )
            },
            "http://mirror.example.invalid/debian\n",
            id="deb822, security stanza first",
        ),
        pytest.param(
            {
                "sources.list.d/other.sources": (
                    "Types: deb\nURIs: http://other.example.invalid/ubuntu\nSuites: noble\n"
                )
            },
            None,
            id="another distribution only",
        ),
        pytest.param(
            {
                "sources.list": (
                    "# comment\n"
                    "deb http://security.example.invalid/debian-security bookworm-security main\n"
                    "deb [arch=amd64 signed-by=/k.gpg] http://mirror.example.invalid/debian "
                    "bookworm main\n"
                )
            },
            "http://mirror.example.invalid/debian\n",
            id="one-line format with options",
        ),
    ],
)
@pytest.mark.covers("bootstrap/mirror")
def test_mirror_is_read_from_the_apt_configuration(
    tmp_path: Path, files: dict[str, str], mirror: str | None
) -> None:
    (tmp_path / "sources.list.d").mkdir()
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    env = {k: v for k, v in os.environ.items() if k != "DEBIAN_MIRROR"}
    result = debian_mirror({**env, "APT_ETC": str(tmp_path)})
    if mirror is None:
        assert (result.returncode, result.stdout) == (1, "")
    else:
        assert (result.returncode, result.stdout) == (0, mirror)
