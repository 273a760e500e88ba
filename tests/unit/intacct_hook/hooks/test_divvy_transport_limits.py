"""DivvyHook transport guarantees over real sockets: connection settings are validated, no
redirect is followed (not even for the OAuth token), responses are bounded in size, time and
depth, and the token is masked in every form a server may echo it.

The misbehaving servers are local scripted ones (``tests/scripted_http.py``); the well-behaved
API is the local Divvy sandbox.
"""

from __future__ import annotations

import html
import json
import math
import time
from urllib.parse import quote, quote_plus, unquote_plus
from xml.sax.saxutils import escape as xml_escape

import pytest
import tenacity

from intacct_hook.hooks import divvy as hooks
from intacct_hook.hooks.divvy import DivvyHook
from intacct_hook.masking import secret_forms
from tests.scripted_http import (
    echo,
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


# --- secrets ------------------------------------------------------------------------------------

# Header-safe, yet every encoding changes it: XML, URL and JSON forms all differ from it.
ODD_TOKEN = "tok&<en>%41/q'\"+x=\\9"
ODD_SECRET = "client sec&ret<1>/é+"


def _forms(secret: str) -> dict[str, str]:
    """Every form a server may echo ``secret`` in, by name."""
    return {
        "raw": secret,
        "xml": xml_escape(secret, {'"': "&quot;", "'": "&apos;"}),
        "xml-numeric": "".join(c if c.isalnum() else f"&#{ord(c)};" for c in secret),
        "quote": quote(secret, safe=""),
        "quote-slash": quote(secret),
        "quote_plus": quote_plus(secret),
        "json": json.dumps(secret)[1:-1],
        "json-unicode": json.dumps(secret, ensure_ascii=False)[1:-1],
    }


def _leaks(text: str, secret: str) -> list[str]:
    found = [name for name, form in _forms(secret).items() if form in text]
    return found + (["decoded"] if secret in html.unescape(unquote_plus(text)) else [])


def test_a_token_with_surrounding_whitespace_is_stripped(api, use_connection):
    use_connection(api.url, token=f" {api.token}\r\n")
    assert DivvyHook().get_current_user()["role"] == "ADMIN"


def test_a_token_that_cannot_be_a_header_is_refused_without_showing_it(use_connection):
    use_connection("http://127.0.0.1:9/connect", token="divvy-token\n-0001-secret")
    ok, message = DivvyHook().test_connection()
    assert not ok and "cannot be sent in an HTTP header" in message
    with pytest.raises(ValueError) as info:
        DivvyHook().get_current_user()
    for text in (message, str(info.value), repr(info.value)):
        assert "divvy-token" not in text and "0001-secret" not in text


@pytest.mark.parametrize("access_token", ["bearer-token\n-0002-secret", 12345678])
def test_an_access_token_that_cannot_be_a_header_is_refused_without_showing_it(
    use_connection, access_token
):
    grant = json.dumps({"access_token": access_token, "expires_in": 300})
    with scripted_server(respond(200, grant.encode(), content_type=JSON)) as auth:
        use_connection(
            "http://127.0.0.1:9/connect",
            token="",
            auth_type="oauth_client_credentials",
            client_id="client-1",
            client_secret=CLIENT_SECRET,
            token_url=auth.url + "/oauth/token",
        )
        with pytest.raises(hooks.DivvyApiError) as info:
            DivvyHook(retry_args=FAST).get_current_user()
    assert "cannot be sent in an HTTP header" in str(info.value)
    for part in ("bearer-token", "0002-secret", "12345678"):
        assert part not in str(info.value)


@pytest.mark.parametrize("shape", ["json", "text"])
def test_every_echoed_form_of_the_token_is_masked(use_connection, shape):
    echoes = " | ".join(f"token {form} refused" for form in _forms(ODD_TOKEN).values())
    if shape == "json":
        body = json.dumps([{"code": "BDC_1104", "message": echoes}]).encode()
    else:
        body = echoes.encode()
    with scripted_server(respond(401, body, content_type=JSON)) as api:
        use_connection(api.url + "/connect", token=ODD_TOKEN)
        hook = DivvyHook(retry_args=FAST)
        with pytest.raises(hooks.DivvyApiError) as info:
            hook.get_current_user()
    text = "\n".join([str(info.value), repr(info.value), info.value.message])
    assert "token *** refused" in text
    assert _leaks(text, ODD_TOKEN) == []


def test_the_token_is_masked_before_the_message_is_cut(use_connection):
    # Cut first, the token straddling character 300 would survive in part.
    body = ("x" * 290 + TOKEN + "y" * 50).encode()
    with scripted_server(respond(403, body, content_type="text/plain")) as api:
        use_connection(api.url + "/connect", token=TOKEN)
        with pytest.raises(hooks.DivvyApiError) as info:
            DivvyHook(retry_args=FAST).get_current_user()
    assert "x***y" in str(info.value) and TOKEN[:8] not in str(info.value)


def test_the_client_secret_echoed_from_the_token_form_is_masked(use_connection):
    with scripted_server(echo(400)) as auth:
        use_connection(
            "http://127.0.0.1:9/connect",
            token="",
            auth_type="oauth_client_credentials",
            client_id="client-1",
            client_secret=ODD_SECRET,
            token_url=auth.url + "/oauth/token",
        )
        with pytest.raises(hooks.DivvyApiError) as info:
            DivvyHook(retry_args=FAST).get_current_user()
        assert quote_plus(ODD_SECRET).encode() in auth.requests[0].body  # it was echoed...
    assert "client_secret=***" in str(info.value)  # ...and masked
    assert _leaks(str(info.value), ODD_SECRET) == []


def test_every_form_is_registered_with_airflows_masker(use_connection):
    from airflow.sdk._shared.secrets_masker import redact

    use_connection("http://127.0.0.1:9/connect", token=ODD_TOKEN)
    _ = DivvyHook().conn_params
    for name in ("raw", "xml", "quote", "quote-slash", "quote_plus", "json"):
        assert redact(f"<{_forms(ODD_TOKEN)[name]}>") == "<***>", name


def test_the_hook_hands_only_secrets_to_the_masker(use_connection, record_masking):
    # Short non-secret extras (client ID "c1") used to go too, through extra_dejson, and made
    # Airflow warn "Skipping masking for a secret as it's too short".
    use_connection(
        "https://gateway.prod.bill.com/connect",
        token="",
        auth_type="oauth_client_credentials",
        client_id="c1",
        client_secret=ODD_SECRET,
        token_url="https://gateway.prod.bill.com/connect/oauth2/token",
    )
    registered = record_masking(DivvyHook)
    assert DivvyHook().conn_params.client_id == "c1"
    assert registered and all(value in secret_forms(ODD_SECRET) for value in registered)
