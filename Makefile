# The two commands a newcomer needs:  make run  (portal + worker + emulators, demo data)
#                                     make test (the whole test suite)
# Everything else is set up on the way: a virtualenv, the Python packages, and for the tests the
# system packages they need (redis-server, PostgreSQL, Chromium).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: run test test-fast bench chaos install system-deps migrate clean help

help:
	@echo "make run     - portal, RQ worker and local emulators on embedded defaults, with demo data"
	@echo "make test    - install what the tests need and run the whole suite"
	@echo "make bench   - benchmarks (writes bench/results/)"
	@echo "make chaos   - long fault-injection runs"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/python -m portal.devrun

system-deps:
	@bash tests/support/ensure-system.sh

test: install system-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Same suite without the browser tests, for a quick loop while coding.
test-fast: install
	$(BIN)/python -m pytest -m 'not e2e and not bench and not chaos' $(PYTEST_ARGS)

bench: install system-deps
	$(BIN)/python -m pytest -m bench bench tests $(PYTEST_ARGS)

chaos: install system-deps
	$(BIN)/python -m pytest -m chaos $(PYTEST_ARGS)

migrate: install
	$(BIN)/flask --app wsgi db upgrade

clean:
	rm -rf $(VENV) instance test-artifacts .pytest_cache
