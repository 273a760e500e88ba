# Two entry points that work on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export AIRFLOW_HOME := $(CURDIR)/.airflow
export AIRFLOW__CORE__DAGS_FOLDER := $(CURDIR)/dags
export AIRFLOW__CORE__PLUGINS_FOLDER := $(CURDIR)/plugins
export AIRFLOW__CORE__LOAD_EXAMPLES := False
export AIRFLOW__CORE__UNIT_TEST_MODE := False

.PHONY: install test test-scheduler test-deployment browser-setup demo lint bench soak \
	sandbox-intacct sandbox-divvy airflow airflow-status airflow-stop airflow-reset clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev,deploy,bench]'
	# The editable install puts plugins/ on sys.path; metadata setuptools left there would be a
	# second 'divvy-intacct' distribution, and Airflow would load the plugin entry point twice.
	rm -rf plugins/*.egg-info
	touch $(STAMP)

install: $(STAMP)

test: lint browser-setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Only the real-scheduler tests (also part of `make test`): `airflow backfill create` over a
# generated week, 3 runs at a time, LocalExecutor on a fresh PostgreSQL metadata DB; ~2-3 min;
# and two Divvy accounts backfilled together, then one of them broken; ~2.5 min.
test-scheduler: $(STAMP)
	$(BIN)/python -m pytest -m scheduler tests/integration/scheduler $(PYTEST_ARGS)

# The deployment and browser tests on the production profile (also part of `make test`).
test-deployment: $(STAMP) browser-setup
	$(BIN)/python -m pytest -m "deployment or browser" tests/integration/scheduler $(PYTEST_ARGS)

# Debian's Chromium for the browser test (Playwright's own browser download needs the internet
# at test time and is not used). Needs root or sudo; without it the browser test skips visibly.
browser-setup:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null; then SUDO=sudo; \
	  else echo "browser-setup: install Debian's chromium to run the browser test"; exit 0; fi; \
	  $$SUDO apt-get install -y -q chromium >/dev/null 2>&1 || \
	  { $$SUDO apt-get update -q >/dev/null && $$SUDO apt-get install -y -q chromium >/dev/null; } || \
	  echo "browser-setup: could not install chromium (the browser test will skip, or fail in CI)"; }

demo: $(STAMP)
	$(BIN)/python -m demo

# The production profile: a real Airflow (CeleryExecutor, Redis, PostgreSQL) from the wheel,
# on http://127.0.0.1:8080 (README, "Deployment"). Runs in the background until airflow-stop.
airflow: $(STAMP)
	$(BIN)/python -m deploy up

airflow-status: $(STAMP)
	$(BIN)/python -m deploy status

airflow-stop: $(STAMP)
	$(BIN)/python -m deploy stop

# Stops it and deletes its databases and var/airflow (runs, logs, connections, the ledger).
airflow-reset: $(STAMP)
	$(BIN)/python -m deploy reset

# The static checks `make test` runs first: formatting, lint with the import rules, types.
lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

# All benchmarks; the e2e one at 1k and 10k transactions. Issue 10's size:
# make bench BENCH_ARGS="e2e --size 100000" (several minutes).
bench: $(STAMP)
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

# The randomized fault soak at full size (make test runs 200 schedules of it).
SOAK_SCHEDULES ?= 1000
SOAK_SEED ?= 1
soak: $(STAMP)
	$(BIN)/python -m soak --schedules $(SOAK_SCHEDULES) --seed $(SOAK_SEED)

sandbox-intacct: $(STAMP)
	$(BIN)/python -m sandbox.intacct_gateway --port 8081

sandbox-divvy: $(STAMP)
	$(BIN)/python -m sandbox.divvy_api --port 8082

clean:
	rm -rf $(VENV) .airflow .airflow_test .pytest_cache .ruff_cache .mypy_cache var/demo var/screenshots
