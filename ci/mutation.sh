#!/usr/bin/env bash
# `make mutation`: mutation testing of protocol/ and server/ with cosmic-ray (pinned in
# requirements-mutation.txt). Each mutant is applied to a scratch copy of the tree
# (build/mutation/tree-N: the checkout's files, uncommitted ones too) and the fast tests
# that ci/mutation-map.toml gives that file run against it (ci/lib/mutation_tests.py;
# -x: the first failure kills the mutant). MUTATION_WORKERS copies run mutants side by
# side: one cosmic-ray HTTP worker on loopback per copy (ci/lib/mutation_worker.py).
# Prints the score and every survivor with its diff; docs/mutation.md says what each
# known survivor is (equivalent, or the test that now kills it).
#
# Env:
#   MUTATION_PATHS    what to mutate, files or folders (default: "protocol server")
#   MUTATION_BUDGET   whole seconds for one path's mutants (default 3600); work left when
#                     it runs out is reported as pending, never as killed
#   MUTATION_TIMEOUT  seconds one mutant's tests may take (default: 60 for protocol/,
#                     240 for server/); a mutant that runs past it counts as killed; the
#                     baseline may take 10 times as long
#   MUTATION_TESTS    the pytest arguments for every mutant (default: the tests that
#                     ci/mutation-map.toml gives the mutated file)
#   MUTATION_WORKERS  mutants run side by side (default 2; each worker has its own tree)
#   MUTATION_FRESH=1  start the selected paths' sessions again (otherwise an interrupted
#                     session goes on where it was; the mutants of a file changed since
#                     are made again; another timeout or MUTATION_TESTS starts it again)
#   MUTATION_RECHECK=1  survivors run again (after tests were added for them)
# A setting that cannot work, and a second run in the same checkout, are refused before
# anything starts: exit 2 and one line. Ctrl-C: the report of what ran, exit 130.
set -euo pipefail
cd "$(dirname "$0")/.."
export CI_NAME=mutation
. ci/lib/common.sh

# A setting that cannot work is refused before anything starts: one line, exit 2.
refuse() { printf '%s: error: %s\n' "$ci_name" "$*" >&2; exit 2; }
root=$PWD
work=$root/build/mutation
py=$root/.venv/bin
paths=${MUTATION_PATHS:-protocol server}
[[ $paths =~ [^[:space:]] ]] || refuse "MUTATION_PATHS: empty (files or folders of protocol/ or server/)"
budget=${MUTATION_BUDGET:-3600}
[[ $budget =~ ^[1-9][0-9]*$ ]] || refuse "MUTATION_BUDGET: a whole number of seconds, at least 1, not '$budget'"
workers=${MUTATION_WORKERS:-2}
[[ $workers =~ ^[1-9][0-9]*$ ]] || refuse "MUTATION_WORKERS: a count of at least 1, not '$workers'"
if [ -n "${MUTATION_TIMEOUT:-}" ]; then
    [[ $MUTATION_TIMEOUT =~ ^[0-9]+(\.[0-9]+)?$ && $MUTATION_TIMEOUT =~ [1-9] ]] ||
        refuse "MUTATION_TIMEOUT: seconds, a number above 0, not '$MUTATION_TIMEOUT'"
fi
for knob in MUTATION_FRESH MUTATION_RECHECK; do
    case "${!knob:-}" in ''|0|1) ;; *) refuse "$knob: 1 (on) or 0 or empty (off), not '${!knob}'" ;; esac
done
fresh=${MUTATION_FRESH:-0} recheck=${MUTATION_RECHECK:-0}
# Each path as the checkout names it (protocol/../README.md is README.md): protocol/,
# server/ or a file or folder in one of them. Whether cosmic-ray finds a Python file to
# mutate there, and a row of ci/mutation-map.toml for each, is checked below (with the venv).
selected=()
for path in $paths; do
    normal=$(realpath -m --relative-to="$root" -- "$path")
    case "$normal" in
        protocol|protocol/*|server|server/*) [ -e "$normal" ] || refuse "MUTATION_PATHS: no $path in this checkout" ;;
        *) refuse "MUTATION_PATHS: $path is neither in protocol/ nor in server/" ;;
    esac
    selected+=("$normal")
done
# One run at a time in a checkout: a second one would share the trees, the workers'
# port files and the sessions. The lock is held until this script (and what it started) ends.
mkdir -p "$work"
exec 9>"$work/lock"
flock -n 9 || refuse "another make mutation is running in this checkout (it holds $work/lock)"
# Ctrl-C: the step running ends (cosmic-ray, pytest, timeout all take the signal), and
# the script, which only notes it here, says so, reports what ran and exits 130.
interrupted=
trap 'interrupted=1' INT
# What is left of a run stopped by Ctrl-C: the line, then exit 130 (the EXIT trap stops the workers).
stop_if_interrupted() {
    [ -z "$interrupted" ] || { say "interrupted; the rest stays pending (run again to go on)"; exit 130; }
}

ci/venv.sh
stop_if_interrupted
"$py/python" ci/lib/mutation_tests.py ci/mutation-map.toml "$root" --check "${selected[@]}" || exit 2
session_name() { printf '%s' "$1" | tr '/.' '__'; }
if [ "$fresh" = 1 ]; then
    for path in "${selected[@]}"; do
        name=$(session_name "$path")
        say "$path: MUTATION_FRESH=1: its session starts again"
        rm -f "$work/$name".*
    done
fi

# A snapshot of the checkout (what git would commit: tracked and new, not ignored files;
# links kept as links, so socket_harness/protocol still points at the tree's protocol/),
# taken once per run: the selector compares each tree with it, so editing the checkout
# during a run cannot make every mutant look like two changed files. The scratch trees
# are copies of it, made again each run (a worker stopped mid-mutant may leave one).
base=$work/base
rm -rf "$base"
mkdir -p "$base"
git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -C "$base" -xf -
pids=()
# SIGTERM to a process and all its descendants, children first: cosmic-ray runs each
# mutant's tests in a session of their own, which a signal to the worker's group misses.
stop_tree() {
    local child
    for child in $(pgrep -P "$1" 2>/dev/null); do stop_tree "$child"; done
    kill -TERM "$1" 2>/dev/null || true
}
stop_workers() {
    local pid
    for pid in "${pids[@]}"; do stop_tree "$pid"; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    pids=()
}
trap stop_workers EXIT
urls=()
for n in $(seq 1 "$workers"); do
    tree=$work/tree-$n
    rm -rf "$tree" "$work/worker-$n.port"
    cp -a "$base" "$tree"
    ln -sfn "$root/.venv" "$tree/.venv"
    (cd "$tree" && MUTATION_SCRIPT_PID=$$ exec setsid "$py/python" "$root/ci/lib/mutation_worker.py" "$work/worker-$n.port") \
        >"$work/worker-$n.log" 2>&1 &
    pids+=("$!")
done
for n in $(seq 1 "$workers"); do
    # The worker writes its port once it listens (a fresh interpreter: a few seconds).
    for _ in $(seq 1 300); do
        [ -s "$work/worker-$n.port" ] && break
        kill -0 "${pids[$((n - 1))]}" 2>/dev/null || die "worker $n did not start: $(tail -n 3 "$work/worker-$n.log")"
        sleep 0.1
    done
    [ -s "$work/worker-$n.port" ] || die "worker $n wrote no port in 30 s (see $work/worker-$n.log)"
    urls+=("'http://127.0.0.1:$(cat "$work/worker-$n.port")'")
done
stop_if_interrupted
say "workers on loopback: $workers, one tree each ($work/tree-1 ...)"
tree=$work/tree-1

# Operators left out (docs/mutation.md says why): binary operators replaced by rare
# ones; `|` replaced by anything (here it is only in annotations, which
# `from __future__ import annotations` never evaluates: always equivalent);
# comparisons replaced by identity (`is`); VariableInserter/Replacer (mostly a name error).
excluded='"core/ReplaceBinaryOperator_.*_(Pow|RShift|LShift|BitOr|BitAnd|BitXor|Mod|Div)$",'
excluded+=' "core/ReplaceBinaryOperator_BitOr_.*",'
excluded+=' "core/ReplaceComparisonOperator_.*_(Is|IsNot)$", "core/Variable(Inserter|Replacer)"'

map=$base/ci/mutation-map.toml
select=("$py/python" "$base/ci/lib/mutation_tests.py" "$map" "$base")
total_killed=0 total_done=0 total_pending=0
for path in "${selected[@]}"; do
    # Each mutant runs only the tests ci/mutation-map.toml gives the file it changed.
    case "$path" in
        protocol*) timeout=${MUTATION_TIMEOUT:-60} ;;
        server*) timeout=${MUTATION_TIMEOUT:-240} ;;
        *) die "MUTATION_PATHS: $path is neither in protocol/ nor in server/" ;;
    esac
    [ -e "$tree/$path" ] || die "MUTATION_PATHS: no $path in this checkout"
    name=$(session_name "$path")
    config=$work/$name.toml
    session=$work/$name.sqlite
    index=$work/$name.index.json
    cat >"$config" <<EOF
[cosmic-ray]
module-path = "$path"
timeout = $timeout
excluded-modules = ["**/__main__.py"]
test-command = "${select[*]} --index $index"

[cosmic-ray.distributor]
name = "http"

[cosmic-ray.distributor.http]
worker-urls = [$(IFS=,; printf '%s' "${urls[*]}")]

[cosmic-ray.filters.operators-filter]
exclude-operators = [$excluded]
EOF
    cd "$tree"
    # Every run: the tests may have changed since the session began. Under coverage, a
    # context per test: the index says which tests run each line (ci/lib/mutation_index.py).
    # Bounded: a test that hangs would keep the run waiting for ever.
    limit=$(awk -v t="$timeout" 'BEGIN { printf "%d", t * 10 + 0.999 }')
    say "$path: baseline (every test mapped under $path must pass unmutated; under coverage; at most $limit s)"
    bstart=$(date +%s)
    brc=0
    # --foreground: Ctrl-C reaches the selector (it stops its pytest). At the limit the
    # selector gets SIGTERM and stops its pytest's session itself.
    timeout --foreground -k 30 "$limit" "${select[@]}" --index "$index" --baseline "$path" \
        >"$work/$name.baseline.log" 2>&1 || brc=$?
    stop_if_interrupted
    case $brc in
        0) ;;
        124|137) die "$path: the baseline ran past $limit s (10 times MUTATION_TIMEOUT, $timeout s; see $work/$name.baseline.log)" ;;
        *) die "$path: the tests fail without a mutant (see $work/$name.baseline.log)" ;;
    esac
    say "$path: baseline passed in $(($(date +%s) - bstart)) s; index $index"
    # A session's mutants are positions in the code: files changed since are made again.
    # The settings a result depends on besides the code: a session made under others starts again.
    settings="timeout=$timeout tests=${MUTATION_TESTS:-}"
    recheck_arg=()
    [ "$recheck" = 0 ] || recheck_arg=(--recheck)
    (cd "$base" && "$py/python" "$root/ci/lib/mutation_session.py" "$session" "$config" "$path" \
        --settings "$settings" "${recheck_arg[@]}") ||
        { stop_if_interrupted; die "$path: could not prepare the session"; }
    say "$path: running mutants for at most ${budget} s (${timeout} s each)"
    start=$(date +%s)
    rc=0
    # --foreground: timeout stays in the script's process group, so Ctrl-C reaches
    # cosmic-ray (without it, timeout leads a group of its own that the terminal never signals).
    timeout --foreground --signal=INT "$budget" "$py/cosmic-ray" exec "$config" "$session" || rc=$?
    [ -z "$interrupted" ] || rc=130
    case $rc in
        0) ;;
        124) say "$path: the budget of ${budget} s ran out; the rest stays pending" ;;
        130) say "$path: interrupted; the rest stays pending (run again to go on)" ;;
        *) die "$path: cosmic-ray exec failed ($rc)" ;;
    esac
    say "$path: $(($(date +%s) - start)) s"
    "$py/python" "$root/ci/lib/mutation_report.py" "$session" "$path" >"$work/$name.txt"
    # The last line, `counts KILLED DONE PENDING`, is for the sum below, not for the reader.
    sed '$d' "$work/$name.txt"
    read -r killed done pending < <(tail -n 1 "$work/$name.txt" | awk '{ print $2, $3, $4 }')
    total_killed=$((total_killed + killed)) total_done=$((total_done + done))
    total_pending=$((total_pending + pending))
    cd "$root"
    [ "$rc" -ne 130 ] || exit 130
done
say "all: $total_killed of $total_done mutants killed; $total_pending not run (budget)"
