# Every target creates .venv and installs the project when it is missing.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3 2>/dev/null)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export WAREHOUSE_PATH ?= data/warehouse.duckdb
export DBT_PROFILES_DIR ?= $(CURDIR)

.PHONY: demo test bench lint format install clean chromium dashboard docs

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null || { echo "Python 3.11 is required (set PYTHON=/path/to/python3.11)"; exit 1; }
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/mailroom demo

# The dbt docs site of the warehouse: target/static_index.html (after `make demo`).
docs: $(STAMP)
	$(BIN)/mailroom docs

# The marketing dashboard of the warehouse: data/dashboard/index.html (after `make demo`).
dashboard: $(STAMP)
	$(BIN)/mailroom dashboard

# Headless Chromium for the dashboard's browser test (tests/python/test_dashboard.py):
# installed from the Debian archive when missing (sudo when not root).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
chromium:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
		echo "installing chromium (headless browser for the dashboard test)"; \
		$(SUDO) apt-get update && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium; }

test: $(STAMP) chromium
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mailroom lint-sql
	$(BIN)/pytest tests/python -n 2 --dist loadgroup --no-loadscope-reorder --durations=25

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mailroom lint-sql

bench: $(STAMP)
	$(BIN)/mailroom bench

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf target logs data/*.duckdb data/truth test-output
