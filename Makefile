# Trade engine: local set-up, run and test.
#
#   make run    venv + PostgreSQL/Redis + key + migrate + demo data, then web, matcher, worker
#   make test   venv + PostgreSQL/Redis + key, then the test suite with coverage; the
#               full run fails below COVERAGE_MIN percent (PYTEST_ARGS="-k engine -x"
#               runs a subset: coverage is still reported, the minimum not applied)

SHELL := /bin/bash

# Python 3.11 when it is there (and works: pyenv may have a shim without the
# version behind it), python3 otherwise.
PYTHON ?= $(shell for p in python3.11 python3; do \
	  "$$p" -c 'import sys' >/dev/null 2>&1 && { command -v "$$p"; break; }; \
	done)
VENV := .venv
VENV_PY := $(VENV)/bin/python
PYTEST_ARGS ?=
# Coverage of the project's code (.coveragerc), measured in the pytest process.
COVERAGE_MIN ?= 90
COVERAGE_ARGS ?= --cov --cov-report=term-missing:skip-covered $(if $(strip $(PYTEST_ARGS)),,--cov-fail-under=$(COVERAGE_MIN))

.DEFAULT_GOAL := help

.PHONY: help venv services secrets migrate seed run test lint bench clean

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z][a-zA-Z_-]*:.*## / {printf "  %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

venv: $(VENV)/.installed ## Create .venv and install requirements.txt (and ccxt, for tests)

# Re-runs only when a requirements file changes. On a bare Debian/Ubuntu machine
# python3 and its venv module are installed with apt-get when missing.
$(VENV)/.installed: requirements.txt requirements-ccxt.txt
	@set -e; \
	py="$(PYTHON)"; \
	sudo=; [ "$$(id -u)" -eq 0 ] || sudo=sudo; \
	if [ -z "$$py" ]; then \
	  command -v apt-get >/dev/null || { echo "python3 not found; install Python 3.11" >&2; exit 1; }; \
	  echo "installing python3 with apt-get"; \
	  $$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq; \
	  $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv >/dev/null; \
	  py=$$(command -v python3); \
	fi; \
	if [ ! -x $(VENV_PY) ]; then \
	  echo "creating $(VENV) with $$py ($$("$$py" --version 2>&1))"; \
	  if ! "$$py" -m venv $(VENV); then \
	    rm -rf $(VENV); \
	    command -v apt-get >/dev/null || exit 1; \
	    pkg="$$(basename "$$py")-venv"; \
	    echo "installing $$pkg with apt-get"; \
	    $$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq; \
	    $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$$pkg" >/dev/null; \
	    "$$py" -m venv $(VENV); \
	  fi; \
	fi
	$(VENV_PY) -m pip install --disable-pip-version-check --no-input -q -r requirements.txt
	$(VENV_PY) -m pip install --disable-pip-version-check --no-input -q --no-deps -r requirements-ccxt.txt
	@touch $@

services: ## Start (or install) PostgreSQL and Redis on this machine, create the database
	@scripts/ensure_services.sh

# Settings refuse to sign with a key written in the repository: without
# SECRET_KEY in the environment, a random one is generated once into
# .secrets/django-secret-key (git-ignored, mode 0600) and kept from then on;
# likewise the key encrypting API key secrets (API_KEY_ENCRYPTION_KEYS,
# .secrets/api-key-encryption-keys).
secrets: ## Generate this checkout's signing and API-key encryption keys once, unless set in the environment
	@scripts/ensure_secret_key.sh

migrate: venv services secrets ## Apply database migrations
	$(VENV_PY) manage.py migrate --noinput

seed: migrate ## Load the demo market and users (prints the credentials)
	$(VENV_PY) manage.py seed_demo

run: seed ## Run web (http://127.0.0.1:8000), matcher and worker (Procfile)
	$(VENV)/bin/honcho start

test: venv services secrets lint ## Check the layers, then run the test suite with coverage (full run: at least COVERAGE_MIN %); extra arguments in PYTEST_ARGS
	@scripts/ensure_browser.sh
	$(VENV_PY) -m pytest $(COVERAGE_ARGS) $(PYTEST_ARGS)

lint: venv ## Check the import layers (.importlinter): fails on an import that points upwards
	$(VENV)/bin/lint-imports --no-cache

bench: venv ## Run the matching engine benchmark
	$(VENV_PY) bench/engine_bench.py

clean: ## Remove .venv and caches
	rm -rf $(VENV) .pytest_cache .hypothesis .coverage htmlcov
	find . -path ./.git -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +
