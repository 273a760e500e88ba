"""DivvyHook receipts: read from GET by id, downloaded without the token off the API's origin,
stopped at the size cap while streaming, never redirected. The well-behaved API is the local
Divvy sandbox; the misbehaving file hosts are scripted servers (``tests/scripted_http.py``)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import tenacity

from intacct_hook.divvy.errors import DivvyApiError, DivvyReceiptTooLarge, DivvyRedirectError
from intacct_hook.divvy.records import DivvyReceipt
from tests.scripted_http import endless, redirect, respond, scripted_server

FAST = {"wait": tenacity.wait_none(), "stop": tenacity.stop_after_attempt(2)}


def _txn(api, **fields):
    return api.state.add_transaction({"amount": 5, "merchantName": "Staples", **fields})


def test_receipts_come_from_get_by_id_and_download_from_another_host_without_the_token(
    api, connect
):
    txn = _txn(api)
    added = api.state.add_receipt(txn["uuid"], "lunch.pdf", size=3000)
    hook = connect(api)

    receipts, problems = hook.get_receipts(txn["uuid"])

    assert problems == [] and [(r.uuid, r.filename) for r in receipts] == [
        (added["uuid"], "lunch.pdf")
    ]
    got = hook.download_receipt(receipts[0], max_bytes=10_000)
    assert got.data == api.state.receipt_files[added["uuid"]][0] and len(got.data) == 3000
    assert got.content_type == "application/pdf"
    by_id, download = api.requests[-2:]
    assert by_id.headers.get("apiToken") == "***"  # the API got the token (masked in the log)
    assert download.path.startswith("/files/receipts/")
    assert download.headers["Host"].startswith("localhost:")  # another host name
    assert "apiToken" not in download.headers and "Authorization" not in download.headers


def test_a_receipt_on_the_apis_own_origin_is_fetched_with_the_token(api, connect):
    with scripted_server(respond(200, b"%PDF-1.4 own", content_type="application/pdf")) as own:
        hook = connect(SimpleNamespace(url=own.url + "/connect", token=api.token))
        receipt = DivvyReceipt("rct_1", f"{own.url}/connect/files/r1", "r1.pdf")
        assert hook.download_receipt(receipt, max_bytes=100).data == b"%PDF-1.4 own"
        assert own.requests[0].headers.get("apiToken") == api.token


@pytest.mark.parametrize(
    "answer",
    [endless(declared=50_000, content_type="image/jpeg"), endless(content_type="image/jpeg")],
    ids=["declared", "chunked"],
)
def test_a_receipt_over_the_cap_stops_while_streaming_and_is_not_retried(api, connect, answer):
    with scripted_server(answer, host="localhost") as files:
        hook = connect(api, hook_kwargs={"retry_args": FAST})
        receipt = DivvyReceipt("rct_big", f"{files.url}/big.jpg?sig=1", "big.jpg")
        with pytest.raises(DivvyReceiptTooLarge) as info:
            hook.download_receipt(receipt, max_bytes=10_000)
        assert info.value.max_bytes == 10_000 and "10,000 bytes" in str(info.value)
        assert len(files.requests) == 1
        assert "apiToken" not in files.requests[0].headers


def test_a_redirect_from_the_file_host_is_refused(api, connect):
    with scripted_server(host="localhost") as files, scripted_server() as elsewhere:
        files.then(redirect(302, f"{elsewhere.url}/stolen"))
        hook = connect(api, hook_kwargs={"retry_args": FAST})
        with pytest.raises(DivvyRedirectError):
            hook.download_receipt(
                DivvyReceipt("rct_r", f"{files.url}/r.pdf", "r.pdf"), max_bytes=99
            )
        assert elsewhere.requests == []


@pytest.mark.parametrize(
    "url", ["http://files.example.com/r.pdf", "ftp://127.0.0.1/r.pdf", "file:///etc/passwd", None]
)
def test_only_https_or_local_http_receipt_urls_are_fetched(api, connect, url):
    hook = connect(api)
    with pytest.raises(DivvyApiError) as info:
        hook.download_receipt(DivvyReceipt("rct_u", url, "u.pdf"), max_bytes=99)
    assert "rct_u" in str(info.value)


def test_an_expired_receipt_url_is_an_error_with_its_status(api, connect):
    txn = _txn(api)
    added = api.state.add_receipt(txn["uuid"], "gone.png", size=100)
    hook = connect(api, hook_kwargs={"retry_args": FAST})
    [receipt], _ = hook.get_receipts(txn["uuid"])
    del api.state.receipt_files[added["uuid"]]
    with pytest.raises(DivvyApiError) as info:
        hook.download_receipt(receipt, max_bytes=1000)
    assert info.value.status == 403


def test_receipts_are_read_defensively(api, connect):
    txn = _txn(
        api,
        receipts=[
            {"uuid": "rct_ok", "url": "https://files.example.com/a.pdf", "filename": "a.pdf"},
            {"url": "https://files.example.com/b.pdf"},  # no uuid: left out, described
            "not an object",
            {"uuid": "rct_ok", "url": "https://files.example.com/a.pdf"},  # listed twice
            {"uuid": "rct_nourl"},
        ],
    )
    receipts, problems = connect(api).get_receipts(txn["uuid"])
    assert [(r.uuid, r.url, r.filename) for r in receipts] == [
        ("rct_ok", "https://files.example.com/a.pdf", "a.pdf"),
        ("rct_nourl", None, None),
    ]
    assert len(problems) == 2 and "uuid" in problems[0] and "receipt 3" in problems[1]
    assert json.dumps(problems)  # plain text, safe for an XCom


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


SIGNATURE = "FAKESIG0123456789abcdef"


def test_a_failed_download_names_neither_the_query_nor_the_signature(api, connect, capsys):
    url = f"http://127.0.0.1:{_closed_port()}/key.pdf?X-Amz-Signature={SIGNATURE}"
    receipt = DivvyReceipt("rct_sig", url, "key.pdf")
    assert SIGNATURE not in repr(receipt)
    hook = connect(api, hook_kwargs={"retry_args": FAST})
    with pytest.raises(DivvyApiError) as info:
        hook.download_receipt(receipt, max_bytes=99)
    text = str(info.value)
    assert "/key.pdf" in text and "ConnectionError" in text
    assert "X-Amz" not in text and SIGNATURE not in repr(info.value)
    assert info.value.__cause__ is None and info.value.__context__ is None
    out, err = capsys.readouterr()
    assert "request failed on http://127.0.0.1" in out  # it was retried, and said where
    assert SIGNATURE not in out + err and "X-Amz" not in out + err


# --- where a receipt may be fetched from (a URL in Divvy's data is not trusted) -----------------


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("https://10.1.2.3/r.pdf", "private"),
        ("https://192.168.0.9/r.pdf", "private"),
        ("https://169.254.169.254/latest/meta-data", "link-local"),
        ("https://[fe80::1]/r.pdf", "link-local"),
        ("https://224.0.0.1/r.pdf", "multicast"),
        ("https://240.0.0.1/r.pdf", "reserved"),
        ("https://0.0.0.0/r.pdf", "reserved"),
        ("https://100.64.0.1/r.pdf", "not a public address"),
        ("https://127.0.0.1:9/r.pdf", "loopback"),
        ("https://localhost:9/r.pdf", "loopback"),  # a name is judged by what it resolves to
        ("http://localhost:9/r.pdf", "not https"),
    ],
)
def test_a_receipt_url_to_an_internal_address_is_refused_without_a_request(api, connect, url, why):
    hook = connect(api, receipts_allow_loopback=False)
    with pytest.raises(DivvyApiError) as info:
        hook.download_receipt(DivvyReceipt("rct_in", url + "?sig=S3CRET", "r.pdf"), max_bytes=99)
    assert why in str(info.value) and "rct_in" in str(info.value)
    assert "S3CRET" not in str(info.value)


def test_loopback_receipt_urls_need_the_connections_opt_in(api, connect):
    with scripted_server(
        respond(200, b"%PDF", content_type="application/pdf"), host="localhost"
    ) as files:
        receipt = DivvyReceipt("rct_l", f"{files.url}/r.pdf", "r.pdf")
        with pytest.raises(DivvyApiError, match="receipts_allow_loopback"):
            connect(api, receipts_allow_loopback=False).download_receipt(receipt, max_bytes=99)
        assert files.requests == []
        assert (
            connect(api, receipts_allow_loopback=True).download_receipt(receipt, max_bytes=99).data
            == b"%PDF"
        )


def test_a_foreign_file_host_gets_no_netrc_credentials(api, connect, tmp_path, monkeypatch):
    netrc = tmp_path / "netrc"
    netrc.write_text("machine localhost login alice password NETRC-PASSWORD\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    with scripted_server(
        respond(200, b"%PDF", content_type="application/pdf"), host="localhost"
    ) as files:
        hook = connect(api, receipts_allow_loopback=True)
        hook.download_receipt(DivvyReceipt("rct_n", f"{files.url}/r.pdf", "r.pdf"), max_bytes=99)
        assert "Authorization" not in files.requests[0].headers


def test_a_file_hosts_error_body_is_not_quoted(api, connect):
    # S3 answers a bad signature with XML that repeats it (<SignatureProvided>).
    body = f"<Error><Code>SignatureDoesNotMatch</Code><SignatureProvided>{SIGNATURE}"
    with scripted_server(respond(403, body.encode(), content_type="application/xml")) as files:
        receipt = DivvyReceipt("rct_e", f"{files.url}/e.pdf?X-Amz-Signature={SIGNATURE}", "e.pdf")
        with pytest.raises(DivvyApiError) as info:
            connect(api).download_receipt(receipt, max_bytes=99)
    assert info.value.status == 403 and "HTTP 403" in str(info.value)
    assert SIGNATURE not in str(info.value) and SIGNATURE not in repr(info.value)
