#!/usr/bin/env bash
# Remove what a killed test run left behind: containers and networks labelled
# org.socket-harness.test, and compose projects named socket-harness-test-*
# (the labels and prefix of socket_harness/labels.py). Images are kept.
# Usage: ci/sweep.sh [--check] [--session ID]
#   --check       list them and exit 1 if there are any; remove nothing
#   --session ID  only what the run with that id made (ci/test.sh checks its own run)
set -euo pipefail
cd "$(dirname "$0")/.."
export CI_NAME=sweep
. ci/lib/common.sh

label=org.socket-harness.test
prefix=socket-harness-test-
check=false
session=
while [ $# -gt 0 ]; do
    case "$1" in
        --check) check=true ;;
        --session) session=${2:?--session needs an id}; shift ;;
        *) die "usage: ci/sweep.sh [--check] [--session ID]" ;;
    esac
    shift
done
# A run's objects carry its id; its compose projects are named prefix + id (+ suffix).
filter="label=$label"
[ -z "$session" ] || filter="label=org.socket-harness.session=$session"
prefix=$prefix$session
docker info >/dev/null 2>&1 || { say "no reachable Docker Engine: nothing to sweep"; exit 0; }

# "ID NAME" of every leftover `container` or `network` ($1): labelled, or in one
# of the suite's compose projects.
leftovers() {
    local list=(docker "$1" ls) name=Name
    [ "$1" = network ] || list+=(--all) name=Names
    "${list[@]}" --filter "$filter" --format "{{.ID}} {{.$name}}"
    "${list[@]}" --filter label=com.docker.compose.project \
        --format "{{.ID}} {{.$name}} {{.Label \"com.docker.compose.project\"}}" |
        awk -v p="$prefix" 'index($3, p) == 1 { print $1, $2 }'
}
ids() { cut -d' ' -f1 <<<"$1"; }
names() { cut -d' ' -f2 <<<"$1" | xargs; }

containers=$(leftovers container | sort -u)
networks=$(leftovers network | sort -u)
if $check; then
    [ -z "$containers$networks" ] && exit 0
    [ -z "$containers" ] || say "left behind: containers: $(names "$containers")"
    [ -z "$networks" ] || say "left behind: networks: $(names "$networks")"
    exit 1
fi
if [ -n "$containers" ]; then
    ids "$containers" | xargs docker rm --force --volumes >/dev/null
    say "removed containers: $(names "$containers")"
fi
if [ -n "$networks" ]; then
    ids "$networks" | xargs docker network rm >/dev/null
    say "removed networks: $(names "$networks")"
fi
[ -n "$containers$networks" ] || say "nothing left behind"
