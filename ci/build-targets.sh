#!/usr/bin/env bash
# Build the shipped targets that are not this project's server, each on a base of its own:
#   php-tutorial  socket-harness/php-tutorial:local  (targets/php-tutorial: the tutorial's PHP server)
#   socat-echo    socket-harness/socat-echo:local    (targets/socat-echo: socat as a line echo)
# A base is $PHP_BASE_IMAGE / $SOCAT_BASE_IMAGE when present or pullable (for example
# php:8.2-cli, debian:bookworm-slim), else socket-harness/{php,socat}-base:<suite>, built
# offline from Debian's php-cli / socat the first time (ci/lib/debian-image.sh), reused
# after. Idempotent: an unchanged tree is a cache hit in Docker's builder.
# Prints each built tag on stdout; reports each step and its time on stderr.
# Usage: ci/build-targets.sh [php-tutorial|socat-echo ...]   (default: both; `make targets`)
set -euo pipefail
cd "$(dirname "$0")/.."
export CI_NAME=targets
. ci/lib/common.sh
. ci/lib/debian-image.sh

build_dir=$PWD/build
suite=${BASE_SUITE:-bookworm}
revision=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
size() { docker image inspect --format '{{.Size}}' "$1"; }

[ $# -gt 0 ] || set -- php-tutorial socat-echo
targets=()
for target; do
    case "$target" in
        php-tutorial | socat-echo) ;;
        *) die "no target $target (choose php-tutorial or socat-echo)" ;;
    esac
    [[ " ${targets[*]} " == *" $target "* ]] || targets+=("$target")  # each once
done
ci/lib/engine.sh  # a reachable Docker Engine (started, or installed on Debian, if need be)

# base_of TARGET: choose (or build) TARGET's base image; prints its reference.
base_of() {
    case "$1" in
        php-tutorial)
            choose_base PHP_BASE_IMAGE "socket-harness/php-base:$suite" php-base php-cli 'CMD ["php", "-a"]' ;;
        socat-echo)
            choose_base SOCAT_BASE_IMAGE "socket-harness/socat-base:$suite" socat-base socat 'CMD ["socat", "-V"]' ;;
    esac
}

# build_target TARGET: its base, then its image; prints the tag.
build_target() {
    local target=$1 base tag=socket-harness/$1:local log=$build_dir/target-$1.log started=$SECONDS
    base=$(base_of "$target")
    say "base of $target: $base ($((SECONDS - started)) s)"
    started=$SECONDS
    # Output goes to a log and is shown only when the build fails.
    if ! docker build --file "targets/$target/Dockerfile" --tag "$tag" \
        --build-arg "BASE_IMAGE=$base" --build-arg "REVISION=$revision" \
        "targets/$target" >"$log" 2>&1; then
        cat "$log" >&2
        die "building $tag failed (log: ${log#"$PWD"/})"
    fi
    say "built $tag on $base in $((SECONDS - started)) s, adding $(($(size "$tag") - $(size "$base"))) bytes to the base"
    printf '%s\n' "$tag"
}

# The targets side by side: an offline base build mostly waits on the mirror and
# dpkg, an image build on the engine, not on the CPU.
mkdir -p "$build_dir"
started=$SECONDS
pids=()
for target in "${targets[@]}"; do
    build_target "$target" >"$build_dir/target-$target.tag" &
    pids+=("$!")
done
status=0
for i in "${!targets[@]}"; do
    wait "${pids[$i]}" || status=1
done
[ "$status" -eq 0 ] || die "not every target could be built (see above)"
for target in "${targets[@]}"; do cat "$build_dir/target-$target.tag"; done
say "ready in $((SECONDS - started)) s: ${targets[*]}"
