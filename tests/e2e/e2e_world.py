"""End-to-end helpers: real Airflow (``dag.test()`` on a migrated metadata DB) running the DAG
against the local Intacct gateway and the local Divvy API over real HTTP."""

from __future__ import annotations

import json
import pathlib
import re
import uuid as uuidlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
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

ROOT = pathlib.Path(__file__).resolve().parents[2]
DIVVY_SEED = ROOT / "sandbox/divvy_api/seeds/default.json"
USER_PASSWORD = "ws-user-pass-0001"
SENDER_PASSWORD = "sender-pass-0001"
CARD = "Divvy CC Object"
SECRETS = (USER_PASSWORD, SENDER_PASSWORD, "divvy-token-0001")


def empty_divvy_seed() -> dict[str, Any]:
    """The default Divvy company (users, budgets, cards, custom fields) without transactions."""
    seed = json.loads(DIVVY_SEED.read_text())
    seed["transactions"] = []
    return seed


def noon_utc(day: date) -> datetime:
    """Mid-morning in Chicago: unambiguously on ``day`` in the sync's time zone."""
    return datetime.combine(day, time(15), UTC)


def logical_date_for(day: date) -> datetime:
    """A manual run at this logical date gets the data interval that covers ``day``.

    The schedule fires at 06:00 Chicago (12:00 UTC in winter); a manual run's interval is the
    one ending at its logical date.
    """
    return datetime.combine(day + timedelta(days=1), time(12), UTC)


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
        extra = {
            "company_id": "ACME-DEMO",
            "sender_id": "bill.com",
            "sender_password": SENDER_PASSWORD,
            "entity_id": "E100",
            "timeout": 10,
        }
        conn = {
            "conn_type": "intacct",
            "host": self.gw.url,
            "login": "Divvy",
            "password": USER_PASSWORD,
        }
        for key, value in overrides.items():
            (conn if key in ("host", "login", "password") else extra)[key] = value
        conn["extra"] = extra
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
    ) -> Any:
        """One real DAG run. ``run_after`` is the run's clock: without it ``dag.test()`` reads
        the wall clock, and a run without a logical date takes its day from that clock, so
        the test would depend on the hour it runs at. A run with a logical date defaults to
        ``run_after = logical_date``, as a scheduled run at the end of its interval."""
        from airflow.dag_processing.dagbag import DagBag

        if run_after is None:
            if logical_date is None:
                raise ValueError("a run without a logical date needs run_after (its clock)")
            run_after = logical_date
        bag = DagBag(dag_folder=str(ROOT / "dags"))
        assert bag.import_errors == {}, bag.import_errors
        dag = bag.get_dag("divvy_intacct_sync")
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
            card_default_location=facts.card_default_location,
            valid_ids=facts.active_ids,
            required_dimensions=facts.required_dimensions,
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
