"""`max`, `filters` and `sort` on the transactions list, strict as the live API (§2.2, §2.3)."""

from __future__ import annotations

import pytest

from .conftest import BDC_KEYS, Client

SPLIT_CHILD = "txr_seedsplt0006child0000000001"


def uuids(client: Client, **params: object) -> list[str]:
    response = client.get("transactions", {"max": 50, **params})
    assert response.status_code == 200, response.text
    return [row["uuid"] for row in response.json()["results"]]


def error(client: Client, **params: object) -> str:
    response = client.get("transactions", params)
    assert response.status_code == 400, response.text
    body = response.json()
    assert set(body[0]) == BDC_KEYS
    return body[0]["message"]


def test_max_bounds_and_messages(client: Client) -> None:
    assert len(uuids(client, max=50)) == 12  # all parents of the default seed
    assert len(client.get("transactions").json()["results"]) == 12
    assert len(client.get("transactions", {"max": 4}).json()["results"]) == 4
    assert error(client, max=51) == "max: must be less than or equal to 50"
    assert error(client, max=0) == "max: must be greater than or equal to 1"
    assert error(client, max="ten").startswith("max:")


def test_default_page_size_is_20(divvy, client: Client) -> None:
    for day in range(25):
        divvy.state.add_transaction({"occurredTime": f"2026-10-01T{day % 24:02d}:00:00Z"})
    assert len(client.get("transactions").json()["results"]) == 20


def test_default_order_is_newest_first(client: Client) -> None:
    rows = client.get("transactions", {"max": 50}).json()["results"]
    times = [row["occurredTime"] for row in rows]
    assert times == sorted(times, reverse=True)


def test_only_parents_are_listed(client: Client) -> None:
    listed = uuids(client)
    assert "txr_seedsplt0006000000000000006" in listed
    assert SPLIT_CHILD not in listed


@pytest.mark.parametrize(
    ("filters", "fragment"),
    [
        ("bogus:eq:1", "unknown field 'bogus'"),
        ("type:like:CLEAR", "unknown operator 'like'"),
        ('occurredTime:eq:"2026-11-16"', "operator 'eq' is not supported"),
        ('occurredTime:gt:"2026-11-16"', "operator 'gt' is not supported"),
        ("status:eq:COMPLETE", "unknown field 'status'"),
        ("transactionType:eq:CLEAR", "unknown field 'transactionType'"),
        ("complete:ne:true", "operator 'ne' is not supported"),
        ("budgetId:ne:x", "operator 'ne' is not supported"),
        ("type:eq:SETTLED", "invalid value 'SETTLED'"),
        ("complete:eq:yes", "invalid boolean"),
        ("occurredTime:lte:2026-06-26T23:59:59", "invalid filter term"),  # unquoted colons
        ('occurredTime:gte:"26-11-2026"', "invalid date"),
        ('occurredTime:gte:"2026-11-16T00:00:00Z"', "invalid date"),  # zone only after .SSS
        ("type:in:CLEAR,DECLINE", "invalid filter term"),  # unquoted list splits the term
        ('type:eq:"CLEAR', "unterminated"),
    ],
)
def test_bad_filters_are_400(client: Client, filters: str, fragment: str) -> None:
    assert fragment in error(client, filters=filters)


def test_time_window_and_date_only_lte_means_start_of_day(client: Client) -> None:
    # Date-only lte is midnight at the START of the day, so the day itself is excluded (§2.2).
    same_day = uuids(client, filters="occurredTime:gte:2026-11-16,occurredTime:lte:2026-11-16")
    assert same_day == []
    window = 'occurredTime:gte:"2026-11-16T00:00:00.000Z",occurredTime:lte:"2026-11-17"'
    got = uuids(client, filters=window)
    # 23:58:30 on the 16th is in; 00:02:10 on the 17th is out.
    assert "txr_seedauth0002000000000000002" in got
    assert "txr_seedauth0003000000000000003" not in got
    assert len(got) == 4


@pytest.mark.parametrize(
    "bound",
    [
        '"2026-11-17T00:02:10.000Z"',
        '"2026-11-17T00:02:10.000+00:00"',
        '"2026-11-17T00:02:10.000+0000"',
        '"2026-11-16T19:02:10.000-05:00"',
        '"2026-11-17T00:02:10.000"',
        '"2026-11-17T00:02:10"',
    ],
)
def test_accepted_date_formats_are_inclusive(client: Client, bound: str) -> None:
    got = uuids(client, filters=f"occurredTime:gte:{bound},occurredTime:lte:{bound}")
    assert got == ["txr_seedauth0003000000000000003"]


def test_minute_precision_format(client: Client) -> None:
    got = uuids(
        client, filters='occurredTime:gte:"2026-11-16T23:58",occurredTime:lte:"2026-11-16T23:59"'
    )
    # The CLEAR keeps the purchase time of its authorization.
    assert set(got) == {"txr_seedauth0002000000000000002", "txr_seedclear002000000000000002"}


def test_updated_and_authorized_time_filters(client: Client) -> None:
    got = uuids(client, filters='updatedTime:gte:"2026-11-20T00:00:00.000Z"')
    assert set(got) == {
        "txr_seedsync0007000000000000007",
        "txr_seednogl0008000000000000008",
        "txr_seedunkn0009000000000000009",
        "txr_seedrevs0010000000000000010",
    }
    # A DECLINE has no authorizedTime, so no bound can match it.
    declined = "txr_seeddecl0004000000000000004"
    assert declined not in uuids(client, filters='authorizedTime:gte:"2026-01-01"')


def test_type_sync_complete_filters(client: Client) -> None:
    clears = uuids(client, filters='type:in:"CLEAR,DECLINE"')
    assert len(clears) == 8
    assert uuids(client, filters="type:eq:DECLINE") == ["txr_seeddecl0004000000000000004"]
    assert len(uuids(client, filters="type:ne:DECLINE")) == 11
    assert len(uuids(client, filters='type:nin:"CLEAR,DECLINE"')) == 4
    assert uuids(client, filters="syncStatus:eq:SYNCED") == ["txr_seedsync0007000000000000007"]
    assert len(uuids(client, filters="syncStatus:eq:NOT_SYNCED")) == 11
    assert uuids(client, filters="complete:eq:false") == ["txr_seedauth0003000000000000003"]


def test_id_filters_take_uuid_or_base64_id(client: Client) -> None:
    budget = client.get("budgets/bgt_engineering0000000000000004").json()
    by_uuid = uuids(client, filters=f"budgetId:eq:{budget['uuid']}")
    by_id = uuids(client, filters=f'budgetId:eq:"{budget["id"]}"')
    assert by_uuid == by_id == ["txr_seedsync0007000000000000007"]
    card_filter = 'cardId:in:"crd_jane000000000000000000000001,crd_software0000000000000000004"'
    assert len(uuids(client, filters=card_filter)) == 5
    assert len(uuids(client, filters="userId:eq:usr_member000000000000000000003")) == 3


def test_merchant_and_amount_filters(client: Client) -> None:
    assert uuids(client, filters='merchantName:eq:"🍕 Pizza Place"') == [
        "txr_seedsplt0006000000000000006"
    ]
    quoted = uuids(client, filters='merchantName:eq:"Ads & <Banners> Co"')
    assert quoted == ["txr_seednogl0008000000000000008"]
    refunds = uuids(client, filters="amount:lte:0")
    assert set(refunds) == {"txr_seedrefd0005000000000000005", "txr_seedrevs0010000000000000010"}
    assert uuids(client, filters="amount:gte:1000") == ["txr_seedsync0007000000000000007"]


def test_quoted_values_keep_commas_and_colons(divvy, client: Client) -> None:
    divvy.state.add_transaction({"merchantName": "A, B: C", "occurredTime": "2026-11-01T00:00:00Z"})
    assert len(uuids(client, filters='merchantName:eq:"A, B: C"')) == 1


def test_repeated_filters_parameter_honours_only_the_first(client: Client) -> None:
    response = client.get(
        "transactions",
        [("filters", "type:eq:DECLINE"), ("filters", "type:eq:CLEAR"), ("max", "50")],
    )
    assert [r["uuid"] for r in response.json()["results"]] == ["txr_seeddecl0004000000000000004"]


def test_semicolon_joined_terms_are_ignored(client: Client) -> None:
    assert uuids(client, filters="type:eq:DECLINE;type:eq:CLEAR") == uuids(
        client, filters="type:eq:DECLINE"
    )


def test_unknown_query_parameters_are_silently_ignored(client: Client) -> None:
    everything = uuids(client)
    assert uuids(client, start_date="2026-11-20", page_size=1, budget_id="x") == everything
    assert len(everything) == 12


def test_sort_rules(client: Client) -> None:
    rows = client.get("transactions", {"max": 50, "sort": "amount:asc"}).json()["results"]
    amounts = [row["amount"] for row in rows]
    assert amounts == sorted(amounts) and amounts[0] < 0
    names = client.get("transactions", {"sort": "merchantName:desc"}).json()["results"]
    assert [r["merchantName"] for r in names] == sorted(
        (r["merchantName"] for r in names), reverse=True
    )
    oldest = client.get("transactions", {"max": 1, "sort": "occurredTime:asc"}).json()
    assert oldest["results"][0]["uuid"] == "txr_seedauth0001000000000000001"
    assert "not sortable" in error(client, sort="updatedTime:asc")
    assert "not sortable" in error(client, sort="status:asc")
    assert error(client, sort="amount:up").startswith("sort:")
    assert error(client, sort="amount:asc,occurredTime:desc").startswith("sort:")
    assert error(client, sort="amount").startswith("sort:")
