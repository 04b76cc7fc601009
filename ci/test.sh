#!/usr/bin/env bash
# `make test`: set up, lint, then the fast tier (no Docker).
set -euo pipefail
cd "$(dirname "$0")/.."
ci/venv.sh
.venv/bin/python -m ruff check .
.venv/bin/python -m ruff format --check .
.venv/bin/python -m mypy
.venv/bin/python -m pytest -m "not container"
