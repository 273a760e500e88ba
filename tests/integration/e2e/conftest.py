"""End-to-end fixtures: real Airflow (``dag.test()`` on a migrated metadata DB) running the DAG
against the local Intacct gateway and the local Divvy API over real HTTP."""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator

import pytest
from e2e_world import ROOT, World, empty_divvy_seed

from sandbox.divvy_api.testing import running_divvy
from sandbox.intacct_gateway.testing import running_gateway


@pytest.fixture
def world(tmp_path, monkeypatch, airflow_db) -> Iterator[World]:
    with running_gateway() as gw, running_divvy(empty_divvy_seed(), calls_per_minute=100_000) as dv:
        shutil.copy(ROOT / "include/mapping_rules.csv", tmp_path / "mapping_rules.csv")
        w = World(gw, dv, tmp_path, monkeypatch)
        w.configure()
        w.connect_intacct()
        monkeypatch.setenv(
            "AIRFLOW_CONN_DIVVY_DEFAULT",
            json.dumps(
                {
                    "conn_type": "divvy",
                    "host": dv.url,
                    "password": dv.token,
                    # 60 calls a second, not a minute: the local API allows it, and a
                    # week of daily runs would otherwise wait on the client limiter.
                    # The sandbox serves receipt files on "localhost": loopback opted in.
                    "extra": {
                        "timeout": 10,
                        "rate_limit_window": 1,
                        "receipts_allow_loopback": True,
                    },
                }
            ),
        )
        yield w


@pytest.fixture
def pg_ledger_url(postgres_dsn, monkeypatch) -> Iterator[str]:
    """A fresh PostgreSQL database for the ledger, named by the connection ``ledger_pg`` (set
    ``ledger_conn_id`` to use it); yields its SQLAlchemy URL, and drops it afterwards."""
    import psycopg

    name = f"ledger_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # name is generated above, not user input
    info = psycopg.conninfo.conninfo_to_dict(postgres_dsn)
    user = info.get("user") or "postgres"
    host, port = info.get("host") or "127.0.0.1", int(info.get("port") or 5432)
    conn_json = {"conn_type": "postgres", "host": host, "port": port, "login": user}
    conn_json |= {"password": info.get("password"), "schema": name}
    monkeypatch.setenv("AIRFLOW_CONN_LEDGER_PG", json.dumps(conn_json))
    try:
        yield f"postgresql+psycopg://{user}@{host}:{port}/{name}"
    finally:
        with psycopg.connect(postgres_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
