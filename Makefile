# socket-harness: every entry point a user or CI needs.
SHELL := /bin/bash
PY := .venv/bin/python

.PHONY: help venv lint test test-fast test-containers conformance demo fuzz bench bootstrap images targets sweep clean

help:
	@echo "make test    - the whole suite (sets up what it needs; what CI runs)"
	@echo "make demo    - bootstrap, build and run the docker compose demo"
	@echo "make test-fast / test-containers - one tier only"
	@echo "make conformance - the conformance suite against every shipped target (reports/conformance)"
	@echo "make lint    - ruff and mypy"
	@echo "make fuzz    - long hypothesis campaign (HYPOTHESIS_PROFILE=fuzz)"
	@echo "make bench   - benchmarks against baselines"
	@echo "make targets - build the shipped third-party targets (TARGETS=php-tutorial|socat-echo)"
	@echo "make sweep   - remove anything a killed run left behind"

venv:
	@ci/venv.sh

lint:
	@ci/test.sh lint

test:
	@ci/test.sh

test-fast: venv
	$(PY) -m pytest -m "not container"

test-containers: venv
	@ci/test.sh containers

conformance:
	@ci/conformance.sh

demo:
	@ci/demo.sh

fuzz:
	@ci/test.sh fuzz

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
