# The two commands a newcomer needs:  make run  (portal + worker + emulators, demo data)
#                                     make test (the whole test suite)
# Everything else is set up on the way: a virtualenv, the Python packages, and for the tests the
# system packages they need (redis-server, PostgreSQL, Chromium).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: run test test-fast lint bench chaos audit install system-deps migrate clean help

help:
	@echo "make run     - portal, RQ worker and local emulators on embedded defaults, with demo data"
	@echo "make test    - install what the tests need and run the whole suite"
	@echo "make bench   - benchmarks (writes bench/results.json and bench/results/)"
	@echo "make chaos   - long fault-injection runs"
	@echo "make lint    - lint rules and type check of portal/ and jobs/ (ruff, mypy; make test runs them too)"
	@echo "make audit   - dependency vulnerability audit (pip-audit; needs PyPI's vulnerability service)"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@# The venv's own pip and setuptools are old (known advisories): bring them up to date first.
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip setuptools
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

# Lint rules and the type check (configured in pyproject.toml); the suite runs the same two
# commands (tests/security/test_code_checks.py).
lint: install
	$(BIN)/python -m ruff check portal jobs
	$(BIN)/python -m mypy portal jobs

# The sync against the emulators' limits beside the naive approach (bench/run.py: the table and
# bench/results.json, about 25 minutes; sizes and scale in README "Performance"), then the
# portal's and emulators' own benchmarks (pytest -m bench: bench/results/).
BENCH_STAMP := $(VENV)/.bench-stamp
$(BENCH_STAMP): pyproject.toml $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test,bench]'
	@touch $(BENCH_STAMP)

bench: install system-deps $(BENCH_STAMP)
	$(BIN)/python -m bench.run
	$(BIN)/python -m pytest -m bench bench tests $(PYTEST_ARGS)

chaos: install system-deps
	$(BIN)/python -m pytest -m chaos -rP $(PYTEST_ARGS)

# pip-audit asks PyPI's vulnerability service about every installed package (project and test
# dependencies) and fails on any known vulnerability, or when it could not audit a package.
audit: install
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[audit]'
	$(BIN)/python -m pip_audit --progress-spinner off --strict

migrate: install
	$(BIN)/flask --app wsgi db upgrade

clean:
	rm -rf $(VENV) instance test-artifacts .pytest_cache
