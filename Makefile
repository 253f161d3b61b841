# Dunlin — the two commands a newcomer needs: `make run` and `make test`.
# Everything else is installed into project-local folders (.tools/, .venv/).
PYTHON ?= python3
UV_VERSION ?= 0.13.9
UV := .tools/bin/uv
RUN := $(UV) run --frozen

.DEFAULT_GOAL := help
.PHONY: help setup run test lint typecheck pytest bench schemas check-schemas format clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

.venv/.synced: $(UV) uv.lock pyproject.toml $(wildcard libs/*/pyproject.toml services/*/pyproject.toml)
	$(UV) sync --frozen --all-packages
	@touch $@

setup: .venv/.synced  ## install the workspace into .venv (done by run and test)

run: setup  ## start the whole platform: embedded PostgreSQL + broker + every service
	$(RUN) dunlin-stack up

test: setup lint typecheck pytest  ## ruff, mypy and the whole test suite

lint: setup
	$(RUN) ruff check .
	$(RUN) ruff format --check .

typecheck: setup
	$(RUN) mypy

pytest: setup
	$(RUN) pytest $(PYTEST_ARGS)
	@# Suites that run the services together on the fixed platform topics: each its own session.
	$(RUN) pytest tests/e2e $(PYTEST_ARGS)
	$(RUN) pytest tests/ops $(PYTEST_ARGS)

format: setup  ## apply ruff fixes and formatting
	$(RUN) ruff check --fix .
	$(RUN) ruff format .

schemas: setup  ## regenerate the committed JSON Schemas and AsyncAPI document
	$(RUN) python -m dunlin_events.generate

bench: setup  ## run the benchmarks and print their tables
	$(RUN) python -m bench

clean:  ## remove local state (embedded database, broker data, venvs)
	rm -rf .dunlin .venv .tools
