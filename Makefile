# JARVIS — `make help` lists the targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash

# uv is installed into a project-local virtualenv from PyPI, and always runs on the machine's
# own Python (>= 3.11): it never downloads an interpreter.
PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
export UV_PYTHON_DOWNLOADS := never
# The interpreter itself, not a shim, so every uv call agrees on the environment's Python.
export UV_PYTHON := $(shell $(PYTHON) -c 'import os, sys; print(os.path.realpath(sys.executable))')
export UV_LINK_MODE := copy

.PHONY: help install run test test-fast bench lint fmt dlq asyncapi clean

help: ## Show this help
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'

$(UV):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "JARVIS needs Python >= 3.11")'
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet "uv==$(UV_VERSION)"

.venv/.synced: $(UV) uv.lock pyproject.toml libs/common/pyproject.toml $(wildcard services/*/pyproject.toml)
	$(UV) sync --frozen --all-packages
	@touch $@

install: .venv/.synced ## Create the environment (uv, the workspace, the locked dependencies)

run: install ## Start the whole platform on embedded PostgreSQL + Kafka (Ctrl-C stops it)
	$(UV) run --frozen jarvis-dev

test: install ## Run the whole test suite on embedded PostgreSQL + Kafka
	$(UV) run --frozen pytest

test-fast: install ## Run the tests that do not start whole processes
	$(UV) run --frozen pytest -m "not slow"

bench: install ## Run the benchmarks; results land in bench/results/
	$(UV) run --frozen python -m bench.pipeline
	$(UV) run --frozen python -m bench.registry_heartbeats
	$(UV) run --frozen python -m bench.registry_api
	$(UV) run --frozen python -m bench.gateway
	$(UV) run --frozen python -m bench.summarizer
	$(UV) run --frozen python -m bench.churn_scoring
	$(UV) run --frozen python -m bench.reporter

lint: install ## Lint, and check that no package imports what it does not declare
	$(UV) run --frozen ruff check .
	$(UV) run --frozen pytest tests/test_architecture.py -q

fmt: install ## Format the code
	$(UV) run --frozen ruff check --fix .
	$(UV) run --frozen ruff format .

dlq: install ## List a dead-letter topic: make dlq TOPIC=session.closed
	$(UV) run --frozen jarvis-dlq list $(TOPIC)

asyncapi: install ## Regenerate the published event contract, docs/asyncapi/asyncapi.json
	$(UV) run --frozen python -m jarvis_common.asyncapi docs/asyncapi

clean: ## Remove the environment and the embedded data (.jarvis/)
	rm -rf .venv $(TOOLS) .jarvis
