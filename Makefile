# ibkr-pipelines: `make demo` and `make test` are all a new machine needs (Python 3.11, pip, make).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export DAGSTER_HOME := $(CURDIR)/dagster_home

.PHONY: install system-deps demo test test-fast dev bench-extractor bench-backfill bench-market-data clean

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is needed (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

## Debian packages the tests use: chromium is the browser tests/ui/ drive through Playwright (Playwright's
## own browser download is never used). The any-hour runs' libfaketime comes with the test extras (PyPI).
## Each is installed when missing and we may (root with apt-get); otherwise those tests say why they are skipped.
## command:packages (comma-separated); chromium without Debian's recommends (they pull in systemd, avahi, CUPS).
SYSTEM_PACKAGES := chromium:chromium,fonts-liberation

system-deps:
	@missing=""; for pair in $(SYSTEM_PACKAGES); do \
	  command -v "$${pair%%:*}" >/dev/null 2>&1 || missing="$$missing $$(echo $${pair#*:} | tr , ' ')"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's$$missing for the UI tests"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing) >/dev/null \
	      || echo "note: apt-get could not install$$missing; the tests that need them will be skipped"; \
	  else \
	    echo "note: not installed:$$missing (apt-get install$$missing); the tests that need them will be skipped"; \
	  fi; \
	fi

## Run the full nightly ingestion against the embedded IBKR simulator into data/ibkr.duckdb.
demo: install
	IBKR_WATCHLIST=$${IBKR_WATCHLIST-AAPL,SPY,ASML} $(BIN)/ibkr-pipelines ingest

## The whole test suite (slow tests included, as in CI): three workers, then the timing-sensitive tests alone.
## Three on CI's two cores: about a third of the tests' time is waiting (pacing windows, Dagster's daemons,
## the browser), which a third worker fills; idle workers take work from busy ones (worksteal), so the
## longest tests do not end the run on one worker. Measured here: 2 workers 14:20, 3 workers 11:37; 4 was slower.
## Measured again on 2026-12-05 after cutting the suite's CPU: 3 workers 10:13, 4 workers 10:06 with 7% more CPU.
XDIST := -n 3 --dist worksteal
test: install system-deps
	$(BIN)/python -m pytest -q $(XDIST) -m "not serial"
	$(BIN)/python -m pytest -q -m serial

## The suite without the slow end-to-end tests, for quick iterations.
test-fast: install system-deps
	$(BIN)/python -m pytest -q $(XDIST) -m "not slow and not serial"
	$(BIN)/python -m pytest -q -m "serial and not slow"

## The Dagster UI on this project (http://127.0.0.1:3000).
dev: install
	$(BIN)/dagster dev -m assets.definitions -h 127.0.0.1 -p 3000

## The extractor benchmark against the simulator with IBKR's real limits (several minutes).
bench-extractor: install
	$(BIN)/python -m benchmarks.extractor.run

## A 90-day backfill of every dataset as the UI launches it (one run, multiprocess), vs IBKR's limits (~10-15 min).
bench-backfill: install
	$(BIN)/python -m benchmarks.backfill.run 2>bench-backfill.log

## A year of 1-minute bars for 50 conids, staged and loaded as a UI backfill of bars does it (~10 min).
bench-market-data: install
	$(BIN)/python -m benchmarks.market_data.run 2>bench-market-data.log

clean:
	rm -rf data dagster_home/storage dagster_home/history dagster_home/schedules dagster_home/logs

## Regenerate the data dictionary (sql/README.md) from the table specs and sql/views.
.PHONY: dictionary
dictionary: install
	$(BIN)/python -m ibkr_pipelines.schemas.dictionary
