# The two set-up commands: `make serve` and `make test`. Both create .venv on first use;
# `make serve` installs only what the server needs, `make test` adds the dev tools.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/pip --quiet --disable-pip-version-check
HASH := $(shell cat pyproject.toml | sha1sum | cut -c1-12)
SERVE_STAMP := $(VENV)/.installed-serve-$(HASH)
STAMP := $(VENV)/.installed-dev-$(HASH)

.PHONY: serve test lint typecheck unit contract test-sqlite test-postgres typecheck-idle bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(SERVE_STAMP): pyproject.toml | $(BIN)/python
	$(PIP) install -e .
	rm -f $(VENV)/.installed-serve-*
	touch $@

# The dev set includes the server's dependencies: it stands for both.
$(STAMP): pyproject.toml | $(BIN)/python
	$(PIP) install -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@ $(SERVE_STAMP)

serve: $(SERVE_STAMP)
	$(BIN)/openlinq serve

lint: $(STAMP)
	$(BIN)/ruff check src tests bench examples
	$(BIN)/ruff format --check src tests bench examples

typecheck: $(STAMP)
	$(BIN)/mypy

# Every test on SQLite and, side by side (one core each), the storage-touching suites again on
# PostgreSQL; each run's output is printed whole when it ends. mypy (~45 s of one core with a
# cold cache, as in CI) runs beside them at a low priority, on the CPU time the two runs leave
# idle (server start-ups, real-clock waits), instead of before both while a core sits idle;
# lint (seconds) still fails the build before any test starts.
test: lint $(STAMP)
	$(MAKE) --no-print-directory -j3 --output-sync=target test-sqlite test-postgres typecheck-idle

typecheck-idle: $(STAMP)
	nice -n 10 $(BIN)/mypy

test-sqlite: $(STAMP)
	$(BIN)/python -m pytest -q

test-postgres: $(STAMP)
	bash scripts/with-postgres.sh $(BIN)/python -m pytest -q --backend postgres tests/integration tests/contract

bench: $(STAMP)
	$(BIN)/python bench/sends.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
