#!/usr/bin/env bash
# Build socket-harness/server:local and socket-harness/client:local from the
# base image ci/bootstrap.sh chose (build/base-image), and report what each adds.
# Usage: ci/build-images.sh [server|client ...]   (default: both)
set -euo pipefail
cd "$(dirname "$0")/.."
export CI_NAME=images
. ci/lib/common.sh

[ -s build/base-image ] || ci/bootstrap.sh >/dev/null
base=$(cat build/base-image)
docker image inspect "$base" >/dev/null 2>&1 ||
    die "base image $base (from build/base-image) is gone: rerun ci/bootstrap.sh"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml | head -n1)
revision=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
size() { docker image inspect --format '{{.Size}}' "$1"; }
base_size=$(size "$base")

apps=("$@")
[ ${#apps[@]} -gt 0 ] || apps=(server client)
for app in "${apps[@]}"; do
    [ -f "$app/Dockerfile" ] || die "no $app/Dockerfile (choose server or client)"
    tag=socket-harness/$app:local
    log=build/image-$app.log
    started=$SECONDS
    # Output goes to a log and is shown only when the build fails.
    if ! docker build --file "$app/Dockerfile" --tag "$tag" \
        --build-arg "BASE_IMAGE=$base" --build-arg "VERSION=${version:-dev}" \
        --build-arg "REVISION=$revision" . >"$log" 2>&1; then
        cat "$log" >&2
        die "building $tag failed (log: $log)"
    fi
    added=$(( $(size "$tag") - base_size ))
    say "built $tag on $base in $((SECONDS - started)) s, adding $added bytes to the base"
done
