"""End-to-end helpers: real Airflow (``dag.test()`` on a migrated metadata DB) running the DAG
against the local Intacct gateway and the local Divvy API over real HTTP."""

from __future__ import annotations

import json
import pathlib
import uuid as uuidlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest

from intacct_hook.sync.ledger import Ledger

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
        from airflow.dag_processing.dagbag import DagBag

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


def task_states(dag_run: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}


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
