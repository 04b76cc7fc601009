#!/usr/bin/env bash
# Build the shipped targets that are not this project's server, each on a base of its own:
#   php-tutorial  socket-harness/php-tutorial:local  (targets/php-tutorial: the tutorial's PHP server)
#   socat-echo    socket-harness/socat-echo:local    (targets/socat-echo: socat as a line echo)
#   baseline-blocking, baseline-threaded, baseline-streams  socket-harness/baseline-NAME:local
#                 (targets/baselines: bench/baselines, the benchmark's plain servers, one
#                 stage each, on the project's own Python base: build/base-image, from
#                 ci/bootstrap.sh, with the repository root as context)
# The base of php-tutorial / socat-echo is $PHP_BASE_IMAGE / $SOCAT_BASE_IMAGE when present
# or pullable (for example php:8.2-cli, debian:bookworm-slim), else socket-harness/{php,socat}-base:<suite>, built
# offline from Debian's php-cli / socat the first time (ci/lib/debian-image.sh), reused
# after. Idempotent: an unchanged tree is a cache hit in Docker's builder.
# Prints each built tag on stdout; reports each step and its time on stderr.
# Usage: ci/build-targets.sh [TARGET ...]   (default: all five; `make targets`)
set -euo pipefail
cd "$(dirname "$0")/.."
export CI_NAME=targets
. ci/lib/common.sh
. ci/lib/debian-image.sh

build_dir=$PWD/build
suite=${BASE_SUITE:-bookworm}
revision=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
size() { docker image inspect --format '{{.Size}}' "$1"; }

all=(php-tutorial socat-echo baseline-blocking baseline-threaded baseline-streams)
[ $# -gt 0 ] || set -- "${all[@]}"
targets=()
for target; do
    [[ " ${all[*]} " == *" $target "* ]] || die "no target $target (choose from: ${all[*]})"
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
        baseline-*) cat "$build_dir/base-image" ;;  # the base the project's server builds FROM
    esac
}

# build_args TARGET: where and how `docker build` builds TARGET (context last).
build_args() {
    case "$1" in
        baseline-*) printf '%s\n' --file targets/baselines/Dockerfile --target "${1#baseline-}" . ;;
        *) printf '%s\n' --file "targets/$1/Dockerfile" "targets/$1" ;;
    esac
}

# build_target TARGET: its base, then its image; prints the tag.
build_target() {
    local target=$1 base tag=socket-harness/$1:local log=$build_dir/target-$1.log started=$SECONDS
    base=$(base_of "$target")
    say "base of $target: $base ($((SECONDS - started)) s)"
    started=$SECONDS
    # Output goes to a log and is shown only when the build fails.
    mapfile -t where < <(build_args "$target")
    if ! docker build --tag "$tag" --build-arg "BASE_IMAGE=$base" \
        --build-arg "REVISION=$revision" "${where[@]}" >"$log" 2>&1; then
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
# The baselines' base is chosen once, before they build side by side.
if [[ " ${targets[*]} " == *" baseline-"* && ! -s $build_dir/base-image ]]; then
    ci/bootstrap.sh >/dev/null
fi
# The baselines one after another, the others side by side with them. The engine's
# classic builder builds every stage of targets/baselines/Dockerfile up to the one asked
# for, so three parallel builds each made their own copy of the shared stages' layers; a
# later build took the newest copy from the cache and gave two of the three images new
# IDs (make test's targets/idempotent check failed on it). One after another, each build
# finds the stages before it already built, once.
baselines=() others=()
for target in "${targets[@]}"; do
    case "$target" in baseline-*) baselines+=("$target") ;; *) others+=("$target") ;; esac
done
pids=()
for target in "${others[@]}"; do
    build_target "$target" >"$build_dir/target-$target.tag" &
    pids+=("$!")
done
status=0
for target in "${baselines[@]}"; do
    build_target "$target" >"$build_dir/target-$target.tag" || status=1
done
for pid in "${pids[@]}"; do
    wait "$pid" || status=1
done
[ "$status" -eq 0 ] || die "not every target could be built (see above)"
for target in "${targets[@]}"; do cat "$build_dir/target-$target.tag"; done
say "ready in $((SECONDS - started)) s: ${targets[*]}"
