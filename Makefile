# gstjobs: the two commands a newcomer needs are `make demo` and `make test`.
# Both create the virtual environment and install what they need when it is missing.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# Every job, in the order a day would run them (a meta-test keeps this list complete).
JOBS   := sla-check limitation-watch hearing-reminders deadline-alerts analytics-snapshot health-check deliver

.PHONY: venv demo test test-embedded test-local lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,embedded]'
	touch $(STAMP)

venv: $(STAMP)

## demo: migrate, load the demo data set, run every job, show status.
## With no DATABASE_URL the embedded PostgreSQL is started (and left running).
demo: venv
	$(BIN)/gstjobs demo --reset
	@for job in $(JOBS); do $(BIN)/gstjobs run $$job --trigger manual || exit $$?; done
	$(BIN)/gstjobs status
	@# The monitoring check exits 1 or 2 on findings; the demo shows it without failing.
	$(BIN)/gstjobs health-report || true
	@echo "Next: .venv/bin/gstjobs history | notify list | analytics | rules list  (see README)"

## test: the whole suite, on GSTJOBS_TEST_DATABASE_URL or, unset, the embedded server.
test: venv lint
	$(BIN)/python -m pytest -q

lint: venv
	$(BIN)/ruff check gstjobs tests bench
	$(BIN)/ruff format --check gstjobs tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

bench: venv
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
