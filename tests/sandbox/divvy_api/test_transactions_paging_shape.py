"""Cursors, the §2.5 record shape, GET by id, and live-state mutation between pages."""

from __future__ import annotations

import base64
import re
from datetime import date

import pytest

from sandbox.divvy_api.generator import generate_week
from sandbox.divvy_api.testing import DivvyHandle, running_divvy

from .conftest import BDC_KEYS, Client

TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+00:00$")
SHAPE_KEYS = {
    "id", "uuid", "transactionType", "status", "complete", "amount", "fees", "currencyData",
    "merchantName", "rawMerchantName", "merchantCategoryCode", "occurredTime", "authorizedTime",
    "updatedTime", "userUuid", "userName", "budgetUuid", "budgetName", "cardUuid",
    "cardLastFour", "originalAuthTransactionUuid", "matchedClearTransactionUuid", "isParent",
    "parentTransactionUuid", "childTransactionUuids", "isLocked", "isReconciled",
    "receiptStatus", "customFields", "reviews", "reviewers",
    "accountingIntegrationTransactions", "declineReason",
}  # fmt: skip


def test_walk_with_small_pages_sees_every_parent_once(client: Client) -> None:
    first = client.get("transactions", {"max": 5}).json()
    assert first["prevPage"] is None
    assert base64.b64decode(first["nextPage"]).decode() == "arrayconnection:4"
    rows = client.walk("transactions", {"max": 5})
    assert len(rows) == len({r["uuid"] for r in rows}) == 12


def test_last_page_has_null_next_and_past_the_end_is_empty(client: Client) -> None:
    last = client.get("transactions", {"max": 5, "nextPage": _cursor(9)}).json()
    assert len(last["results"]) == 2 and last["nextPage"] is None
    beyond = client.get("transactions", {"max": 5, "nextPage": _cursor(40)}).json()
    assert beyond["results"] == [] and beyond["nextPage"] is None


def test_prev_page_goes_back(client: Client) -> None:
    page1 = client.get("transactions", {"max": 5}).json()
    page2 = client.get("transactions", {"max": 5, "nextPage": page1["nextPage"]}).json()
    back = client.get("transactions", {"max": 5, "prevPage": page2["prevPage"]}).json()
    assert [r["uuid"] for r in back["results"]] == [r["uuid"] for r in page1["results"]]


def test_bad_cursor_is_400(client: Client) -> None:
    for cursor in ("not base64!", base64.b64encode(b"offset:3").decode()):
        response = client.get("transactions", {"nextPage": cursor})
        assert response.status_code == 400
        assert response.json()[0]["message"] == "nextPage: invalid cursor"


def test_page_param_does_not_advance(client: Client) -> None:
    first = client.get("transactions", {"max": 5}).json()
    again = client.get("transactions", {"max": 5, "page": first["nextPage"]}).json()
    assert again["results"] == first["results"]


def test_insert_between_pages_shifts_the_offset(divvy: DivvyHandle, client: Client) -> None:
    page1 = client.get("transactions", {"max": 5}).json()
    divvy.state.add_transaction({"occurredTime": "2026-11-30T12:00:00Z", "merchantName": "New"})
    page2 = client.get("transactions", {"max": 5, "nextPage": page1["nextPage"]}).json()
    # A newer row pushed everything down one: the last row of page 1 comes back (a duplicate).
    assert page2["results"][0]["uuid"] == page1["results"][-1]["uuid"]


def test_filters_are_read_from_each_request_not_the_cursor(client: Client) -> None:
    page1 = client.get("transactions", {"max": 2, "filters": "type:eq:CLEAR"}).json()
    cursor = page1["nextPage"]
    bare = client.get("transactions", {"max": 2, "nextPage": cursor}).json()
    same = client.get("transactions", {"max": 2, "nextPage": cursor, "filters": "type:eq:CLEAR"})
    unfiltered = client.get("transactions", {"max": 50}).json()["results"][2:4]
    assert bare["results"] == unfiltered
    assert bare["results"] != same.json()["results"]


def test_record_shape(client: Client) -> None:
    rows = client.walk("transactions", {"max": 50})
    for row in rows:
        assert set(row) >= SHAPE_KEYS, SHAPE_KEYS - set(row)
        assert row["uuid"].startswith("txr_")
        assert base64.b64decode(row["id"]).startswith(b"Transaction:")
        assert TIME_RE.match(row["occurredTime"]) and TIME_RE.match(row["updatedTime"])
        assert round(row["amount"], 2) == row["amount"]
        assert row["currencyData"]["originalCurrencyAmount"] == str(round(row["amount"] * 100))
        assert "receipts" not in row
        assert row["isParent"] is True
    by_uuid = {r["uuid"]: r for r in rows}
    assert by_uuid["txr_seedrefd0005000000000000005"]["accountingIntegrationTransactions"] is None
    synced = by_uuid["txr_seedsync0007000000000000007"]["accountingIntegrationTransactions"]
    assert synced[0]["syncStatus"] == "synced"
    assert "syncStatus" not in by_uuid["txr_seedsync0007000000000000007"]
    gl = by_uuid["txr_seedclear001000000000000001"]["customFields"][0]
    assert gl["name"] == "GL Account" and gl["uuid"].startswith("tty_")
    assert gl["selectedValues"][0]["value"] == "6100 - Office Supplies"
    assert set(gl) == {"id", "uuid", "name", "note", "isRequired", "selectedValues"}
    decline = by_uuid["txr_seeddecl0004000000000000004"]
    assert decline["declineReason"] == "CVV is invalid." and decline["status"] == "DECLINED"


def test_get_by_uuid_or_id_includes_receipts_and_children(client: Client) -> None:
    parent = client.get("transactions/txr_seedsplt0006000000000000006").json()
    assert "receipts" in parent
    children = [client.get(f"transactions/{u}").json() for u in parent["childTransactionUuids"]]
    assert sum(round(c["amount"] * 100) for c in children) == round(parent["amount"] * 100)
    assert all(c["parentTransactionUuid"] == parent["uuid"] and not c["isParent"] for c in children)
    by_id = client.get(f"transactions/{parent['id']}").json()
    assert by_id["uuid"] == parent["uuid"]


def test_unknown_transaction_is_404_bdc(client: Client) -> None:
    response = client.get("transactions/txr_doesnotexist")
    assert response.status_code == 404
    assert set(response.json()[0]) == BDC_KEYS


def test_show_custom_field_ids_limits_fields(client: Client) -> None:
    row = client.get(
        "transactions/txr_seedclear001000000000000001",
        {"showCustomFieldIds": "tty_location0000000000000000002"},
    ).json()
    assert [f["name"] for f in row["customFields"]] == ["Location"]


def test_late_clear_is_a_new_record_linked_both_ways(divvy: DivvyHandle, client: Client) -> None:
    auth_uuid = "txr_seedauth0003000000000000003"
    before = client.get(f"transactions/{auth_uuid}").json()
    clear = divvy.state.clear_authorization(auth_uuid, amount=455.30)
    assert clear["uuid"] != auth_uuid and clear["transactionType"] == "CLEAR"
    assert clear["originalAuthTransactionUuid"] == auth_uuid
    assert clear["occurredTime"] == before["occurredTime"]
    after = client.get(f"transactions/{auth_uuid}").json()
    assert after["matchedClearTransactionUuid"] == clear["uuid"]
    assert after["updatedTime"] > before["updatedTime"]
    newest = max(r["updatedTime"] for r in client.walk("transactions", {"max": 50}))
    assert clear["updatedTime"] == newest or after["updatedTime"] == newest
    found = client.get(
        "transactions", {"filters": f'updatedTime:gte:"{clear["updatedTime"][:23]}Z"'}
    ).json()["results"]
    assert clear["uuid"] in {r["uuid"] for r in found}


def test_update_transaction_recodes_and_bumps(divvy: DivvyHandle, client: Client) -> None:
    uuid = "txr_seednogl0008000000000000008"
    old = client.get(f"transactions/{uuid}").json()
    divvy.state.update_transaction(uuid, customFields={"GL Account": "6500 - Advertising"})
    new = client.get(f"transactions/{uuid}").json()
    assert new["customFields"][0]["selectedValues"][0]["value"] == "6500 - Advertising"
    assert new["updatedTime"] > old["updatedTime"]


def test_generated_week_pages_completely() -> None:
    seed = generate_week(date(2026, 11, 16), days=2, per_day=30)
    expected = {t["uuid"] for t in seed["transactions"] if not t.get("parentTransactionUuid")}
    with running_divvy(seed, calls_per_minute=1000) as divvy:
        rows = Client(divvy).walk("transactions", {"max": 50})
    assert {r["uuid"] for r in rows} == expected
    assert len(rows) == len(expected) > 50


def _cursor(offset: int) -> str:
    return base64.b64encode(f"arrayconnection:{offset}".encode()).decode()


def test_a_deleted_transaction_is_listed_no_more_and_answers_404_by_uuid_and_id(
    client: Client, divvy: DivvyHandle
) -> None:
    # Divvy documents no deletion event: a deleted transaction just stops being listed, and
    # GET by id answers 404 with its BDC error body (what the recode step relies on).
    before = client.walk("transactions", {"max": 50})
    [gone] = [r for r in before if r["childTransactionUuids"]][:1]
    child = gone["childTransactionUuids"][0]

    divvy.state.delete_transaction(gone["uuid"])

    after = client.walk("transactions", {"max": 50})
    assert gone["uuid"] not in {r["uuid"] for r in after} and len(after) == len(before) - 1
    for key in (gone["uuid"], gone["id"], child):
        response = client.get(f"transactions/{key}")
        assert response.status_code == 404, key
        [error] = response.json()
        assert set(error) == BDC_KEYS and "not found" in error["message"]
    with pytest.raises(KeyError):
        divvy.state.delete_transaction(gone["uuid"])
