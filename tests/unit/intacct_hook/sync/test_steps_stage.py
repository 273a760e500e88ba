"""steps.stage on real ledgers (SQLite and PostgreSQL): the landed JSON is stored as it was
landed, staging streams in chunks, and a landing lost before stage is named."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from intacct_hook.divvy.records import DivvyTransaction
from intacct_hook.sync import ledger as ledger_module
from intacct_hook.sync import steps
from intacct_hook.sync.ledger import ExpectedEntry, payload_json
from intacct_hook.sync.settings import SyncSettings
from intacct_hook.sync.window import SyncWindow
from tests.divvy_factories import txn_json

WINDOW = SyncWindow(date(2026, 8, 1), date(2026, 8, 1), 0, "UTC", "params")


def _landed(**overrides) -> dict:
    # As the hook hands it over: amounts decoded as Decimal (parse_float=Decimal).
    raw = json.loads(json.dumps(txn_json(**overrides), default=str), parse_float=Decimal)
    return {"transaction": raw, "children": []}


def test_the_ledger_keeps_the_landed_json_and_restaging_it_changes_nothing(ledger):
    payload = _landed(merchantName="Café 🍕 & <Co> \u2028", amount=1234.50)
    uuid = payload["transaction"]["uuid"]
    ledger.land("run-1", [payload])

    first = steps.stage(ledger, SyncSettings(timezone="UTC"), WINDOW, "run-1")
    (row,) = ledger.select_in_state(["ready"])
    with ledger.engine.connect() as conn:
        stored = conn.exec_driver_sql("SELECT raw_payload FROM divvy_payload").scalar_one()

    assert (first["inserted"], row.uuid) == (1, uuid)
    # The text serialising the decoded payload would give, Decimals as strings.
    assert stored == payload_json(payload)
    assert row.raw_payload["transaction"]["amount"] == "1234.5"  # a Decimal, kept as text
    assert DivvyTransaction.from_json(row.raw_payload["transaction"]).amount == Decimal("1234.50")
    # Another run landing the same data: nothing to update.
    ledger.land("run-2", [payload])
    again = steps.stage(ledger, SyncSettings(timezone="UTC"), WINDOW, "run-2")
    assert (again["inserted"], again["updated"], again["unchanged"]) == (0, 0, 1)


def test_stage_writes_chunk_by_chunk(ledger, monkeypatch):
    monkeypatch.setattr(ledger_module, "STAGE_CHUNK", 2)
    payloads = [_landed(occurredTime=f"2026-08-01T1{n}:00:00.000+00:00") for n in range(5)]
    ledger.land("run-1", payloads)
    writes = []
    write = ledger._write

    def counting_write():
        writes.append(1)
        return write()

    monkeypatch.setattr(ledger, "_write", counting_write)

    summary = steps.stage(ledger, SyncSettings(timezone="UTC"), WINDOW, "run-1")

    assert summary["inserted"] == 5
    assert len(writes) == 3  # 2 + 2 + 1 rows
    assert len(ledger.select_in_state(["ready"])) == 5


def test_a_postable_transaction_lost_from_the_landing_fails_stage_by_name(ledger):
    kept, lost = _landed(), _landed()
    entries = [
        ExpectedEntry(p["transaction"]["uuid"], date(2026, 8, 1), Decimal("53.03"))
        for p in (kept, lost)
    ]
    ledger.land("run-1", [kept, lost], entries)
    with ledger.engine.begin() as conn:  # e.g. a database restored from before the extract
        conn.execute(
            sa.text("DELETE FROM divvy_landing WHERE uuid = :uuid"),
            {"uuid": lost["transaction"]["uuid"]},
        )

    with pytest.raises(steps.StepError, match="no longer in its landing") as failed:
        steps.stage(ledger, SyncSettings(timezone="UTC"), WINDOW, "run-1")

    assert lost["transaction"]["uuid"] in str(failed.value)
    assert kept["transaction"]["uuid"] not in str(failed.value)
    assert [r.uuid for r in ledger.select_in_state(["ready"])] == [kept["transaction"]["uuid"]]
