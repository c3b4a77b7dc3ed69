# swarmscope: `make demo` runs the main job on the bundled demo data; `make test` runs the suite.
# Both set themselves up on a fresh Debian machine with Python 3.11.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DEMO   := demo-output
DATA   := src/swarmscope/demo_data

.PHONY: demo test test-fast venv clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); \
	  echo "python3-venv is missing: installing it with apt-get"; \
	  apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null && $(PYTHON) -m venv $(VENV); }
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.dev-installed: pyproject.toml $(VENV)/.installed
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

venv: $(VENV)/.installed

demo: $(VENV)/.installed
	rm -rf $(DEMO) && mkdir -p $(DEMO)
	$(BIN)/swarmscope --db $(DEMO)/demo.duckdb ingest $(DATA)/ira_week_2015-11-10_shifted.parquet $(DATA)/higgs_activity.parquet
	$(BIN)/swarmscope --db $(DEMO)/demo.duckdb info
	$(BIN)/swarmscope --db $(DEMO)/demo.duckdb pairs --kind repost --window 60 --out $(DEMO)/repost_edges.parquet
	$(BIN)/swarmscope --db $(DEMO)/demo.duckdb detect --out $(DEMO)/detect
	$(BIN)/swarmscope --db $(DEMO)/demo.duckdb report --title "swarmscope demo: real IRA trolls inside the real Higgs week" --out $(DEMO)/report.html
	@echo
	@echo "Demo store: $(DEMO)/demo.duckdb  (explore it: $(BIN)/swarmscope --db $(DEMO)/demo.duckdb info)"
	@echo "Co-retweet network (60 s): $(DEMO)/repost_edges.parquet; evidence in the store's evidence table"
	@echo "Detection: $(DEMO)/detect/{accounts,edges,clusters,evidence}.parquet; one account's evidence:"
	@echo "  $(BIN)/swarmscope --db $(DEMO)/demo.duckdb explain ACCOUNT_ID"
	@echo "Report (open it in a browser; it needs no network): $$(pwd)/$(DEMO)/report.html"

test: $(VENV)/.dev-installed
	@test -x /usr/bin/chromium || { echo "chromium is missing (the report's browser tests): installing it with apt-get"; \
	  apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }
	@command -v java >/dev/null || { echo "Java is missing (the Spark engine's tests): installing a JRE with apt-get"; \
	  apt-get update -qq && apt-get install -y -qq openjdk-17-jre-headless >/dev/null; }
	$(BIN)/python -m pytest

test-fast: $(VENV)/.dev-installed   # the suite without the tests marked slow (full real data)
	$(BIN)/python -m pytest -m "not slow"

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache .hypothesis
