"""Testing a connection on Airflow 3.3.2: the UI's Test button, the REST API and the CLI, run
for real (the API server's FastAPI app, the ``airflow`` command) against both sandboxes.

Airflow 3.3.2's Test button sends ``port: 0`` for a connection without a port, and the API
refuses that as "a different destination" (fixed upstream in apache/airflow#73298, not
released). Our forms already hide the port; nothing in a provider can change what the button
sends. The README gives the working equivalents, which these tests run.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from sandbox.divvy_api.testing import running_divvy
from sandbox.intacct_gateway.testing import running_gateway

ROOT = pathlib.Path(__file__).resolve().parents[3]
INTACCT_EXTRA = {
    "company_id": "ACME-DEMO",
    "sender_id": "bill.com",
    "sender_password": "sender-pass-0001",
    "entity_id": "E100",
}
PORT_REFUSED = "The host or port to test differs from the stored connection"


@pytest.fixture(scope="module")
def gateway() -> Iterator[Any]:
    with running_gateway() as gw:
        yield gw


@pytest.fixture(scope="module")
def divvy() -> Iterator[Any]:
    with running_divvy() as dv:
        yield dv


def intacct_conn(gateway: Any, **changes: Any) -> dict[str, Any]:
    conn = {"conn_type": "intacct", "host": gateway.url, "login": "Divvy",
            "password": "ws-user-pass-0001", "extra": dict(INTACCT_EXTRA)}  # fmt: skip
    return conn | changes


def divvy_conn(divvy: Any, **changes: Any) -> dict[str, Any]:
    conn = {"conn_type": "divvy", "host": divvy.url, "password": divvy.token,
            "extra": {"timeout": 10}}  # fmt: skip
    return conn | changes


# --- the API server: what the UI calls ------------------------------------------------------


@pytest.fixture
def api(airflow_api) -> Any:
    return airflow_api


@pytest.fixture
def stored(api) -> Iterator[Any]:
    """Store connections as the UI's Add form does; removed again after the test."""
    created: list[str] = []

    def store(conn_id: str, conn: dict[str, Any]) -> dict[str, Any]:
        api.delete(f"/api/v2/connections/{conn_id}")
        body = conn | {"connection_id": conn_id, "extra": json.dumps(conn["extra"])}
        response = api.post("/api/v2/connections", json=body)
        assert response.status_code == 201, response.text
        created.append(conn_id)
        return api.get(f"/api/v2/connections/{conn_id}").json()

    yield store
    for conn_id in created:
        api.delete(f"/api/v2/connections/{conn_id}")


def button_request(listed: dict[str, Any]) -> dict[str, Any]:
    """The body the 3.3.2 UI's Test button posts for a listed connection: every field as the
    list returned it (secrets as "***"), ``port`` as ``Number(port)``, i.e. 0 when unset."""
    return {
        "conn_type": listed["conn_type"],
        "connection_id": listed["connection_id"],
        "description": listed["description"] or "",
        "extra": listed["extra"] or "{}",
        "host": listed["host"] or "",
        "login": listed["login"] or "",
        "password": listed["password"] or "",
        "port": listed["port"] or 0,
        "schema": listed["schema"] or "",
    }


def test_the_connection_form_offers_the_divvy_auth_types_as_a_choice(api):
    meta = {m["connection_type"]: m for m in api.get("/ui/connections/hook_meta").json()}
    divvy_fields = meta["divvy"]["extra_fields"]
    auth = divvy_fields["auth_type"]
    assert auth["schema"]["enum"] == ["api_token", "oauth_client_credentials"]
    assert auth["value"] == "api_token"
    # Neither type uses a port: the form hides it (and the Test button still sends 0).
    assert meta["intacct"]["standard_fields"]["port"]["hidden"] is True
    assert meta["divvy"]["standard_fields"]["port"]["hidden"] is True


@pytest.mark.parametrize("kind", ["intacct", "divvy"])
def test_airflow_3_3_2_refuses_the_test_buttons_request(api, stored, gateway, divvy, kind):
    # Pins the upstream bug the README documents: should a new Airflow accept this request
    # (apache/airflow#73298), this test fails and the README's Test button note can go.
    conn = intacct_conn(gateway) if kind == "intacct" else divvy_conn(divvy)
    listed = stored(f"ui_test_{kind}", conn)
    assert listed["port"] is None and listed["password"] == "***"

    response = api.post("/api/v2/connections/test", json=button_request(listed))

    assert response.status_code == 400
    assert PORT_REFUSED in response.json()["detail"]


@pytest.mark.parametrize(
    ("kind", "says"),
    [
        ("intacct", "Connected to Intacct company 'ACME-DEMO', entity 'E100' as Web Services "
                    "user 'Divvy'."),
        ("divvy", "Connected to Divvy as"),
    ],
)  # fmt: skip
def test_the_api_tests_a_stored_connection_when_asked_without_a_port(
    api, stored, gateway, divvy, kind, says
):
    # The same request without the port (what #73298 makes of port 0): the stored secrets are
    # used for the stored host, and the hook's own check runs.
    conn = intacct_conn(gateway) if kind == "intacct" else divvy_conn(divvy)
    request = button_request(stored(f"ui_test_{kind}", conn))
    del request["port"]

    response = api.post("/api/v2/connections/test", json=request)

    assert response.status_code == 200, response.text
    assert response.json()["status"] is True
    assert response.json()["message"].startswith(says)


def test_a_failing_check_says_what_is_wrong_through_the_api(api, stored, gateway):
    request = button_request(stored("ui_test_intacct", intacct_conn(gateway)))
    del request["port"]
    request["password"] = "not-the-password"  # the caller supplies credentials to try

    response = api.post("/api/v2/connections/test", json=request)

    assert response.status_code == 200
    assert response.json() == {
        "status": False,
        "message": "Sign-in failed for Web Services user 'Divvy' at company 'ACME-DEMO'. In "
        "Intacct, Company > Web Services Users: check the user ID and reset its password, then "
        "put both in the Airflow connection (login and password); check its extra 'company_id' "
        "too.",
    }


# --- the CLI: `airflow connections test` ----------------------------------------------------


def airflow_cli(*args: str, **connections: dict[str, Any]) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["AIRFLOW__CORE__TEST_CONNECTION"] = "Enabled"
    # This tree's package, whatever the virtualenv has installed.
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "plugins"), env.get("PYTHONPATH", "")])
    for conn_id, conn in connections.items():
        env[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(conn)
    airflow = pathlib.Path(sys.executable).parent / "airflow"
    return subprocess.run(
        [str(airflow), *args], env=env, capture_output=True, text=True, timeout=300
    )


def test_airflow_connections_test_signs_in_to_the_local_gateway(airflow_db, gateway):
    done = airflow_cli(
        "connections", "test", "intacct_default", intacct_default=intacct_conn(gateway)
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Connection success!" in done.stdout


def test_airflow_connections_test_reads_the_divvy_user(airflow_db, divvy):
    done = airflow_cli("connections", "test", "divvy_default", divvy_default=divvy_conn(divvy))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Connection success!" in done.stdout


def test_airflow_connections_test_explains_a_failure(airflow_db, gateway):
    wrong = intacct_conn(gateway, extra=INTACCT_EXTRA | {"sender_id": "not-authorized"})
    done = airflow_cli("connections", "test", "intacct_default", intacct_default=wrong)
    assert done.returncode == 1
    assert "Connection failed!" in done.stdout
    assert "not-authorized" in done.stdout
    assert "sender-pass-0001" not in done.stdout + done.stderr
    assert "ws-user-pass-0001" not in done.stdout + done.stderr
