# gstjobs: the two commands a newcomer needs are `make demo` and `make test`.
# Both create the virtual environment and install what they need when it is missing.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: venv demo test test-embedded test-local lint bench faults hours docs clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,embedded]'
	touch $(STAMP)

venv: $(STAMP)

## demo: migrate, load the demo data set, run every job, show status.
## Always the embedded PostgreSQL (started and left running; `gstjobs db stop` stops it),
## or GSTJOBS_DEMO_DATABASE_URL: never an exported DATABASE_URL or one in ./.env. Never a
## real channel either: SMTP and WhatsApp settings from the shell or ./.env are blanked
## (the environment wins over the file), so every message goes to the file outbox.
DEMO := env DATABASE_URL=$(GSTJOBS_DEMO_DATABASE_URL) SMTP_HOST= WHATSAPP_API_URL= \
	WHATSAPP_PHONE_NUMBER_ID= WHATSAPP_ACCESS_TOKEN= $(BIN)/gstjobs
demo: venv
	$(DEMO) demo --reset
	@# Every job in the registry, in its order (`gstjobs schedule jobs` lists them).
	@for job in $$($(DEMO) schedule jobs); do $(DEMO) run $$job --trigger manual || exit $$?; done
	$(DEMO) status
	@# The monitoring check exits 1 or 2 on findings; the demo shows it without failing.
	$(DEMO) health-report || true
	@echo "Next: .venv/bin/gstjobs history | notify list | analytics | rules list  (see docs/)"

## test: the whole suite, on GSTJOBS_TEST_DATABASE_URL or, unset, the embedded server.
test: venv lint
	$(BIN)/python -m pytest -q

## faults: the fault suite (tests/faults) in its long form: many rounds of kills and
## signals across every job, and hundreds of generated command lines and settings per
## property (failures shrunk to a minimal case). `make test` runs the same suite with
## a few rounds and a few dozen cases.
faults: venv
	GSTJOBS_FAULTS=1 $(BIN)/python -m pytest -q -s tests/faults

## hours: the whole suite at the hours where gstjobs turns (HOURS, Asia/Kolkata): every
## clock, the tests', gstjobs' and the embedded PostgreSQL's, moved by libfaketime.
## CI runs at whatever hour it starts; this shows a test that only holds by day.
HOURS ?= 23:56 07:56 20:56 05:26
hours: venv
	@for h in $(HOURS); do $(BIN)/python tests/at_hour.py $$h || exit $$?; done

lint: venv
	$(BIN)/ruff check gstjobs tests bench
	$(BIN)/ruff format --check gstjobs tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

## docs: regenerate docs/cli.md from the Typer app with Typer's own generator
## (tests/unit/test_docs.py fails while it is stale).
docs: venv
	$(BIN)/typer gstjobs.__main__ utils docs --name gstjobs --output docs/cli.md

## bench: every job against its SQL floor at scales S, M, L (BENCH_SCALES), then delivery
## and limitation-watch; writes bench/RESULTS.md. Uses BENCH_DATABASE_URL's server.
bench: venv
	$(BIN)/python bench/run.py
	$(BIN)/python bench/delivery.py
	$(BIN)/python bench/limitation.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis *.egg-info
