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

.PHONY: install test test-scheduler demo lint bench soak sandbox-intacct sandbox-divvy clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	# The editable install puts plugins/ on sys.path; metadata setuptools left there would be a
	# second 'divvy-intacct' distribution, and Airflow would load the plugin entry point twice.
	rm -rf plugins/*.egg-info
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Only the real-scheduler test (also part of `make test`): `airflow backfill create` over a
# generated week, 3 runs at a time, LocalExecutor on a fresh PostgreSQL metadata DB; ~2-3 min.
test-scheduler: $(STAMP)
	$(BIN)/python -m pytest -m scheduler tests/scheduler $(PYTEST_ARGS)

demo: $(STAMP)
	$(BIN)/python -m demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP)
	$(BIN)/python -m benchmarks

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
	rm -rf $(VENV) .airflow .airflow_test .pytest_cache .ruff_cache
