#!/usr/bin/env bash
# Create .venv with the pinned harness packages and the mutation tester (cosmic-ray:
# `make mutation`'s session tests are in the fast tier), and, with WITH_BENCH=1, the
# bench extras; idempotent: a requirements file is installed again only when its pins
# change.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
# .venv/.made is written last, once `python -m venv` (and its ensurepip) finished: a
# .venv without it was cut short (Ctrl-C) and is made again. A .venv from before the
# marker existed is taken as made when its pip imports.
if [ -d .venv ] && [ ! -f .venv/.made ]; then
    if [ -x .venv/bin/python ] && .venv/bin/python -c 'import pip' 2>/dev/null; then
        touch .venv/.made
    else
        echo "venv: .venv was left half-made (no .venv/.made); making it again" >&2
        rm -rf .venv
    fi
fi
if [ ! -d .venv ]; then
    if ! "$python" -c 'import ensurepip, venv' 2>/dev/null; then
        echo "venv: $python lacks venv/ensurepip; on Debian: apt-get install python3-venv" >&2
        exit 1
    fi
    echo "venv: creating .venv with $("$python" --version)" >&2
    "$python" -m venv .venv
    touch .venv/.made
fi
files=(requirements-dev.txt requirements-mutation.txt)
[ -z "${WITH_BENCH:-}" ] || files+=(requirements-bench.txt)
for file in "${files[@]}"; do
    stamp=.venv/.${file%.txt}.sha256
    want=$(sha256sum "$file" | cut -d' ' -f1)
    [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && continue
    echo "venv: installing the pinned packages of $file" >&2
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$file"
    echo "$want" >"$stamp"
done
# The project itself, editable: its one import package (socket_harness) and, once
# declared, its entry points. Again only when pyproject.toml changes.
stamp=.venv/.project.sha256
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "venv: installing socket-harness itself (editable)" >&2
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
    echo "$want" >"$stamp"
fi
