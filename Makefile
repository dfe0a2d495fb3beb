# The two set-up commands: `make serve` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

.PHONY: serve test lint typecheck unit contract test-sqlite test-postgres bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

serve: $(STAMP)
	$(BIN)/openlinq serve

lint: $(STAMP)
	$(BIN)/ruff check src tests bench examples
	$(BIN)/ruff format --check src tests bench examples

typecheck: $(STAMP)
	$(BIN)/mypy

# Every test on SQLite, then the storage-touching suites again on PostgreSQL.
test: lint typecheck $(STAMP)
	$(BIN)/python -m pytest -q
	bash scripts/with-postgres.sh $(BIN)/python -m pytest -q --backend postgres tests/integration tests/contract

test-sqlite: $(STAMP)
	$(BIN)/python -m pytest -q

test-postgres: $(STAMP)
	bash scripts/with-postgres.sh $(BIN)/python -m pytest -q --backend postgres tests/integration tests/contract

bench: $(STAMP)
	$(BIN)/python bench/sends.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
