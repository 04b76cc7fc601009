# shellcheck shell=bash
# Base images from Debian packages, built offline (sourced after common.sh, not run).
# One recipe for every base the project builds on: the Python base of the server
# and client images (ci/lib/base-image.sh) and the shipped targets' PHP and socat
# bases (ci/build-targets.sh) differ only in their package list.
# The caller sets `build_dir`: the root tarball is staged there, then removed.

image_present() { docker image inspect --format '{{.Id}}' "$1" >/dev/null 2>&1; }

# debian_image REF TITLE PACKAGES [CHANGE...]
# Build REF offline: mmdebstrap makes a Debian ${BASE_SUITE:-bookworm} minbase root
# with PACKAGES (comma-separated, as --include takes them), from the mirror the
# machine's apt already uses (debian_mirror), and `docker import` turns it into
# an image with LANG=C.UTF-8, OCI title TITLE and the extra Dockerfile
# instructions CHANGE (`CMD [...]`); BASE_IMAGE_LABELS adds "key=value" labels.
# A subshell: its EXIT trap removes the tarball however it ends; dies on failure.
debian_image() (
    local ref=$1 title=$2 packages=$3 suite=${BASE_SUITE:-bookworm} mirror tar label
    shift 3
    if ! command -v mmdebstrap >/dev/null 2>&1; then
        command -v apt-get >/dev/null 2>&1 ||
            die "no $ref and no mmdebstrap to build it: install mmdebstrap, or name a base image to use"
        say "base image: installing mmdebstrap to build $ref"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -qq -y --no-install-recommends mmdebstrap >&2 ||
            die "could not install mmdebstrap (need root or passwordless sudo, and a reachable Debian mirror)"
    fi
    mirror=$(debian_mirror) ||
        die "no Debian mirror configured in /etc/apt to build $ref from (set DEBIAN_MIRROR=URL)"
    mkdir -p "${build_dir:?}"
    tar=$(mktemp "$build_dir/$title-$suite.XXXXXX.tar")
    trap 'rm -f "$tar"' EXIT
    say "base image: building $ref offline: mmdebstrap minbase + ${packages//,/ } from Debian $suite ($mirror)"
    # Docs, man pages and translations are dead weight in a service image; copyrights stay.
    mmdebstrap --quiet --variant=minbase --include="$packages" \
        --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
        --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
        "$suite" "$tar" "$mirror" >&2 || die "mmdebstrap failed to build Debian $suite from $mirror"
    local changes=(--change 'ENV LANG=C.UTF-8'
        --change "LABEL org.opencontainers.image.title=$title org.opencontainers.image.description=\"Debian $suite minbase with ${packages//,/ }, built offline with mmdebstrap by socket-harness\"")
    for label in "$@"; do changes+=(--change "$label"); done
    for label in ${BASE_IMAGE_LABELS:-}; do changes+=(--change "LABEL $label"); done
    docker import "${changes[@]}" "$tar" "$ref" >/dev/null || die "docker import of $tar failed"
    say "base image: built $ref ($(docker image inspect --format '{{.Size}}' "$ref" | awk '{ printf "%.0f MB", $1 / 1e6 }'))"
)

# choose_base VAR DEFAULT_REF TITLE PACKAGES [CHANGE...]
# Print the base image to build FROM, saying why on stderr:
#   1. the image named by the variable VAR, when it is present locally or can be pulled;
#   2. else DEFAULT_REF when an earlier run built it;
#   3. else DEFAULT_REF, built now by debian_image DEFAULT_REF TITLE PACKAGES CHANGE...
choose_base() {
    local var=$1 default_ref=$2 wanted=${!1:-}
    shift 2
    if [ -n "$wanted" ]; then
        if image_present "$wanted"; then
            say "base image: $var=$wanted is present locally"
            printf '%s\n' "$wanted"; return 0
        elif timeout "${PULL_TIMEOUT:-300}" docker pull --quiet "$wanted" >/dev/null 2>&1; then
            say "base image: pulled $var=$wanted"
            printf '%s\n' "$wanted"; return 0
        fi
        say "base image: $var=$wanted is not present and cannot be pulled; falling back to $default_ref"
    fi
    if image_present "$default_ref"; then
        say "base image: reusing $default_ref (built by an earlier run)"
    else
        debian_image "$default_ref" "$@"
    fi
    printf '%s\n' "$default_ref"
}
