"""Each Divvy account's part of a shared PostgreSQL ledger is its own schema (issue 11, part 5):
the same run id in two accounts' DAGs cannot collide, and a connection that would work outside
the account's schema is refused before anything is written."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
import sqlalchemy as sa

from intacct_hook.sync.ledger import Ledger, LedgerStateError, search_path_engine_kwargs

pytestmark = pytest.mark.postgres

RUN = "scheduled__2026-11-17T06:00:00+00:00"  # both accounts' DAGs have a run of this id


@pytest.fixture
def database(postgres_dsn: str) -> Iterator[str]:
    """A fresh database (its name generated here, the only identifier formatted into SQL)."""
    name = f"acct_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    info = psycopg.conninfo.conninfo_to_dict(postgres_dsn)
    user, host, port = info.get("user") or "postgres", info.get("host"), info.get("port", 5432)
    try:
        yield f"postgresql+psycopg://{user}@{host or '127.0.0.1'}:{port}/{name}"
    finally:
        with psycopg.connect(postgres_dsn, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _tables(url: str) -> dict[str, int]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT table_schema, count(*) FROM information_schema.tables "
                    "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') GROUP BY 1"
                )
            ).all()
    finally:
        engine.dispose()
    return dict(rows)


def test_two_accounts_land_the_same_run_id_each_in_its_own_schema(database):
    east = Ledger.from_url(database, schema="divvy_intacct_east")
    west = Ledger.from_url(database, schema="divvy_intacct_west")
    try:
        for ledger in (east, west, east):  # ensure_schema is idempotent per schema
            ledger.ensure_schema()
        east.land(RUN, [{"transaction": {"uuid": "txr_east", "transactionType": "CLEAR"}}])
        west.land(RUN, [{"transaction": {"uuid": "txr_west", "transactionType": "CLEAR"}}])
        # The same run id: each account reads its own landing only; extract replacing its
        # run's landing in one account leaves the other's alone.
        assert [p["transaction"]["uuid"] for p in east.landed(RUN)] == ["txr_east"]
        assert [p["transaction"]["uuid"] for p in west.landed(RUN)] == ["txr_west"]
        east.clear_run_landing(RUN)
        assert list(east.landed(RUN)) == []
        assert [p["transaction"]["uuid"] for p in west.landed(RUN)] == ["txr_west"]
        tables = _tables(database)
        assert set(tables) == {"divvy_intacct_east", "divvy_intacct_west"}  # nothing in public
        assert tables["divvy_intacct_east"] == tables["divvy_intacct_west"]
    finally:
        east.engine.dispose()
        west.engine.dispose()


def test_an_engine_outside_the_accounts_schema_is_refused_before_anything_is_written(database):
    engine = sa.create_engine(database)  # no search path: it would work in public
    try:
        with pytest.raises(LedgerStateError, match="works in schema 'public'"):
            Ledger(engine, schema="divvy_intacct_east").ensure_schema()
    finally:
        engine.dispose()
    assert _tables(database) == {}  # the schema's creation was rolled back with the rest


def test_a_schema_needs_postgresql_and_a_plain_name(tmp_path):
    with pytest.raises(ValueError, match="needs PostgreSQL"):
        Ledger.from_url(f"sqlite:///{tmp_path / 'l.db'}", schema="divvy_intacct_east")
    with pytest.raises(ValueError, match="plain lower-case"):
        search_path_engine_kwargs('east"; DROP TABLE x; --')
    # Options the caller already passes are kept.
    kwargs = search_path_engine_kwargs("s1", {"connect_args": {"options": "-c work_mem=4MB"}})
    assert kwargs["connect_args"]["options"] == "-c work_mem=4MB -c search_path=s1"


def test_the_first_account_may_keep_the_single_account_ledger_in_public(database):
    # README "Moving from one account to several": "ledger_schema": "public".
    single = Ledger.from_url(database)
    single.ensure_schema()
    single.land(RUN, [{"transaction": {"uuid": "txr_before", "transactionType": "CLEAR"}}])
    single.engine.dispose()
    account = Ledger.from_url(database, schema="public")
    try:
        account.ensure_schema()
        assert [p["transaction"]["uuid"] for p in account.landed(RUN)] == ["txr_before"]
    finally:
        account.engine.dispose()
