"""The sync ledger: every Divvy transaction the sync has seen, its state, lines and reconciliation.

One SQL file per operation lives in ``include/sql/`` (shown rendered in the Airflow UI) and runs
through SQLAlchemy ``text()`` with named bind parameters, unchanged on SQLite and PostgreSQL. The
files ship inside the package (``intacct_hook/sql``); ``SQL_DIR`` is where
:mod:`intacct_hook.paths` finds them.

The states, and which method moves a transaction between them, are described once, in
:mod:`intacct_hook.sync.states`; the methods here are the transitions it names.

Runs may overlap (backfills, a manual run during a scheduled one), so a claim carries its owner
(run and task attempt) and a lease. ``take_over_claims`` hands a load the rows left ``posting``
by a load that stopped mid-request: only claims whose lease expired, or of an earlier attempt of
the same run. The load resolves them by looking them up in Intacct, never by re-sending blindly.

Example::

    ledger = Ledger.sqlite("var/divvy_intacct_ledger.db")
    ledger.ensure_schema()
    counts = ledger.stage(staged_rows, run_id="scheduled__2026-08-01")
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import itertools
import json
import logging
import pathlib
import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from decimal import Decimal
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from intacct_hook.intacct.text import describe_illegal
from intacct_hook.paths import SQL_DIR
from intacct_hook.sync.accounts import SCHEMA_PATTERN
from intacct_hook.sync.reconcile import Difference, day_status
from intacct_hook.sync.states import (
    MAP_STATES,
    PROTECTED_STATES,
    STAGE_STATES,
    STATES,
    LedgerState,
)

log = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]

# A line of an include/sql file ending with this comment is PostgreSQL syntax (row locks) that
# SQLite does not have; SQLite gets the same guarantee from its database-wide write lock.
POSTGRESQL_ONLY = "-- postgresql only"

# Columns added after the first release: an existing ledger gains them on ensure_schema().
_ADDED_COLUMNS = {
    "divvy_transaction": (
        "claim_run_id",
        "claim_owner",
        "claim_expires_at",
        "original_posting_date",  # closed periods (sync/closed_periods.py)
    ),
    "divvy_landing": ("transaction_type", "staged"),  # extract's decision carried to stage
    "divvy_payload": ("examined_payload",),  # re-coding's last examined version (issue 13)
}

# The column the Divvy JSON lived in before it got its own table (divvy_payload).
_PAYLOAD_COLUMN = "raw_payload"

# ALTER TABLE … DROP COLUMN, which the payload move uses, arrived in SQLite 3.35.0. Python's
# sqlite3 uses the system library on Linux (Debian 11: 3.34.1), whatever the Python version.
_SQLITE_DROP_COLUMN = (3, 35, 0)

# The key of the PostgreSQL advisory lock that serialises ensure_schema across tasks (any fixed
# bigint; this one spells "DVYLEDGR" in ASCII so it is recognisable in pg_locks).
_SCHEMA_LOCK = 0x4456594C45444752

DIFFERENCE_KINDS = ("missing_in_intacct", "extra_in_intacct", "amount_differs", "date_differs")

_MIN_DATE = "0001-01-01"
_MAX_DATE = "9999-12-31"


class LedgerStateError(RuntimeError):
    """A transition was asked for a transaction that is not in a state allowing it."""


class LedgerUpgradeError(RuntimeError):
    """The ledger needs an upgrade this environment cannot do; nothing was changed."""


class _RowRefused(Exception):
    """Inside a batch write: some row's conditions did not hold; redo the batch row by row."""


#: Rows per write transaction when the map step saves its verdicts: few commits, yet a
#: concurrent load never waits long for SQLite's write lock.
MAPPING_CHUNK = 1000

#: Transactions the map step reads, codes and saves at a time (one write transaction each):
#: its memory does not grow with the window, and a page's writes take milliseconds.
MAP_PAGE = 5000


class MappingInput(NamedTuple):
    """A transaction as the map step reads it (``select_mapping_inputs.sql``)."""

    uuid: str
    state: str
    posting_date: str
    state_reason: str | None  # None for a ready row: not read
    map_input: str | None  # map_inputs text; None: compute it from raw_payload
    raw_payload: str | None  # the Divvy JSON, only when map_input is None


#: Rows per write transaction when staging; the rows are consumed as they come, so a window of
#: any size holds one chunk of payloads at a time.
STAGE_CHUNK = 500


class LedgerMissingError(FileNotFoundError):
    """The ledger file is not where the settings say, and creating one was not asked for."""


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclasses.dataclass(frozen=True)
class StagedTransaction:
    """One Divvy transaction as the stage step decided it."""

    uuid: str
    transaction_type: str
    amount: Decimal
    occurred_time: dt.datetime
    posting_date: dt.date  # occurred_time as a date in the configured time zone
    updated_time: dt.datetime | None
    merchant: str | None
    #: The landed payload, or its JSON text exactly as :meth:`Ledger.land` stored it (stage
    #: passes the text through rather than serialising the decoded payload again).
    raw_payload: Mapping[str, Any] | str
    state: str  # ready | held | skipped
    reason: str | None = None
    #: What the map step reads of it (``map_inputs.encode_map_input``); None: computed from
    #: the payload when it is mapped.
    map_input: str | None = None


@dataclasses.dataclass(frozen=True)
class ExpectedEntry:
    """A transaction extract read from Divvy that the posting rules mean to post."""

    uuid: str
    posting_date: dt.date
    amount: Decimal


@dataclasses.dataclass(frozen=True)
class MappedLine:
    """One posting line with its Intacct coding and the rule that produced each value."""

    line_no: int
    source_uuid: str
    amount: Decimal
    gl_account_no: str | None = None
    location_id: str | None = None
    department_id: str | None = None
    class_id: str | None = None
    project_id: str | None = None
    description: str | None = None
    gl_account_rule: str | None = None
    location_rule: str | None = None
    department_rule: str | None = None
    class_rule: str | None = None
    project_rule: str | None = None


_LINE_FIELDS = tuple(f.name for f in dataclasses.fields(MappedLine))

#: A line as the map step hands it to :meth:`Ledger.save_map_verdicts`: a tuple of
#: ``insert_mapped_line.sql``'s parameters in this order (money as the ledger's text), ``now``
#: aside. A tuple per line, not a dict: building and binding dicts cost as much as the insert.
MAPPED_LINE_PARAMS = ("uuid", *_LINE_FIELDS)


@dataclasses.dataclass(frozen=True)
class LedgerRow:
    """A transaction as stored in the ledger."""

    uuid: str
    transaction_type: str
    amount: Decimal
    occurred_time: str
    posting_date: dt.date
    updated_time: str | None
    merchant: str | None
    raw_payload: dict[str, Any]
    state: str
    state_reason: str | None
    intacct_record_no: str | None
    control_id: str | None
    last_error: str | None
    failed_attempts: int
    first_run_id: str
    last_run_id: str
    staged_at: str
    updated_at: str
    posted_at: str | None


@dataclasses.dataclass(frozen=True)
class ClaimedRecord:
    """What load needs of a claimed transaction to build its Intacct record: the columns the
    record is made of and the mapped lines in line order, not the raw payload."""

    uuid: str
    posting_date: dt.date
    merchant: str | None
    failed_attempts: int
    lines: tuple[MappedLine, ...]


@dataclasses.dataclass(frozen=True)
class StageCounts:
    """What one stage call did: new rows, updated rows, rows left alone because posted/posting."""

    inserted: int = 0
    updated: int = 0
    protected: int = 0
    by_state: Mapping[str, int] = dataclasses.field(default_factory=dict)
    unchanged: int = 0  # same Divvy data, and the map step's verdict stands

    def as_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "by_state": dict(self.by_state)}


@dataclasses.dataclass(frozen=True)
class Tally:
    """Count and exact total of a group of transactions."""

    count: int = 0
    total: Decimal = Decimal("0")


@dataclasses.dataclass(frozen=True, slots=True)
class ReceiptCandidate:
    """A posted transaction whose receipts the receipts step asks Divvy about."""

    uuid: str
    posting_date: dt.date
    record_no: str
    updated_time: str | None = None  # the ledger's Divvy version, recorded with the check
    checked_at: str | None = None  # the last time Divvy was asked about it, or None


@dataclasses.dataclass(frozen=True, slots=True)
class ReceiptRecord:
    """One receipt's row of ``receipt_attachment``: ``state`` is ``attached``, ``rejected``
    or ``failed``; ``supdoc_id`` the Intacct supporting document holding it."""

    uuid: str
    receipt_uuid: str
    state: str
    filename: str | None = None
    supdoc_id: str | None = None
    message: str | None = None
    attempts: int = 0
    attached_at: str | None = None


RECEIPT_STATES = ("attached", "rejected", "failed")


class Ledger:
    """The sync ledger over a SQLAlchemy engine (SQLite or PostgreSQL)."""

    def __init__(
        self,
        engine: Engine,
        *,
        sql_dir: pathlib.Path | str | None = None,
        clock: Clock = utc_now,
        schema: str | None = None,
    ) -> None:
        """``schema``: on PostgreSQL, the schema holding this ledger's tables (one per Divvy
        account, sync/accounts.py). The engine must put it first on the search path
        (:func:`search_path_engine_kwargs`); :meth:`ensure_schema` creates it and refuses an
        engine whose tables would land elsewhere."""
        if schema is not None and (
            engine.dialect.name != "postgresql" or not SCHEMA_PATTERN.fullmatch(schema)
        ):
            raise ValueError(
                f"a ledger schema needs PostgreSQL and a plain lower-case name, got {schema!r} "
                f"on {engine.dialect.name}"
            )
        self.engine = engine
        self.schema = schema
        self.sql_dir = pathlib.Path(sql_dir) if sql_dir else SQL_DIR
        self.clock = clock
        self.created = False  # set by sqlite() when it had to create the file
        self._overrides: dict[str, str] = {}
        # Each statement is read and parsed once: reading the file and building the text
        # clause on every call cost more than many of the statements themselves.
        self._statements: dict[tuple[str, tuple[str, ...]], sa.TextClause] = {}
        self._driver_texts: dict[tuple[str, tuple[str, ...]], str] = {}

    @classmethod
    def from_url(
        cls,
        url: str | sa.URL,
        *,
        sql_dir: pathlib.Path | str | None = None,
        schema: str | None = None,
        **engine_kwargs: Any,
    ) -> Ledger:
        """A ledger on ``sqlite:///path`` or ``postgresql+psycopg://…`` (in ``schema``)."""
        if schema is not None:
            engine_kwargs = search_path_engine_kwargs(schema, engine_kwargs)
        engine = sa.create_engine(url, **engine_kwargs)
        if engine.dialect.name == "sqlite":
            sa.event.listen(engine, "connect", _sqlite_on_connect)
        return cls(engine, sql_dir=sql_dir, schema=schema)

    @classmethod
    def sqlite(cls, path: pathlib.Path | str, *, create: bool = True, **kwargs: Any) -> Ledger:
        """A ledger in a SQLite file. A missing file is created (with its folder) only when
        ``create`` is true, and ``ledger.created`` then says so, so the caller can report it:
        an empty new ledger next to an Intacct that already holds our records means the old
        one was lost or moved."""
        p = pathlib.Path(path)
        existed = p.exists()
        if not existed and not create:
            raise LedgerMissingError(f"the sync ledger {p} does not exist")
        p.parent.mkdir(parents=True, exist_ok=True)
        ledger = cls.from_url(f"sqlite:///{p}", **kwargs)
        ledger.created = not existed
        if ledger.created:
            log.warning("The sync ledger %s did not exist: created a new, empty one.", p)
        return ledger

    # --- SQL files ---------------------------------------------------------------------

    def sql(self, name: str) -> str:
        """The text of ``include/sql/<name>.sql`` (or its override), e.g. for the UI."""
        if name in self._overrides:
            return self._overrides[name]
        return (self.sql_dir / f"{name}.sql").read_text(encoding="utf-8")

    def override_sql(self, name: str, text: str) -> None:
        """Run ``text`` instead of ``include/sql/<name>.sql``: an operator passes the SQL it
        rendered from that file, so what the UI shows is exactly what runs."""
        if not (self.sql_dir / f"{name}.sql").exists():
            raise ValueError(f"no SQL file {name}.sql to override in {self.sql_dir}")
        self._overrides[name] = text
        self._statements = {k: v for k, v in self._statements.items() if k[0] != name}
        self._driver_texts = {k: v for k, v in self._driver_texts.items() if k[0] != name}

    def _stmt(self, name: str, *expanding: str) -> sa.TextClause:
        key = (name, expanding)
        stmt = self._statements.get(key)
        if stmt is None:
            stmt = sa.text(for_dialect(self.sql(name), self.engine.dialect.name))
            if expanding:
                stmt = stmt.bindparams(*(sa.bindparam(p, expanding=True) for p in expanding))
            self._statements[key] = stmt
        return stmt

    def _executemany(self, conn: Connection, name: str, rows: list[dict[str, Any]]) -> int:
        """Run statement ``name`` once per row; returns the rows changed. On SQLite the text
        goes to the driver as it is (sqlite3 binds ``:name`` itself): SQLAlchemy's per-row
        bind processing cost twice the insert of a page of mapped lines."""
        if self.engine.dialect.name != "sqlite":
            return conn.execute(self._stmt(name), rows).rowcount
        return conn.exec_driver_sql(self._sqlite_text(name), rows).rowcount

    def _sqlite_text(self, name: str, expand: tuple[str, int] | None = None) -> str:
        """Statement ``name`` as sqlite3 runs it (it binds ``:name`` itself), read once;
        ``expand=(param, n)`` spells the list parameter ``IN :param`` as n placeholders
        (``:param_0``, …), as SQLAlchemy's expanding parameter would."""
        key = (name, ("sqlite",) if expand is None else ("sqlite", expand[0], str(expand[1])))
        text = self._driver_texts.get(key)
        if text is None:
            text = for_dialect(self.sql(name), "sqlite")
            if expand is not None:
                param, n = expand
                spelled = "(" + ", ".join(f":{param}_{i}" for i in range(n)) + ")"
                text = re.sub(rf":{param}\b", spelled, text)
            self._driver_texts[key] = text
        return text

    def _sqlite_cursor(self, conn: Connection) -> Any:
        """The sqlite3 cursor of ``conn``'s connection, inside its transaction: the load's
        per-batch statements skip SQLAlchemy's compile, bind and row processing (issue 10)."""
        return conn.connection.driver_connection.cursor()  # type: ignore[union-attr]

    def ensure_schema(self) -> None:
        """Create the tables and indexes that do not exist yet, and bring a ledger created by
        an earlier release up to date in place (idempotent; each upgrade in this one
        transaction, so a failure leaves the ledger as it was).

        Every task calls this. On PostgreSQL concurrent calls are serialised by a
        transaction-level advisory lock taken before anything is inspected: otherwise two tasks
        both see a column missing and the second ADD COLUMN (or CREATE TABLE) fails. On SQLite
        the write transaction (BEGIN IMMEDIATE) already holds the database's write lock."""
        with self._write() as conn:
            if self.engine.dialect.name == "postgresql":
                # Released at commit or rollback; a later caller then finds nothing to do.
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK})
                if self.schema is not None:
                    self._enter_schema(conn)
            else:
                self._check_sqlite_can_upgrade(conn)
            for statement in split_statements(self.sql("schema")):
                conn.execute(sa.text(statement))
            inspector = sa.inspect(conn)
            for table, columns in _ADDED_COLUMNS.items():
                have = {c["name"] for c in inspector.get_columns(table)}
                for column in columns:
                    if column not in have:
                        # Names come from the constant above, never from input.
                        conn.execute(sa.text(f"ALTER TABLE {table} ADD COLUMN {column} TEXT"))
            # Indexes on the added columns: only once they exist.
            for statement in split_statements(self.sql("schema_added")):
                conn.execute(sa.text(statement))
            # Re-coding after posting (sync/recoding.py): its own table, kept in its own file.
            for statement in split_statements(self.sql("schema_recoding")):
                conn.execute(sa.text(statement))
            if _PAYLOAD_COLUMN in {c["name"] for c in inspector.get_columns("divvy_transaction")}:
                self._move_payloads(conn)

    def _enter_schema(self, conn: Connection) -> None:
        """Create this account's schema and make sure the tables go there: a connection whose
        search path does not start with it would read and write another account's ledger (or
        the single-account one in ``public``)."""
        # The name matched SCHEMA_PATTERN in __init__: safe to quote into DDL.
        conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"'))
        current = conn.execute(sa.text("SELECT current_schema()")).scalar()
        if current != self.schema:
            raise LedgerStateError(
                f"the ledger's connection works in schema {current!r}, not the account's "
                f"{self.schema!r}: open it with Ledger.from_url(..., schema=...) or an engine "
                "made with search_path_engine_kwargs(), so no account reads another's rows"
            )

    def _check_sqlite_can_upgrade(self, conn: Connection) -> None:
        """Refuse, before changing anything, the payload move an old SQLite library cannot do
        (it has no DROP COLUMN): the ledger stays as it was, usable by the release it was
        made with."""
        if tuple(sqlite3.sqlite_version_info) >= _SQLITE_DROP_COLUMN:
            return
        inspector = sa.inspect(conn)
        if not inspector.has_table("divvy_transaction"):
            return
        if _PAYLOAD_COLUMN not in {c["name"] for c in inspector.get_columns("divvy_transaction")}:
            return
        need = ".".join(map(str, _SQLITE_DROP_COLUMN))
        raise LedgerUpgradeError(
            f"The sync ledger was created by an earlier release and must be upgraded (the Divvy "
            f"payloads move out of divvy_transaction, whose raw_payload column is then dropped). "
            f"That needs SQLite {need} or later (ALTER TABLE DROP COLUMN), but this Python's "
            f"sqlite3 module uses SQLite {sqlite3.sqlite_version}; nothing was changed. Run the "
            f"tasks with a Python linked to SQLite {need} or later (on Linux that is the system "
            f"library: e.g. Debian 12 or later)."
        )

    def _move_payloads(self, conn: Connection) -> None:
        """Move the Divvy JSON of a ledger created before ``divvy_payload`` existed out of
        ``divvy_transaction`` into that table, then drop the old column (issue 10: the load's
        writes rewrote every claimed row with its ~3 KB of JSON)."""
        # Only ever called under ensure_schema's lock (advisory on PostgreSQL, the write
        # lock on SQLite), after it saw the column: a concurrent upgrade cannot have moved it.
        moved = conn.execute(
            sa.text(
                "INSERT INTO divvy_payload (uuid, raw_payload) "
                "SELECT uuid, raw_payload FROM divvy_transaction WHERE true "
                "ON CONFLICT (uuid) DO NOTHING"
            )
        ).rowcount
        # SQLite (3.35 and later) rewrites the table without the column, in this transaction.
        conn.execute(sa.text("ALTER TABLE divvy_transaction DROP COLUMN raw_payload"))
        log.warning(
            "Upgraded the sync ledger: moved %d Divvy payloads into the divvy_payload table.",
            moved,
        )

    def is_empty(self) -> bool:
        """True when the ledger holds no transaction at all (new, or emptied)."""
        with self.engine.connect() as conn:
            return conn.execute(sa.text("SELECT 1 FROM divvy_transaction LIMIT 1")).first() is None

    def now(self) -> str:
        """The ledger's timestamp text for the injected clock (UTC, fixed width, so text order is
        time order on both databases)."""
        return _timestamp(self.clock())

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A write transaction. On SQLite it takes the database's write lock at BEGIN
        (IMMEDIATE): a read-then-write such as a claim cannot interleave with another process's,
        and a waiting writer honours busy_timeout instead of failing on a lock upgrade."""
        if self.engine.dialect.name != "sqlite":
            with self.engine.begin() as conn:
                yield conn
            return
        with self.engine.connect() as conn:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.rollback()
                raise
            conn.commit()

    # --- landing (extract → stage hand-off) -------------------------------------------------

    def clear_run_landing(self, run_id: str) -> int:
        """Forget what an earlier attempt of ``run_id``'s extract landed and noted (its landing
        and manifest), in one transaction; returns how many landed payloads were dropped."""
        with self._write() as conn:
            dropped = conn.execute(self._stmt("clear_run_landing"), {"run_id": run_id}).rowcount
            conn.execute(self._stmt("clear_run_manifest"), {"run_id": run_id})
        return dropped

    def land(
        self,
        run_id: str,
        payloads: Iterable[Mapping[str, Any]],
        postable: Iterable[ExpectedEntry] = (),
    ) -> int:
        """Keep extracted payloads for the stage step of ``run_id``, and the ``postable`` ones
        among them for its reconcile, in one transaction; returns how many payloads."""
        return self.land_rows(run_id, (landing_row(p) for p in payloads), postable)

    def land_rows(
        self,
        run_id: str,
        rows: Iterable[LandingRow],
        postable: Iterable[ExpectedEntry] = (),
    ) -> int:
        """:meth:`land` for payloads already serialised (:func:`landing_row`), each with what
        extract decided for stage (``staged``, see ``steps.carried_stage``) when it did."""
        now = self.now()
        manifest = [
            {
                "run_id": run_id,
                "uuid": e.uuid,
                "posting_date": e.posting_date.isoformat(),
                "amount": _money(e.amount),
                "now": now,
            }
            for e in postable
        ]
        params = [
            {
                "run_id": run_id,
                "uuid": r.uuid,
                "payload": r.payload,
                "transaction_type": r.transaction_type,
                "staged": r.staged,
                "now": now,
            }
            for r in rows
        ]
        if params or manifest:
            with self._write() as conn:
                if params:
                    conn.execute(self._stmt("land_transaction"), params)
                if manifest:
                    conn.execute(self._stmt("record_extracted"), manifest)
        return len(params)

    def landed_by_type(self, run_id: str) -> dict[str, int]:
        """How many transactions ``run_id`` landed, by Divvy ``transactionType`` (counted in
        the database; only a row landed by a version without the column is decoded)."""
        counts: dict[str, int] = {}
        with self.engine.connect() as conn:
            for r in conn.execute(self._stmt("count_landed"), {"run_id": run_id}):
                if r.transaction_type is not None:
                    counts[r.transaction_type] = counts.get(r.transaction_type, 0) + r.landed
            untyped = conn.execute(self._stmt("select_landed_untyped"), {"run_id": run_id})
            for row in untyped:
                kind = _landing_type(json.loads(row.payload)["transaction"])
                counts[kind] = counts.get(kind, 0) + 1
        return counts

    def extracted_not_staged(
        self, run_id: str, date_from: dt.date | None = None, date_to: dt.date | None = None
    ) -> list[ExpectedEntry]:
        """The postable transactions ``run_id``'s extract read, dated in the inclusive range
        (all of them without one), that the ledger does not hold at all."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                self._stmt("select_extracted_not_staged"),
                {"run_id": run_id, **_date_range(date_from, date_to)},
            )
            return [
                ExpectedEntry(r.uuid, dt.date.fromisoformat(r.posting_date), Decimal(r.amount))
                for r in rows
            ]

    def landed(self, run_id: str) -> Iterator[dict[str, Any]]:
        """The payloads landed by ``run_id``, streamed so memory stays flat."""
        for text in self.landed_json(run_id):
            yield json.loads(text)

    def landed_json(self, run_id: str) -> Iterator[str]:
        """The JSON text of each payload landed by ``run_id`` (as :func:`payload_json` made
        it), streamed so memory stays flat."""
        for payload, _staged in self.landed_rows(run_id):
            yield payload

    def landed_rows(self, run_id: str) -> Iterator[tuple[str, str | None]]:
        """Each payload landed by ``run_id`` (its JSON text) with what extract decided for
        stage (None: extract did not decide it), streamed so memory stays flat."""
        with self.engine.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=500).execute(
                self._stmt("select_landed"), {"run_id": run_id}
            )
            for row in result:
                yield row.payload, row.staged

    def not_landed(self, run_id: str, *, limit: int = 1000) -> list[str]:
        """Uuids ``run_id``'s extract noted as postable that its landing no longer holds (at
        most ``limit`` of them, in uuid order)."""
        with self.engine.connect() as conn:
            rows = conn.execute(self._stmt("select_not_landed"), {"run_id": run_id, "limit": limit})
            return [r.uuid for r in rows]

    def purge_landing(self, run_id: str, *, retention: dt.timedelta) -> int:
        """Drop the landing of ``run_id`` (finished) and any landing older than ``retention``
        (runs that never finished); another run's recent landing is never touched."""
        stale_before = _timestamp(self.clock() - retention)
        with self._write() as conn:
            result = conn.execute(
                self._stmt("purge_landing"), {"run_id": run_id, "stale_before": stale_before}
            )
            conn.execute(self._stmt("purge_extract_manifest"), {"stale_before": stale_before})
            return result.rowcount

    # --- stage ---------------------------------------------------------------------------

    def stage(self, rows: Iterable[StagedTransaction], run_id: str) -> StageCounts:
        """Upsert transactions by uuid. Rows posting or posted are left untouched (protected);
        so is a row whose Divvy data is unchanged and whose map verdict stands (unchanged):
        only new data, or a new decision, resets a row and drops its mapped lines.

        ``rows`` is consumed as it comes, :data:`STAGE_CHUNK` rows per write transaction, so
        memory stays flat and a concurrent load never waits long for SQLite's write lock. Each
        row's upsert stands on its own (its guards are in the SQL), so a failure part-way leaves
        the chunks before it staged, and staging again is the same upsert."""
        inserted = updated = unchanged = protected = 0
        by_state: dict[str, int] = {}
        now = self.now()
        upsert = self._stmt("stage_transaction")
        clear_lines = self._stmt("clear_mapped_lines")
        select = self._stmt("select_staged", "uuids")
        for batch in _ichunks(rows, STAGE_CHUNK):
            with self._write() as conn:
                for row in batch:
                    if row.state not in STAGE_STATES:
                        raise ValueError(
                            f"cannot stage {row.uuid} as {row.state!r}; use one of {STAGE_STATES}"
                        )
                existing = {
                    r.uuid: (r.state, r.raw_payload)
                    for r in conn.execute(select, {"uuids": list({r.uuid for r in batch})})
                }
                upserts: dict[str, dict[str, Any]] = {}
                for row in batch:
                    before, stored_payload = existing.get(row.uuid, (None, None))
                    params = _stage_params(row, run_id, now)
                    if before in PROTECTED_STATES:
                        protected += 1
                        continue
                    if row.uuid in upserts:  # a uuid twice in one batch: the last one wins
                        by_state[upserts.pop(row.uuid)["state"]] -= 1
                    elif before is None:
                        inserted += 1
                    elif _verdict_stands(before, stored_payload, row.state, params):
                        unchanged += 1
                        continue
                    else:
                        updated += 1
                    upserts[row.uuid] = params
                    state = str(row.state)
                    by_state[state] = by_state.get(state, 0) + 1
                # One executemany per statement: a round trip per row dominated on PostgreSQL.
                if upserts:
                    conn.execute(upsert, list(upserts.values()))
                    conn.execute(self._stmt("stage_payload"), list(upserts.values()))
                    conn.execute(self._stmt("stage_map_input"), list(upserts.values()))
                restaged = [{"uuid": u} for u in upserts if existing.get(u) is not None]
                if restaged:
                    conn.execute(clear_lines, restaged)
        by_state = {state: n for state, n in by_state.items() if n}
        return StageCounts(inserted, updated, protected, by_state, unchanged)

    def states(self, uuids: Sequence[str]) -> dict[str, str]:
        """The state of each of ``uuids`` the ledger holds (absent ones are left out)."""
        out: dict[str, str] = {}
        with self.engine.connect() as conn:
            for chunk in _chunks(list(uuids), 500):
                out.update(self._states(conn, chunk))
        return out

    def _states(self, conn: Connection, uuids: Sequence[str]) -> dict[str, str]:
        if not uuids:
            return {}
        result = conn.execute(self._stmt("select_states", "uuids"), {"uuids": list(uuids)})
        return {r.uuid: r.state for r in result}

    # --- map -----------------------------------------------------------------------------

    def select_for_mapping(self) -> list[LedgerRow]:
        """Transactions the map step evaluates: states in ``REMAPPABLE_STATES``."""
        return self._select("select_for_mapping")

    def save_mapping(
        self, uuid: str, lines: Iterable[MappedLine], state: str, reason: str | None = None
    ) -> bool:
        """Replace a transaction's mapped lines and set it ready or unmapped, atomically;
        False when another run's load has claimed (or posted) it meanwhile."""
        return not self.save_mappings([(uuid, lines, state, reason)])

    def save_mappings(
        self, verdicts: Iterable[tuple[str, Iterable[MappedLine], str, str | None]]
    ) -> set[str]:
        """:meth:`save_mapping` for many ``(uuid, lines, state, reason)`` at once, in a few
        large transactions (each transaction's lines and state still change together); returns
        the uuids another run's load claimed (or posted) meanwhile, left as they are.

        A verdict for a row in any other state (re-staged as held since the map read it) raises
        :class:`LedgerStateError`; the verdicts before it are saved."""
        now = self.now()
        params = []
        for uuid, lines, state, reason in verdicts:
            if state not in MAP_STATES:
                raise ValueError(f"mapping result state must be one of {MAP_STATES}, got {state!r}")
            state_params = {"uuid": uuid, "state": str(state), "state_reason": reason, "now": now}
            params.append((state_params, [_line_params(uuid, line, now) for line in lines]))
        claimed: set[str] = set()
        for chunk in _chunks(params, MAPPING_CHUNK):
            try:
                with self._write() as conn:
                    self._save_mappings_at_once(conn, chunk)
                continue
            except _RowRefused:
                pass  # rolled back: the same chunk again, row by row
            with self._write() as conn:
                refusal = self._save_mappings_one_by_one(conn, chunk, claimed)
            if refusal is not None:
                raise LedgerStateError(refusal)
        return claimed

    def _save_mappings_at_once(
        self, conn: Connection, chunk: list[tuple[dict[str, Any], list[dict[str, Any]]]]
    ) -> None:
        """One executemany per statement; :class:`_RowRefused` when a row's state did not
        allow its verdict (the caller rolls back and goes row by row)."""
        result = conn.execute(self._stmt("update_mapping_state"), [p for p, _ in chunk])
        if result.rowcount != len(chunk):
            raise _RowRefused
        conn.execute(self._stmt("clear_mapped_lines"), [{"uuid": p["uuid"]} for p, _ in chunk])
        lines = [line for _, row_lines in chunk for line in row_lines]
        if lines:
            conn.execute(self._stmt("insert_mapped_line"), lines)

    def _save_mappings_one_by_one(
        self,
        conn: Connection,
        chunk: list[tuple[dict[str, Any], list[dict[str, Any]]]],
        claimed: set[str],
    ) -> str | None:
        """The verdicts in order, each under its own conditions; stops at the first row in a
        state no verdict may change and returns why (what came before it is kept)."""
        for state_params, lines in chunk:
            uuid = state_params["uuid"]
            result = conn.execute(self._stmt("update_mapping_state"), state_params)
            if result.rowcount != 1:
                if self._states(conn, [uuid]).get(uuid) in PROTECTED_STATES:
                    # Another run's load claimed it since this map read it: its lines stand.
                    claimed.add(uuid)
                    continue
                return self._refusal(conn, uuid, "save a mapping for")
            conn.execute(self._stmt("clear_mapped_lines"), {"uuid": uuid})
            if lines:
                conn.execute(self._stmt("insert_mapped_line"), lines)
        return None

    def mapping_inputs(self, page: int = MAP_PAGE) -> Iterator[list[MappingInput]]:
        """What the map step evaluates (the rows of :meth:`select_for_mapping`), a page at a
        time in posting order. Each page is its own short read, so the caller may save a
        page's verdicts before asking for the next."""
        after = ("", "")
        while True:
            with self.engine.connect() as conn:
                params = {"after_date": after[0], "after_uuid": after[1], "limit": page}
                rows = list(
                    map(MappingInput._make, self._fetch(conn, "select_mapping_inputs", params))
                )
            if rows:
                yield rows
            if len(rows) < page:
                return
            after = (rows[-1].posting_date, rows[-1].uuid)

    def save_map_verdicts(
        self,
        read: Sequence[MappingInput],
        verdicts: Sequence[tuple[str, str, str | None, Sequence[tuple[Any, ...]]]],
    ) -> set[str]:
        """Save the map step's verdicts ``(uuid, state, reason, lines)`` on a page
        :meth:`mapping_inputs` returned, in one write transaction; each line a tuple of
        :data:`MAPPED_LINE_PARAMS`. Returns the uuids another run's load claimed (or posted)
        meanwhile, left as they are.

        Only what changed is written: a transaction whose verdict is what it already holds
        keeps its row untouched (a divvy_transaction row holds the whole Divvy JSON, and
        rewriting thousands of them cost more than all the rest), and one whose lines are the
        ones it holds keeps them (their ``mapped_at`` stays the time they were first written).
        A row re-staged into another state since the page was read raises
        :class:`LedgerStateError` after the others are saved, as :meth:`save_mappings` does."""
        if len(read) != len(verdicts):
            raise ValueError(f"{len(verdicts)} verdicts for {len(read)} transactions")
        if not read:
            return set()
        claimed: set[str] = set()
        try:
            with self._write() as conn:
                refusal = self._save_map_page(conn, read, verdicts, claimed)
        except _RowRefused:
            claimed.clear()  # rolled back: the whole page again, row by row
            now = self.now()
            with self._write() as conn:
                refusal = self._save_mappings_one_by_one(
                    conn, [_map_verdict_params(v, now) for v in verdicts], claimed
                )
        if refusal is not None:
            raise LedgerStateError(refusal)
        return claimed

    def _save_map_page(
        self,
        conn: Connection,
        read: Sequence[MappingInput],
        verdicts: Sequence[tuple[str, str, str | None, Sequence[tuple[Any, ...]]]],
        claimed: set[str],
    ) -> str | None:
        now = self.now()
        first, last = read[0], read[-1]
        page_range = {
            "first_date": first.posting_date,
            "first_uuid": first.uuid,
            "last_date": last.posting_date,
            "last_uuid": last.uuid,
        }
        current = dict(self._fetch(conn, "lock_for_mapping", page_range))
        held: dict[str, list[tuple[Any, ...]]] = {}
        for line in self._fetch(conn, "select_lines_for_remap", page_range):
            if line[0] in held:
                held[line[0]].append(line)
                held[line[0]].sort(key=_line_no)
            else:
                held[line[0]] = [line]
        changed: list[dict[str, Any]] = []
        replaced: list[str] = []
        lines: list[tuple[Any, ...]] = []
        elsewhere: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
        for row, verdict in zip(read, verdicts, strict=True):
            uuid, state, reason, new_lines = verdict
            if uuid != row.uuid:
                raise ValueError(f"verdict for {uuid} where {row.uuid} was read")
            if state not in MAP_STATES:
                raise ValueError(f"mapping result state must be one of {MAP_STATES}, got {state!r}")
            holds = current.get(uuid)
            if holds is None:
                elsewhere.append(_map_verdict_params(verdict, now))
                continue
            if not (holds == row.state == state and reason == row.state_reason):
                changed.append(
                    {"uuid": uuid, "state": str(state), "state_reason": reason, "now": now}
                )
            old = held.get(uuid)
            if old is not None:
                if old == (new_lines if isinstance(new_lines, list) else list(new_lines)):
                    continue  # the same lines: kept as they are
                replaced.append(uuid)
            lines.extend(new_lines)
        if changed and self._executemany(conn, "update_mapping_state", changed) != len(changed):
            raise _RowRefused
        delete = self._stmt("delete_mapped_lines", "uuids")
        for part in _chunks(replaced, 1000):
            conn.execute(delete, {"uuids": part})
        if lines:
            # In primary-key order: the page is in posting order, and inserting its lines in
            # (uuid, line_no) order walks the key's index instead of jumping about it (SQLite's
            # insert of a first map's 5,600 lines: 31 ms of CPU in page order, 25 sorted). A
            # page holds each (uuid, line_no) once, so tuples compare on those two alone.
            lines.sort()
            self._insert_lines(conn, lines, now)
        if elsewhere:
            return self._save_mappings_one_by_one(conn, elsewhere, claimed)
        return None

    def _insert_lines(self, conn: Connection, lines: list[tuple[Any, ...]], now: str) -> None:
        """``insert_mapped_line`` once per line tuple (:data:`MAPPED_LINE_PARAMS`). On SQLite
        the statement's names become numbered parameters and sqlite3 binds the tuples as they
        are; elsewhere each becomes the dict SQLAlchemy binds."""
        names = (*MAPPED_LINE_PARAMS, "now")
        if self.engine.dialect.name != "sqlite":
            conn.execute(
                self._stmt("insert_mapped_line"),
                [dict(zip(names, (*ln, now), strict=True)) for ln in lines],
            )
            return
        text = _numbered(for_dialect(self.sql("insert_mapped_line"), "sqlite"), names)
        conn.exec_driver_sql(text, [(*ln, now) for ln in lines])

    def _fetch(
        self, conn: Connection, name: str, params: Mapping[str, Any]
    ) -> list[tuple[Any, ...]]:
        """Statement ``name``'s rows as plain tuples. On SQLite straight from sqlite3: the map
        step reads thousands of rows a page, and SQLAlchemy's row objects cost more than the
        query."""
        if self.engine.dialect.name != "sqlite":
            return [tuple(r) for r in conn.execute(self._stmt(name), params)]
        text = for_dialect(self.sql(name), "sqlite")
        cursor = conn.connection.driver_connection.execute(text, params)  # type: ignore[union-attr]
        try:
            return cursor.fetchall()
        finally:
            cursor.close()

    def mapped_lines(self, uuids: Sequence[str]) -> dict[str, list[MappedLine]]:
        """Mapped lines of the given transactions, by uuid, in line order."""
        out: dict[str, list[MappedLine]] = {u: [] for u in uuids}
        if not uuids:
            return out
        with self.engine.connect() as conn:
            result = conn.execute(
                self._stmt("select_mapped_lines", "uuids"), {"uuids": list(uuids)}
            )
            for r in result.mappings():
                fields = {k: r[k] for k in r if k != "uuid"}
                fields["amount"] = Decimal(fields["amount"])
                out[r["uuid"]].append(MappedLine(**fields))
        return out

    # --- load ----------------------------------------------------------------------------

    def claim_for_posting(
        self, owner: str, *, run_id: str, batch_size: int, lease: dt.timedelta
    ) -> list[LedgerRow]:
        """Claim up to ``batch_size`` ready transactions for ``owner`` (``"<run>#try<n>"``) and
        commit the claim; returns the rows claimed, in posting order.

        Call it before the request leaves: a crash after sending leaves the rows ``posting``,
        never ``ready``, so they cannot be sent twice without a lookup. Concurrent loads get
        disjoint rows; the lease says how long others must leave the claim alone.
        """
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        return self._claim(
            "claim_for_posting", owner, run_id, lease, {"batch_size": int(batch_size)}
        )

    def claim_records(
        self, owner: str, *, run_id: str, batch_size: int, lease: dt.timedelta
    ) -> list[ClaimedRecord]:
        """:meth:`claim_for_posting` (the same statement, committed before anything is sent),
        returning what the Intacct records are built from, read in the claim's transaction:
        the record's columns and mapped lines, in posting order. The payload is not read."""
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        params = self._claim_params(owner, run_id, lease, {"batch_size": int(batch_size)})
        out: list[ClaimedRecord] = []
        with self._write() as conn:
            rows: Iterable[Sequence[Any]]
            if self.engine.dialect.name == "sqlite":
                with closing(self._sqlite_cursor(conn)) as cursor:
                    claim = cursor.execute(self._sqlite_text("claim_for_posting"), params)
                    uuids = [r[0] for r in claim]
                    if not uuids:
                        return out
                    text = self._sqlite_text("select_claimed_lines", ("uuids", len(uuids)))
                    line_params = {f"uuids_{i}": u for i, u in enumerate(uuids)}
                    rows = cursor.execute(text, {**line_params, "owner": owner}).fetchall()
            else:
                uuids = [r[0] for r in conn.execute(self._stmt("claim_for_posting"), params)]
                if not uuids:
                    return out
                rows = conn.execute(
                    self._stmt("select_claimed_lines", "uuids"), {"uuids": uuids, "owner": owner}
                )
            current: str | None = None
            head: tuple[Any, ...] = ()
            lines: list[MappedLine] = []
            for r in rows:
                if r[0] != current:
                    if current is not None:
                        out.append(_claimed_record(head, lines))
                    current, head, lines = r[0], tuple(r[:4]), []
                lines.append(
                    MappedLine(r[4], r[5], Decimal(r[6]), *r[7:])  # columns in field order
                )
            if current is not None:
                out.append(_claimed_record(head, lines))
        return out

    def take_over_claims(self, owner: str, *, run_id: str, lease: dt.timedelta) -> list[LedgerRow]:
        """Rows left ``posting`` by a load that stopped before recording Intacct's answer and
        that ``owner`` may now resolve (expired lease, or an earlier attempt of ``run_id``);
        they become ``owner``'s, with a new lease. A live claim of another run is left alone."""
        return self._claim("take_over_claims", owner, run_id, lease, {})

    def _claim(
        self,
        statement: str,
        owner: str,
        run_id: str,
        lease: dt.timedelta,
        extra: Mapping[str, Any],
    ) -> list[LedgerRow]:
        params = self._claim_params(owner, run_id, lease, extra)
        with self._write() as conn:
            uuids = [r.uuid for r in conn.execute(self._stmt(statement), params)]
            if not uuids:
                return []
            result = conn.execute(
                self._stmt("select_claimed", "uuids"), {"uuids": uuids, "owner": owner}
            )
            return [_ledger_row(r) for r in result.mappings()]

    def _claim_params(
        self, owner: str, run_id: str, lease: dt.timedelta, extra: Mapping[str, Any]
    ) -> dict[str, Any]:
        if lease <= dt.timedelta(0):
            raise ValueError("a claim lease must be positive")
        now = self.clock()
        return {
            "owner": owner,
            "run_id": run_id,
            "now": _timestamp(now),
            "lease_until": _timestamp(now + lease),
            **extra,
        }

    def mark_posted(self, uuid: str, record_no: str, control_id: str | None) -> None:
        """Record Intacct's RECORDNO for a ``posting`` row (idempotent for the same RECORDNO)."""
        self._transition(
            "mark_posted",
            {"uuid": uuid, "record_no": record_no, "control_id": control_id},
            "mark posted",
        )

    def mark_failed(self, uuid: str, error: str, *, owner: str, sent: bool = True) -> None:
        """Record why ``owner``'s claimed row was not posted: Intacct refused it (``sent``), or
        it could not be built into a request at all (``sent=False``: no attempt is counted)."""
        self._transition(
            "mark_failed",
            {"uuid": uuid, "error": error, "owner": owner, "counts_attempt": int(sent)},
            "mark failed",
        )

    def mark_outcomes(
        self,
        *,
        owner: str,
        posted: Iterable[tuple[str, str, str | None]] = (),
        failed: Iterable[tuple[str, str]] = (),
        sent: bool = True,
    ) -> None:
        """Record one batch's answers in one transaction: each ``(uuid, record_no, control_id)``
        as :meth:`mark_posted`, each ``(uuid, error)`` as :meth:`mark_failed` for ``owner``.

        The same statements with the same per-row conditions run, one executemany each: a row
        another load has taken over is never marked failed by this one. When any row's
        conditions do not hold, the batch is redone row by row, the others are recorded, and
        :class:`LedgerStateError` names every row refused."""
        now = self.now()
        batches: list[tuple[str, str, list[dict[str, Any]]]] = [
            (
                "mark_posted",
                "mark posted",
                [{"uuid": u, "record_no": r, "control_id": c, "now": now} for u, r, c in posted],
            ),
            (
                "mark_failed",
                "mark failed",
                [
                    {"uuid": u, "error": e, "owner": owner, "counts_attempt": int(sent), "now": now}
                    for u, e in failed
                ],
            ),
        ]
        batches = [b for b in batches if b[2]]
        if not batches:
            return
        try:
            with self._write() as conn:
                for name, _what, params in batches:
                    if self._executemany(conn, name, params) != len(params):
                        raise _RowRefused
            return
        except _RowRefused:
            pass  # rolled back: the same rows again, one by one, to name the refused ones
        refusals: list[str] = []
        with self._write() as conn:
            for name, what, params in batches:
                for p in params:
                    if conn.execute(self._stmt(name), p).rowcount != 1:
                        refusals.append(self._refusal(conn, p["uuid"], what))
        if refusals:
            raise LedgerStateError("; ".join(refusals))

    def release_claim(self, uuid: str, reason: str, *, owner: str) -> None:
        """Return ``owner``'s ``posting`` row to ``ready`` once a lookup proved it is not in
        Intacct (or it cannot be sent yet)."""
        self._transition(
            "release_claim", {"uuid": uuid, "reason": reason, "owner": owner}, "release"
        )

    def adopt_posted(self, uuid: str, record_no: str, reason: str) -> bool:
        """Mark a ready or failed row posted because Intacct already holds it; False when the
        row is no longer ready or failed (another run got to it first)."""
        with self._write() as conn:
            result = conn.execute(
                self._stmt("adopt_posted"),
                {"uuid": uuid, "record_no": record_no, "reason": reason, "now": self.now()},
            )
            return result.rowcount == 1

    def hold_posted_elsewhere(self, uuid: str, reason: str) -> bool:
        """Hold a ready or failed row Intacct already holds on another card (the reason names
        it); False when the row is no longer ready or failed."""
        with self._write() as conn:
            result = conn.execute(
                self._stmt("hold_posted_elsewhere"),
                {"uuid": uuid, "reason": reason, "now": self.now()},
            )
            return result.rowcount == 1

    def ready_references(self) -> list[tuple[str, dt.date]]:
        """``(uuid, posting_date)`` of every ready transaction: what the adopt lookup asks
        Intacct about, without reading (and decoding) whole rows."""
        with self.engine.connect() as conn:
            rows = conn.execute(self._stmt("select_ready_references"))
            return [(r.uuid, dt.date.fromisoformat(r.posting_date)) for r in rows]

    def select_in_state(
        self,
        states: Iterable[str],
        date_from: dt.date | None = None,
        date_to: dt.date | None = None,
    ) -> list[LedgerRow]:
        """Transactions in ``states`` with a posting date in the inclusive range (if given)."""
        wanted = [str(s) for s in states]
        unknown = set(wanted) - set(STATES)
        if unknown:
            raise ValueError(f"unknown state(s) {sorted(unknown)}; use {STATES}")
        if not wanted:
            return []
        return self._select(
            "select_in_state",
            {"states": wanted, **_date_range(date_from, date_to)},
            expanding=("states",),
        )

    # --- reconcile -----------------------------------------------------------------------

    def expected_amounts(
        self, states: Iterable[str], date_from: dt.date, date_to: dt.date
    ) -> Iterator[tuple[str, dt.date, Decimal]]:
        """``(uuid, posting_date, amount)`` of the transactions in ``states`` dated in the
        inclusive range, streamed: what reconcile expects in Intacct, without the payloads."""
        wanted = [str(s) for s in states]
        unknown = set(wanted) - set(STATES)
        if unknown:
            raise ValueError(f"unknown state(s) {sorted(unknown)}; use {STATES}")
        if not wanted:
            return
        params = {"states": wanted, **_date_range(date_from, date_to)}
        with self.engine.connect() as conn:
            rows = conn.execute(self._stmt("select_expected", "states"), params)
            for r in rows:
                yield r.uuid, dt.date.fromisoformat(r.posting_date), Decimal(r.amount)

    def record_reconciliation(
        self,
        run_id: str,
        posting_date: dt.date,
        card_id: str,
        divvy: Tally,
        intacct: Tally,
        differences: Sequence[Difference] = (),
    ) -> str:
        """Store a date's reconciliation (replacing this run's earlier one); returns its status."""
        for d in differences:
            if d.kind not in DIFFERENCE_KINDS:
                raise ValueError(f"unknown difference kind {d.kind!r}; use {DIFFERENCE_KINDS}")
        status = day_status((divvy.count, divvy.total), (intacct.count, intacct.total), differences)
        day = posting_date.isoformat()
        with self._write() as conn:
            conn.execute(
                self._stmt("record_reconciliation"),
                {
                    "run_id": run_id,
                    "posting_date": day,
                    "card_id": card_id,
                    "divvy_count": divvy.count,
                    "divvy_total": _money(divvy.total),
                    "intacct_count": intacct.count,
                    "intacct_total": _money(intacct.total),
                    "status": status,
                    "now": self.now(),
                },
            )
            conn.execute(
                self._stmt("delete_reconciliation_differences"),
                {"run_id": run_id, "posting_date": day},
            )
            if differences:
                conn.execute(
                    self._stmt("insert_reconciliation_difference"),
                    [_difference_params(run_id, day, n, d) for n, d in enumerate(differences, 1)],
                )
        return status

    def reconciliations(self, run_id: str) -> list[dict[str, Any]]:
        """A run's reconciliation rows (totals as Decimal), by posting date."""
        with self.engine.connect() as conn:
            rows = conn.execute(self._stmt("select_reconciliations"), {"run_id": run_id})
            return [
                {
                    **r,
                    "posting_date": dt.date.fromisoformat(r["posting_date"]),
                    "divvy_total": Decimal(r["divvy_total"]),
                    "intacct_total": Decimal(r["intacct_total"]),
                }
                for r in rows.mappings()
            ]

    def reconciliation_differences(self, run_id: str) -> list[dict[str, Any]]:
        """A run's row-level differences (amounts as Decimal), by posting date."""
        with self.engine.connect() as conn:
            rows = conn.execute(self._stmt("select_reconciliation_differences"), {"run_id": run_id})
            return [
                {
                    **r,
                    "posting_date": dt.date.fromisoformat(r["posting_date"]),
                    "divvy_amount": _decimal_or_none(r["divvy_amount"]),
                    "intacct_amount": _decimal_or_none(r["intacct_amount"]),
                }
                for r in rows.mappings()
            ]

    # --- receipts (issue 11, part 4: receipt_attachment) ------------------------------------

    def receipt_candidates(
        self, date_from: dt.date, date_to: dt.date, *, recheck_days: int = 0
    ) -> list[ReceiptCandidate]:
        """The posted transactions dated in the inclusive range that are due to be asked about
        (see ``select_receipt_candidates.sql``), never asked and least recently asked first.

        :param recheck_days: an unchanged transaction asked within this many days (by the
            ledger's clock) is left out; 0 leaves none out.
        """
        params = {
            **_date_range(date_from, date_to),
            "recheck_before": _timestamp(self.clock() - dt.timedelta(days=recheck_days)),
        }
        with self.engine.connect() as conn:
            rows = conn.execute(self._stmt("select_receipt_candidates"), params)
            return [
                ReceiptCandidate(
                    r.uuid,
                    dt.date.fromisoformat(r.posting_date),
                    r.intacct_record_no,
                    r.updated_time,
                    r.checked_at,
                )
                for r in rows
            ]

    def record_receipt_check(self, uuid: str, updated_time: str | None) -> None:
        """Divvy was asked about ``uuid``'s receipts now, at version ``updated_time``."""
        with self._write() as conn:
            conn.execute(
                self._stmt("record_receipt_check"),
                {"uuid": uuid, "now": self.now(), "updated_time": updated_time},
            )

    def receipt_records(self, uuids: Sequence[str]) -> dict[str, dict[str, ReceiptRecord]]:
        """transaction uuid → receipt uuid → what the ledger holds of it."""
        out: dict[str, dict[str, ReceiptRecord]] = {}
        with self.engine.connect() as conn:
            for chunk in _chunks(list(uuids), 500):
                rows = conn.execute(
                    self._stmt("select_receipt_attachments", "uuids"), {"uuids": chunk}
                )
                for r in rows.mappings():
                    out.setdefault(r["uuid"], {})[r["receipt_uuid"]] = ReceiptRecord(
                        uuid=r["uuid"],
                        receipt_uuid=r["receipt_uuid"],
                        state=r["state"],
                        filename=r["filename"],
                        supdoc_id=r["supdoc_id"],
                        message=r["message"],
                        attempts=r["attempts"],
                        attached_at=r["attached_at"],
                    )
        return out

    def record_receipts(self, records: Iterable[ReceiptRecord]) -> int:
        """Store each receipt's outcome (one transaction); returns how many were written."""
        now = self.now()
        params = []
        for rec in records:
            if rec.state not in RECEIPT_STATES:
                raise ValueError(f"unknown receipt state {rec.state!r}; use {RECEIPT_STATES}")
            params.append(
                {
                    "uuid": rec.uuid,
                    "receipt_uuid": rec.receipt_uuid,
                    "filename": rec.filename,
                    "supdoc_id": rec.supdoc_id,
                    "state": rec.state,
                    "message": rec.message,
                    "now": now,
                }
            )
        if not params:
            return 0
        with self._write() as conn:
            conn.execute(self._stmt("record_receipt_attachment"), params)
        return len(params)

    # --- summaries -----------------------------------------------------------------------

    def counts_by_state(self) -> dict[str, Tally]:
        """Count and exact total per state over the whole ledger (states with rows only)."""
        out: dict[str, Tally] = {}
        for _day, state, amount in self._amounts(None, None):
            out[state] = _add(out.get(state), amount)
        return out

    def counts_by_date(
        self, date_from: dt.date | None = None, date_to: dt.date | None = None
    ) -> dict[dt.date, dict[str, Tally]]:
        """Count and exact total per posting date and state, for dates in the inclusive range."""
        out: dict[dt.date, dict[str, Tally]] = {}
        for day, state, amount in self._amounts(date_from, date_to):
            per_state = out.setdefault(day, {})
            per_state[state] = _add(per_state.get(state), amount)
        return dict(sorted(out.items()))

    # --- internals -----------------------------------------------------------------------

    def _amounts(
        self, date_from: dt.date | None, date_to: dt.date | None
    ) -> Iterator[tuple[dt.date, str, Decimal]]:
        with self.engine.connect() as conn:
            rows = conn.execute(self._stmt("select_amounts"), _date_range(date_from, date_to))
            for r in rows:
                yield dt.date.fromisoformat(r.posting_date), r.state, Decimal(r.amount)

    def _select(
        self, name: str, params: Mapping[str, Any] | None = None, expanding: Sequence[str] = ()
    ) -> list[LedgerRow]:
        with self.engine.connect() as conn:
            result = conn.execute(self._stmt(name, *expanding), dict(params or {}))
            return [_ledger_row(r) for r in result.mappings()]

    def _transition(self, name: str, params: dict[str, Any], what: str) -> None:
        with self._write() as conn:
            result = conn.execute(self._stmt(name), {**params, "now": self.now()})
            if result.rowcount != 1:
                raise LedgerStateError(self._refusal(conn, params["uuid"], what))

    def _refusal(self, conn: Connection, uuid: str, what: str) -> str:
        state = self._states(conn, [uuid]).get(uuid)
        if state is None:
            return f"cannot {what} {uuid}: it is not in the ledger"
        return f"cannot {what} {uuid}: it is {state!r}"


def split_statements(script: str) -> list[str]:
    """Split a SQL script into statements at lines ending with ``;`` (comments dropped).

    Good enough for ``schema.sql``, which holds only DDL without semicolons inside strings.
    """
    statements: list[str] = []
    current: list[str] = []
    for line in script.splitlines():
        code = line.split("--", 1)[0].rstrip()
        if not code.strip():
            continue
        current.append(code)
        if code.endswith(";"):
            statements.append("\n".join(current).rstrip(";").strip())
            current = []
    tail = "\n".join(current).strip()
    if tail:
        statements.append(tail)
    return statements


def search_path_engine_kwargs(schema: str, engine_kwargs: Mapping[str, Any] | None = None) -> dict:
    """``create_engine`` keywords whose connections work in ``schema`` (and only there): the
    search path is set by the server at connect, for every pooled connection, so no statement
    of one account's ledger can reach another's tables."""
    if not SCHEMA_PATTERN.fullmatch(schema):
        raise ValueError(f"not a plain lower-case schema name: {schema!r}")
    kwargs = dict(engine_kwargs or {})
    connect_args = dict(kwargs.get("connect_args") or {})
    connect_args["options"] = f"{connect_args.get('options', '')} -c search_path={schema}".strip()
    kwargs["connect_args"] = connect_args
    return kwargs


def _sqlite_on_connect(dbapi_conn: Any, _record: Any) -> None:
    # SQLite ignores foreign keys unless asked, per connection; wait for a writer rather than
    # failing at once when the scheduler and a task touch the file together.
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA busy_timeout = 30000")
    # Readers never block writers (and the reverse) in WAL mode: a long read by one run (its
    # landing) cannot make another run's write time out. Kept by the file once set.
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.close()


def _landing_key(transaction: Mapping[str, Any]) -> str:
    """The uuid, or for a row Divvy sent without one (or with one no database can store: NUL,
    an unpaired surrogate), a stable key from its content; stage names that record."""
    uuid = transaction.get("uuid")
    if isinstance(uuid, str) and uuid and describe_illegal(uuid) is None:
        return uuid
    digest = hashlib.sha256(json.dumps(transaction, sort_keys=True, default=str).encode())
    return f"no-uuid-{digest.hexdigest()[:24]}"


def _landing_type(transaction: Mapping[str, Any]) -> str:
    """The ``transactionType`` a landing is counted under ("?" when Divvy sent none)."""
    kind = transaction.get("transactionType")
    return "?" if kind is None else str(kind)


@dataclasses.dataclass(frozen=True, slots=True)
class LandingRow:
    """One landing row: its key, its payload's JSON text (:func:`payload_json`), its Divvy
    type (counted by :meth:`Ledger.landed_by_type`) and what extract decided for stage."""

    uuid: str
    payload: str
    transaction_type: str | None
    staged: str | None = None


def landing_row(payload: Mapping[str, Any], staged: str | None = None) -> LandingRow:
    """The landing row of ``{"transaction": …, "children": […]}``. A type no database can
    store as text (NUL, an unpaired surrogate) is left NULL: it is counted from the payload."""
    transaction = payload["transaction"]
    kind = _landing_type(transaction)
    return LandingRow(
        _landing_key(transaction),
        payload_json(payload),
        kind if describe_illegal(kind) is None else None,
        staged,
    )


def _timestamp(moment: dt.datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("ledger timestamps need a time zone")
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds")


def for_dialect(sql: str, dialect: str) -> str:
    """The statement as ``dialect`` runs it: lines marked ``-- postgresql only`` are kept for
    PostgreSQL and dropped elsewhere."""
    if dialect == "postgresql" or POSTGRESQL_ONLY not in sql:
        return sql
    lines = sql.splitlines()
    return "\n".join(line for line in lines if not line.rstrip().endswith(POSTGRESQL_ONLY))


def _iso(value: dt.datetime | str | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return value.isoformat()


def _money(value: Decimal) -> str:
    if not isinstance(value, Decimal):
        # A float has already lost the cents; refuse rather than store a rounded guess.
        raise TypeError(f"amounts must be Decimal, got {type(value).__name__} {value!r}")
    if not value.is_finite():
        raise ValueError(f"amount {value} is not a finite number")
    return format(value, "f")


def _decimal_or_none(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _add(tally: Tally | None, amount: Decimal) -> Tally:
    tally = tally or Tally()
    return Tally(tally.count + 1, tally.total + amount)


def _date_range(date_from: dt.date | None, date_to: dt.date | None) -> dict[str, str]:
    # Open bounds become sentinels so one SQL text serves both; ISO dates compare as text.
    return {
        "date_from": date_from.isoformat() if date_from else _MIN_DATE,
        "date_to": date_to.isoformat() if date_to else _MAX_DATE,
    }


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _ichunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def payload_json(payload: Mapping[str, Any]) -> str:
    """A payload's JSON as the ledger keeps it: keys sorted, Decimals as strings. Loading this
    text and serialising it again gives the same text, so stage can store it as it was landed
    and re-staging unchanged data compares equal."""
    return json.dumps(payload, sort_keys=True, default=str)


def _stage_params(row: StagedTransaction, run_id: str, now: str) -> dict[str, Any]:
    return {
        "uuid": row.uuid,
        "transaction_type": row.transaction_type,
        "amount": _money(row.amount),
        "occurred_time": _iso(row.occurred_time),
        "posting_date": row.posting_date.isoformat(),
        "updated_time": _iso(row.updated_time),
        "merchant": row.merchant,
        "raw_payload": (
            row.raw_payload if isinstance(row.raw_payload, str) else payload_json(row.raw_payload)
        ),
        # The enum's plain word: what the ledger has always stored, whatever the driver.
        "state": str(row.state),
        "state_reason": row.reason,
        "run_id": run_id,
        "now": now,
        "map_input": row.map_input,
    }


def _verdict_stands(
    stored_state: str, stored_payload: str | None, decided: str, params: Mapping[str, Any]
) -> bool:
    """Same Divvy data and the same decision (``ready`` covers what map made of it): keep the
    row as it is. Mirrors the guard in ``stage_transaction.sql``."""
    if stored_payload != params["raw_payload"]:
        return False
    remapped = (LedgerState.UNMAPPED, LedgerState.FAILED)
    return stored_state == decided or (decided == LedgerState.READY and stored_state in remapped)


def _line_params(uuid: str, line: MappedLine, now: str) -> dict[str, Any]:
    # Flat fields of immutable values: dataclasses.asdict's deep copy cost more than the insert.
    params = {name: getattr(line, name) for name in _LINE_FIELDS}
    params.update(uuid=uuid, amount=_money(line.amount), now=now)
    return params


def _map_verdict_params(
    verdict: tuple[str, str, str | None, Sequence[tuple[Any, ...]]], now: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    uuid, state, reason, lines = verdict
    names = (*MAPPED_LINE_PARAMS, "now")
    params = [dict(zip(names, (*line, now), strict=True)) for line in lines]
    return {"uuid": uuid, "state": str(state), "state_reason": reason, "now": now}, params


def _line_no(line: tuple[Any, ...]) -> Any:
    return line[1]


def _numbered(sql: str, names: Sequence[str]) -> str:
    """``sql`` with each ``:name`` of ``names`` as sqlite3's ``?N`` (N its place in ``names``),
    so rows can be bound as tuples in that order."""
    place = {name: n for n, name in enumerate(names, 1)}

    def number(match: re.Match[str]) -> str:
        n = place.get(match.group(1))
        return match.group(0) if n is None else f"?{n}"

    return _NAMED_PARAM.sub(number, sql)


_NAMED_PARAM = re.compile(r"(?<![:\w]):(\w+)")


def _difference_params(run_id: str, day: str, n: int, d: Difference) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "posting_date": day,
        "diff_no": n,
        "kind": d.kind,
        "divvy_uuid": d.divvy_uuid,
        "intacct_record_no": d.intacct_record_no,
        "divvy_amount": None if d.divvy_amount is None else _money(d.divvy_amount),
        "intacct_amount": None if d.intacct_amount is None else _money(d.intacct_amount),
        "detail": d.detail,
    }


def _claimed_record(head: tuple[Any, ...], lines: list[MappedLine]) -> ClaimedRecord:
    uuid, posting_date, merchant, failed_attempts = head
    return ClaimedRecord(
        uuid, dt.date.fromisoformat(posting_date), merchant, int(failed_attempts), tuple(lines)
    )


def _ledger_row(r: sa.RowMapping) -> LedgerRow:
    fields = dict(r)
    fields["amount"] = Decimal(fields["amount"])
    fields["posting_date"] = dt.date.fromisoformat(fields["posting_date"])
    payload = fields["raw_payload"]
    fields["raw_payload"] = {} if payload is None else json.loads(payload)
    return LedgerRow(**fields)
