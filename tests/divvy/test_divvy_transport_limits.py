"""DivvyHook transport guarantees over real sockets: connection settings are validated, no
redirect is followed (not even for the OAuth token), responses are bounded in size, time and
depth, and the token is masked in every form a server may echo it.

The misbehaving servers are local scripted ones (``tests/scripted_http.py``); the well-behaved
API is the local Divvy sandbox.
"""

from __future__ import annotations

import json
import math

import pytest
import tenacity

from intacct_hook.hooks import divvy as hooks
from intacct_hook.hooks.divvy import DivvyHook
from tests.scripted_http import redirect, scripted_server

TOKEN = "divvy-token-0001"
CLIENT_SECRET = "client-secret-0001"
FAST = {"wait": tenacity.wait_none(), "stop": tenacity.stop_after_attempt(3)}


@pytest.fixture
def use_connection(monkeypatch):
    """``use_connection(host, token=..., schema=None, **extra)``: (re)define ``divvy_default``."""

    def _use(host: str, *, token: str = TOKEN, schema: str | None = None, **extra):
        conn = {"conn_type": "divvy", "host": host, "password": token, "extra": extra}
        if schema:
            conn["schema"] = schema
        monkeypatch.setenv("AIRFLOW_CONN_DIVVY_DEFAULT", json.dumps(conn))

    return _use


# --- connection settings ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", [-1, 0, "0", "30s", "nan", "inf", float("nan"), math.inf, True, [30]]
)
@pytest.mark.parametrize("extra", ["timeout", "rate_limit_window"])
def test_seconds_extras_must_be_positive_finite_numbers(use_connection, extra, value):
    use_connection("http://127.0.0.1:9/connect", **{extra: value})
    with pytest.raises(ValueError) as info:
        _ = DivvyHook().conn_params
    message = str(info.value)
    assert "'divvy_default'" in message and f"'{extra}'" in message
    assert "positive number of seconds" in message and "Fix:" in message
    ok, shown = DivvyHook().test_connection()
    assert not ok and f"'{extra}'" in shown


@pytest.mark.parametrize(("value", "seconds"), [(12, 12.0), ("12", 12.0), (None, 30.0)])
def test_timeout_accepts_numbers_and_numeric_text(use_connection, value, seconds):
    use_connection("http://127.0.0.1:9/connect", timeout=value)
    assert DivvyHook().conn_params.timeout == seconds


@pytest.mark.parametrize(
    ("host", "schema"),
    [
        ("http://gateway.prod.bill.com/connect", None),
        ("gateway.prod.bill.com/connect", "http"),
        ("ftp://127.0.0.1/connect", None),
    ],
)
def test_base_url_must_be_https_unless_on_this_machine(use_connection, host, schema):
    use_connection(host, schema=schema)
    with pytest.raises(ValueError) as info:
        _ = DivvyHook().conn_params
    message = str(info.value)
    assert "'divvy_default'" in message and "https" in message and "Fix:" in message


def test_token_url_must_be_https_unless_on_this_machine(use_connection):
    use_connection(
        "https://gateway.prod.bill.com/connect",
        token="",
        auth_type="oauth_client_credentials",
        client_id="client-1",
        client_secret="client-secret-0001",
        token_url="http://auth.bill.com/oauth/token",
    )
    with pytest.raises(ValueError) as info:
        _ = DivvyHook().conn_params
    assert "token_url" in str(info.value) and "https" in str(info.value)
    assert "client-secret-0001" not in str(info.value)


@pytest.mark.parametrize(
    "host",
    [
        "http://127.0.0.1:8082/connect",
        "http://localhost:8082/connect",
        "http://[::1]:8082/connect",
        "https://gateway.stage.bill.com/connect",
    ],
)
def test_https_and_local_sandboxes_are_accepted(use_connection, host):
    use_connection(host)
    assert DivvyHook().conn_params.base_url == host


# --- redirects ----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_refused_and_the_token_stays_here(use_connection, status):
    with scripted_server() as elsewhere, scripted_server() as api:
        target = elsewhere.url.replace("http://", "http://user:pw-in-location@")
        api.then(redirect(status, f"{target}/capture?token=tok-in-query"))
        use_connection(api.url + "/connect", token=TOKEN)
        hook = DivvyHook(retry_args=FAST)
        with pytest.raises(hooks.DivvyRedirectError) as info:
            hook.get_current_user()
        assert elsewhere.requests == []  # the apiToken header went nowhere else
        assert len(api.requests) == 1  # and a redirect is not retried
        err = info.value
        assert err.status == status and f"{elsewhere.url}/capture" in str(err)
        for leak in ("pw-in-location", "tok-in-query", TOKEN):
            assert leak not in str(err)

        api.then(redirect(status, "/elsewhere?token=tok-in-query"))
        ok, shown = hook.test_connection()
        assert not ok and f"{api.url}/elsewhere" in shown and "tok-in-query" not in shown
        assert elsewhere.requests == []


def test_a_redirected_oauth_token_request_keeps_the_client_secret_here(use_connection):
    with scripted_server() as elsewhere, scripted_server() as auth:
        auth.then(redirect(307, f"{elsewhere.url}/token"))
        use_connection(
            "http://127.0.0.1:9/connect",
            token="",
            auth_type="oauth_client_credentials",
            client_id="client-1",
            client_secret=CLIENT_SECRET,
            token_url=auth.url + "/oauth/token",
        )
        hook = DivvyHook(retry_args=FAST)
        with pytest.raises(hooks.DivvyRedirectError) as info:
            hook.get_current_user()
        assert elsewhere.requests == [] and len(auth.requests) == 1
        assert f"{elsewhere.url}/token" in str(info.value)
        assert CLIENT_SECRET not in str(info.value)
