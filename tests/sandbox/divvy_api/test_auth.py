"""Authentication: the apiToken header, OAuth client credentials, and secret masking."""

from __future__ import annotations

import requests

from sandbox.divvy_api.testing import DivvyHandle

from .conftest import BDC_KEYS, Client


def test_missing_token_is_401_with_a_bdc_array(client: Client) -> None:
    response = client.get("transactions", headers={})
    assert response.status_code == 401
    body = response.json()
    assert isinstance(body, list) and set(body[0]) == BDC_KEYS
    assert body[0]["severity"] == "ERROR"


def test_wrong_token_is_401(client: Client) -> None:
    assert client.get("transactions", headers={"apiToken": "nope"}).status_code == 401


def test_bearer_header_is_not_the_api_token(client: Client, divvy: DivvyHandle) -> None:
    # The live API wants `apiToken`, not `Authorization: Bearer <apiToken>` (§1).
    headers = {"Authorization": f"Bearer {divvy.token}"}
    assert client.get("users/current", headers=headers).status_code == 401


def test_current_user_is_the_token_owner(client: Client) -> None:
    response = client.get("users/current")
    assert response.status_code == 200
    assert response.json()["role"] == "ADMIN"
    assert response.json()["uuid"] == "usr_admin0000000000000000000001"


def test_oauth_client_credentials_then_bearer(client: Client, divvy: DivvyHandle) -> None:
    token = requests.post(
        divvy.token_url,
        data={
            "grant_type": "client_credentials",
            "client_id": divvy.client_id,
            "client_secret": divvy.client_secret,
        },
        timeout=5,
    )
    assert token.status_code == 200
    body = token.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] > 0
    response = client.get(
        "users/current", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert response.status_code == 200
    assert response.json()["role"] == "ADMIN"


def test_oauth_rejects_bad_secret_and_grant(divvy: DivvyHandle) -> None:
    bad = {"grant_type": "client_credentials", "client_id": divvy.client_id, "client_secret": "x"}
    assert requests.post(divvy.token_url, data=bad, timeout=5).status_code == 401
    grant = {**bad, "grant_type": "password", "client_secret": divvy.client_secret}
    response = requests.post(divvy.token_url, data=grant, timeout=5)
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


def test_request_log_masks_secrets(client: Client, divvy: DivvyHandle) -> None:
    client.get("transactions", {"max": 5, "filters": "type:eq:CLEAR"})
    method, path, query, headers = divvy.requests[-1]
    assert (method, path) == ("GET", "/connect/v3/spend/transactions")
    assert query == {"max": "5", "filters": "type:eq:CLEAR"}
    assert headers["apiToken"] == "***"
    assert divvy.token not in repr(divvy.requests)
    assert divvy.requests[-1].status == 200
