#!/usr/bin/env bash
# Make this machine ready to build and run the project's containers, idempotently:
# a reachable Docker Engine, Compose v2, and a Python base image (see ci/lib/*.sh).
# Reports each decision on stderr; prints the base image reference on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
export CI_NAME=bootstrap
. ci/lib/common.sh

started=$SECONDS
ci/lib/engine.sh
ci/lib/compose.sh
ci/lib/base-image.sh
say "ready in $((SECONDS - started)) s"
