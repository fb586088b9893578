# The README's two commands: `make run` and `make test`. Both install what is missing, quietly.
SHELL := /bin/bash
.DEFAULT_GOAL := help
export UV_PYTHON_DOWNLOADS := never
export UV_COMPILE_BYTECODE := 1
unexport PYTHONDONTWRITEBYTECODE
UV := scripts/uv
VENV := .venv
HOST ?= 127.0.0.1
PORT ?= 8025

.PHONY: help run test lint typecheck pytest services bench bench-send bench-push bench-ingest bench-crash bench-memory bench-webhooks bench-import bench-cli bench-scale clean

help:
	@echo "make run   - set up and start postroom on http://$(HOST):$(PORT)"
	@echo "make test  - set up and run ruff, mypy and the whole test suite"
	@echo "make bench - every benchmark: bench-ingest [N=10000], bench-memory, bench-crash"

$(VENV)/.synced: pyproject.toml uv.lock
	@$(UV) sync --frozen --quiet
	@touch $@

run: $(VENV)/.synced
	@$(VENV)/bin/postroom db upgrade
	$(VENV)/bin/postroom serve --host $(HOST) --port $(PORT)

services:
	@scripts/test-services

lint: $(VENV)/.synced
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check --quiet src tests benchmarks

typecheck: $(VENV)/.synced
	$(VENV)/bin/mypy

pytest: $(VENV)/.synced services
	$(VENV)/bin/pytest $(PYTEST_ARGS)

test: lint typecheck pytest

N ?= 10000
bench-ingest: $(VENV)/.synced services
	$(VENV)/bin/python -m benchmarks.ingest --messages $(N)

bench-import: $(VENV)/.synced
	$(VENV)/bin/python -m benchmarks.mailbox_import --rows $(or $(ROWS),1000)

bench-cli: $(VENV)/.synced
	$(VENV)/bin/python -m benchmarks.cli_startup

bench-crash: $(VENV)/.synced services
	$(VENV)/bin/python -m benchmarks.crash_proof

bench-memory: $(VENV)/.synced services
	$(VENV)/bin/python -m benchmarks.memory --megabytes 50

bench-push: $(VENV)/.synced services
	$(VENV)/bin/python -m benchmarks.push --rounds 20

bench-webhooks: $(VENV)/.synced services
	$(VENV)/bin/python -m benchmarks.webhooks --messages $(N)

M ?= 2000
bench-scale: $(VENV)/.synced services
	$(VENV)/bin/python -m benchmarks.scale --mailboxes $(M)

bench-send: $(VENV)/.synced
	@scripts/system-packages postfix
	$(VENV)/bin/python -m benchmarks.send --messages $(N)

bench: bench-ingest bench-memory bench-push bench-crash

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
