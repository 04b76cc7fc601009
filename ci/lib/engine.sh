#!/usr/bin/env bash
# Make a Docker Engine reachable: start the installed daemon, or install it on Debian first.
set -euo pipefail
CI_NAME=${CI_NAME:-bootstrap}
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/common.sh"
log_dir=${BUILD_DIR:-$(cd "$(dirname "$0")/../.." && pwd)/build}

engine_version() { docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})' 2>/dev/null; }

if v=$(engine_version); then
    say "docker engine: reachable, $v"
    exit 0
fi

if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then
    command -v apt-get >/dev/null 2>&1 ||
        die "Docker is not installed and this is not a Debian-like system: install Docker Engine, then rerun"
    say "docker engine: not installed; installing Debian's docker.io"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -qq -y --no-install-recommends docker.io >&2 ||
        die "could not install docker.io (need root or passwordless sudo, and a reachable Debian mirror)"
fi

# The CLI exists but talks to nothing: when the daemon is running we simply lack access.
if pgrep -x dockerd >/dev/null 2>&1 && ! is_root; then
    die "dockerd is running but $(id -un) cannot reach it: join the docker group (then log in again) or set DOCKER_HOST"
fi

say "docker engine: not reachable; starting the installed daemon"
if [ -d /run/systemd/system ] && as_root systemctl start docker 2>/dev/null; then
    say "docker engine: started with systemctl"
elif command -v service >/dev/null 2>&1 && as_root service docker start >&2 2>/dev/null; then
    say "docker engine: started with service"
else
    mkdir -p "$log_dir"
    # shellcheck disable=SC2016 # $1 is expanded by that inner sh
    as_root sh -c 'nohup dockerd >"$1" 2>&1 &' sh "$log_dir/dockerd.log" ||
        die "cannot start dockerd (need root or passwordless sudo)"
    say "docker engine: started dockerd in the background, log in $log_dir/dockerd.log"
fi

for _ in $(seq 60); do
    if v=$(engine_version); then
        say "docker engine: reachable, $v"
        exit 0
    fi
    sleep 0.5
done
die "the Docker daemon did not answer within 30 s (see $log_dir/dockerd.log or 'journalctl -u docker')"
