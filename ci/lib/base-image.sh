#!/usr/bin/env bash
# Choose the Python base image the project's Dockerfiles build FROM, and say why:
#   1. $BASE_IMAGE, when it is present locally or can be pulled;
#   2. else socket-harness/python-base:<suite> when an earlier run built it;
#   3. else build that one offline from Debian packages (mmdebstrap + docker import).
# Writes the reference to build/base-image and prints it on stdout.
set -euo pipefail
CI_NAME=${CI_NAME:-bootstrap}
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/common.sh"
build_dir=${BUILD_DIR:-$(cd "$(dirname "$0")/../.." && pwd)/build}
suite=${BASE_SUITE:-bookworm}
default_ref=${BASE_IMAGE_REPO:-socket-harness/python-base}:$suite

present() { docker image inspect --format '{{.Id}}' "$1" >/dev/null 2>&1; }

# The Dockerfiles run `python3 -m ...` and the code needs Python 3.11 or later.
check_python() {
    docker run --rm --network none --entrypoint python3 "$1" \
        -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 ||
        die "$1 has no python3 >= 3.11; choose another BASE_IMAGE"
}

build_offline() {
    local ref=$1 mirror
    if ! command -v mmdebstrap >/dev/null 2>&1; then
        command -v apt-get >/dev/null 2>&1 ||
            die "no base image and no mmdebstrap to build one: set BASE_IMAGE to a local python:3.11+ image"
        say "base image: installing mmdebstrap to build $ref"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -qq -y --no-install-recommends mmdebstrap >&2 ||
            die "could not install mmdebstrap (need root or passwordless sudo, and a reachable Debian mirror)"
    fi
    mirror=$(debian_mirror) ||
        die "no Debian mirror configured in /etc/apt to build $ref from (set DEBIAN_MIRROR=URL)"
    mkdir -p "$build_dir"
    tar=$(mktemp "$build_dir/base-$suite.XXXXXX.tar")  # global: the EXIT trap outlives this function
    trap 'rm -f "$tar"' EXIT
    say "base image: building $ref offline: mmdebstrap minbase + python3 from Debian $suite ($mirror)"
    # Docs, man pages and translations are dead weight in a service image; copyrights stay.
    mmdebstrap --quiet --variant=minbase --include=python3 \
        --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
        --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
        "$suite" "$tar" "$mirror" >&2 || die "mmdebstrap failed to build Debian $suite from $mirror"
    local changes=(--change 'ENV LANG=C.UTF-8' --change 'CMD ["python3"]'
        --change "LABEL org.opencontainers.image.title=python-base org.opencontainers.image.description=\"Debian $suite minbase with python3, built offline by ci/bootstrap.sh\"")
    local label
    for label in ${BASE_IMAGE_LABELS:-}; do changes+=(--change "LABEL $label"); done
    docker import "${changes[@]}" "$tar" "$ref" >/dev/null || die "docker import of $tar failed"
    say "base image: built $ref ($(docker image inspect --format '{{.Size}}' "$ref" | awk '{ printf "%.0f MB", $1 / 1e6 }'))"
}

ref=
if [ -n "${BASE_IMAGE:-}" ]; then
    if present "$BASE_IMAGE"; then
        ref=$BASE_IMAGE; say "base image: BASE_IMAGE=$ref is present locally"
    elif timeout "${PULL_TIMEOUT:-300}" docker pull --quiet "$BASE_IMAGE" >/dev/null 2>&1; then
        ref=$BASE_IMAGE; say "base image: pulled BASE_IMAGE=$ref"
    else
        say "base image: BASE_IMAGE=$BASE_IMAGE is not present and cannot be pulled; falling back to $default_ref"
    fi
fi
if [ -z "$ref" ]; then
    if present "$default_ref"; then
        say "base image: reusing $default_ref (built by an earlier run)"
    else
        build_offline "$default_ref"
    fi
    ref=$default_ref
fi
check_python "$ref"
mkdir -p "$build_dir"
printf '%s\n' "$ref" >"$build_dir/base-image"
say "base image: $ref (written to ${build_dir#"$PWD"/}/base-image)"
printf '%s\n' "$ref"
