#!/usr/bin/env bash
# Remove what a killed test run left behind: containers and networks labelled
# org.socket-harness.test, and compose projects named socket-harness-test-*
# (the labels and prefix of tests/harness/labels.py). Images are kept.
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

# "ID NAME" of every leftover: labelled, or in one of the suite's compose projects.
leftover_containers() {
    docker ps -a --filter "$filter" --format '{{.ID}} {{.Names}}'
    docker ps -a --filter label=com.docker.compose.project \
        --format '{{.ID}} {{.Names}} {{.Label "com.docker.compose.project"}}' |
        awk -v p="$prefix" 'index($3, p) == 1 { print $1, $2 }'
}
leftover_networks() {
    docker network ls --filter "$filter" --format '{{.ID}} {{.Name}}'
    docker network ls --filter label=com.docker.compose.project \
        --format '{{.ID}} {{.Name}} {{.Label "com.docker.compose.project"}}' |
        awk -v p="$prefix" 'index($3, p) == 1 { print $1, $2 }'
}

containers=$(leftover_containers | sort -u)
networks=$(leftover_networks | sort -u)
if $check; then
    [ -z "$containers$networks" ] && exit 0
    [ -z "$containers" ] || say "left behind: containers: $(cut -d' ' -f2 <<<"$containers" | xargs)"
    [ -z "$networks" ] || say "left behind: networks: $(cut -d' ' -f2 <<<"$networks" | xargs)"
    exit 1
fi
if [ -n "$containers" ]; then
    cut -d' ' -f1 <<<"$containers" | xargs docker rm --force --volumes >/dev/null
    say "removed containers: $(cut -d' ' -f2 <<<"$containers" | xargs)"
fi
if [ -n "$networks" ]; then
    cut -d' ' -f1 <<<"$networks" | xargs docker network rm >/dev/null
    say "removed networks: $(cut -d' ' -f2 <<<"$networks" | xargs)"
fi
[ -n "$containers$networks" ] || say "nothing left behind"
