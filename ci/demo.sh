#!/usr/bin/env bash
# `make demo`: bootstrap, build the images, run compose.yaml to its end, check it.
# The stack ends by itself (the server stops after five sessions); this script
# then checks what `docker compose up` does not: every container exited 0 and
# the five clients each got the greeting and the answer. The stack is removed
# afterwards, whatever happened. DEMO_TIMEOUT (s) bounds the run (default 120).
# The stack runs the image IDs this checkout's build returned (SERVER_IMAGE and
# CLIENT_IMAGE, which compose.yaml reads), not a tag another checkout could move.
set -euo pipefail
cd "$(dirname "$0")/.."
export CI_NAME=demo
. ci/lib/common.sh

ci/bootstrap.sh >/dev/null
built=$(ci/build-images.sh)
SERVER_IMAGE=$(awk '$1 == "server" { print $2 }' <<<"$built")
CLIENT_IMAGE=$(awk '$1 == "client" { print $2 }' <<<"$built")
BASE_IMAGE=$(cat build/base-image)
export SERVER_IMAGE CLIENT_IMAGE BASE_IMAGE
# One stack per checkout: compose.yaml's name alone would make two checkouts' demos on
# one engine share (and remove) each other's containers. COMPOSE_PROJECT_NAME from the
# environment wins (a test runs its own copy under the sweeper's prefix).
export COMPOSE_PROJECT_NAME="${COMPOSE_PROJECT_NAME:-socket-harness-$(pwd -P | sha256sum | cut -c1-8)}"
compose=(docker compose --progress quiet)
[ -t 1 ] || compose+=(--ansi never)  # plain lines when the output is a log, not a terminal
clients=5
greeting='测试成功!'
answer='收到的信息:Ho'

trap '"${compose[@]}" down --remove-orphans --timeout 15 >/dev/null 2>&1 || true' EXIT
"${compose[@]}" down --remove-orphans >/dev/null 2>&1 || true  # a killed earlier run
say "docker compose up: one server, $clients clients (docker compose $(docker compose version --short))"
status=0
if [ -t 1 ]; then
    timeout "${DEMO_TIMEOUT:-120}" "${compose[@]}" up --no-build || status=$?
else
    # Compose 2.26 starts each log line with an erase-line escape even into a file: drop it.
    timeout "${DEMO_TIMEOUT:-120}" "${compose[@]}" up --no-build | sed -u $'s/\e\\[2K//g' || status=$?
fi
[ "$status" -ne 124 ] || die "the stack was still running after ${DEMO_TIMEOUT:-120} s"
[ "$status" -eq 0 ] || die "docker compose up failed with exit code $status"

# `docker compose up` returns 0 however its containers ended: look at each one.
failed=0 count=0
while read -r name code image; do
    say "${name#/} exited $code (image ${image:7:12})"
    count=$((count + 1))
    [ "$code" -eq 0 ] || failed=$((failed + 1))
done < <("${compose[@]}" ps --all --quiet | xargs -r docker inspect --format '{{.Name}} {{.State.ExitCode}} {{.Image}}')
logs=$("${compose[@]}" logs --no-color client)
greetings=$(grep -c -F "$greeting" <<<"$logs" || true)
answers=$(grep -c -F "$answer" <<<"$logs" || true)
say "$count containers, $failed failed; $greetings greetings and $answers answers in the clients' logs"
[ "$count" -eq $((clients + 1)) ] || die "expected $((clients + 1)) containers, found $count"
[ "$failed" -eq 0 ] || die "$failed containers exited non-zero"
if [ "$greetings" -ne "$clients" ] || [ "$answers" -ne "$clients" ]; then
    die "expected $clients greetings and $clients answers"
fi
say "ok: $clients greetings, $clients answers, every container exited 0"
