"""steps.extract over real HTTP (the local Divvy API) into real ledgers (SQLite and PostgreSQL).

The window is read as three walks that never return the same row twice; these tests pin that
nothing is lost at any boundary and that no row (nor a split's children) is read twice.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from intacct_hook.sync import steps
from intacct_hook.sync.settings import SyncSettings
from intacct_hook.sync.window import SyncWindow
from sandbox.divvy_api.testing import DivvyHandle, running_divvy
from tests.divvy_factories import empty_seed

# Aug 1, 2026 in UTC: extraction covers [Aug 1 00:00, Aug 2 00:00).
WINDOW = SyncWindow(date(2026, 8, 1), date(2026, 8, 1), 0, "UTC", "params")
CODED = {"GL Account": "6100 - Office Supplies", "Location": "100 - Headquarters"}


@pytest.fixture
def api() -> Iterator[DivvyHandle]:
    with running_divvy(empty_seed()) as handle:
        yield handle


@pytest.fixture
def divvy(api: DivvyHandle, monkeypatch: pytest.MonkeyPatch) -> Any:
    from intacct_hook.hooks.divvy import DivvyHook

    class CountingHook(DivvyHook):
        """The real hook; it also counts how often each uuid reached the caller."""

        yielded: Counter[str]

        def iter_transactions(self, **kwargs: Any) -> Any:
            for txn in super().iter_transactions(**kwargs):
                self.yielded[txn.uuid] += 1
                yield txn

    conn = {"conn_type": "divvy", "host": api.url, "password": api.token, "extra": {"timeout": 5}}
    monkeypatch.setenv("AIRFLOW_CONN_DIVVY_DEFAULT", json.dumps(conn))
    hook = CountingHook(rate_limit_window=0.001)
    hook.yielded = Counter()
    return hook


def add(api: DivvyHandle, name: str, occurred: str, updated: str, **fields: Any) -> str:
    row = {
        "uuid": f"txr_{name}",
        "transactionType": "CLEAR",
        "amount": 10.0,
        "merchantName": "Staples",
        "occurredTime": occurred,
        "updatedTime": updated,
        "customFields": CODED,
        **fields,
    }
    return api.state.add_transaction(row, bump=False)["uuid"]


def test_every_row_purchased_or_updated_in_the_window_is_landed_once(api, divvy, ledger):
    inside = {
        add(api, "in_in", "2026-08-01T10:00:00.000+00:00", "2026-08-01T11:00:00.000+00:00"),
        # Updated after the window (a backfill read later): the purchase time still counts.
        add(api, "in_later", "2026-08-01T10:00:00.000+00:00", "2026-08-20T11:00:00.000+00:00"),
        # A late clear of an earlier purchase, updated in the window.
        add(api, "before_in", "2026-07-20T10:00:00.000+00:00", "2026-08-01T09:00:00.000+00:00"),
        # Divvy promises no order between the two times: a row "updated" before its purchase.
        add(api, "after_in", "2026-08-03T10:00:00.000+00:00", "2026-08-01T12:00:00.000+00:00"),
        # Exactly at the starts (inclusive).
        add(api, "at_start", "2026-08-01T00:00:00.000+00:00", "2026-08-05T00:00:00.000+00:00"),
        add(api, "upd_start", "2026-07-31T23:59:59.999+00:00", "2026-08-01T00:00:00.000+00:00"),
        add(
            api, "after_upd_start", "2026-08-02T00:00:00.000+00:00", "2026-08-01T00:00:00.000+00:00"
        ),
        # Purchased exactly when the window ends, updated inside it.
        add(api, "at_end_in", "2026-08-02T00:00:00.000+00:00", "2026-08-01T23:59:59.999+00:00"),
        # Purchased in the window, "updated" before it.
        add(api, "in_before", "2026-08-01T23:00:00.000+00:00", "2026-07-30T00:00:00.000+00:00"),
    }
    outside = {
        add(api, "before_before", "2026-07-20T10:00:00.000+00:00", "2026-07-31T10:00:00.000+00:00"),
        add(api, "before_after", "2026-07-20T10:00:00.000+00:00", "2026-08-02T00:00:00.000+00:00"),
        add(api, "after_after", "2026-08-02T00:00:00.000+00:00", "2026-08-02T00:00:00.000+00:00"),
        add(api, "at_end_late", "2026-08-02T00:00:00.000+00:00", "2026-08-09T00:00:00.000+00:00"),
    }

    result = steps.extract(divvy, ledger, WINDOW, "run-1", settings=SyncSettings(timezone="UTC"))

    landed = {p["transaction"]["uuid"] for p in ledger.landed("run-1")}
    assert landed == inside
    assert not landed & outside
    assert result["extracted"] == len(inside)
    # No row reaches the caller twice (each would have cost a share of a rate-limited call).
    assert set(divvy.yielded) == inside
    assert max(divvy.yielded.values()) == 1


def test_a_splits_children_are_fetched_once(api, divvy, ledger):
    parent = add(api, "parent", "2026-08-01T10:00:00.000+00:00", "2026-08-01T12:00:00.000+00:00")
    for n in (1, 2):
        api.state.add_transaction(
            {
                "uuid": f"txr_child{n}",
                "parentTransactionUuid": parent,
                "transactionType": "CLEAR",
                "amount": 5.0,
                "occurredTime": "2026-08-01T10:00:00.000+00:00",
                "updatedTime": "2026-08-01T12:00:00.000+00:00",
                "customFields": CODED,
            },
            bump=False,
        )

    steps.extract(divvy, ledger, WINDOW, "run-1", settings=SyncSettings(timezone="UTC"))

    (payload,) = list(ledger.landed("run-1"))
    assert sorted(c["uuid"] for c in payload["children"]) == ["txr_child1", "txr_child2"]
    by_id = [r for r in api.requests if "/v3/spend/transactions/" in r.path]
    assert len(by_id) == 2
    assert all(r.status == 200 for r in api.requests)


# --- extract's decision carried to stage ------------------------------------------------------

GENERATED_WINDOW = SyncWindow(date(2026, 11, 16), date(2026, 11, 22), 0, "America/Chicago", "p")


def _staged_rows(ledger: Any) -> list[tuple[Any, ...]]:
    with ledger.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT t.uuid, transaction_type, amount, occurred_time, posting_date, updated_time,"
            " merchant, p.raw_payload, state, state_reason, m.lines FROM divvy_transaction t"
            " LEFT JOIN divvy_payload p ON p.uuid = t.uuid"
            " LEFT JOIN map_input m ON m.uuid = t.uuid ORDER BY t.uuid"
        )
        return [tuple(r) for r in rows]


def _forget_carried(ledger: Any) -> None:
    """Make stage decide every landed row from its payload again, on an empty ledger."""
    with ledger.engine.begin() as conn:
        for table in ("map_input", "divvy_transaction"):
            conn.exec_driver_sql(f"DELETE FROM {table}")
        conn.exec_driver_sql("UPDATE divvy_landing SET staged = NULL")


def test_stage_makes_the_same_rows_from_extracts_decision_as_from_the_payload(
    divvy, ledger, monkeypatch
):
    from sandbox.divvy_api.generator import generate_week

    seed = generate_week(date(2026, 11, 16), seed=7, per_day=40)  # splits, holds, skips, …
    with running_divvy(seed, calls_per_minute=1_000_000) as handle:
        conn = {"conn_type": "divvy", "host": handle.url, "password": handle.token}
        monkeypatch.setenv("AIRFLOW_CONN_DIVVY_DEFAULT", json.dumps(conn))
        settings = SyncSettings(timezone="America/Chicago")
        steps.extract(divvy, ledger, GENERATED_WINDOW, "run-1", settings=settings)
    with ledger.engine.connect() as conn:
        carried, landed = conn.exec_driver_sql(
            "SELECT COUNT(staged), COUNT(*) FROM divvy_landing"
        ).one()
    first = steps.stage(ledger, settings, GENERATED_WINDOW, "run-1")
    from_extract = _staged_rows(ledger)
    _forget_carried(ledger)
    second = steps.stage(ledger, settings, GENERATED_WINDOW, "run-1")

    assert carried == landed > 300
    assert {s for *_, s, _r, _l in from_extract} >= {"ready", "held", "skipped"}
    assert first == second
    assert from_extract == _staged_rows(ledger)


def test_stage_decides_again_when_the_settings_changed_after_extract(api, divvy, ledger):
    add(
        api,
        "incomplete",
        "2026-08-01T10:00:00.000+00:00",
        "2026-08-01T11:00:00.000+00:00",
        complete=False,
    )
    steps.extract(divvy, ledger, WINDOW, "run-1", settings=SyncSettings(timezone="UTC"))
    # Someone turns off holding incomplete clears, then runs stage (or clears it) again.
    lenient = SyncSettings(timezone="UTC", hold_incomplete=False)
    summary = steps.stage(ledger, lenient, WINDOW, "run-1")

    assert summary["by_state"] == {"ready": 1}


def test_an_extract_run_again_replaces_its_runs_landing_and_manifest(api, divvy, ledger):
    # A retried or cleared extract (same run id) must describe Divvy as it is now: a transaction
    # deleted in Divvy between the two attempts leaves neither a landed payload (stage would
    # stage it again) nor a manifest entry (stage would fail: "no longer in its landing" once
    # the landing was purged, and reconcile would expect it).
    settings = SyncSettings(timezone="UTC")
    kept = add(api, "kept", "2026-08-01T10:00:00.000+00:00", "2026-08-01T11:00:00.000+00:00")
    gone = add(api, "gone", "2026-08-01T10:00:00.000+00:00", "2026-08-01T11:00:00.000+00:00")
    steps.extract(divvy, ledger, WINDOW, "run-1", settings=settings)
    ledger.land("run-2", [{"transaction": {"uuid": "txr_other_run"}, "children": []}])
    api.state.delete_transaction(gone)

    steps.extract(divvy, ledger, WINDOW, "run-1", settings=settings)

    assert {p["transaction"]["uuid"] for p in ledger.landed("run-1")} == {kept}
    with ledger.engine.connect() as conn:
        manifest = conn.exec_driver_sql(
            "SELECT uuid FROM extract_manifest WHERE run_id = 'run-1'"
        ).all()
    assert [r.uuid for r in manifest] == [kept]
    assert {p["transaction"]["uuid"] for p in ledger.landed("run-2")} == {"txr_other_run"}
    steps.stage(ledger, settings, WINDOW, "run-1")  # nothing lost between extract and stage
