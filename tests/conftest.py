"""Test-wide set-up: an isolated Airflow home, and the PostgreSQL server for ledger tests.

The Airflow environment must be in place before anything imports ``airflow``, so it is set at
module import time, before pytest collects the test modules.
"""

from __future__ import annotations

import os
import pathlib
import sqlite3
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
AIRFLOW_HOME = ROOT / ".airflow_test"
PRISTINE_DB = AIRFLOW_HOME / "airflow.pristine.db"

os.environ["AIRFLOW_HOME"] = str(AIRFLOW_HOME)
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(ROOT / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(ROOT / "plugins")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "False")
# An unexpected task error should fail a test now, not after minutes of retry delays.
os.environ["DIVVY_INTACCT_TASK_RETRIES"] = "0"
# Reference material (the Intacct schema) lives beside the repo, never inside it.
os.environ.setdefault("INTACCT_XSD_PATH", str(ROOT.parent / "shared/reference/intacct/api.xsd"))

DEFAULT_PG_DSN = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture(scope="session")
def airflow_db() -> pathlib.Path:
    """A migrated Airflow metadata DB (SQLite) for tests that run real DAGs, new each session:
    runs left by an earlier session (same run id, another logical date) would collide."""
    AIRFLOW_HOME.mkdir(exist_ok=True)
    db = AIRFLOW_HOME / "airflow.db"
    for leftover in (db, PRISTINE_DB):
        leftover.unlink(missing_ok=True)
    airflow = pathlib.Path(sys.executable).parent / "airflow"
    subprocess.run([str(airflow), "db", "migrate"], check=True, capture_output=True)
    # A copy before any test writes to it, for tests that need an Airflow of their own.
    with sqlite3.connect(db) as src, sqlite3.connect(PRISTINE_DB) as dst:
        src.backup(dst)
    return db


@pytest.fixture(scope="session")
def pristine_airflow_db(airflow_db: pathlib.Path) -> pathlib.Path:
    """The migrated metadata DB as it was before any test ran a DAG (copy it, never write it)."""
    return PRISTINE_DB


@pytest.fixture
def airflow_api(airflow_db, monkeypatch):
    """The API server's real FastAPI app (core API, as the UI calls it), every request signed in
    as an admin, connection testing enabled."""
    monkeypatch.setenv("AIRFLOW__CORE__TEST_CONNECTION", "Enabled")
    monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS", "True")
    from airflow.api_fastapi.app import create_app, purge_cached_app
    from fastapi.testclient import TestClient

    purge_cached_app()
    try:
        with TestClient(create_app("core")) as client:
            yield client
    finally:
        purge_cached_app()


@pytest.fixture(scope="session")
def postgres_dsn() -> str:
    """DSN of a reachable PostgreSQL server, or a visible skip (a failure when CI requires it)."""
    dsn = os.environ.get("DIVVY_INTACCT_TEST_PG_DSN", DEFAULT_PG_DSN)
    try:
        import psycopg

        with psycopg.connect(dsn, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:  # any failure to connect means "no server here"
        message = f"PostgreSQL not reachable at {dsn!r}: {exc}"
        if os.environ.get("DIVVY_INTACCT_REQUIRE_POSTGRES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return dsn


@pytest.fixture
def record_masking(monkeypatch: pytest.MonkeyPatch):
    """``registered = record_masking(HookClass)``: what the hook itself hands to Airflow's log
    masker once it has its Connection (Airflow's own registrations while fetching it are not
    the hook's doing). The values are still registered for real."""
    import airflow.sdk.log as sdk_log

    def _record(hook_class: type) -> list[object]:
        registered: list[object] = []
        fetched = False
        original_mask = sdk_log.mask_secret
        original_fetch = hook_class.get_connection

        def mask_secret(secret: object, name: str | None = None) -> None:
            if fetched:
                registered.append(secret)
            original_mask(secret, name)

        def get_connection(cls: type, conn_id: str) -> object:
            nonlocal fetched
            conn = original_fetch(conn_id)
            fetched = True
            return conn

        monkeypatch.setattr(sdk_log, "mask_secret", mask_secret)
        monkeypatch.setattr(hook_class, "get_connection", classmethod(get_connection))
        return registered

    return _record
