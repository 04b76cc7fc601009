#!/usr/bin/env bash
# `make conformance`: the whole conformance suite (socket_harness.conformance) against
# every shipped target profile (targets/*.toml), one pytest run per target, under
# CI=true (a declared promise that goes unchecked fails). The report lands in
# $REPORTS_DIR/conformance (default reports/conformance): matrix.md and matrix.html
# (checks x targets), results/TARGET.json, junit-TARGET.xml, TARGET.log (the run's output).
# Images first: ci/build-targets.sh (php-tutorial, socat-echo, the three baselines; under
# the shared Docker lock), and a profile with [build] (the project's server) is built from
# this checkout by the plugin, on the base image ci/bootstrap.sh chose (build/base-image).
# A whole run (no PYTEST_ARGS) also rewrites README.md's matrix (ci/conformance_readme.py).
# Exit status: 0 when every target passed what it declares, 1 otherwise (the matrix is
# written either way). Usage: ci/conformance.sh [PYTEST_ARGS...]  (e.g. --check backlog/)
set -euo pipefail
cd "$(dirname "$0")/.."
export CI_NAME=conformance
. ci/lib/common.sh

report=${REPORTS_DIR:-reports}/conformance
lock=/tmp/socket-harness-docker.lock
started=$SECONDS
ci/venv.sh
[ -s build/base-image ] || ci/bootstrap.sh >/dev/null
base=$(cat build/base-image)
# Shared with other checkouts' builds of these fixed tags: the wait is said apart.
asked=$(date +%s)
got=$(flock "$lock" bash -c 'date +%s; ci/build-targets.sh >/dev/null')
say "shipped target images ready: $((got - asked)) s waiting for $lock, $(($(date +%s) - got)) s building"

rm -rf "$report"
mkdir -p "$report"
failed=()
for profile in targets/*.toml; do
    name=$(basename "$profile" .toml)
    args=(--target "$profile")
    # The profile's build needs the base image offline (the Dockerfile's default is a registry's).
    if grep -q '^\[build\]' "$profile"; then args+=(--target-build-arg "BASE_IMAGE=$base"); fi
    step=$SECONDS
    if CI=true .venv/bin/python -m pytest --pyargs socket_harness.conformance -p no:cacheprovider \
        -q "${args[@]}" --conformance-report "$report" --junitxml "$report/junit-$name.xml" "$@" \
        >"$report/$name.log" 2>&1; then
        say "$name: $(tail -n1 "$report/$name.log") ($((SECONDS - step)) s)"
    else
        failed+=("$name")
        tail -n 40 "$report/$name.log" >&2
        say "$name FAILED ($((SECONDS - step)) s; full output: $report/$name.log)"
    fi
done
cat "$report/matrix.md"
say "report: $report/matrix.md, $report/matrix.html, junit-*.xml ($((SECONDS - started)) s)"
# Only a whole run speaks for README's matrix; a --check subset would hide rows.
if [ $# -eq 0 ]; then
    .venv/bin/python ci/conformance_readme.py --report "$report" && say "README.md: matrix rewritten"
fi
[ ${#failed[@]} -eq 0 ] || die "failed against: ${failed[*]}"
