#!/usr/bin/env bash
# `make mutation`: mutation testing of protocol/ and server/ with cosmic-ray (pinned in
# requirements-mutation.txt). Each mutant is applied to a scratch copy of the tree
# (build/mutation/tree: the checkout's files, uncommitted ones too) and the fast tests
# that ci/mutation-map.toml gives that file run against it (ci/lib/mutation_tests.py;
# -x: the first failure kills the mutant). Prints the score and every survivor with its
# diff; docs/mutation.md says what each known survivor is (equivalent, or the test that
# now kills it).
#
# Env:
#   MUTATION_PATHS    what to mutate, files or folders (default: "protocol server")
#   MUTATION_BUDGET   seconds for one path's mutants (default 1500); work left when it
#                     runs out is reported as pending, never as killed
#   MUTATION_TIMEOUT  seconds one mutant's tests may take (default: 60 for protocol/,
#                     240 for server/); a mutant that runs past it counts as killed
#   MUTATION_TESTS    the pytest arguments for every mutant (default: the tests that
#                     ci/mutation-map.toml gives the mutated file)
#   MUTATION_FRESH=1  start again (otherwise an interrupted session goes on where it was)
set -euo pipefail
cd "$(dirname "$0")/.."
export CI_NAME=mutation
. ci/lib/common.sh

WITH_MUTATION=1 ci/venv.sh
root=$PWD
work=$root/build/mutation
tree=$work/tree
py=$root/.venv/bin
paths=${MUTATION_PATHS:-protocol server}
budget=${MUTATION_BUDGET:-1500}
[ -z "${MUTATION_FRESH:-}" ] || rm -rf "$work"
mkdir -p "$tree"

# The scratch tree: what git would commit (tracked and new, not ignored files), links
# kept as links, so socket_harness/protocol still points at the mutated protocol/.
# Copied again each run: a mutant is never left in it (cosmic-ray restores each file).
git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -C "$tree" -xf -
ln -sfn "$root/.venv" "$tree/.venv"

# Operators left out (docs/mutation.md says why): binary operators replaced by rare
# ones; `|` replaced by anything (here it is only in annotations, which
# `from __future__ import annotations` never evaluates: always equivalent);
# comparisons replaced by identity (`is`); VariableInserter/Replacer (mostly a name error).
excluded='"core/ReplaceBinaryOperator_.*_(Pow|RShift|LShift|BitOr|BitAnd|BitXor|Mod|Div)$",'
excluded+=' "core/ReplaceBinaryOperator_BitOr_.*",'
excluded+=' "core/ReplaceComparisonOperator_.*_(Is|IsNot)$", "core/Variable(Inserter|Replacer)"'

map=$root/ci/mutation-map.toml
select=("$py/python" "$root/ci/lib/mutation_tests.py" "$map" "$root")
total_killed=0 total_done=0 total_pending=0
for path in $paths; do
    # Each mutant runs only the tests ci/mutation-map.toml gives the file it changed.
    case "$path" in
        protocol*) timeout=${MUTATION_TIMEOUT:-60} ;;
        server*) timeout=${MUTATION_TIMEOUT:-240} ;;
        *) die "MUTATION_PATHS: $path is neither in protocol/ nor in server/" ;;
    esac
    [ -e "$tree/$path" ] || die "MUTATION_PATHS: no $path in this checkout"
    name=$(printf '%s' "$path" | tr '/.' '__')
    config=$work/$name.toml
    session=$work/$name.sqlite
    cat >"$config" <<EOF
[cosmic-ray]
module-path = "$path"
timeout = $timeout
excluded-modules = ["**/__main__.py"]
test-command = "${select[*]}"

[cosmic-ray.distributor]
name = "local"

[cosmic-ray.filters.operators-filter]
exclude-operators = [$excluded]
EOF
    cd "$tree"
    if [ ! -f "$session" ]; then
        say "$path: baseline (every test mapped under $path must pass unmutated)"
        "${select[@]}" --baseline "$path" >"$work/$name.baseline.log" 2>&1 ||
            die "$path: the tests fail without a mutant (see $work/$name.baseline.log)"
        "$py/cosmic-ray" init "$config" "$session"
        "$py/cr-filter-operators" "$session" "$config"
        "$py/cr-filter-pragma" "$session"
    fi
    say "$path: running mutants for at most ${budget} s (${timeout} s each)"
    start=$(date +%s)
    rc=0
    timeout --signal=INT "$budget" "$py/cosmic-ray" exec "$config" "$session" || rc=$?
    case $rc in
        0) ;;
        124) say "$path: the budget of ${budget} s ran out; the rest stays pending" ;;
        130) say "$path: interrupted; the rest stays pending (run again to go on)" ;;
        *) die "$path: cosmic-ray exec failed ($rc)" ;;
    esac
    say "$path: $(($(date +%s) - start)) s"
    "$py/python" "$root/ci/lib/mutation_report.py" "$session" "$path" | tee "$work/$name.txt"
    read -r killed done pending < <(tail -n 1 "$work/$name.txt" | awk '{ print $2, $3, $4 }')
    total_killed=$((total_killed + killed)) total_done=$((total_done + done))
    total_pending=$((total_pending + pending))
    cd "$root"
    [ "$rc" -ne 130 ] || exit 130
done
say "all: $total_killed of $total_done mutants killed; $total_pending not run (budget)"
