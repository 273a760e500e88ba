"""Budgets, users, cards, custom fields and their values (reference §3), plus wrong paths."""

from __future__ import annotations

from .conftest import BDC_KEYS, Client


def names(client: Client, path: str, key: str = "name", **params: object) -> list[str]:
    response = client.get(path, params)
    assert response.status_code == 200, response.text
    return [row[key] for row in response.json()["results"]]


def test_budgets_list_filters_sort_and_max(client: Client) -> None:
    assert names(client, "budgets", max=100) == [
        "Operations", "Marketing", "Travel", "Engineering", "Events 2025",
    ]  # fmt: skip
    assert client.get("budgets", {"max": 101}).json()[0]["message"] == (
        "max: must be less than or equal to 100"
    )
    assert names(client, "budgets", filters='name:sw:"Mar"') == ["Marketing"]
    assert names(client, "budgets", filters="retired:eq:true") == ["Events 2025"]
    assert names(client, "budgets", sort="name:asc")[0] == "Engineering"
    # The singular `budgetId` is not a budgets filter (§3 LIVE-3P).
    assert client.get("budgets", {"filters": "budgetId:eq:x"}).status_code == 400
    ids = 'budgetIds:in:"bgt_travel00000000000000000003,bgt_marketing000000000000000002"'
    assert sorted(names(client, "budgets", filters=ids)) == ["Marketing", "Travel"]


def test_budgets_list_incomplete_fault(divvy, client: Client) -> None:
    divvy.state.budgets_list_incomplete = True
    assert names(client, "budgets") == ["Events 2025"]
    assert client.get("budgets/bgt_travel00000000000000000003").json()["name"] == "Travel"


def test_get_by_uuid_or_id_and_404(client: Client) -> None:
    budget = client.get("budgets/bgt_travel00000000000000000003").json()
    assert client.get(f"budgets/{budget['id']}").json()["uuid"] == budget["uuid"]
    card = client.get("cards/crd_jane000000000000000000000001").json()
    assert card["lastFour"] == "4417" and card["userUuid"].startswith("usr_")
    user = client.get("users/usr_member000000000000000000003").json()
    assert user["lastName"] == "O'Brien"
    missing = client.get("budgets/bgt_nope")
    assert missing.status_code == 404 and set(missing.json()[0]) == BDC_KEYS


def test_users_and_cards_lists(client: Client) -> None:
    assert len(names(client, "users", "email")) == 5
    assert names(client, "users", "lastName", filters="retired:eq:true") == ["Timer"]
    assert client.get("users", {"filters": "role:eq:ADMIN"}).status_code == 400
    user = "usr_admin0000000000000000000001"
    assert names(client, "cards", "lastFour", filters=f"userIds:in:{user}") == ["9034", "7702"]
    assert names(client, "cards", "lastFour", sort="lastFour:asc")[0] == "4417"
    assert names(client, "cards", "lastFour", filters="types:eq:VIRTUAL_VENDOR") == ["7702"]
    assert client.get("cards", {"filters": "status:eq:LOST"}).status_code == 400


def test_paging_other_lists(client: Client) -> None:
    rows = client.walk("users", {"max": 2})
    assert len(rows) == 5 and len({r["uuid"] for r in rows}) == 5


def test_custom_fields_and_values(client: Client) -> None:
    fields = client.get("custom-fields").json()["results"]
    by_name = {f["name"]: f for f in fields}
    assert {"GL Account", "Location", "Department", "Class", "Project"} <= set(by_name)
    assert by_name["GL Account"]["type"] == "CUSTOM_SELECTOR" and by_name["GL Account"]["required"]
    gl = by_name["GL Account"]["uuid"]
    values = names(client, f"custom-fields/{gl}/values", "value", max=100)
    assert "6100 - Office Supplies" in values and "6999 - Old Expenses" not in values
    deleted = names(client, f"custom-fields/{gl}/values", "value", filters="retired:eq:true")
    assert deleted == ["6999 - Old Expenses"]
    assert names(client, f"custom-fields/{gl}/values", "value", filters='name:sw:"62"') == [
        "6200 - Travel",
        "6250 - Travel - Client",
    ]
    assert names(client, "custom-fields", filters='name:eq:"GL Account"') == ["GL Account"]
    assert client.get("custom-fields/tty_nope/values").status_code == 404


def test_wrong_paths_and_methods(client: Client) -> None:
    members = client.get("members")  # does not exist live (§3 LIVE-3P)
    assert members.status_code == 404 and members.json()[0]["message"] == "API not supported"
    put = client.session.put(
        f"{client.handle.url}/v3/spend/transactions/x",
        headers={"apiToken": client.handle.token},
        timeout=5,
    )
    assert put.status_code == 405
