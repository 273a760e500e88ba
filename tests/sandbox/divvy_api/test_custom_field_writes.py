"""Custom-field writes (reference §3): create a field, create / rename / delete a value, strictly.

What the live API does for a value rename and for deleting a value in use is unverified; both
answers are options of the emulator (README), and each is tested here.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests

from sandbox.divvy_api.testing import DivvyHandle

from .conftest import BDC_KEYS, Client

GL = "tty_glaccount000000000000000001"
MEMO = "tty_memo00000000000000000000006"


def send(client: Client, method: str, path: str, body: Any = None, **kw: Any) -> requests.Response:
    return client.session.request(
        method,
        f"{client.handle.url}/v3/spend/{path}",
        json=body,
        headers={"apiToken": client.handle.token},
        timeout=10,
        **kw,
    )


def values(client: Client, field: str, **params: Any) -> list[str]:
    return [
        v["value"] for v in client.walk(f"custom-fields/{field}/values", {"max": 100, **params})
    ]


def test_create_field_then_values_and_list_them(client: Client) -> None:
    created = send(client, "POST", "custom-fields", {"name": "Cost Center", "required": False})
    assert created.status_code == 201, created.text
    field = created.json()
    assert field["uuid"].startswith("tty_") and field["type"] == "CUSTOM_SELECTOR"
    assert not field["retired"] and field["id"]
    listed = client.walk("custom-fields", {"filters": 'name:eq:"Cost Center"'})
    assert [f["uuid"] for f in listed] == [field["uuid"]]
    value = send(client, "POST", f"custom-fields/{field['uuid']}/values", {"value": "CC1 - One"})
    assert value.status_code == 201 and value.json()["value"] == "CC1 - One"
    assert not value.json()["deleted"] and value.json()["uuid"].startswith("tvl_")
    # by the base64 id too
    other = send(client, "POST", f"custom-fields/{field['id']}/values", {"value": "CC2 - Two"})
    assert other.status_code == 201
    assert values(client, field["uuid"]) == ["CC1 - One", "CC2 - Two"]


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({}, 400, "name: must not be blank"),
        ({"name": "  "}, 400, "name: must not be blank"),
        ({"name": " X"}, 400, "name: must not start or end with spaces"),
        ({"name": "X" * 101}, 400, "name: size must be between 1 and 100"),
        ({"name": "X", "type": "TEXT"}, 400, "type: must be one of CUSTOM_SELECTOR, NOTE"),
        ({"name": "X", "required": "yes"}, 400, "required: must be a boolean"),
        ({"name": "X", "colour": "red"}, 400, "Unrecognized field(s): colour"),
        ({"name": "gl account"}, 409, "A custom field named gl account already exists"),
    ],
)
def test_create_field_validation(client: Client, body: Any, status: int, message: str) -> None:
    answer = send(client, "POST", "custom-fields", body)
    assert answer.status_code == status
    assert set(answer.json()[0]) == BDC_KEYS and answer.json()[0]["message"] == message


def test_create_value_validation(client: Client) -> None:
    assert send(client, "POST", f"custom-fields/{GL}/values", ["x"]).status_code == 400
    dup = send(client, "POST", f"custom-fields/{GL}/values", {"value": "6100 - Office Supplies"})
    assert dup.status_code == 409 and dup.json()[0]["message"].endswith("already exists")
    extra = send(client, "POST", f"custom-fields/{GL}/values", {"value": "1", "retired": False})
    assert extra.status_code == 400
    note = send(client, "POST", f"custom-fields/{MEMO}/values", {"value": "x"})
    assert note.status_code == 400 and "has no values" in note.json()[0]["message"]
    missing = send(client, "POST", "custom-fields/tty_nope/values", {"value": "x"})
    assert missing.status_code == 404 and set(missing.json()[0]) == BDC_KEYS
    bad_json = client.session.post(
        f"{client.handle.url}/v3/spend/custom-fields/{GL}/values",
        data=b"{not json",
        headers={"apiToken": client.handle.token, "Content-Type": "application/json"},
        timeout=10,
    )
    assert bad_json.status_code == 400
    # a deleted value's text may be created again (emulator choice, README)
    assert send(client, "POST", f"custom-fields/{GL}/values", {"value": "6999 - Old Expenses"}).ok


def _value_uuid(client: Client, field: str, text: str) -> str:
    rows = client.walk(f"custom-fields/{field}/values", {"max": 100})
    return next(r["uuid"] for r in rows if r["value"] == text)


def test_delete_retires_value_and_keeps_it_on_transactions(
    divvy: DivvyHandle, client: Client
) -> None:
    uuid = _value_uuid(client, GL, "6200 - Travel")
    gone = send(client, "DELETE", f"custom-fields/{GL}/values/{uuid}")
    assert gone.status_code == 204 and gone.content == b""
    assert "6200 - Travel" not in values(client, GL)
    assert "6200 - Travel" in values(client, GL, filters="retired:eq:true")
    again = send(client, "DELETE", f"custom-fields/{GL}/values/{uuid}")
    assert again.status_code == 404 and set(again.json()[0]) == BDC_KEYS
    assert send(client, "DELETE", f"custom-fields/{GL}/values/tvl_nope").status_code == 404


def test_delete_in_use_refused_when_so_configured(divvy: DivvyHandle, client: Client) -> None:
    divvy.state.value_delete_in_use = "refuse"
    divvy.state.add_transaction({"customFields": {"GL Account": "6300 - Meals"}})
    used = _value_uuid(client, GL, "6300 - Meals")
    refused = send(client, "DELETE", f"custom-fields/{GL}/values/{used}")
    assert refused.status_code == 409 and "used by transactions" in refused.json()[0]["message"]
    assert "6300 - Meals" in values(client, GL)
    unused = send(client, "POST", f"custom-fields/{GL}/values", {"value": "8000 - New"}).json()
    assert not divvy.state.value_in_use(unused["uuid"])
    unused = unused["uuid"]
    assert send(client, "DELETE", f"custom-fields/{GL}/values/{unused}").status_code == 204


def test_patch_value_only_when_enabled(divvy: DivvyHandle, client: Client) -> None:
    uuid = _value_uuid(client, GL, "6500 - Advertising")
    path = f"custom-fields/{GL}/values/{uuid}"
    off = send(client, "PATCH", path, {"value": "6500 - Marketing"})
    assert off.status_code == 405 and set(off.json()[0]) == BDC_KEYS
    divvy.state.value_patch = True
    on = send(client, "PATCH", path, {"value": "6500 - Marketing"})
    assert on.status_code == 200 and on.json() == {**on.json(), "uuid": uuid}
    assert "6500 - Marketing" in values(client, GL)
    clash = send(client, "PATCH", path, {"value": "6100 - Office Supplies"})
    assert clash.status_code == 409
    assert send(client, "PATCH", path, {"value": ""}).status_code == 400


def test_other_write_methods_and_paths_refused(client: Client) -> None:
    assert send(client, "PUT", f"custom-fields/{GL}", {"name": "x"}).status_code == 405
    assert send(client, "POST", "budgets", {"name": "x"}).status_code == 405
    no_token = requests.post(
        f"{client.handle.url}/v3/spend/custom-fields", json={"name": "x"}, timeout=10
    )
    assert no_token.status_code == 401


def test_values_list_paging_max_100(divvy: DivvyHandle, client: Client) -> None:
    for n in range(120):  # straight into the state: 120 POSTs would meet the rate limit
        divvy.state.create_value(GL, f"9{n:03d} - N")
    over = client.get(f"custom-fields/{GL}/values", {"max": 101})
    assert over.status_code == 400
    assert over.json()[0]["message"] == "max: must be less than or equal to 100"
    assert len(values(client, GL)) == 9 + 120
