# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint typecheck contracts pytest lock clean-venv babel-check

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Runtime install: the pinned, hashed lock, then the package itself without dependencies.
$(VENV)/.installed-run: requirements.lock pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

# Test install: every extra and the test tools, same pins.
$(VENV)/.installed-dev: requirements-dev.lock pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements-dev.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@ $(VENV)/.installed-run

# The article this project starts from, when the shared data sits beside the clone: the
# demo shows it as a page reported by the public (right answer: journalism).
SEED_ARTICLE ?= $(firstword $(wildcard ../shared/data/seed/*.txt))

run: $(VENV)/.installed-run
	PASSERELLE_ENV=$${PASSERELLE_ENV:-dev} $(BIN)/passerelle db upgrade
	PASSERELLE_ENV=$${PASSERELLE_ENV:-dev} $(BIN)/passerelle demo --host $(HOST) --port $(PORT) \
		$(if $(SEED_ARTICLE),--article $(SEED_ARTICLE))

test: $(VENV)/.installed-dev lint typecheck contracts pytest

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

contracts: $(VENV)/.installed-dev
	$(BIN)/lint-imports

pytest: $(VENV)/.installed-dev
	$(BIN)/pytest $(PYTEST_ARGS)

# Re-pin the lock files (needs uv; run by a maintainer, never by the install).
lock:
	uv pip compile pyproject.toml --all-extras --generate-hashes --python-version 3.11 -o requirements-dev.lock
	uv pip compile pyproject.toml --extra postgres --extra build --generate-hashes --python-version 3.11 -c requirements-dev.lock -o requirements.lock

clean-venv:
	rm -rf $(VENV)
