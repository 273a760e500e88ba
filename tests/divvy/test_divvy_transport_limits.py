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

from intacct_hook.hooks.divvy import DivvyHook


@pytest.fixture
def use_connection(monkeypatch):
    """``use_connection(host, token=..., schema=None, **extra)``: (re)define ``divvy_default``."""

    def _use(host: str, *, token: str = "divvy-token-0001", schema: str | None = None, **extra):
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
