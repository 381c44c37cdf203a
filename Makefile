# One task runner for people, CI and pre-commit. `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000
# Chats answered offline by the demo model unless LLM_API_KEY is in the environment (LLM= turns it off).
LLM ?= $(if $(LLM_API_KEY),,demo)

.DEFAULT_GOAL := help
.PHONY: help install run test quick lint format lock upgrade clean eval eval-accept bench mutation

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}'

$(UV):
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv

$(STAMP): $(UV) requirements.lock packages/agent-service/pyproject.toml packages/agent-testkit/pyproject.toml
	$(UV) pip install --quiet --compile-bytecode --python $(BIN)/python -r requirements.lock
	$(UV) pip install --quiet --python $(BIN)/python --no-deps -e packages/agent-service -e packages/agent-testkit
	@touch $(STAMP)

install: $(STAMP) ## Create .venv and install the pinned dependencies (needs only python3 and pip)

run: install ## Serve the web app on http://127.0.0.1:8000 (PORT=, HOST=; docs at /docs); without LLM_API_KEY, the demo model answers
	$(BIN)/agent-service db upgrade
	$(BIN)/agent-service serve --host $(HOST) --port $(PORT) $(if $(LLM),--llm $(LLM))

test: install ## Run the whole suite on SQLite, then on PostgreSQL when one is reachable
	$(BIN)/python scripts/run_tests.py

quick: install ## The inner loop: SQLite only, without the served processes, browsers and fuzzer (about 65 s on 2 cores)
	$(BIN)/python scripts/run_tests.py --sqlite-only -m "not e2e and not fuzz"

eval: install ## Run the golden set offline (scripted model) and fail if a score regressed against evals/baseline.json
	$(BIN)/agent-service eval run --model scripted

eval-accept: install ## Make the last `make eval` run the new evals/baseline.json (read var/evals/report.html first)
	$(BIN)/agent-service eval accept

bench: install ## Run the benchmarks (loopback only, bounded, ~18 min), then one table of ratios and goals
	$(BIN)/python benchmarks/run_all.py

mutation: install ## Mutation-test the critical modules (signature, tokens, tool, gate, sniff, llm client, runs, idempotency, quotas, document processing, GitHub jobs); fails under 90% (85% for issue 21's); hours
	$(BIN)/python scripts/mutation.py

lint: install ## ruff (lint + format check) and mypy (strict on source)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

lock: $(UV) ## Resolve new dependencies and refresh requirements.lock (uv.lock stays out of git)
	$(UV) lock
	$(UV) export --frozen --no-emit-workspace --all-groups --format requirements-txt -o requirements.lock

upgrade: $(UV) ## Move every pin to its newest allowed version, then refresh requirements.lock
	$(UV) lock --upgrade
	$(UV) export --frozen --no-emit-workspace --all-groups --format requirements-txt -o requirements.lock

clean: ## Remove the virtualenv, caches and ./var
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
