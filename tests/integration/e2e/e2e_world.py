"""End-to-end helpers: real Airflow (``dag.test()`` on a migrated metadata DB) running the DAG
against the local Intacct gateway and the local Divvy API over real HTTP."""

from __future__ import annotations

import json
import os
import pathlib
import re
import subprocess
import sys
import uuid as uuidlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

import pytest

from intacct_hook.hooks.divvy import DivvyHook
from intacct_hook.hooks.intacct import IntacctHook
from intacct_hook.sync import steps
from intacct_hook.sync.ledger import Ledger
from intacct_hook.sync.preflight import read_posting_facts
from intacct_hook.sync.rules import load_rules
from intacct_hook.sync.settings import SyncSettings
from intacct_hook.sync.window import SyncWindow, resolve_window
from sandbox.intacct_gateway.testing import (
    DEFAULT_SENDER_PASSWORD,
    DEFAULT_USER_PASSWORD,
    default_connection,
)

ROOT = pathlib.Path(__file__).resolve().parents[3]
TZ = "America/Chicago"
SYNC_DAG = "divvy_intacct_sync"
PREVIEW_DAG = "divvy_intacct_preview"
DIVVY_SEED = ROOT / "sandbox/divvy_api/seeds/default.json"
CARD = "Divvy CC Object"
SECRETS = (DEFAULT_USER_PASSWORD, DEFAULT_SENDER_PASSWORD, "divvy-token-0001")


def empty_divvy_seed() -> dict[str, Any]:
    """The default Divvy company (users, budgets, cards, custom fields) without transactions."""
    seed = json.loads(DIVVY_SEED.read_text())
    seed["transactions"] = []
    return seed


def noon_utc(day: date) -> datetime:
    """Mid-morning in Chicago: unambiguously on ``day`` in the sync's time zone."""
    return datetime.combine(day, time(15), UTC)


def logical_date_for(day: date) -> datetime:
    """The logical date of the run for ``day``: its local midnight (LocalDayTimetable), which
    a scheduled run, a backfill and a manual run at that date all cover ``day`` with."""
    return local_midnight(day)


def local_midnight(day: date) -> datetime:
    """The start of ``day`` in the sync's time zone: the logical date of the run for that day."""
    import pendulum

    return pendulum.datetime(day.year, day.month, day.day, tz=TZ)


@dataclass
class World:
    gw: Any
    dv: Any
    tmp: pathlib.Path
    monkeypatch: pytest.MonkeyPatch
    settings: dict[str, Any] = field(default_factory=dict)
    _n: int = 0

    @property
    def rules_path(self) -> pathlib.Path:
        return self.tmp / "mapping_rules.csv"

    @property
    def ledger_path(self) -> pathlib.Path:
        return self.tmp / "ledger.db"

    def configure(self, **settings: Any) -> None:
        self.settings = {
            "ledger_path": str(self.ledger_path),
            "mapping_file": str(self.rules_path),
            "timezone": "America/Chicago",
            **settings,
        }
        self.monkeypatch.setenv("AIRFLOW_VAR_DIVVY_INTACCT_SETTINGS", json.dumps(self.settings))

    def connect_intacct(self, **overrides: Any) -> None:
        conn = default_connection(self.gw.url)
        for key, value in overrides.items():
            if key in ("host", "login", "password"):
                conn[key] = value
            else:
                conn["extra"][key] = value
        self.monkeypatch.setenv("AIRFLOW_CONN_INTACCT_DEFAULT", json.dumps(conn))

    # --- Divvy data -----------------------------------------------------------------------

    def _uuid(self, kind: str) -> str:
        self._n += 1
        return f"txr_{kind}{self._n:04d}{uuidlib.uuid4().hex[:12]}"

    def add(
        self,
        day: date,
        amount: float,
        *,
        kind: str = "CLEAR",
        gl: str | None = "6100",
        **fields: Any,
    ) -> dict[str, Any]:
        custom = fields.pop("customFields", None)
        if custom is None:
            custom = {"GL Account": f"{gl} - Account {gl}"} if gl else {}
        row = {
            "uuid": fields.pop("uuid", None) or self._uuid(kind.lower()[:4]),
            "transactionType": kind,
            "amount": amount,
            "complete": fields.pop("complete", kind == "CLEAR"),
            "merchantName": fields.pop("merchantName", "Staples"),
            "merchantCategoryCode": fields.pop("merchantCategoryCode", "5943"),
            "occurredTime": noon_utc(day).isoformat(timespec="milliseconds"),
            "userUuid": "usr_member000000000000000000002",
            "budgetUuid": "bgt_operations00000000000000001",
            "cardUuid": "crd_jane000000000000000000000001",
            "customFields": custom,
            **fields,
        }
        return self.dv.state.add_transaction(row)

    # --- running the DAG ------------------------------------------------------------------

    def run(
        self,
        *,
        logical_date: datetime | None,
        conf: dict[str, Any] | None = None,
        run_after: datetime | None = None,
        dag_id: str = SYNC_DAG,
    ) -> Any:
        """One real DAG run. ``run_after`` is the run's clock: without it ``dag.test()`` reads
        the wall clock, and a run without a logical date takes its day from that clock, so
        the test would depend on the hour it runs at. A run with a logical date defaults to
        the time the schedule runs it: 06:00 local the morning after the day it names."""
        from airflow.dag_processing.dagbag import DagBag

        from intacct_hook.timetables import LocalDayTimetable

        if run_after is None:
            if logical_date is None:
                raise ValueError("a run without a logical date needs run_after (its clock)")
            timetable = LocalDayTimetable(TZ)
            run_after = timetable.runs_at(timetable.day_of(logical_date))
        bag = DagBag(dag_folder=str(ROOT / "dags"))
        assert bag.import_errors == {}, bag.import_errors
        dag = bag.get_dag(dag_id)
        return dag.test(run_after=run_after, logical_date=logical_date, run_conf=conf)

    def run_day(self, day: date, **conf: Any) -> Any:
        return self.run(logical_date=logical_date_for(day), conf=conf or None)

    # --- reading results ------------------------------------------------------------------

    def ledger(self) -> Ledger:
        return Ledger.sqlite(self.ledger_path)

    def records(self) -> list[dict[str, Any]]:
        return self.gw.cctransactions()


class StepRun:
    """One DAG run's steps, driven one at a time: the functions the operators call, with the
    real hooks, so a test can interleave runs exactly where production would."""

    def __init__(
        self, world: World, run_id: str, day: date, ledger: Ledger, last: date | None = None
    ) -> None:
        self.run_id = run_id
        self.ledger = ledger
        ledger.ensure_schema()  # as the operators' open_ledger does
        self.settings = SyncSettings.from_variable(world.settings)
        self.window: SyncWindow = resolve_window(
            params={"start_date": day.isoformat(), "end_date": (last or day).isoformat()},
            data_interval_start=None,
            data_interval_end=None,
            run_after=None,
            timezone=self.settings.timezone,
            lookback_days=0,
        )

    def intacct(self) -> IntacctHook:
        return IntacctHook(batch_size=self.settings.batch_size)

    def extract(self) -> dict:
        return steps.extract(
            DivvyHook(), self.ledger, self.window, self.run_id, settings=self.settings
        )

    def stage(self) -> dict:
        return steps.stage(self.ledger, self.settings, self.window, self.run_id)

    def map(self) -> dict:
        facts = read_posting_facts(self.intacct(), self.settings)
        return steps.map_transactions(
            self.ledger,
            self.settings,
            load_rules(self.settings.mapping_path()),
            **facts.coding_kwargs(),
        )

    def load(self, try_number: int = 1) -> steps.LoadReport:
        return steps.load(
            self.intacct(), self.ledger, self.settings, self.run_id, try_number=try_number
        )

    def reconcile(self):
        return steps.reconcile(self.intacct(), self.ledger, self.settings, self.window, self.run_id)

    def all(self):
        self.extract()
        self.stage()
        self.map()
        self.load()
        return self.reconcile()


# The real `airflow` command with the clock the test gives to backfill planning: Airflow refuses
# to backfill days that have not ended by "now", so a test reading the wall clock would depend
# on its date. Only the backfill module sees this clock; everything else (the timestamps Airflow
# writes, e.g. which serialized DAG version is the latest) keeps the real one.
_CLI_WITH_CLOCK = """
import sys

import pendulum

import airflow._shared.timezones.timezone as real_timezone
import airflow.models.backfill as backfill

now = pendulum.parse(sys.argv[1])


class _Clock:
    def __getattr__(self, name):
        return getattr(real_timezone, name)

    @staticmethod
    def utcnow():
        return now


backfill.timezone = _Clock()
from airflow.__main__ import main

sys.argv = ["airflow", *sys.argv[2:]]
main()
"""


def airflow_cli(*args: str, now: datetime, timeout: float = 180) -> subprocess.CompletedProcess:
    """Run ``airflow <args>`` in a subprocess on this test's metadata DB, with ``now`` as the
    backfill planner's clock, importing this work tree's package (not another checkout the
    venv's editable install points at)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT / "plugins"), str(ROOT), env.get("PYTHONPATH")) if p
    )
    return subprocess.run(
        [sys.executable, "-c", _CLI_WITH_CLOCK, now.isoformat(), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def delete_runs(*dag_ids: str) -> None:
    """Forget every run and backfill of these DAGs (the metadata DB lives for the session, and
    Airflow allows one unfinished backfill per DAG and skips days that already have a run)."""
    from airflow.models.backfill import Backfill, BackfillDagRun
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import delete, select

    with create_session() as session:
        backfills = select(Backfill.id).where(Backfill.dag_id.in_(dag_ids))
        session.execute(delete(BackfillDagRun).where(BackfillDagRun.backfill_id.in_(backfills)))
        for run in session.scalars(select(DagRun).where(DagRun.dag_id.in_(dag_ids))):
            session.delete(run)
        session.flush()
        session.execute(delete(Backfill).where(Backfill.dag_id.in_(dag_ids)))


def posted_once(world: World) -> Counter:
    """How many Intacct records each reference number has on the card."""
    return Counter(r["RECORDID"] for r in world.records())


def task_states(dag_run: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}


_RECORD_START = re.compile(r"^\d{4}-\d\d-\d\dT[\d:.]+Z \[(\w+)\s*\] ", re.MULTILINE)


@dataclass(frozen=True)
class LogRecord:
    level: str  # as Airflow's log shows it: "info", "warning", "error"
    text: str  # the message, continuation lines included


def log_records(captured: str) -> list[LogRecord]:
    """The log records in what ``dag.test()`` printed (Airflow's console rendering of the task
    logs: ``<time> [<level>] <message> [<logger>] loc=…``), multi-line messages kept whole."""
    starts = list(_RECORD_START.finditer(captured))
    records = []
    for n, match in enumerate(starts):
        end = starts[n + 1].start() if n + 1 < len(starts) else len(captured)
        records.append(LogRecord(match.group(1), captured[match.end() : end].rstrip("\n")))
    return records


def xcom(dag_run: Any, task_id: str, key: str = "return_value") -> Any:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = session.scalars(
            XComModel.get_many(
                run_id=dag_run.run_id, dag_ids=dag_run.dag_id, task_ids=task_id, key=key
            )
        ).first()
        return None if row is None else XComModel.deserialize_value(row)
