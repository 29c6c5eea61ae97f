# ibkr-pipelines: `make demo` and `make test` are all a new machine needs (Python 3.11, pip, make).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export DAGSTER_HOME := $(CURDIR)/dagster_home

.PHONY: install demo test test-fast dev bench-extractor clean

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is needed (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

## Run the full nightly ingestion against the embedded IBKR simulator into data/ibkr.duckdb.
demo: install
	$(BIN)/ibkr-pipelines ingest

## The whole test suite (slow tests included, as in CI).
test: install
	$(BIN)/python -m pytest -q

## The suite without the slow end-to-end tests, for quick iterations.
test-fast: install
	$(BIN)/python -m pytest -q -m "not slow"

## The Dagster UI on this project (http://127.0.0.1:3000).
dev: install
	$(BIN)/dagster dev -m assets.definitions -h 127.0.0.1 -p 3000

## The extractor benchmark against the simulator with IBKR's real limits (several minutes).
bench-extractor: install
	$(BIN)/python -m benchmarks.extractor.run

clean:
	rm -rf data dagster_home/storage dagster_home/history dagster_home/schedules dagster_home/logs
