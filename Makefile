# socket-harness: every entry point a user or CI needs.
SHELL := /bin/bash
PY := .venv/bin/python

.PHONY: help venv lint test test-fast test-containers durations conformance conformance-readme demo fuzz mutation bench bootstrap images targets sweep clean

help:
	@echo "make test    - the whole suite on pytest-xdist workers (sets up what it needs; what CI runs)"
	@echo "make demo    - bootstrap, build and run the docker compose demo"
	@echo "make test-fast / test-containers - one tier only (WORKERS=N: workers; default one per core)"
	@echo "make durations - run both tiers and store each test's time in .test_durations (commit it)"
	@echo "make conformance - the conformance suite against every shipped target (reports/conformance, README's matrix)"
	@echo "make conformance-readme - README's matrix from the last make conformance, nothing run"
	@echo "make lint    - ruff, mypy, the GitHub workflow and action.yml (schemas, actionlint)"
	@echo "make fuzz    - fuzzing campaign against the server in its container (FUZZ_TIME=3m|10m|forever)"
	@echo "make mutation - mutation testing of protocol/ and server/ (MUTATION_PATHS, MUTATION_BUDGET)"
	@echo "make bench   - benchmarks against baselines"
	@echo "make bootstrap - the Docker engine, Compose v2 and the base image (offline where no registry)"
	@echo "make images  - bootstrap, then build the server and client images (printed: ID and tag)"
	@echo "make targets - build the shipped targets' images (TARGETS=php-tutorial socat-echo baseline-blocking ...)"
	@echo "make sweep   - remove anything a killed run left behind"

venv:
	@ci/venv.sh

lint:
	@ci/test.sh lint

test:
	@ci/test.sh

test-fast:
	@ci/test.sh fast

test-containers:
	@ci/test.sh containers

# pytest-split's durations, read to order modules (longest first) and to cut CI's shards.
# --clean-durations on the first run drops tests that no longer exist.
durations:
	@ci/test.sh containers --store-durations --clean-durations
	@ci/test.sh fast --store-durations

conformance:
	@ci/conformance.sh

conformance-readme:
	@$(PY) ci/conformance_readme.py

demo:
	@ci/demo.sh

fuzz:
	@ci/fuzz.sh

mutation:
	@ci/mutation.sh

bench:
	@bench/run.sh $(BENCH_ARGS)

bootstrap:
	@ci/bootstrap.sh

images: bootstrap
	@ci/build-images.sh --local

targets:
	@ci/build-targets.sh $(TARGETS)

sweep:
	@ci/sweep.sh

clean: sweep
	rm -rf .venv reports .mypy_cache .ruff_cache .pytest_cache
