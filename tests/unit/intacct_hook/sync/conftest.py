"""Ledger fixtures: each ledger test runs on a fresh SQLite file and a fresh PostgreSQL schema.
And the local Intacct gateway with a hook on it, for the steps that talk to Intacct."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import psycopg
import pytest
import sqlalchemy as sa
import tenacity

from intacct_hook.sync.ledger import Ledger
from sandbox.intacct_gateway.testing import GatewayHandle, default_connection, running_gateway

GATEWAY_CONN_ID = "intacct_sync_test"


@pytest.fixture
def gw() -> Iterator[GatewayHandle]:
    """The local Intacct gateway (a module may override it: other limits, latency)."""
    with running_gateway() as handle:
        yield handle


@pytest.fixture
def hook(gw: GatewayHandle, monkeypatch: pytest.MonkeyPatch):
    """An IntacctHook on ``gw`` that tries each request once: a server error reaches the step
    at once instead of after backoff."""
    from intacct_hook.hooks.intacct import IntacctHook

    conn = json.dumps(default_connection(gw.url))
    monkeypatch.setenv(f"AIRFLOW_CONN_{GATEWAY_CONN_ID.upper()}", conn)
    made = IntacctHook(
        intacct_conn_id=GATEWAY_CONN_ID, retry_args={"stop": tenacity.stop_after_attempt(1)}
    )
    yield made
    made.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def ledger(request: pytest.FixtureRequest, tmp_path) -> Iterator[Ledger]:
    """An empty ledger with its schema, on SQLite (tmp file) and on PostgreSQL."""
    if request.param == "sqlite":
        led = Ledger.sqlite(tmp_path / "ledger.db")
        led.ensure_schema()
        yield led
        led.engine.dispose()
        return
    yield from _postgres_ledger(request.getfixturevalue("postgres_dsn"))


@pytest.fixture
def pg_ledger(postgres_dsn: str) -> Iterator[Ledger]:
    """An empty ledger on PostgreSQL only, for behaviour that exists only there (row locks)."""
    yield from _postgres_ledger(postgres_dsn)


def _postgres_ledger(dsn: str) -> Iterator[Ledger]:
    # A schema per test keeps concurrent runs (and other engineers' tests) apart; the generated
    # name is the only identifier ever formatted into SQL, and only in this test fixture.
    schema = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    engine = sa.create_engine(
        "postgresql+psycopg://",
        creator=lambda: psycopg.connect(dsn, options=f"-c search_path={schema}"),
    )
    led = Ledger(engine)
    try:
        led.ensure_schema()
        yield led
    finally:
        engine.dispose()
        with psycopg.connect(dsn, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


def map_and_load(ledger: Ledger, settings, hook, rules, run_id: str):
    """A run's map and load steps after stage, with Intacct's facts read as the map task reads
    them; the load must refuse nothing (the re-coding harnesses build on a clean posting)."""
    from intacct_hook.sync import steps
    from intacct_hook.sync.preflight import read_posting_facts

    facts = read_posting_facts(hook, settings)
    steps.map_transactions(ledger, settings, rules, **facts.coding_kwargs())
    load = steps.load(hook, ledger, settings, run_id)
    assert load.failed == 0, load.failures
    return load
