#!/usr/bin/env bash
# `make test` and CI (.ci/run): set up, lint, the fast tier, the container tier.
# JUnit XML goes to reports/, each part's time is printed at the end, and the
# run fails if it left any labelled container or network behind. Lint and the
# fast tier run beside the container tier (the CPU is free while containers
# start and answer); PARALLEL=0 runs everything one after another.
#
# Usage: ci/test.sh [all|lint|fast|containers|fuzz] [PYTEST_ARGS...]
#   all (default)  venv, bootstrap, lint, fast tier, container tier
#   fuzz           the long hypothesis campaign (HYPOTHESIS_PROFILE=fuzz) over every
#                  property test of both tiers; failures are saved under .hypothesis/
#                  and replayed first on the next run
# Env: HYPOTHESIS_PROFILE (default ci; fuzz for `fuzz`), CI=true (no Docker = failure).
set -euo pipefail
cd "$(dirname "$0")/.."
export CI_NAME=test
. ci/lib/common.sh

tier=${1:-all}
[ $# -eq 0 ] || shift
case "$tier" in
    all | lint | fast | containers | fuzz) ;;
    *) die "usage: ci/test.sh [all|lint|fast|containers|fuzz] [PYTEST_ARGS...]" ;;
esac
in_ci=false
[ "${CI:-}" = true ] && in_ci=true
if [ "$tier" = fuzz ]; then
    export HYPOTHESIS_PROFILE=fuzz
else
    export HYPOTHESIS_PROFILE=${HYPOTHESIS_PROFILE:-ci}
fi
# This run's id: every object the suite creates carries it, so the final check
# finds exactly what this run left (other runs on the machine are not ours).
SOCKET_HARNESS_SESSION=${SOCKET_HARNESS_SESSION:-run$(date +%s)$$}
export SOCKET_HARNESS_SESSION
pytest=(.venv/bin/python -m pytest --durations=5)
fast_tier=("${pytest[@]}" -m "not container" --junitxml=reports/fast.xml "$@")
mkdir -p reports

timings=()
failed=()
now() { date +%s.%N; }
# step NAME CMD...: run CMD, remember how long it took and whether it failed.
step() {
    local name=$1 start status=0
    shift
    say "== $name"
    start=$(now)
    "$@" || status=$?
    timings+=("$(awk -v a="$start" -v b="$(now)" 'BEGIN { printf "%6.1f s", b - a }')  $name")
    if [ "$status" -ne 0 ]; then
        failed+=("$name (exit $status)")
    fi
    return 0
}
# step_in_background NAME LOG CMD...: like step, with CMD's output in LOG; collect_background
# waits for every such step, records it and prints its log.
background_pids=()
background_names=()
background_logs=()
step_in_background() {
    local name=$1 log=$2
    shift 2
    say "== $name (in the background, output in $log)"
    (
        start=$(now)
        status=0
        "$@" >"$log" 2>&1 || status=$?
        printf '%s %s\n' "$status" "$(awk -v a="$start" -v b="$(now)" 'BEGIN { print b - a }')" \
            >"$log.status"
    ) &
    background_pids+=("$!")
    background_names+=("$name")
    background_logs+=("$log")
}
collect_background() {
    local i name log status elapsed
    for i in "${!background_pids[@]}"; do
        name=${background_names[$i]} log=${background_logs[$i]}
        wait "${background_pids[$i]}" || true
        status=1 elapsed=0
        [ ! -f "$log.status" ] || read -r status elapsed <"$log.status"
        rm -f "$log.status"
        say "== $name: output"
        cat "$log" >&2
        timings+=("$(printf '%6.1f s' "$elapsed")  $name (in parallel)")
        [ "$status" -eq 0 ] || failed+=("$name (exit $status)")
    done
    background_pids=() background_names=() background_logs=()
}

report() {
    say "== timings"
    printf '  %s\n' "${timings[@]}" >&2
    if [ ${#failed[@]} -gt 0 ]; then
        say "FAILED: ${failed[*]}"
        exit 1
    fi
    say "all passed (JUnit XML in reports/)"
}

docker_ready() {
    # Bootstrap makes a machine ready (engine, compose v2, base image). Without
    # Docker outside CI the container tests skip with the reason instead.
    if ci/bootstrap.sh; then
        return 0
    fi
    if $in_ci; then
        return 1
    fi
    say "bootstrap failed: container tests will be skipped (CI=true makes this a failure)"
}

lint() {
    local status=0
    .venv/bin/python -m ruff check . || status=1
    .venv/bin/python -m ruff format --check . || status=1
    .venv/bin/python -m mypy || status=1
    # The GitHub workflow, offline: GitHub's own schema (shipped in check-jsonschema),
    # then actionlint's checks of expressions, job graphs and action inputs.
    .venv/bin/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml ||
        status=1
    .venv/bin/actionlint .github/workflows/*.yml || status=1
    return "$status"
}

# Container modules whose time goes to work outside the suite's containers (an
# offline base-image build): with PARALLEL=1 they run in a pytest of their own,
# beside the rest, under a session id of their own.
SIDE_MODULES=(tests/containers/test_bootstrap.py)
sessions=("$SOCKET_HARNESS_SESSION")

container_tier() {
    local side=() ignore=() module
    for module in "${SIDE_MODULES[@]}"; do
        [ -f "$module" ] || continue
        side+=("$module")
        ignore+=(--ignore="$module")
    done
    if [ "${PARALLEL:-1}" != 1 ] || [ ${#side[@]} -eq 0 ]; then
        step "container tier" "${pytest[@]}" tests/containers -m container \
            --junitxml=reports/containers.xml "$@"
        return
    fi
    sessions+=("$SOCKET_HARNESS_SESSION-side")
    step_in_background "container tier: ${side[*]##*/}" reports/containers-side.log \
        env SOCKET_HARNESS_SESSION="$SOCKET_HARNESS_SESSION-side" "${pytest[@]}" "${side[@]}" \
        -m container --junitxml=reports/containers-side.xml "$@"
    step "container tier" "${pytest[@]}" tests/containers "${ignore[@]}" -m container \
        --junitxml=reports/containers.xml "$@"
}

leftovers() {
    local session status=0
    for session in "${sessions[@]}"; do
        ci/sweep.sh --check --session "$session" && continue
        ci/sweep.sh --session "$session" || true
        status=1
    done
    return "$status"
}

step "venv" ci/venv.sh
[ ${#failed[@]} -eq 0 ] || report

case "$tier" in
    lint)
        step "lint (ruff, mypy, workflow)" lint
        ;;
    fast)
        step "fast tier" "${fast_tier[@]}"
        ;;
    containers)
        step "bootstrap" docker_ready
        container_tier "$@"
        collect_background
        step "nothing left behind" leftovers
        ;;
    fuzz)
        step "bootstrap" docker_ready
        # Every hypothesis test (the marker is hypothesis' own), without the per-test cap.
        step "fuzz campaign" "${pytest[@]}" -m hypothesis --timeout=0 \
            --junitxml=reports/fuzz.xml "$@"
        step "nothing left behind" leftovers
        ;;
    all)
        step "bootstrap" docker_ready
        # Another run's objects never meet ours (each run has its own id and names),
        # so they are only pointed out: removing them could break a run still going.
        ci/sweep.sh --check 2>/dev/null || say "note: other runs' objects exist (make sweep)"
        # Lint and the fast tier run on the CPU while the container tier mostly waits
        # on Docker: side by side they fit the time budget (PARALLEL=0: one by one).
        if [ "${PARALLEL:-1}" = 1 ]; then
            step_in_background "lint (ruff, mypy, workflow)" reports/lint.log lint
            step_in_background "fast tier" reports/fast.log "${fast_tier[@]}"
        else
            step "lint (ruff, mypy, workflow)" lint
            step "fast tier" "${fast_tier[@]}"
        fi
        container_tier "$@"
        collect_background
        step "nothing left behind" leftovers
        ;;
esac
report
