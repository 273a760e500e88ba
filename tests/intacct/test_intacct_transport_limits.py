"""IntacctHook transport guarantees over real sockets: connection settings are validated, no
redirect is followed, responses are bounded in size, time and depth, and secrets are masked in
every form a server may echo them.

The misbehaving servers are local scripted ones (``tests/scripted_http.py``); where a real
Intacct exchange is needed they forward to the local gateway sandbox.
"""

from __future__ import annotations

import json
import math
from datetime import date
from decimal import Decimal

import pytest
import tenacity

from intacct_hook.hooks.intacct import IntacctHook
from intacct_hook.intacct import errors as e
from intacct_hook.intacct.records import CCLine, CCTransaction
from sandbox.intacct_gateway.testing import running_gateway
from tests.scripted_http import forward, redirect, scripted_server

USER_PASSWORD = "ws-user-pass-0001"
SENDER_PASSWORD = "sender-pass-0001"
GATEWAY_PATH = "/ia/xml/xmlgw.phtml"
ONE_TRY = {"wait": tenacity.wait_none(), "stop": tenacity.stop_after_attempt(1)}
FAST = {"wait": tenacity.wait_none(), "stop": tenacity.stop_after_attempt(3)}


def _txn(ref: str, amount: str = "12.34") -> CCTransaction:
    return CCTransaction(
        card_id="Divvy CC Object",
        payment_date=date(2026, 10, 5),  # the default seed's books are closed through Sept.
        reference_no=ref,
        payee="Staples",
        lines=(CCLine("6100", Decimal(amount), location_id="100"),),
    )


@pytest.fixture
def use_connection(monkeypatch):
    """``use_connection(host, password=..., **extra)``: (re)define ``intacct_default``."""

    def _use(host: str, *, password: str = USER_PASSWORD, login: str = "Divvy", **extra) -> None:
        extras = {
            "company_id": "ACME-DEMO",
            "sender_id": "bill.com",
            "sender_password": SENDER_PASSWORD,
            "entity_id": "E100",
            "timeout": 10,
            **extra,
        }
        conn = {
            "conn_type": "intacct",
            "host": host,
            "login": login,
            "password": password,
            "extra": {k: v for k, v in extras.items() if v is not None},
        }
        monkeypatch.setenv("AIRFLOW_CONN_INTACCT_DEFAULT", json.dumps(conn))

    return _use


@pytest.fixture
def gw():
    with running_gateway() as handle:
        yield handle


# --- connection settings ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", [-1, 0, "0", "30s", "nan", "inf", float("nan"), math.inf, True, [30], {"s": 1}]
)
def test_timeout_must_be_a_positive_finite_number(use_connection, value):
    use_connection("http://127.0.0.1:9" + GATEWAY_PATH, timeout=value)
    with pytest.raises(ValueError) as info:
        _ = IntacctHook().conn_params
    message = str(info.value)
    assert "'intacct_default'" in message and "'timeout'" in message
    assert "positive number of seconds" in message and "Fix:" in message
    ok, shown = IntacctHook().test_connection()
    assert not ok and "'timeout'" in shown


@pytest.mark.parametrize(("value", "seconds"), [(45, 45.0), ("45", 45.0), (2.5, 2.5), (None, 60.0)])
def test_timeout_accepts_numbers_and_numeric_text(use_connection, value, seconds):
    use_connection("http://127.0.0.1:9" + GATEWAY_PATH, timeout=value)
    assert IntacctHook().conn_params.timeout == seconds


def test_timeout_argument_is_validated_like_the_extra(use_connection):
    use_connection("http://127.0.0.1:9" + GATEWAY_PATH)
    with pytest.raises(ValueError, match=r"'timeout'.*positive number of seconds"):
        _ = IntacctHook(timeout=-5).conn_params
    assert IntacctHook(timeout=3).conn_params.timeout == 3.0


@pytest.mark.parametrize(
    "url",
    [
        "http://api.intacct.com/ia/xml/xmlgw.phtml",
        "http://10.0.0.8:8081/ia/xml/xmlgw.phtml",
        "ftp://127.0.0.1/ia/xml/xmlgw.phtml",
        "http:///ia/xml/xmlgw.phtml",
    ],
)
def test_gateway_url_must_be_https_unless_on_this_machine(use_connection, url):
    use_connection(url)
    with pytest.raises(ValueError) as info:
        _ = IntacctHook().conn_params
    message = str(info.value)
    assert "'intacct_default'" in message and "https" in message and "Fix:" in message


def test_gateway_url_with_credentials_is_refused_without_echoing_them(use_connection):
    use_connection("https://Divvy:hunter2-in-url@api.intacct.com/ia/xml/xmlgw.phtml")
    with pytest.raises(ValueError) as info:
        _ = IntacctHook().conn_params
    assert "user name or password" in str(info.value)
    assert "hunter2" not in str(info.value)


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("http://127.0.0.1:8081/ia/xml/xmlgw.phtml", "http://127.0.0.1:8081/ia/xml/xmlgw.phtml"),
        ("http://localhost:8081/ia/xml/xmlgw.phtml", "http://localhost:8081/ia/xml/xmlgw.phtml"),
        ("http://[::1]:8081/ia/xml/xmlgw.phtml", "http://[::1]:8081/ia/xml/xmlgw.phtml"),
        ("api.intacct.com/ia/xml/xmlgw.phtml", "https://api.intacct.com/ia/xml/xmlgw.phtml"),
        (
            "https://api.intacct.com/ia/xml/xmlgw.phtml",
            "https://api.intacct.com/ia/xml/xmlgw.phtml",
        ),
    ],
)
def test_https_and_local_sandboxes_are_accepted(use_connection, host, url):
    use_connection(host)
    assert IntacctHook().conn_params.url == url


def test_the_sandbox_over_plain_http_on_loopback_still_works(gw, use_connection):
    use_connection(gw.url)
    ok, message = IntacctHook(retry_args=ONE_TRY).test_connection()
    assert ok, message


# --- redirects ----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirected_login_is_refused_and_the_passwords_stay_here(use_connection, status):
    with scripted_server() as elsewhere, scripted_server() as gateway:
        target = elsewhere.url.replace("http://", "http://Divvy:pw-in-location@")
        gateway.then(redirect(status, f"{target}/capture?sessionid=sid-in-query#frag"))
        use_connection(gateway.url + GATEWAY_PATH)
        hook = IntacctHook(retry_args=FAST)
        with pytest.raises(e.IntacctRedirectError) as info:
            hook.get_locations()
        assert elsewhere.requests == []  # neither password went anywhere else
        assert len(gateway.requests) == 1  # and a redirect is not retried
        message = str(info.value)
        assert f"HTTP {status}" in message
        assert f"{elsewhere.url}/capture" in message
        for leak in ("pw-in-location", "sid-in-query", USER_PASSWORD, SENDER_PASSWORD):
            assert leak not in message

        gateway.then(redirect(status, f"{target}/capture?sessionid=sid-in-query"))
        ok, shown = hook.test_connection()
        assert not ok and f"{elsewhere.url}/capture" in shown
        assert "pw-in-location" not in shown and "sid-in-query" not in shown
        assert elsewhere.requests == []


def test_a_redirected_session_request_is_refused(gw, use_connection):
    # The login reaches the real gateway (forwarded); the next request is redirected.
    with scripted_server() as elsewhere, scripted_server(host="localhost") as proxy:
        proxy.then(forward(gw.url.removesuffix(GATEWAY_PATH)), redirect(302, "/moved?x=1"))
        use_connection(proxy.url + GATEWAY_PATH)
        hook = IntacctHook(retry_args=FAST)
        with pytest.raises(e.IntacctRedirectError) as info:
            hook.get_locations()
        assert f"{proxy.url}/moved" in str(info.value) and "x=1" not in str(info.value)
        assert hook._session_id not in str(info.value)
        assert len(proxy.requests) == 2 and elsewhere.requests == []


def test_a_redirected_write_is_refused_not_resent(gw, use_connection):
    with scripted_server() as elsewhere, scripted_server(host="localhost") as proxy:
        proxy.then(forward(gw.url.removesuffix(GATEWAY_PATH)), redirect(307, elsewhere.url))
        use_connection(proxy.url + GATEWAY_PATH)
        hook = IntacctHook(retry_args=FAST)
        with pytest.raises(e.IntacctRedirectError):
            hook.record_cctransactions([_txn("redirected-1")])
        assert len(proxy.requests) == 2  # the login and the write, once
        assert elsewhere.requests == [] and gw.cctransactions() == []
