#!/usr/bin/env bash
# `make fuzz`: a fuzzing campaign (docs/fuzzing.md) against the server in its container,
# under coverage.py, with the decoders' atheris fuzzers beside it. Ctrl-C stops it
# cleanly: the server drains and saves its coverage, the summary is written.
#
# Env: FUZZ_TIME   60s, 10m, 1h or forever (default 3m)
#      FUZZ_ARGS   more options for python -m socket_harness.fuzz (see its --help), e.g.
#                  FUZZ_ARGS="--target local" (no Docker) or
#                  FUZZ_ARGS="--target line://127.0.0.1:7001 --max-message-bytes 65536"
# Output: reports/fuzz/summary.{txt,json}, reports/fuzz/coverage/html/index.html,
#         reports/fuzz/reproducers/*.toml (one per failure), reports/fuzz/decoders/ (crashes)
set -euo pipefail
cd "$(dirname "$0")/.."
export CI_NAME=fuzz
. ci/lib/common.sh

read -r -a extra <<<"${FUZZ_ARGS:-}"
ci/venv.sh
container=true
for arg in "${extra[@]}"; do
    case "$arg" in local | *://*) container=false ;; esac
done
if $container; then
    ci/bootstrap.sh || die "the default target needs Docker (or FUZZ_ARGS=\"--target local\")"
fi
status=0
.venv/bin/python -m socket_harness.fuzz --time "${FUZZ_TIME:-3m}" "${extra[@]}" || status=$?
if $container; then
    ci/sweep.sh --check >/dev/null 2>&1 || say "note: labelled objects exist (make sweep)"
fi
exit "$status"
