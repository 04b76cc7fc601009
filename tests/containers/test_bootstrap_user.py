"""ci/bootstrap.sh's steps run as a non-root user (nobody) with a scratch home.

- ci/lib/compose.sh (step 2): Compose v2 installed where it is missing. Run for real,
  against the Debian mirror the machine's /etc/apt names, so the plugin lands in the
  scratch home's ~/.docker/cli-plugins/ and nowhere else. The machine's own Compose is
  hidden, never touched: the script runs in a private mount namespace with an empty
  tmpfs over each of the docker CLI's system plugin directories, so `docker compose` is
  missing there for real; the namespace, and the tmpfs with it, go when the script ends.
- ci/lib/engine.sh (step 1): a user outside the `docker` group, with the machine's
  daemon running, is told to join the group; in the group, the same user reaches it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOBODY = 65534
# The docker CLI's system plugin directories on Linux (docker/cli, cli-plugins/manager).
SYSTEM_PLUGIN_DIRS = (
    "/usr/local/lib/docker/cli-plugins",
    "/usr/local/libexec/docker/cli-plugins",
    "/usr/lib/docker/cli-plugins",
    "/usr/libexec/docker/cli-plugins",
)
# In the private mount namespace: hide the system's plugins, then become nobody.
WITHOUT_SYSTEM_PLUGINS = """
set -e
for dir in {dirs}; do
    if [ -d "$dir" ]; then mount -t tmpfs -o size=64k,mode=0755 tmpfs "$dir"; fi
done
home=$1; shift
exec setpriv --reuid={uid} --regid={uid} --clear-groups env -i PATH="$PATH" HOME="$home" \
    ${{DEBIAN_MIRROR:+DEBIAN_MIRROR="$DEBIAN_MIRROR"}} "$@"
""".format(dirs=" ".join(SYSTEM_PLUGIN_DIRS), uid=NOBODY)
# Where the daemon and the CLI live; nobody's own PATH would lack the sbin directories.
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
TIMEOUT = 120.0  # apt-get update and one download from the mirror: seconds, normally

pytestmark = pytest.mark.timeout(300)


def apt_state() -> dict[str, tuple[int, int]]:
    """{path: (size, mtime_ns)} of the system's apt sources and package lists."""
    state = {}
    for top in (Path("/etc/apt"), Path("/var/lib/apt/lists")):
        for path in sorted(top.rglob("*")):
            if path.is_file():
                stat = path.stat()
                state[str(path)] = (stat.st_size, stat.st_mtime_ns)
    return state


@pytest.fixture
def nobody_home() -> Iterator[Path]:
    """An empty home directory owned by nobody (outside pytest's root-only tmp_path)."""
    if os.geteuid() != 0:
        pytest.skip("needs root: to become nobody, and to hide the machine's own Compose")
    home = Path(tempfile.mkdtemp(prefix="socket-harness-nobody-"))
    os.chown(home, NOBODY, NOBODY)
    yield home
    shutil.rmtree(home)


@pytest.fixture
def without_system_compose(nobody_home: Path) -> Path:
    """nobody's home, once a private mount namespace is known to work here."""
    probe = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "true"],
        capture_output=True,
        timeout=10,
        check=False,
    )
    if probe.returncode != 0:
        pytest.skip(f"no private mount namespace here: {probe.stderr.decode().strip()}")
    return nobody_home


def as_nobody(home: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """`argv` as nobody with HOME=`home`, the system's Compose hidden (see the module)."""
    return subprocess.run(
        [
            *("unshare", "--mount", "--propagation", "private"),
            *("sh", "-c", WITHOUT_SYSTEM_PLUGINS, "sh", str(home), *argv),
        ],
        cwd=ROOT,
        env={**os.environ, "PATH": PATH},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


@pytest.mark.covers("bootstrap/compose", "troubleshooting/compose-v1")
def test_compose_v2_is_installed_into_the_users_plugins_when_missing(
    without_system_compose: Path,
) -> None:
    nobody_home = without_system_compose
    missing = as_nobody(nobody_home, "docker", "compose", "version")
    assert missing.returncode != 0, f"Compose v2 is not hidden:\n{missing.stdout}"
    v1 = shutil.which("docker-compose")
    v1_before = (
        subprocess.run(
            ["docker-compose", "version", "--short"], capture_output=True, text=True, timeout=30
        ).stdout
        if v1
        else None
    )
    apt_before = apt_state()

    installed = as_nobody(nobody_home, "bash", str(ROOT / "ci/lib/compose.sh"))

    assert installed.returncode == 0, installed.stderr
    plugin = nobody_home / ".docker" / "cli-plugins" / "docker-compose"
    assert "compose: installed docker compose 2." in installed.stderr
    assert f"into {plugin.parent}" in installed.stderr
    assert plugin.stat().st_uid == NOBODY
    assert plugin.stat().st_mode & 0o777 == 0o755
    # Only the plugin: nothing else was left in the home (the apt state was temporary).
    assert sorted(p.relative_to(nobody_home).as_posix() for p in nobody_home.rglob("*")) == [
        ".docker",
        ".docker/cli-plugins",
        ".docker/cli-plugins/docker-compose",
    ]
    works = as_nobody(nobody_home, "docker", "compose", "version", "--short")
    assert works.returncode == 0, works.stderr
    assert works.stdout.startswith("2."), works.stdout
    # The system's apt sources and package lists are not touched.
    assert apt_state() == apt_before
    if v1 is not None:  # Compose v1 on this machine: the v2 plugin went in next to it
        assert "only the legacy docker-compose" in installed.stderr
        assert "(v1) is installed; the project needs Compose v2" in installed.stderr
        v1_after = subprocess.run(
            ["docker-compose", "version", "--short"], capture_output=True, text=True, timeout=30
        )
        assert v1_after.stdout == v1_before

    # Idempotent: present now, so nothing is fetched again.
    again = as_nobody(nobody_home, "bash", str(ROOT / "ci/lib/compose.sh"))
    assert again.returncode == 0, again.stderr
    assert again.stderr == f"bootstrap: compose: docker compose {works.stdout.strip()}\n"


@pytest.mark.covers("troubleshooting/docker-group")
def test_a_user_outside_the_docker_group_is_told_to_join_it(nobody_home: Path) -> None:
    socket = Path("/var/run/docker.sock")
    if not socket.exists() or socket.stat().st_mode & 0o006:
        pytest.skip("no daemon socket that only its group may use (/var/run/docker.sock)")
    if subprocess.run(["pgrep", "-x", "dockerd"], capture_output=True, timeout=10).returncode:
        pytest.skip("the daemon is not a process of this machine (engine.sh looks for one)")
    group = socket.stat().st_gid

    def engine_sh(*groups: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                *("setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", *groups),
                *("env", "-i", f"PATH={PATH}", f"HOME={nobody_home}", f"BUILD_DIR={nobody_home}"),
                *("bash", str(ROOT / "ci/lib/engine.sh")),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    outside = engine_sh("--clear-groups")
    assert outside.returncode == 1, outside.stderr
    assert outside.stderr == (
        "bootstrap: error: dockerd is running but nobody cannot reach it: join the docker "
        "group (then log in again) or set DOCKER_HOST\n"
    )
    # Joined (a new login's groups): the same user reaches the daemon, nothing started.
    inside = engine_sh(f"--groups={group}")
    assert inside.returncode == 0, inside.stderr
    assert inside.stderr.startswith("bootstrap: docker engine: reachable, "), inside.stderr
    assert list(nobody_home.iterdir()) == []  # no dockerd.log: no daemon was started
