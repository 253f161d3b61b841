# Dunlin — the two commands a newcomer needs: `make run` and `make test`.
# Everything else is installed into project-local folders (.tools/, .venv/).
PYTHON ?= python3
UV_VERSION ?= 0.13.9
UV := .tools/bin/uv
RUN := $(UV) run --frozen

.DEFAULT_GOAL := help
.PHONY: help setup native run test lint typecheck pytest bench schemas check-schemas format clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

.venv/.synced: $(UV) uv.lock pyproject.toml $(wildcard libs/*/pyproject.toml services/*/pyproject.toml)
	$(UV) sync --frozen --all-packages
	@touch $@

setup: .venv/.synced native  ## install the workspace into .venv, compile the hot modules (done by run and test)

# The dunning sweep's hot modules, compiled with mypyc into .dunlin/native/ (~25 s, skipped when
# fresh; without a C compiler it warns and they run as plain Python). DUNLIN_NATIVE=0 skips it.
native: .venv/.synced  ## compile the dunning domain's hot modules (services/dunning/README.md)
	$(RUN) python -m dunlin_platform.native_build dunning.domain

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
	@# The dunning domain's unit tests ran on the compiled modules above; these run the sources.
	DUNLIN_NATIVE=0 $(RUN) pytest services/dunning/tests/unit $(PYTEST_ARGS)

format: setup  ## apply ruff fixes and formatting
	$(RUN) ruff check --fix .
	$(RUN) ruff format .

schemas: setup  ## regenerate the committed JSON Schemas and AsyncAPI document
	$(RUN) python -m dunlin_events.generate

bench: setup  ## run the benchmarks and print their tables
	$(RUN) python -m bench

clean:  ## remove local state (embedded database, broker data, venvs)
	rm -rf .dunlin .venv .tools
