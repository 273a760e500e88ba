"""A transaction deleted in Divvy after posting (sync/recoding.py), on both ledgers, with the real
extract, stage, map, load, recode and reconcile steps against both sandboxes through the real
hooks. Divvy sends no deletion event: the list stops returning it and GET by id answers 404. A
deleted one is reversed only (or reported once), one Divvy still returns is left alone, and more
missing rows than the lookup cap reverse nothing."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from intacct_hook.sync import recoding, steps
from intacct_hook.sync.ledger import Ledger
from intacct_hook.sync.mapping import StoredMapper
from intacct_hook.sync.preflight import read_posting_facts
from intacct_hook.sync.rules import parse_rules
from intacct_hook.sync.settings import SyncSettings
from intacct_hook.sync.states import LedgerState
from intacct_hook.sync.window import SyncWindow
from sandbox.divvy_api.testing import DivvyHandle, running_divvy
from sandbox.intacct_gateway.testing import GatewayHandle
from tests.divvy_factories import empty_seed
from tests.unit.intacct_hook.sync.conftest import map_and_load

NOW = dt.datetime(2026, 10, 12, 12, tzinfo=dt.UTC)
DAY = dt.date(2026, 10, 5)
WINDOW = SyncWindow(dt.date(2026, 10, 1), dt.date(2026, 10, 10), 0, "UTC", "params")
RULES = parse_rules(
    "match_field,match_value,gl_account,location,department,class,project,note\n", "r"
)
CODED = {"GL Account": "6100 - Office Supplies", "Location": "100 - Headquarters"}


@pytest.fixture
def dv() -> Iterator[DivvyHandle]:
    with running_divvy(empty_seed(), calls_per_minute=100_000) as handle:
        yield handle


@pytest.fixture
def divvy(dv: DivvyHandle, monkeypatch: pytest.MonkeyPatch) -> Any:
    from intacct_hook.hooks.divvy import DivvyHook

    conn = {"conn_type": "divvy", "host": dv.url, "password": dv.token, "extra": {"timeout": 5}}
    monkeypatch.setenv("AIRFLOW_CONN_DIVVY_DEFAULT", json.dumps(conn))
    return DivvyHook(rate_limit_window=0.001)


class Runs:
    """Daily runs of the real steps over what the Divvy sandbox lists."""

    def __init__(self, ledger: Ledger, hook: Any, divvy: Any, policy: str) -> None:
        ledger.clock = lambda: NOW  # no test reads the wall clock
        self.ledger, self.hook, self.divvy, self.n = ledger, hook, divvy, 0
        self.settings = SyncSettings(batch_size=5, timezone="UTC", recode_policy=policy)

    def coder(self) -> StoredMapper:
        facts = read_posting_facts(self.hook, self.settings)
        return StoredMapper(
            RULES,
            **facts.coding_kwargs(),
        )

    def run(self) -> tuple[recoding.RecodeReport, Any]:
        self.n += 1
        run_id = f"run-{self.n}"
        steps.extract(self.divvy, self.ledger, WINDOW, run_id, settings=self.settings)
        steps.stage(self.ledger, self.settings, WINDOW, run_id)
        map_and_load(self.ledger, self.settings, self.hook, RULES, run_id)
        report = recoding.recode(
            self.hook, self.ledger, self.settings, run_id, mapper=self.coder,
            divvy=self.divvy, window=WINDOW,
        )  # fmt: skip
        return report, steps.reconcile(self.hook, self.ledger, self.settings, WINDOW, run_id)


def add(dv: DivvyHandle, uuid: str, amount: float, day: dt.date = DAY) -> str:
    dv.state.add_transaction(
        {
            "uuid": uuid,
            "transactionType": "CLEAR",
            "amount": amount,
            "merchantName": "Staples",
            "occurredTime": f"{day.isoformat()}T12:00:00.000Z",
            "updatedTime": f"{day.isoformat()}T13:00:00.000Z",
            "customFields": CODED,
        }
    )
    return uuid


def row(ledger: Ledger, uuid: str):
    [found] = [r for r in ledger.select_in_state(list(LedgerState)) if r.uuid == uuid]
    return found


def sent(gw: GatewayHandle, name: str) -> int:
    return sum(len(req.findall(f".//{name}")) for req in gw.requests)


def lookups(dv: DivvyHandle, uuid: str) -> int:
    return sum(1 for q in dv.requests if q.path.endswith(f"/transactions/{uuid}"))


def test_a_deleted_transaction_is_reversed_once_and_a_rerun_changes_nothing(
    ledger, hook, gw, dv, divvy
):
    runs = Runs(ledger, hook, divvy, "reverse_and_repost")
    kept, gone = add(dv, "txr_del_kept_0001", 10.00), add(dv, "txr_del_gone_0001", 53.03)
    first, _ = runs.run()
    assert first.summary()["missing"] == 0 and len(gw.cctransactions()) == 2

    dv.state.delete_transaction(gone)
    report, result = runs.run()

    summary = report.summary()
    assert (summary["missing"], summary["deleted"], summary["reversed"]) == (1, 1, 1)
    assert summary["reposted"] == 0 and summary["failed"] == 0
    assert Counter(r["STATE"] for r in gw.cctransactions()) == Counter(
        {"Posted": 1, "Reversed": 1, "Reversal": 1}
    )
    ended = row(ledger, gone)
    assert ended.state == "skipped" and "deleted in Divvy" in ended.state_reason
    assert [(lk.status, lk.change) for lk in recoding.links(ledger, [gone])] == [
        ("done", "deleted in Divvy")
    ]
    assert row(ledger, kept).state == "posted" and lookups(dv, kept) == 0
    assert result.matched, result.differences
    assert result.summary()["days"][DAY.isoformat()]["intacct_total"] == "10.00"

    again, rerun = runs.run()
    assert again.summary()["missing"] == 0 and again.summary()["reversed"] == 0
    assert len(gw.cctransactions()) == 3 and sent(gw, "reverse_cctransaction") == 1
    assert lookups(dv, gone) == 1 and rerun.matched


def test_report_only_reports_a_deletion_once_and_touches_nothing_in_intacct(
    ledger, hook, gw, dv, divvy
):
    runs = Runs(ledger, hook, divvy, "report_only")
    gone = add(dv, "txr_del_report_001", 20.00)
    runs.run()
    dv.state.delete_transaction(gone)

    report, _ = runs.run()

    assert report.summary()["deleted"] == 1 and report.summary()["reported"] == 1
    assert "deleted in Divvy (not reversed: recode_policy report_only)" in report.reported[0]
    assert [lk.status for lk in recoding.links(ledger, [gone])] == ["reported"]
    assert row(ledger, gone).state == "posted" and len(gw.cctransactions()) == 1

    again, _ = runs.run()  # recorded once, and not looked up again
    assert again.summary()["missing"] == 0 and again.summary()["reported"] == 0
    assert len(recoding.links(ledger, [gone])) == 1 and lookups(dv, gone) == 1
    assert sent(gw, "reverse_cctransaction") == 0


def test_one_divvy_still_returns_outside_the_window_is_left_as_posted(ledger, hook, gw, dv, divvy):
    runs = Runs(ledger, hook, divvy, "reverse_and_repost")
    moved = add(dv, "txr_del_moved_0001", 30.00)
    runs.run()
    # Listed no more for this window (its purchase and update both before it), yet not deleted.
    dv.state.update_transaction(
        moved, occurredTime="2026-08-01T12:00:00.000Z", updatedTime="2026-08-01T13:00:00.000Z"
    )

    report, _ = runs.run()

    summary = report.summary()
    assert (summary["missing"], summary["deleted"], summary["left"]) == (1, 0, 1)
    assert "Divvy still has it" in report.left[0] and lookups(dv, moved) == 1
    assert row(ledger, moved).state == "posted" and recoding.links(ledger, [moved]) == []
    assert len(gw.cctransactions()) == 1 and sent(gw, "reverse_cctransaction") == 0


def test_more_missing_than_the_cap_looks_up_and_reverses_none(
    ledger, hook, gw, dv, divvy, monkeypatch
):
    monkeypatch.setattr(recoding, "MAX_DELETION_LOOKUPS", 2)
    runs = Runs(ledger, hook, divvy, "reverse_and_repost")
    uuids = [add(dv, f"txr_del_mass_{i:04d}", 5.00 + i) for i in range(3)]
    runs.run()
    for uuid in uuids:  # as an API fault returning too few rows would look
        dv.state.delete_transaction(uuid)

    report, _ = runs.run()

    assert report.summary()["deleted"] == 0 and report.summary()["reversed"] == 0
    assert "probably an incomplete extract" in report.warnings[0]
    assert sum(lookups(dv, u) for u in uuids) == 0 and sent(gw, "reverse_cctransaction") == 0
    assert all(row(ledger, u).state == "posted" for u in uuids)

    dv.state.add_transaction(  # back to two missing: within the cap, both looked up
        {
            "uuid": uuids[0],
            "transactionType": "CLEAR",
            "amount": 5.00,
            "merchantName": "Staples",
            "occurredTime": f"{DAY.isoformat()}T12:00:00.000Z",
            "updatedTime": f"{DAY.isoformat()}T13:00:00.000Z",
            "customFields": CODED,
        }
    )
    within, result = runs.run()
    assert within.summary()["deleted"] == 2 and within.summary()["reversed"] == 2
    assert row(ledger, uuids[0]).state == "posted" and result.matched, result.differences


def test_a_transaction_deleted_while_its_change_waits_for_a_closed_period_is_reversed_only(
    ledger, hook, gw, dv, divvy
):
    import dataclasses

    runs = Runs(ledger, hook, divvy, "reverse_and_repost")
    runs.settings = dataclasses.replace(runs.settings, closed_period_policy="hold")
    gone = add(dv, "txr_del_wait_0001", 53.03)
    runs.run()
    with gw.state.lock:  # the books close through the purchase day, then Divvy re-codes it
        for r in gw.state.companies["ACME-DEMO"].objects["BOOKSCLOSED"]:
            r["CLOSEDTHROUGH"] = "10/06/2026"
    dv.state.update_transaction(
        gone,
        customFields={**CODED, "GL Account": "6200 - Travel"},
        updatedTime="2026-10-07T09:00:00.000Z",
    )
    held, _ = runs.run()
    assert held.summary()["closed_periods"]["held"] == 1 and len(gw.cctransactions()) == 1

    dv.state.delete_transaction(gone)
    report, result = runs.run()

    summary = report.summary()
    assert (summary["deleted"], summary["reversed"], summary["failed"]) == (1, 1, 0)
    assert summary["closed_periods"]["held"] == 0
    assert Counter(r["STATE"] for r in gw.cctransactions()) == Counter(
        {"Reversed": 1, "Reversal": 1}
    )
    [link] = recoding.links(ledger, [gone])
    assert (link.status, link.change, link.reversal_date) == (
        "done",
        "deleted in Divvy",
        "2026-10-07",  # the original's period is closed: the first open day
    )
    assert row(ledger, gone).state == "skipped"
    assert result.matched, result.differences
