"""Upgrading a ledger created by an earlier release: concurrent upgrades, old SQLite libraries."""

from __future__ import annotations

import pathlib
import sqlite3
import threading
import time

import psycopg
import pytest
import sqlalchemy as sa

from intacct_hook.sync.ledger import Ledger, LedgerUpgradeError, payload_json, split_statements

OLD_SCHEMA = pathlib.Path(__file__).parent / "data/schema_with_raw_payload_column.sql"
TABLES = (
    "reconciliation_difference",
    "reconciliation",
    "mapped_line",
    "map_input",
    "divvy_payload",
    "divvy_transaction",
    "divvy_landing",
    "extract_manifest",
)


def _make_old(ledger: Ledger) -> dict[str, str]:
    """Turn ``ledger`` into one created before divvy_payload existed, with three payloads."""
    with ledger.engine.begin() as conn:
        for table in TABLES:
            conn.execute(sa.text(f"DROP TABLE {table}"))  # fixed names, not input
        for statement in split_statements(OLD_SCHEMA.read_text()):
            conn.execute(sa.text(statement))
        payloads = {u: payload_json({"uuid": u, "memo": "é " * 60}) for u in ("a", "b", "c")}
        for uuid, payload in payloads.items():
            conn.execute(
                sa.text(
                    "INSERT INTO divvy_transaction (uuid, transaction_type, amount, "
                    "occurred_time, posting_date, merchant, raw_payload, state, first_run_id, "
                    "last_run_id, staged_at, updated_at) VALUES (:uuid, 'CLEAR', '1.00', "
                    "'2026-08-01T12:00:00+00:00', '2026-08-01', 'x', :payload, 'ready', 'old', "
                    "'old', 'now', 'now')"
                ),
                {"uuid": uuid, "payload": payload},
            )
    return payloads


def _columns(ledger: Ledger, table: str) -> set[str]:
    return {c["name"] for c in sa.inspect(ledger.engine).get_columns(table)}


@pytest.mark.postgres
def test_two_tasks_upgrading_an_old_postgresql_ledger_at_once_both_succeed(pg_ledger, postgres_dsn):
    # Every task calls ensure_schema. A third session holds a read lock on divvy_transaction
    # until both upgrades are waiting on a lock, so they really overlap: without a lock taken
    # before the inspection, both see the columns missing and the second ADD COLUMN fails.
    payloads = _make_old(pg_ledger)
    with pg_ledger.engine.connect() as conn:
        schema = conn.execute(sa.text("SELECT current_schema()")).scalar_one()
    pids: set[int] = set()

    def connect() -> psycopg.Connection:
        conn = psycopg.connect(postgres_dsn, options=f"-c search_path={schema}")
        pids.add(conn.info.backend_pid)
        return conn

    engines = [sa.create_engine("postgresql+psycopg://", creator=connect) for _ in range(2)]
    errors: list[BaseException] = []

    def upgrade(engine: sa.Engine) -> None:
        try:
            Ledger(engine).ensure_schema()
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    blocker = psycopg.connect(postgres_dsn, options=f"-c search_path={schema}")
    try:
        blocker.execute("SELECT 1 FROM divvy_transaction LIMIT 1")  # holds ACCESS SHARE
        threads = [threading.Thread(target=upgrade, args=(e,)) for e in engines]
        for t in threads:
            t.start()
        with psycopg.connect(postgres_dsn, autocommit=True) as watch:
            for _ in range(600):  # until both upgrades wait on a lock (a failure path: ~60 s)
                waiting = watch.execute(
                    "SELECT count(DISTINCT pid) FROM pg_locks WHERE NOT granted AND pid = ANY(%s)",
                    (list(pids),),
                ).fetchone()
                if (waiting and waiting[0] == 2) or errors:
                    break
                time.sleep(0.1)
            else:
                pytest.fail("the two upgrades never both waited on a lock")
    finally:
        blocker.rollback()
        blocker.close()
    for t in threads:
        t.join(timeout=60)
    for e in engines:
        e.dispose()

    assert errors == []
    assert "raw_payload" not in _columns(pg_ledger, "divvy_transaction")
    assert {"original_posting_date", "claim_owner"} <= _columns(pg_ledger, "divvy_transaction")
    assert {"transaction_type", "staged"} <= _columns(pg_ledger, "divvy_landing")
    rows = {r.uuid: r for r in pg_ledger.select_in_state(["ready"])}
    assert {u: payload_json(r.raw_payload) for u, r in rows.items()} == payloads
    with pg_ledger.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM divvy_payload")).scalar_one() == 3


def _snapshot(ledger: Ledger) -> dict[str, object]:
    """Every table's columns and rows, to show an upgrade left the ledger as it was."""
    inspector = sa.inspect(ledger.engine)
    with ledger.engine.connect() as conn:
        return {
            t: (
                sorted(c["name"] for c in inspector.get_columns(t)),
                sorted(map(tuple, conn.execute(sa.text(f"SELECT * FROM {t}")))),  # fixed names
            )
            for t in sorted(inspector.get_table_names())
        }


def test_an_old_sqlite_library_refuses_the_upgrade_before_changing_anything(tmp_path, monkeypatch):
    # DROP COLUMN needs SQLite 3.35; Python on Linux uses the system library (Debian 11 has
    # 3.34.1). The real library cannot be swapped in a test, so the version it reports is.
    ledger = Ledger.sqlite(tmp_path / "ledger.db")
    ledger.ensure_schema()
    _make_old(ledger)
    before = _snapshot(ledger)
    monkeypatch.setattr(sqlite3, "sqlite_version_info", (3, 34, 1))
    monkeypatch.setattr(sqlite3, "sqlite_version", "3.34.1")

    with pytest.raises(LedgerUpgradeError) as refused:
        ledger.ensure_schema()

    message = str(refused.value)
    assert "3.34.1" in message and "3.35" in message and "nothing was changed" in message
    assert _snapshot(ledger) == before
    monkeypatch.undo()
    ledger.ensure_schema()  # the same ledger upgrades once the library is recent enough
    assert "raw_payload" not in _columns(ledger, "divvy_transaction")
    ledger.engine.dispose()


def test_an_old_sqlite_library_still_opens_an_up_to_date_ledger(tmp_path, monkeypatch):
    # Only the payload move needs DROP COLUMN: a new ledger, or one already upgraded, is fine.
    monkeypatch.setattr(sqlite3, "sqlite_version_info", (3, 31, 1))
    ledger = Ledger.sqlite(tmp_path / "ledger.db")
    ledger.ensure_schema()
    ledger.ensure_schema()
    assert "raw_payload" not in _columns(ledger, "divvy_transaction")
    ledger.engine.dispose()


def test_two_tasks_upgrading_an_old_sqlite_ledger_at_once_both_succeed(tmp_path):
    # SQLite needs no extra lock: ensure_schema's BEGIN IMMEDIATE takes the database's write
    # lock before inspecting, so the second upgrade waits (busy_timeout) and finds it done.
    # A third connection holds the write lock while both start, so both wait on it.
    path = tmp_path / "ledger.db"
    first = Ledger.sqlite(path)
    first.ensure_schema()
    payloads = _make_old(first)
    ledgers = [Ledger.sqlite(path) for _ in range(2)]
    errors: list[BaseException] = []
    started = threading.Barrier(3)

    def upgrade(ledger: Ledger) -> None:
        started.wait()
        try:
            ledger.ensure_schema()
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    with first.engine.connect() as blocker:
        blocker.exec_driver_sql("BEGIN IMMEDIATE")
        threads = [threading.Thread(target=upgrade, args=(led,)) for led in ledgers]
        for t in threads:
            t.start()
        started.wait()
        time.sleep(0.3)  # lets both reach BEGIN IMMEDIATE; the outcome does not depend on it
        blocker.rollback()
    for t in threads:
        t.join(timeout=60)

    assert errors == []
    assert "raw_payload" not in _columns(first, "divvy_transaction")
    rows = {r.uuid: r for r in first.select_in_state(["ready"])}
    assert {u: payload_json(r.raw_payload) for u, r in rows.items()} == payloads
    for led in (first, *ledgers):
        led.engine.dispose()
