#!/usr/bin/env bash
# Build the server and client images from the base image ci/bootstrap.sh chose
# (build/base-image), and report what each adds. Every build is named by the
# image ID it returned: it is tagged socket-harness/APP:ID12 (the ID's first 12
# hex digits, as `docker images` shows it), a tag no other tree's build can
# take, and stdout gets one line per image, "APP ID TAG", for the caller to run
# by ID. Two checkouts building at once on one engine never see each other's
# images; the test suite, `make demo` and `make bench` all build through here.
# Usage: ci/build-images.sh [--local] [server|client ...]   (default: both)
#   --local  also point socket-harness/APP:local at the new images (for `docker
#            run` and `docker compose up` by hand; `make images` does this)
set -euo pipefail
cd "$(dirname "$0")/.."
export CI_NAME=images
. ci/lib/common.sh

local_alias=false
apps=()
for arg in "$@"; do
    case "$arg" in
        --local) local_alias=true ;;
        server | client) apps+=("$arg") ;;
        *) die "usage: ci/build-images.sh [--local] [server|client ...]" ;;
    esac
done
[ ${#apps[@]} -gt 0 ] || apps=(server client)

[ -s build/base-image ] || ci/bootstrap.sh >/dev/null
base=$(cat build/base-image)
docker image inspect "$base" >/dev/null 2>&1 ||
    die "base image $base (from build/base-image) is gone: rerun ci/bootstrap.sh"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml | head -n1)
revision=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
size() { docker image inspect --format '{{.Size}}' "$1"; }
base_size=$(size "$base")

# Files of this run alone: another run may build from the same checkout at once.
scratch=$(mktemp -d "${TMPDIR:-/tmp}/build-images.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
for app in "${apps[@]}"; do
    [ -f "$app/Dockerfile" ] || die "no $app/Dockerfile"
    log=$scratch/$app.log
    started=$SECONDS
    # No tag during the build: the image is named only once its ID is known.
    # Output goes to a log and is shown only when the build fails.
    if ! docker build --file "$app/Dockerfile" --iidfile "$scratch/$app.id" \
        --build-arg "BASE_IMAGE=$base" --build-arg "VERSION=${version:-dev}" \
        --build-arg "REVISION=$revision" . >"$log" 2>&1; then
        cat "$log" >&2
        die "building the $app image failed"
    fi
    id=$(cat "$scratch/$app.id")
    hex=${id#sha256:}
    tag=socket-harness/$app:${hex:0:12}
    docker tag "$id" "$tag"
    added=$(($(size "$id") - base_size))
    say "built $tag on $base in $((SECONDS - started)) s, adding $added bytes to the base"
    if $local_alias; then
        docker tag "$id" "socket-harness/$app:local"
        say "socket-harness/$app:local now names $tag"
    fi
    printf '%s %s %s\n' "$app" "$id" "$tag"
done
