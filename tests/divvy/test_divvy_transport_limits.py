"""DivvyHook transport guarantees over real sockets: connection settings are validated, no
redirect is followed (not even for the OAuth token), responses are bounded in size, time and
depth, and the token is masked in every form a server may echo it.

The misbehaving servers are local scripted ones (``tests/scripted_http.py``); the well-behaved
API is the local Divvy sandbox.
"""

from __future__ import annotations

import json
import math
import time

import pytest
import tenacity

from intacct_hook.hooks import divvy as hooks
from intacct_hook.hooks.divvy import DivvyHook
from tests.scripted_http import (
    endless,
    gzip_bomb,
    redirect,
    respond,
    scripted_server,
    trickle,
)

TOKEN = "divvy-token-0001"
CLIENT_SECRET = "client-secret-0001"
JSON = "application/json"
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


# --- size, time and depth limits ----------------------------------------------------------------

SLOW = {"timeout": 0.5, "max_request_seconds": 1.0}
USER = json.dumps({"uuid": "usr_1", "firstName": "Ada", "lastName": "Admin", "role": "ADMIN"})


@pytest.mark.parametrize("extra", ["max_request_seconds", "max_response_mb"])
@pytest.mark.parametrize("value", [-1, 0, "nan", "inf", "30s", True])
def test_limit_extras_must_be_positive_finite_numbers(use_connection, extra, value):
    use_connection("http://127.0.0.1:9/connect", **{extra: value})
    with pytest.raises(ValueError, match=rf"'{extra}' must be a positive number"):
        _ = DivvyHook().conn_params


def test_limit_defaults_follow_the_timeout(use_connection):
    use_connection("http://127.0.0.1:9/connect", timeout=7)
    p = DivvyHook().conn_params
    assert (p.max_request_seconds, p.max_response_bytes) == (14.0, 10 * 1024 * 1024)
    use_connection("http://127.0.0.1:9/connect", max_request_seconds=3, max_response_mb=0.5)
    p = DivvyHook().conn_params
    assert (p.max_request_seconds, p.max_response_bytes) == (3.0, 512 * 1024)


def test_a_trickled_answer_is_cut_at_max_request_seconds_and_retried(use_connection):
    # 160 bytes at one every 0.05 s: each read is far inside the 0.5 s timeout, the whole
    # answer would take 8 s.
    with scripted_server(trickle(b" " * 160, every=0.05, content_type=JSON)) as api:
        use_connection(api.url + "/connect", **SLOW)
        hook = DivvyHook(retry_args={**FAST, "stop": tenacity.stop_after_attempt(2)})
        started = time.monotonic()
        with pytest.raises(hooks.DivvyResponseTooSlow) as info:
            hook.get_current_user()
        assert time.monotonic() - started < 5.0
        assert len(api.requests) == 2  # slowness may pass: retried like a timeout
    assert isinstance(info.value, hooks.DivvyTransientError)
    assert "max_request_seconds" in str(info.value)


@pytest.mark.parametrize(
    "answer",
    [
        endless(declared=30 * 1024 * 1024, content_type=JSON),
        gzip_bomb(30 * 1024 * 1024, content_type=JSON),
        endless(content_type=JSON),
    ],
    ids=["declared-30MB", "gzip-bomb-30MB", "endless-chunked"],
)
def test_an_answer_over_max_response_mb_is_refused(use_connection, answer):
    with scripted_server(answer) as api:
        use_connection(api.url + "/connect", max_response_mb=1)
        with pytest.raises(hooks.DivvyResponseTooLarge) as info:
            DivvyHook(retry_args=FAST).get_current_user()
        assert len(api.requests) == 1  # the same answer would come again: not retried
    assert "max_response_mb" in str(info.value) and "1 MB" in str(info.value)


def test_an_error_page_is_read_only_in_part_and_keeps_its_status(use_connection):
    with scripted_server(endless(status=503, content_type="text/html")) as api:
        use_connection(api.url + "/connect", max_response_mb=1)
        with pytest.raises(hooks.DivvyTransientError) as info:
            DivvyHook(retry_args=FAST).get_current_user()
    assert info.value.status == 503 and len(api.requests) == 3


@pytest.mark.parametrize("levels", [100, 100_000])
def test_a_deeply_nested_answer_is_a_typed_error(use_connection, levels):
    nested = "[" * levels + "]" * levels
    body = f'{{"uuid": "usr_1", "role": "ADMIN", "x": {nested}}}'.encode()
    with scripted_server(respond(200, body, content_type=JSON)) as api:
        use_connection(api.url + "/connect")
        with pytest.raises(hooks.DivvyResponseTooDeep, match="nested deeper than"):
            DivvyHook(retry_args=FAST).get_current_user()
        assert len(api.requests) == 1


def test_the_oauth_token_answer_is_bounded_too(use_connection):
    with scripted_server(endless(content_type=JSON)) as auth:
        use_connection(
            "http://127.0.0.1:9/connect",
            token="",
            auth_type="oauth_client_credentials",
            client_id="client-1",
            client_secret=CLIENT_SECRET,
            token_url=auth.url + "/oauth/token",
            max_response_mb=1,
        )
        with pytest.raises(hooks.DivvyResponseTooLarge):
            DivvyHook(retry_args=FAST).get_current_user()


def test_a_normal_answer_is_unaffected(use_connection):
    with scripted_server(respond(200, USER.encode(), content_type=JSON)) as api:
        use_connection(api.url + "/connect", max_response_mb=0.001)
        assert DivvyHook().get_current_user()["firstName"] == "Ada"
