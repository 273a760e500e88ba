"""IntacctHook transport guarantees over real sockets: connection settings are validated, no
redirect is followed, responses are bounded in size, time and depth, and secrets are masked in
every form a server may echo them.

The misbehaving servers are local scripted ones (``tests/scripted_http.py``); where a real
Intacct exchange is needed they forward to the local gateway sandbox.
"""

from __future__ import annotations

import html
import json
import math
import time
from datetime import date
from decimal import Decimal
from urllib.parse import quote, quote_plus, unquote_plus
from xml.sax.saxutils import escape as xml_escape

import pytest
import tenacity

from intacct_hook.hooks.intacct import IntacctHook, is_retryable
from intacct_hook.intacct import errors as e
from intacct_hook.intacct.records import CCLine, CCTransaction
from intacct_hook.intacct.response import parse_response
from intacct_hook.masking import secret_forms
from sandbox.intacct_gateway.testing import running_gateway
from tests.scripted_http import (
    endless,
    forward,
    gzip_bomb,
    redirect,
    respond,
    scripted_server,
    trickle,
    trickle_chunk_size,
)

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


# --- size, time and depth limits ----------------------------------------------------------------

SLOW = {"timeout": 0.5, "max_request_seconds": 1.0}


def _deep(levels: int) -> bytes:
    return b"<x>" * levels + b"1" + b"</x>" * levels


def _response_with_row(row: bytes) -> bytes:
    """A well-formed getAPISession-like success whose one data row is ``row``."""
    return (
        b"<?xml version='1.0' encoding='UTF-8'?><response><control><status>success</status>"
        b"<senderid>bill.com</senderid><controlid>c</controlid><uniqueid>false</uniqueid>"
        b"<dtdversion>3.0</dtdversion></control><operation><authentication>"
        b"<status>success</status><userid>Divvy</userid><companyid>ACME-DEMO</companyid>"
        b"</authentication><result><status>success</status><function>getAPISession</function>"
        b"<controlid>f</controlid><data>" + row + b"</data></result></operation></response>"
    )


@pytest.mark.parametrize("extra", ["timeout", "max_request_seconds", "max_response_mb"])
@pytest.mark.parametrize("value", [-1, 0, "nan", "inf", "30s", True])
def test_limit_extras_must_be_positive_finite_numbers(use_connection, extra, value):
    use_connection("http://127.0.0.1:9" + GATEWAY_PATH, **{extra: value})
    with pytest.raises(ValueError, match=rf"'{extra}' must be a positive number"):
        _ = IntacctHook().conn_params


def test_limit_defaults_follow_the_timeout(use_connection):
    use_connection("http://127.0.0.1:9" + GATEWAY_PATH, timeout=20)
    p = IntacctHook().conn_params
    assert (p.max_request_seconds, p.max_response_bytes) == (40.0, 100 * 1024 * 1024)
    use_connection("http://127.0.0.1:9" + GATEWAY_PATH, max_request_seconds=5, max_response_mb=2)
    p = IntacctHook().conn_params
    assert (p.max_request_seconds, p.max_response_bytes) == (5.0, 2 * 1024 * 1024)


def test_a_trickled_answer_is_cut_at_max_request_seconds(use_connection):
    # 160 bytes at one every 0.05 s: each read is far inside the 0.5 s timeout, the whole
    # answer would take 8 s.
    with scripted_server(trickle(b" " * 160, every=0.05)) as gateway:
        use_connection(gateway.url + GATEWAY_PATH, **SLOW)
        hook = IntacctHook(retry_args=ONE_TRY)
        started = time.monotonic()
        with pytest.raises(e.IntacctResponseTooSlow) as info:
            hook.get_locations()
        assert time.monotonic() - started < 3.0
        ok, shown = hook.test_connection()
    assert "max_request_seconds" in str(info.value) and "1 s" in str(info.value)
    assert is_retryable(info.value)  # for a read, a slow answer is worth another try
    assert not ok and "too slowly" in shown and "max_request_seconds" in shown


def test_a_read_in_progress_is_interrupted_at_the_deadline(use_connection):
    # A chunk-size line trickled a byte at a time is read within one read of the body.
    with scripted_server(trickle_chunk_size(every=0.05)) as gateway:
        use_connection(gateway.url + GATEWAY_PATH, **SLOW)
        started = time.monotonic()
        with pytest.raises(e.IntacctResponseTooSlow):
            IntacctHook(retry_args=ONE_TRY).get_locations()
        assert time.monotonic() - started < 3.0


def test_a_trickled_answer_to_a_write_is_ambiguous_and_resolved_by_lookup(gw, use_connection):
    relay = gw.url.removesuffix(GATEWAY_PATH)
    with scripted_server(forward(relay), host="localhost") as proxy:
        # The login; then the write reaches Intacct but its answer trickles.
        proxy.then(forward(relay), forward(relay, trickle(b" " * 400, every=0.025)))
        use_connection(proxy.url + GATEWAY_PATH, **SLOW)
        hook = IntacctHook(retry_args=FAST)
        started = time.monotonic()
        (outcome,) = hook.record_cctransactions([_txn("trickled-1")])
        assert time.monotonic() - started < 5.0
    assert (outcome.status, outcome.record_no) == (
        "already_posted",
        gw.cctransactions()[0]["RECORDNO"],
    )
    assert len(gw.cctransactions()) == 1
    writes = [r for r in proxy.requests if b"record_cctransaction" in r.body]
    assert len(writes) == 1  # looked up, never re-sent


@pytest.mark.parametrize(
    "answer",
    [
        endless(declared=50 * 1024 * 1024),
        gzip_bomb(50 * 1024 * 1024),
        endless(),
    ],
    ids=["declared-50MB", "gzip-bomb-50MB", "endless-chunked"],
)
def test_an_answer_over_max_response_mb_is_refused(use_connection, answer):
    with scripted_server(answer) as gateway:
        use_connection(gateway.url + GATEWAY_PATH, max_response_mb=1)
        hook = IntacctHook(retry_args=FAST)
        with pytest.raises(e.IntacctResponseTooLarge) as info:
            hook.get_locations()
        assert len(gateway.requests) == 1  # the same answer would come again: not retried
    assert "max_response_mb" in str(info.value) and "1 MB" in str(info.value)


def test_a_huge_answer_to_a_write_is_ambiguous_and_resolved_by_lookup(gw, use_connection):
    relay = gw.url.removesuffix(GATEWAY_PATH)
    with scripted_server(forward(relay), host="localhost") as proxy:
        proxy.then(forward(relay), forward(relay, endless(declared=5 * 1024 * 1024)))
        use_connection(proxy.url + GATEWAY_PATH, max_response_mb=1)
        (outcome,) = IntacctHook(retry_args=FAST).record_cctransactions([_txn("huge-1")])
    assert outcome.status == "already_posted" and len(gw.cctransactions()) == 1


def test_an_error_page_is_read_only_in_part_and_keeps_its_status(use_connection):
    # A 502 with an endless body is still a retryable server error, not "too large".
    with scripted_server(endless(status=502, content_type="text/html")) as gateway:
        use_connection(gateway.url + GATEWAY_PATH, max_response_mb=1)
        with pytest.raises(e.IntacctServerError) as info:
            IntacctHook(retry_args=FAST).get_locations()
    assert info.value.http_status == 502 and len(gateway.requests) == 3


@pytest.mark.parametrize("levels", [100, 1500, 5000])
def test_a_deeply_nested_answer_is_a_typed_error(use_connection, levels):
    with scripted_server(respond(200, _response_with_row(_deep(levels)))) as gateway:
        use_connection(gateway.url + GATEWAY_PATH)
        with pytest.raises(e.IntacctResponseTooDeep, match="nested deeper than"):
            IntacctHook(retry_args=FAST).get_locations()
        assert len(gateway.requests) == 1


def test_normal_nesting_still_parses():
    parsed = parse_response(_response_with_row(b"<api><sessionid>s</sessionid></api>"))
    assert parsed.results[0].data == [{"sessionid": "s"}]


def test_the_parser_loads_no_dtd_and_resolves_no_entity(tmp_path):
    marker = tmp_path / "marker.txt"
    marker.write_text("FILE-CONTENT-MARKER")
    with scripted_server(respond(200, b"<!ENTITY leak 'DTD-MARKER'>")) as dtd_host:
        body = (
            f'<?xml version="1.0"?><!DOCTYPE response SYSTEM "{dtd_host.url}/evil.dtd" ['
            f'<!ENTITY file SYSTEM "file://{marker}">'
            '<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
            '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
        ).encode() + _response_with_row(b"<api><sessionid>&file;&c;&leak;</sessionid></api>")[
            len(b"<?xml version='1.0' encoding='UTF-8'?>") :
        ]
        try:
            parsed = parse_response(body)
            text = str(parsed.results[0].data)
        except e.IntacctResponseError as exc:
            text = str(exc)
        assert dtd_host.requests == []
    assert "FILE-CONTENT-MARKER" not in text and "aaaaaaaaaa" not in text
    assert "DTD-MARKER" not in text


# --- secrets ------------------------------------------------------------------------------------

# Characters that every encoding changes: XML, URL (quote / quote_plus) and JSON forms differ.
ODD_PASSWORD = 'ws pass&<1>%41/é"x'
ODD_SENDER_PASSWORD = "snd+pw 'q'#2\\z"


def _forms(secret: str) -> dict[str, str]:
    """Every form a server may echo ``secret`` in, by name."""
    return {
        "raw": secret,
        "xml": xml_escape(secret, {'"': "&quot;", "'": "&apos;"}),
        "xml-numeric": "".join(c if c.isalnum() else f"&#{ord(c)};" for c in secret),
        "xml-hex": "".join(c if c.isalnum() else f"&#x{ord(c):X};" for c in secret),
        "quote": quote(secret, safe=""),
        "quote-lower": quote(secret, safe="").lower(),
        "quote-slash": quote(secret),
        "quote_plus": quote_plus(secret),
        "json": json.dumps(secret)[1:-1],
        "json-unicode": json.dumps(secret, ensure_ascii=False)[1:-1],
    }


def _leaks(text: str, *secrets: str) -> list[str]:
    return [
        f"{name} form of secret {n}"
        for n, secret in enumerate(secrets)
        for name, form in _forms(secret).items()
        if form in text
    ] + [f"secret {n} decoded" for n, s in enumerate(secrets) if s in _decoded(text)]


def _decoded(text: str) -> str:
    return html.unescape(unquote_plus(text))


def _control_failure(descriptions: list[str]) -> bytes:
    errors = "".join(
        f"<error><errorno>XL03000006</errorno><description>{xml_escape(d)}</description>"
        "<description2></description2><correction></correction></error>"
        for d in descriptions
    )
    return (
        "<?xml version='1.0' encoding='UTF-8'?><response><control><status>failure</status>"
        "<senderid>bill.com</senderid><controlid>c</controlid><uniqueid>false</uniqueid>"
        f"<dtdversion>3.0</dtdversion></control><errormessage>{errors}</errormessage></response>"
    ).encode()


def test_passwords_with_surrounding_whitespace_are_stripped(gw, use_connection):
    use_connection(
        gw.url, password=f" {USER_PASSWORD}\n", sender_password=f"\t{SENDER_PASSWORD} \r\n"
    )
    ok, message = IntacctHook(retry_args=ONE_TRY).test_connection()
    assert ok, message


@pytest.mark.parametrize("secret", ["user", "sender"])
def test_every_echoed_form_of_a_password_is_masked(use_connection, secret):
    password = ODD_PASSWORD if secret == "user" else ODD_SENDER_PASSWORD
    echoes = [f"Password {form} is wrong" for form in _forms(password).values()]
    with scripted_server(respond(200, _control_failure(echoes))) as gateway:
        use_connection(
            gateway.url + GATEWAY_PATH,
            password=ODD_PASSWORD,
            sender_password=ODD_SENDER_PASSWORD,
        )
        hook = IntacctHook(retry_args=ONE_TRY)
        with pytest.raises(e.IntacctError) as info:
            hook.get_locations()
        shown = hook.test_connection()[1]
    text = "\n".join([str(info.value), repr(info.value), shown, *info.value.all_text()])
    assert "Password *** is wrong" in str(info.value)
    assert _leaks(text, ODD_PASSWORD, ODD_SENDER_PASSWORD) == []


def test_every_form_is_registered_with_airflows_masker(use_connection):
    from airflow.sdk._shared.secrets_masker import redact

    use_connection(
        "http://127.0.0.1:9" + GATEWAY_PATH,
        password=ODD_PASSWORD,
        sender_password=ODD_SENDER_PASSWORD,
    )
    _ = IntacctHook().conn_params
    for secret in (ODD_PASSWORD, ODD_SENDER_PASSWORD):
        for name, form in _forms(secret).items():
            if name in ("raw", "xml", "quote", "quote-slash", "quote_plus", "json"):
                assert redact(f"<{form}>") == "<***>", name


def test_the_hook_hands_only_secrets_to_the_masker(use_connection, record_masking):
    # Short non-secret extras (entity "E100") used to go too, through extra_dejson, and made
    # Airflow warn "Skipping masking for a secret as it's too short".
    use_connection(
        "http://127.0.0.1:9" + GATEWAY_PATH,
        company_id="ACME",
        entity_id="E100",
        password=ODD_PASSWORD,
        sender_password=ODD_SENDER_PASSWORD,
    )
    registered = record_masking(IntacctHook)
    assert IntacctHook().conn_params.entity_id == "E100"
    allowed = set(secret_forms(ODD_PASSWORD)) | set(secret_forms(ODD_SENDER_PASSWORD))
    assert registered and all(value in allowed for value in registered), registered
