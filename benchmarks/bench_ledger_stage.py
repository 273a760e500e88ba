"""Ledger staging: ``Ledger.stage`` of 10,000 transactions, then the same 10,000 again.

The rows are generated Divvy transactions in the full API shape (the ledger stores each one's
JSON), decided by the real posting rules (ready / held / skipped). The first call inserts them
all; the second is the idempotent upsert every daily run does for the lookback days it
re-extracts (every row updated, its mapped lines cleared). On SQLite (a temp file) and on
PostgreSQL (``DIVVY_INTACCT_TEST_PG_DSN``, default ``postgresql://postgres@127.0.0.1:5432/test``;
a fresh schema, dropped afterwards; skipped with the reason if the server is unreachable).

Target: **≥ 2,000 rows/s** for both calls on both databases. The daily run re-stages its whole
lookback window (typically 7-14 days, thousands of rows for a busy card program); at 2,000/s a
10,000-row window stages in five seconds, so staging never stretches the run past the finance
team's morning cut-off, and a 90-day backfill still takes minutes, not hours.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

from benchmarks import _env
from benchmarks._harness import Figure, timed
from intacct_hook.sync.window import SyncWindow  # plain Python: no Airflow import

NAME = "ledger_stage"
ROWS = 10_000
TARGET = 2_000.0
# Only the time zone matters here: it turns purchase times into posting dates.
WINDOW = SyncWindow(date(2026, 11, 16), date(2026, 11, 22), 0, "America/Denver", "params")


def staged_rows(count: int) -> list[Any]:
    """``count`` StagedTransactions as the stage step makes them from landed payloads."""
    from benchmarks._data import divvy_api_rows
    from intacct_hook.sync.steps import staged_transaction
    from intacct_hook.sync.translation import PostingRules, decide, transaction_from_payload

    rules = PostingRules()
    rows = []
    for raw in divvy_api_rows(count):
        payload = {"transaction": raw, "children": raw.pop("_children")}
        txn = transaction_from_payload(payload)
        rows.append(staged_transaction(txn, decide(txn, rules), WINDOW, payload))
    return rows


@contextmanager
def sqlite_ledger() -> Iterator[Any]:
    from intacct_hook.sync.ledger import Ledger

    path = _env.workdir() / f"ledger-{uuid.uuid4().hex[:8]}.db"
    ledger = Ledger.sqlite(path)
    ledger.ensure_schema()
    try:
        yield ledger
    finally:
        ledger.engine.dispose()
        path.unlink(missing_ok=True)


@contextmanager
def postgres_ledger(dsn: str) -> Iterator[Any]:
    import psycopg
    import sqlalchemy as sa

    from intacct_hook.sync.ledger import Ledger

    # A generated schema name (the only identifier formatted into SQL) keeps this run apart
    # from tests and other benchmarks on the same server.
    schema = f"bench_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(dsn, autocommit=True, connect_timeout=3) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    engine = sa.create_engine(
        "postgresql+psycopg://",
        creator=lambda: psycopg.connect(dsn, options=f"-c search_path={schema}"),
    )
    try:
        ledger = Ledger(engine)
        ledger.ensure_schema()
        yield ledger
    finally:
        engine.dispose()
        with psycopg.connect(dsn, autocommit=True, connect_timeout=3) as admin:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


def postgres_unreachable(dsn: str) -> str | None:
    """Why PostgreSQL cannot be used, or None."""
    try:
        import psycopg

        with psycopg.connect(dsn, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:  # any failure to connect means "no server here"
        detail = " ".join(str(exc).split())  # psycopg's messages span lines
        return f"PostgreSQL not reachable at {dsn!r}: {type(exc).__name__}: {detail}"
    return None


def _stage_twice(ledger: Any, rows: list[Any]) -> tuple[float, float]:
    first, first_s = timed(lambda: ledger.stage(rows, run_id="bench__first"))
    second, second_s = timed(lambda: ledger.stage(rows, run_id="bench__second"))
    # The same rows again: each is an upsert that finds its data unchanged (or updates it).
    if (first.inserted, second.updated + second.unchanged) != (len(rows), len(rows)):
        raise AssertionError(f"unexpected stage counts: {first} then {second}")
    return len(rows) / first_s, len(rows) / second_s


def _figures(db: str, ledger_factory: Callable[[], Any], rows: list[Any]) -> list[Figure]:
    with ledger_factory() as ledger:
        insert_rate, upsert_rate = _stage_twice(ledger, rows)
    return [
        Figure(f"{db}: stage {len(rows):,} new", insert_rate, "rows/s", TARGET),
        Figure(f"{db}: re-stage same {len(rows):,}", upsert_rate, "rows/s", TARGET),
    ]


def run() -> list[Figure]:
    rows = staged_rows(ROWS)
    figures = _figures("SQLite", sqlite_ledger, rows)
    dsn = _env.pg_dsn()
    reason = postgres_unreachable(dsn)
    if reason is not None:
        return [
            *figures,
            Figure(f"PostgreSQL: stage {ROWS:,} new", None, "rows/s", TARGET, note=reason),
            Figure(f"PostgreSQL: re-stage same {ROWS:,}", None, "rows/s", TARGET),
        ]
    return figures + _figures("PostgreSQL", lambda: postgres_ledger(dsn), rows)
