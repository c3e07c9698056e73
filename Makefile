# Two entry points: `make run` (set up, then serve on 127.0.0.1:5000) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
WORKERS ?= 2
# The embedded store is served by the panel itself, so by default it lives at the panel's own address.
MARKETPLACE_URL ?= http://$(HOST):$(PORT)/store
export MARKETPLACE_URL

.PHONY: run test setup translations i18n bench clean

$(BIN)/.installed: requirements.txt tests/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r tests/requirements.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

translations: $(BIN)/.installed
	$(BIN)/pybabel compile --statistics -d panel/translations

setup: $(BIN)/.installed node_modules/.installed translations

run: setup
	$(BIN)/flask --app app db upgrade
	$(BIN)/gunicorn --workers $(WORKERS) --threads 4 --bind $(HOST):$(PORT) --access-logfile - app:app

# The suite on SQLite, then the tests that touch the database again on a throwaway PostgreSQL
# (skipped with a hint when PostgreSQL is not installed; where CI=true a missing PostgreSQL fails).
test: setup
	$(BIN)/python -m pytest -q tests
	PANEL_TEST_DATABASE=postgresql $(BIN)/python -m pytest -q tests

# After changing user-facing strings: refresh the catalogs, then translate the new entries.
i18n: $(BIN)/.installed
	$(BIN)/pybabel extract -F panel/babel.cfg -k _l --no-location --sort-output -o panel/translations/messages.pot .
	$(BIN)/pybabel update -i panel/translations/messages.pot -d panel/translations --no-fuzzy-matching --ignore-obsolete

bench: setup
	for b in bench/[!_]*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) node_modules
