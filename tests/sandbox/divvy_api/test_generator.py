"""The deterministic week generator: realistic lifecycles, and the seed served over HTTP."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, timedelta
from typing import Any

import pytest

from sandbox.divvy_api.generator import generate_week
from sandbox.divvy_api.state import DivvyState, sync_status
from sandbox.divvy_api.testing import running_divvy
from sandbox.divvy_api.util import parse_time

from .conftest import Client

START = date(2026, 11, 16)


@pytest.fixture(scope="module")
def week() -> dict[str, Any]:
    return generate_week(START)


@pytest.fixture(scope="module")
def rows(week: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return DivvyState(week).transactions


def gl(row: dict[str, Any]) -> str | None:
    for field in row["customFields"]:
        if field["name"] == "GL Account" and field["selectedValues"]:
            return field["selectedValues"][0]["value"]
    return None


def test_same_seed_same_week_other_seed_other_week(week: dict[str, Any]) -> None:
    assert json.dumps(generate_week(START)) == json.dumps(week)
    assert json.dumps(generate_week(START, seed=8)) != json.dumps(week)
    assert generate_week(START, days=1, per_day=5)["transactions"]


def test_every_lifecycle_is_present(rows: dict[str, dict[str, Any]]) -> None:
    kinds = Counter((r["transactionType"], r["amount"] < 0) for r in rows.values() if r["isParent"])
    assert kinds[("AUTHORIZATION", False)] > 100
    assert kinds[("CLEAR", False)] > 100
    assert kinds[("AUTHORIZATION", True)] >= 2  # reversals
    assert kinds[("CLEAR", True)] >= 2  # refunds
    assert kinds[("DECLINE", False)] >= 2
    assert all(r["declineReason"] for r in rows.values() if r["transactionType"] == "DECLINE")


def test_clears_are_new_records_linked_to_their_authorization(
    rows: dict[str, dict[str, Any]],
) -> None:
    linked = [r for r in rows.values() if r["originalAuthTransactionUuid"]]
    assert len(linked) > 100
    differ = 0
    for clear in linked:
        auth = rows[clear["originalAuthTransactionUuid"]]
        assert clear["uuid"] != auth["uuid"] and clear["transactionType"] == "CLEAR"
        assert auth["matchedClearTransactionUuid"] == clear["uuid"]
        assert auth["occurredTime"] == clear["occurredTime"]
        differ += auth["amount"] != clear["amount"]
    assert differ >= 5  # tips, hotels, fuel


def test_late_clears_and_clears_beyond_the_week(week: dict[str, Any], rows: dict) -> None:
    late = [
        r
        for r in rows.values()
        if r["originalAuthTransactionUuid"]
        and parse_time(r["updatedTime"]) - parse_time(r["occurredTime"]) > timedelta(days=2)
    ]
    assert len(late) >= 3
    as_of = parse_time(week["asOf"])
    assert all(parse_time(r["updatedTime"]) < as_of for r in rows.values())
    scheduled = week["scheduledClears"]
    assert scheduled and all(parse_time(s["clearAt"]) >= as_of for s in scheduled)
    assert any(parse_time(s["clearAt"]) > as_of + timedelta(days=2) for s in scheduled)
    for item in scheduled:
        assert rows[item["authUuid"]]["matchedClearTransactionUuid"] is None


def test_apply_scheduled_clears(week: dict[str, Any]) -> None:
    state = DivvyState(week)
    first = week["scheduledClears"][0]
    made = state.apply_scheduled_clears(first["clearAt"])
    assert made and made[0]["uuid"] == first["clearUuid"]
    assert made[0]["updatedTime"] == first["clearAt"]
    auth = state.get_transaction(first["authUuid"])
    assert auth is not None and auth["matchedClearTransactionUuid"] == first["clearUuid"]
    assert len(state.scheduled_clears) == len(week["scheduledClears"]) - len(made)


def test_splits_children_sum_to_parent_with_own_coding(rows: dict[str, dict[str, Any]]) -> None:
    parents = [r for r in rows.values() if r["childTransactionUuids"]]
    assert len(parents) >= 3
    for parent in parents:
        children = [rows[u] for u in parent["childTransactionUuids"]]
        assert len(children) >= 2
        assert sum(round(c["amount"] * 100) for c in children) == round(parent["amount"] * 100)
        assert all(gl(c) for c in children) and gl(parent) is None


def test_coding_variety(rows: dict[str, dict[str, Any]]) -> None:
    clears = [r for r in rows.values() if r["transactionType"] == "CLEAR" and r["amount"] > 0]
    accounts = Counter(gl(r) for r in clears)
    assert {"6100 - Office Supplies", "6200 - Travel", "6300 - Meals", "6400 - Software"} <= set(
        accounts
    )
    assert accounts["7777 - Unknown"] >= 1 and accounts["6250 - Travel - Client"] >= 1
    incomplete = [r for r in clears if not r["complete"]]
    assert incomplete and all(gl(r) is None for r in incomplete)
    coverable = [
        r
        for r in clears
        if r["complete"] and gl(r) is None and not r["childTransactionUuids"] and r["isParent"]
    ]
    assert coverable and all(
        r["budgetName"] == "Marketing" or r["merchantCategoryCode"] == "5812" for r in coverable
    )
    assert any(sync_status(r) == "SYNCED" for r in clears)
    empty_location = [
        r
        for r in clears
        for f in r["customFields"]
        if f["name"] == "Location" and not f["selectedValues"]
    ]
    assert empty_location
    for row in clears:
        if gl(row) == "6250 - Travel - Client":
            assert any(f["name"] == "Department" for f in row["customFields"])


def test_awkward_merchants_and_midnight_times(rows: dict[str, dict[str, Any]]) -> None:
    merchants = {r["merchantName"] for r in rows.values()}
    joined = "".join(merchants)
    for char in ("&", "<", ">", '"', "'", "ü", "🍕"):
        assert char in joined, char
    near_midnight = [
        r
        for r in rows.values()
        if r["occurredTime"][11:16] >= "23:50" or r["occurredTime"][11:16] < "00:10"
    ]
    assert len(near_midnight) >= 10


def test_generated_week_over_http(week: dict[str, Any]) -> None:
    with running_divvy(week) as divvy:
        client = Client(divvy)
        pizza = client.get(
            "transactions", {"filters": 'merchantName:eq:"🍕 Pizza Place"', "max": 50}
        ).json()["results"]
        assert pizza and all(r["merchantName"] == "🍕 Pizza Place" for r in pizza)
        day = client.get(
            "transactions",
            {
                "max": 50,
                "filters": 'occurredTime:gte:"2026-11-17T00:00:00.000Z",'
                'occurredTime:lte:"2026-11-18T00:00:00.000Z",type:eq:CLEAR',
            },
        ).json()["results"]
        assert day and all(r["occurredTime"].startswith("2026-11-17") for r in day)
