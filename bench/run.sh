#!/usr/bin/env bash
# `make bench`: install the bench extras, make the base image and both images, then
# run `python -m bench` (arguments, or BENCH_ARGS, pass through: e.g. --cold, --quick).
set -euo pipefail
cd "$(dirname "$0")/.."
WITH_BENCH=1 ci/venv.sh
ci/bootstrap.sh >/dev/null
built=$(ci/build-images.sh)
# The server image by the ID this build returned (bench/servers.py reads it).
SERVER_IMAGE=$(awk '$1 == "server" { print $2 }' <<<"$built")
export SERVER_IMAGE
# shellcheck disable=SC2086 # BENCH_ARGS is a list of options on purpose
exec .venv/bin/python -m bench ${BENCH_ARGS:-} "$@"
