"""DivvyHook.iter_transactions over real HTTP against the local Divvy API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from intacct_hook.divvy.records import DivvyRecordError, TransactionType
from intacct_hook.sync.translation import PostingRules, decide
from sandbox.divvy_api.generator import generate_week
from sandbox.divvy_api.testing import running_divvy

AUG1 = datetime(2026, 8, 1, tzinfo=UTC)
AUG2 = AUG1 + timedelta(days=1)
CODED = {"GL Account": "6100 - Office Supplies", "Location": "100 - Headquarters"}


def add(api, occurred: str, **fields):
    row = {
        "transactionType": "CLEAR",
        "amount": 10.0,
        "merchantName": "Staples",
        "occurredTime": occurred,
        "customFields": CODED,
        **fields,
    }
    return api.state.add_transaction(row)["uuid"]


def list_requests(api):
    return [r for r in api.requests if r.path.endswith("/v3/spend/transactions")]


def test_day_window_is_half_open_at_midnight(api, connect, capsys):
    inside_first = add(api, "2026-08-01T00:00:00.000+00:00")
    inside_last = add(api, "2026-08-01T23:59:59.999+00:00")
    add(api, "2026-08-02T00:00:00.000+00:00")  # the next day's first millisecond
    add(api, "2026-07-31T23:59:59.999+00:00")
    hook = connect(api)

    got = [t.uuid for t in hook.iter_transactions(occurred_from=AUG1, occurred_to=AUG2)]

    assert sorted(got) == sorted([inside_first, inside_last])
    (request,) = list_requests(api)
    assert request.query["filters"] == (
        'occurredTime:gte:"2026-08-01T00:00:00.000Z",occurredTime:lte:"2026-08-02T00:00:00.000Z"'
    )
    assert request.query["max"] == "50" and request.query["sort"] == "occurredTime:asc"
    # The API's lte is inclusive: midnight came back and was trimmed here, visibly.
    logs = capsys.readouterr().out
    assert "page 1: 3 rows, 0 duplicates dropped, 1 outside the window dropped" in logs


def test_local_time_window_is_sent_in_utc(api, connect):
    eastern = datetime(2026, 8, 1, tzinfo=UTC).astimezone().tzinfo  # any aware zone works
    start = datetime(2026, 8, 1, 20, 0, tzinfo=UTC).astimezone(eastern)
    uuid = add(api, "2026-08-01T20:00:00.000+00:00")
    hook = connect(api)
    assert [t.uuid for t in hook.iter_transactions(occurred_from=start)] == [uuid]
    assert list_requests(api)[0].query["filters"] == 'occurredTime:gte:"2026-08-01T20:00:00.000Z"'


def test_many_pages_with_inserts_between_pages_lose_nothing_and_repeat_nothing(
    api, connect, capsys
):
    originals = {
        add(api, f"2026-08-01T{h:02d}:{m:02d}:00.000+00:00", amount=1 + h)
        for h in range(1, 13)
        for m in range(0, 60, 6)
    }  # 120 rows: 12 pages of 10
    hook = connect(api)
    seen: list[str] = []
    inserted: list[str] = []
    for txn in hook.iter_transactions(occurred_from=AUG1, occurred_to=AUG2, page_size=10):
        seen.append(txn.uuid)
        if len(seen) % 10 == 0:
            # Sorted before everything read so far: the offset cursor slides back by one
            # and the next page starts with a row already returned.
            inserted.append(add(api, f"2026-08-01T00:00:{len(inserted):02d}.000+00:00"))

    assert len(seen) == len(set(seen)), "a row was returned twice"
    assert originals <= set(seen), f"lost {len(originals - set(seen))} rows"
    logs = capsys.readouterr().out
    assert "page 2: 10 rows, 1 duplicates dropped" in logs
    assert "page 12: 10 rows, 1 duplicates dropped" in logs
    # Every page resent the identical filters, sort and max next to the cursor.
    pages = list_requests(api)
    assert len(pages) >= 12
    assert {(p.query["filters"], p.query["sort"], p.query["max"]) for p in pages} == {
        (pages[0].query["filters"], "occurredTime:asc", "10")
    }
    assert all("nextPage" in p.query for p in pages[1:]) and "nextPage" not in pages[0].query
    # The rows inserted behind the cursor are picked up by the next run.
    assert set(inserted) <= {t.uuid for t in hook.iter_transactions(occurred_from=AUG1)}


def test_updated_window_sees_a_late_clear_that_the_occurred_window_misses(api, connect):
    auth = api.state.add_transaction(
        {
            "transactionType": "AUTHORIZATION",
            "amount": 412.18,
            "merchantName": "Marriott",
            "occurredTime": "2026-08-01T18:00:00.000+00:00",
            "updatedTime": "2026-08-01T18:00:01.000+00:00",
            "customFields": CODED,
        }
    )["uuid"]
    aug5 = datetime(2026, 8, 5, tzinfo=UTC)
    clear = api.state.clear_authorization(
        auth, amount=455.60, updated="2026-08-05T09:30:00.000+00:00"
    )["uuid"]
    hook = connect(api)

    by_occurred = list(hook.iter_transactions(occurred_from=aug5, occurred_to=aug5 + timedelta(1)))
    assert by_occurred == []

    late = {
        t.uuid: t
        for t in hook.iter_transactions(updated_from=aug5, updated_to=aug5 + timedelta(days=1))
    }
    assert set(late) == {auth, clear}
    assert late[clear].occurred_time == datetime(2026, 8, 1, 18, tzinfo=UTC)
    assert late[clear].original_auth_uuid == auth and late[auth].matched_clear_uuid == clear
    assert decide(late[clear]).lines[0].amount == Decimal("455.6")
    auth_decision = decide(late[auth])
    assert auth_decision.action == "skip" and clear in auth_decision.reason
    # The updated window's end is trimmed here, not sent (see TransactionWindow.to_filters).
    assert list_requests(api)[-1].query["filters"] == 'updatedTime:gte:"2026-08-05T00:00:00.000Z"'


def test_updated_window_end_is_trimmed_client_side(api, connect):
    inside = add(api, "2026-07-20T10:00:00.000+00:00", updatedTime="2026-08-01T23:59:59.999Z")
    add(api, "2026-07-20T10:00:00.000+00:00", updatedTime="2026-08-02T00:00:00.000Z")
    hook = connect(api)
    got = [t.uuid for t in hook.iter_transactions(updated_from=AUG1, updated_to=AUG2)]
    assert got == [inside]


def test_splits_are_expanded_and_post_one_line_per_child(api, connect):
    parent = add(api, "2026-08-01T12:00:00.000+00:00", amount=240.0, merchantName="Delta")
    first = api.state.add_transaction(
        {
            "parentTransactionUuid": parent,
            "transactionType": "CLEAR",
            "amount": 180.0,
            "occurredTime": "2026-08-01T12:00:00.000+00:00",
            "customFields": {"GL Account": "6200 - Travel"},
        }
    )["uuid"]
    second = api.state.add_transaction(
        {
            "parentTransactionUuid": parent,
            "transactionType": "CLEAR",
            "amount": 60.0,
            "occurredTime": "2026-08-01T12:00:00.000+00:00",
        }
    )["uuid"]
    hook = connect(api)

    (txn,) = hook.iter_transactions(occurred_from=AUG1, occurred_to=AUG2)
    assert txn.uuid == parent and txn.child_uuids == (first, second)
    assert [c.uuid for c in txn.children] == [first, second]
    decision = decide(txn, PostingRules())
    assert decision.action == "post"
    assert [(line.source_uuid, line.amount) for line in decision.lines] == [
        (first, Decimal("180")),
        (second, Decimal("60")),
    ]
    assert decision.lines[0].coding["GL Account"] == ("6200 - Travel",)
    assert decision.lines[1].coding_uuid == parent  # uncoded child falls back to the parent
    children_fetched = [r.path for r in api.requests if r.path.endswith((first, second))]
    assert len(children_fetched) == 2

    unexpanded = next(iter(hook.iter_transactions(occurred_from=AUG1, expand_splits=False)))
    assert unexpanded.children == () and decide(unexpanded).action == "hold"


def test_refund_reversal_decline_and_incomplete_through_the_api(api, connect):
    refund = add(api, "2026-08-01T01:00:00.000+00:00", amount=-25.0)
    reversal = add(
        api, "2026-08-01T02:00:00.000+00:00", amount=-45.0, transactionType="AUTHORIZATION"
    )
    decline = add(
        api,
        "2026-08-01T03:00:00.000+00:00",
        transactionType="DECLINE",
        declineReason="Card is frozen.",
    )
    incomplete = add(
        api, "2026-08-01T04:00:00.000+00:00", complete=False, customFields={"GL Account": None}
    )
    synced = add(
        api,
        "2026-08-01T05:00:00.000+00:00",
        accountingIntegrationTransactions=[
            {"syncStatus": "synced", "integrationType": "Sage Intacct"}
        ],
    )
    hook = connect(api)
    decisions = {t.uuid: decide(t) for t in hook.iter_transactions(occurred_from=AUG1)}

    assert decisions[refund].action == "post"
    assert decisions[refund].lines[0].amount == Decimal("-25")
    assert decisions[reversal].action == "skip" and "Reversal" in decisions[reversal].reason
    assert decisions[decline].action == "skip" and "Card is frozen" in decisions[decline].reason
    assert decisions[incomplete].action == "hold"
    assert decisions[synced].action == "skip" and "Divvy's own" in decisions[synced].reason


def test_a_generated_week_decides_every_row_and_posts_only_clears():
    week = generate_week(datetime(2026, 8, 3).date(), days=2, per_day=30)
    with running_divvy(week) as api, pytest.MonkeyPatch.context() as mp:
        import json

        from intacct_hook.hooks.divvy import DivvyHook

        mp.setenv(
            "AIRFLOW_CONN_DIVVY_DEFAULT",
            json.dumps({"conn_type": "divvy", "host": api.url, "password": api.token}),
        )
        txns = list(DivvyHook().iter_transactions())
        listed = api.state.parent_transactions()

    assert {t.uuid for t in txns} == {row["uuid"] for row in listed}
    decisions = [(t, decide(t)) for t in txns]
    actions = {d.action for _, d in decisions}
    assert actions == {"post", "hold", "skip"}
    for txn, decision in decisions:
        if decision.action == "post":
            assert txn.transaction_type is TransactionType.CLEAR
            assert sum(line.amount for line in decision.lines) == txn.amount
        assert decision.reason


def test_dedupe_memory_is_bounded_to_recent_pages(api, connect):
    for h in range(1, 7):
        add(api, f"2026-08-01T{h:02d}:00:00.000+00:00")  # 6 rows: 6 pages of 1
    hook = connect(api, hook_kwargs={"dedupe_pages": 2})
    walk = hook.iter_transactions(occurred_from=AUG1, occurred_to=AUG2, page_size=1)
    first = next(walk).uuid
    next(walk)
    # One row inserted behind the cursor: the next page repeats the second row (dropped, it
    # is within the last 2 pages) ...
    add(api, "2026-08-01T00:30:00.000+00:00")
    third = next(walk).uuid
    # ... three more inserts push the cursor back to the first row, 3 pages ago: it is
    # returned again, and callers that key on uuid (the ledger) absorb it.
    for s in range(3):
        add(api, f"2026-08-01T00:0{s}:00.000+00:00")
    rest = [t.uuid for t in walk]
    assert third != first and first in rest
    with pytest.raises(ValueError):
        connect(api, hook_kwargs={"dedupe_pages": 0})


def test_an_unreadable_row_raises_or_goes_to_the_callback(api, connect):
    good = add(api, "2026-08-01T10:00:00.000+00:00")
    bad = add(api, "2026-08-01T11:00:00.000+00:00")
    with api.state.lock:
        api.state.transactions[bad]["amount"] = "twelve"
    hook = connect(api)
    with pytest.raises(DivvyRecordError, match=bad):
        list(hook.iter_transactions(occurred_from=AUG1, occurred_to=AUG2))

    kept: list[tuple[str, str]] = []
    walk = hook.iter_transactions(
        occurred_from=AUG1,
        occurred_to=AUG2,
        on_invalid_row=lambda row, exc: kept.append((row["uuid"], exc.field)),
    )
    assert [t.uuid for t in walk] == [good]
    assert kept == [(bad, "amount")]


def test_find_transaction_is_none_only_for_a_transaction_divvy_does_not_know(api, connect):
    from types import SimpleNamespace

    from intacct_hook.divvy.errors import DivvyApiError

    kept = api.state.add_transaction({"amount": 5, "merchantName": "Staples"})["uuid"]
    gone = api.state.add_transaction({"amount": 6, "merchantName": "Staples"})["uuid"]
    api.state.delete_transaction(gone)
    hook = connect(api)

    assert hook.find_transaction(kept).uuid == kept
    assert hook.find_transaction(gone) is None
    # A wrong base path answers 404 "API not supported": no word on the transaction.
    wrong = connect(
        SimpleNamespace(url=api.url.removesuffix("/connect") + "/elsewhere", token=api.token)
    )
    with pytest.raises(DivvyApiError, match="API not supported") as raised:
        wrong.find_transaction(kept)
    assert raised.value.status == 404
