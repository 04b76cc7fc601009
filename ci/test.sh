#!/usr/bin/env bash
# `make test` and CI (.ci/run): what pytest cannot do for itself, around one pytest
# run that pytest-xdist spreads over WORKERS processes (default: one per core).
# Here: the venv, the bootstrap (Docker engine, base image), lint, Ctrl-C, and the
# final check that the run left no labelled container or network behind. In
# pytest (tests/conftest.py): workers, the order modules go out, JUnit XML in
# reports/, time per tier and module, the leftover check of the session itself.
# Lint runs beside the tests (its CPU time fits where container tests wait on
# Docker); LINT_BESIDE=0 runs it first, on its own.
# Ctrl-C (SIGINT) or SIGTERM stops every running part, removes what the run
# made, reports each unfinished part as interrupted and exits 130 (143 for TERM).
#
# Usage: ci/test.sh [all|lint|fast|containers|fuzz] [PYTEST_ARGS...]
#   all (default)  venv, bootstrap, lint, both tiers in one pytest run
#   fast           the fast tier only (no Docker)
#   containers     the container tier only; CI's runners each take one shard of it:
#                  ci/test.sh containers --splits 3 --group 2 (pytest-split, .test_durations)
#   fuzz           the long hypothesis campaign (HYPOTHESIS_PROFILE=fuzz) over every
#                  property test of both tiers; failures are saved under .hypothesis/
#                  and replayed first on the next run
# Env: WORKERS (pytest-xdist's -n: a number, or auto = one per core; default auto),
#      HYPOTHESIS_PROFILE (default ci; fuzz for `fuzz`), CI=true (no Docker = failure),
#      REPORTS_DIR (default reports), STOP_GRACE (s a part may take to stop, default 60).
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
# --dist loadfile: a module's tests, and its module-scoped server, stay on one worker;
# --no-loadscope-reorder: modules go out in the order tests/conftest.py sets (longest
# first, by .test_durations), not xdist's own (most tests first).
pytest=(.venv/bin/python -m pytest -n "${WORKERS:-auto}" --dist loadfile --no-loadscope-reorder
    --durations=5)
reports=${REPORTS_DIR:-reports}
mkdir -p "$reports"

timings=()
failed=()
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%6.1f", b - a }'; }

# Every part runs as a job in a process group of its own (job control is on just
# for the fork), so a Ctrl-C from the terminal reaches this script alone, which
# forwards it to each running part (interrupt, below). Without this, the parts
# in the background ignored SIGINT while their own children (a test's server,
# mmdebstrap) took it, and ended as failures.
scratch=$(mktemp -d "${TMPDIR:-/tmp}/ci-test.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
# pause SECONDS without a child process (a read that times out on a FIFO nobody
# writes), so a second Ctrl-C while stopping reaches this script alone. Opened
# on first use: the parts started before need not inherit it.
pause() {
    [ -n "${pause_fd:-}" ] || { mkfifo "$scratch/pause" && exec {pause_fd}<>"$scratch/pause"; }
    read -r -t "$1" -u "$pause_fd" _ || true
}
declare -A part_names=() part_starts=() part_logs=()
# start_part NAME LOG CMD...: start CMD (output to LOG, or - for ours) and set part_pid;
# $scratch/PID holds its seconds once it has ended by itself.
start_part() {
    local name=$1 log=$2 start
    shift 2
    start=$(now)
    set -m
    (
        status=0
        if [ "$log" = - ]; then "$@" </dev/null || status=$?; else "$@" </dev/null >"$log" 2>&1 || status=$?; fi
        elapsed "$start" >"$scratch/$BASHPID"
        exit "$status"
    ) &
    part_pid=$!
    set +m
    part_names[$part_pid]=$name part_starts[$part_pid]=$start part_logs[$part_pid]=$log
}
# finish_part PID [SUFFIX]: wait for the part, record its time and whether it failed.
finish_part() {
    local pid=$1 suffix=${2:-} name=${part_names[$1]} status=0 seconds
    wait "$pid" || status=$?
    seconds=$(cat "$scratch/$pid" 2>/dev/null || elapsed "${part_starts[$pid]}")
    timings+=("$seconds s  $name$suffix")
    case "$status" in
        0) ;;
        5) failed+=("$name (exit 5: pytest ran no test)") ;; # never a pass
        *) failed+=("$name (exit $status)") ;;
    esac
    unset "part_names[$pid]" "part_starts[$pid]" "part_logs[$pid]"
}
# step NAME CMD...: run CMD to its end, remember how long it took and whether it failed.
step() {
    local name=$1
    shift
    say "== $name"
    start_part "$name" - "$@"
    finish_part "$part_pid"
}
# step_in_background NAME LOG CMD...: like step, with CMD's output in LOG; collect_background
# waits for every such step, records it and prints its log.
background_pids=()
step_in_background() {
    local name=$1 log=$2
    shift 2
    say "== $name (in the background, output in $log)"
    start_part "$name" "$log" "$@"
    background_pids+=("$part_pid")
}
collect_background() {
    local pid name log
    for pid in "${background_pids[@]}"; do
        name=${part_names[$pid]} log=${part_logs[$pid]}
        finish_part "$pid" " (in parallel)"
        say "== $name: output"
        cat "$log" >&2
    done
    background_pids=()
}

# interrupt SIGNAL: stop every running part (SIGINT to its process group: pytest
# tears its fixtures down on SIGINT, not on SIGTERM), wait up to STOP_GRACE s,
# then kill whatever is left in the group; remove what the run made, report, and
# exit 128 + the signal's number. A second signal while stopping kills at once.
interrupt() {
    local signal=$1 code=130 pid unfinished=() names=() deadline list
    [ "$signal" = INT ] || code=143
    trap 'say "stopping at once"; kill_parts KILL' INT TERM
    for pid in $(printf '%s\n' "${!part_names[@]}" | sort -n); do # in the order they started
        # A part that ended by itself before the signal keeps its own result.
        [ -f "$scratch/$pid" ] && continue
        unfinished+=("$pid")
        disown "$pid" # it ends here, reported below, not by bash's own "Killed" line
    done
    say "SIG$signal: stopping ${#unfinished[@]} running part(s)"
    kill_parts INT
    await_groups "${STOP_GRACE:-60}" "${unfinished[@]}"
    for pid in "${unfinished[@]}"; do
        ! kill -0 -- "-$pid" 2>/dev/null ||
            say "${part_names[$pid]}: still running after ${STOP_GRACE:-60} s, killed"
    done
    kill_parts KILL # what outlived the grace, or a child that ignored SIGINT
    await_groups 5 "${unfinished[@]}"
    for pid in "${unfinished[@]}"; do
        names+=("${part_names[$pid]}")
        timings+=("$(elapsed "${part_starts[$pid]}") s  ${part_names[$pid]} (interrupted)")
        [ "${part_logs[$pid]}" = - ] || say "${part_names[$pid]}: its output is in ${part_logs[$pid]}"
        unset "part_names[$pid]"
    done
    for pid in $(printf '%s\n' "${!part_names[@]}" | sort -n); do
        finish_part "$pid" " (in parallel)" # only a background part can have ended unseen
    done
    # Remove, and name, what the stopped parts left behind (lint and the fast tier make nothing).
    ! $uses_docker || leftovers || true
    say "== timings"
    printf '  %s\n' "${timings[@]}" >&2
    [ ${#failed[@]} -eq 0 ] || say "failed before the interrupt: ${failed[*]}"
    if [ ${#names[@]} -eq 0 ]; then
        say "interrupted by SIG$signal between parts"
    else
        list=$(printf '; %s' "${names[@]}")
        say "interrupted by SIG$signal: ${list#; } did not finish"
    fi
    exit "$code"
}
# kill_parts SIGNAL: send SIGNAL to every part's process group.
kill_parts() {
    local pid
    for pid in "${!part_names[@]}"; do
        kill "-$1" -- "-$pid" 2>/dev/null || true
    done
}
# await_groups SECONDS PID...: until no process is left in these parts' groups, or SECONDS.
await_groups() {
    local deadline=$((SECONDS + $1)) pid
    shift
    for pid in "$@"; do
        while kill -0 -- "-$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do
            pause 0.1
        done
    done
}

report() {
    say "== timings"
    printf '  %s\n' "${timings[@]}" >&2
    if [ ${#failed[@]} -gt 0 ]; then
        say "FAILED: ${failed[*]}"
        exit 1
    fi
    say "all passed (JUnit XML in $reports/)"
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
    # The GitHub workflow and the composite action, offline: GitHub's own schemas (shipped
    # in check-jsonschema), then actionlint's checks of expressions, job graphs and action
    # inputs (the workflow's `uses: ./` against the inputs action.yml declares).
    .venv/bin/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml ||
        status=1
    .venv/bin/check-jsonschema --builtin-schema vendor.github-actions action.yml || status=1
    .venv/bin/actionlint .github/workflows/*.yml || status=1
    return "$status"
}

uses_docker=false
case "$tier" in all | containers | fuzz) uses_docker=true ;; esac

# The run's own objects (pytest checked its session already; this also covers a pytest
# that was killed, and anything made outside a fixture): named, removed, and a failure.
leftovers() {
    ci/sweep.sh --check --session "$SOCKET_HARNESS_SESSION" && return 0
    ci/sweep.sh --session "$SOCKET_HARNESS_SESSION" || true
    return 1
}

# From here on a signal stops the run the way interrupt says.
trap 'interrupt INT' INT
trap 'interrupt TERM' TERM
step "venv" ci/venv.sh
[ ${#failed[@]} -eq 0 ] || report

case "$tier" in
    lint)
        step "lint (ruff, mypy, workflow)" lint
        ;;
    fast)
        step "fast tier" "${pytest[@]}" -m "not container" --junitxml="$reports/fast.xml" "$@"
        ;;
    containers)
        step "bootstrap" docker_ready
        step "container tier" "${pytest[@]}" -m container --junitxml="$reports/containers.xml" "$@"
        step "nothing left behind" leftovers
        ;;
    fuzz)
        step "bootstrap" docker_ready
        # Every hypothesis test (the marker is hypothesis' own), without the per-test cap.
        step "fuzz campaign" "${pytest[@]}" -m hypothesis --timeout=0 \
            --junitxml="$reports/fuzz.xml" "$@"
        step "nothing left behind" leftovers
        ;;
    all)
        step "bootstrap" docker_ready
        # Another run's objects never meet ours (each run has its own id and names),
        # so they are only pointed out: removing them could break a run still going.
        ci/sweep.sh --check 2>/dev/null || say "note: other runs' objects exist (make sweep)"
        if [ "${LINT_BESIDE:-1}" = 1 ]; then
            step_in_background "lint (ruff, mypy, workflow)" "$reports/lint.log" lint
        else
            step "lint (ruff, mypy, workflow)" lint
        fi
        step "tests (fast and container tiers)" "${pytest[@]}" --junitxml="$reports/tests.xml" "$@"
        collect_background
        step "nothing left behind" leftovers
        ;;
esac
report
