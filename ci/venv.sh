#!/usr/bin/env bash
# Create .venv with the pinned harness packages; idempotent (reinstalls only when pins change).
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
stamp=.venv/.requirements.sha256
want=$(cat requirements-dev.txt ${WITH_BENCH:+requirements-bench.txt} | sha256sum | cut -d' ' -f1)
if [ -x .venv/bin/python ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    exit 0
fi
if ! "$python" -m venv --help >/dev/null 2>&1 || ! "$python" -c 'import ensurepip' 2>/dev/null; then
    echo "venv: $python lacks venv/ensurepip; on Debian: apt-get install python3-venv" >&2
    exit 1
fi
echo "venv: installing pinned packages into .venv"
"$python" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt \
    ${WITH_BENCH:+-r requirements-bench.txt}
echo "$want" > "$stamp"
