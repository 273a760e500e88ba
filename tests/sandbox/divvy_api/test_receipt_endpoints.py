"""Receipts: listed only by GET by id as {url, filename, uuid}; each url a pre-signed address
on another host name that serves the file without the API token; the generator's receipts."""

from __future__ import annotations

from datetime import date
from urllib.parse import urlsplit

import requests

from sandbox.divvy_api.generator import generate_week
from sandbox.divvy_api.state import fake_file


def test_receipts_come_with_get_by_id_only_and_their_files_need_no_token(divvy, client):
    txn = divvy.state.add_transaction({"amount": 12, "merchantName": "Cafe", "uuid": "txr_r"})
    pdf = divvy.state.add_receipt(txn["uuid"], "lunch.pdf", size=1500)
    png = divvy.state.add_receipt(txn["uuid"], "tip.png", b"\x89PNG\r\n\x1a\nraw")

    body = client.get(f"transactions/{txn['uuid']}").json()

    assert [(r["uuid"], r["filename"]) for r in body["receipts"]] == [
        (pdf["uuid"], "lunch.pdf"),
        (png["uuid"], "tip.png"),
    ]
    listed = client.walk("transactions", {"max": 50})
    assert all("receipts" not in row for row in listed)
    api = urlsplit(divvy.url)
    for receipt, data, kind in (
        (body["receipts"][0], fake_file("lunch.pdf", 1500), "application/pdf"),
        (body["receipts"][1], b"\x89PNG\r\n\x1a\nraw", "image/png"),
    ):
        where = urlsplit(receipt["url"])
        assert where.hostname == "localhost" != api.hostname and where.port == api.port
        got = requests.get(receipt["url"], timeout=10)  # no apiToken header at all
        assert (got.status_code, got.content, got.headers["Content-Type"]) == (200, data, kind)
    assert body["receipts"][0]["url"] != body["receipts"][1]["url"]
    assert len(fake_file("lunch.pdf", 1500)) == 1500
    assert fake_file("lunch.pdf", 1500).startswith(b"%PDF")


def test_a_receipt_url_with_a_wrong_or_no_signature_is_refused(divvy, client):
    divvy.state.add_transaction({"amount": 1, "uuid": "txr_s"})
    divvy.state.add_receipt("txr_s", "a.jpg", size=10)
    url = client.get("transactions/txr_s").json()["receipts"][0]["url"]
    for bad in (url.split("?")[0], url[:-1] + ("0" if url[-1] != "0" else "1")):
        got = requests.get(bad, timeout=10)
        assert got.status_code == 403 and b"AccessDenied" in got.content


def test_a_receipt_whose_file_is_gone_keeps_its_url_which_answers_403(divvy, client):
    divvy.state.add_transaction({"amount": 1, "uuid": "txr_g"})
    gone = divvy.state.add_receipt("txr_g", "a.pdf", size=10)
    del divvy.state.receipt_files[gone["uuid"]]
    [receipt] = client.get("transactions/txr_g").json()["receipts"]
    assert requests.get(receipt["url"], timeout=10).status_code == 403


def test_seeded_receipts_and_malformed_entries_are_served_as_given(divvy, client):
    divvy.state.add_transaction(
        {
            "amount": 1,
            "uuid": "txr_m",
            "receipts": [
                {"uuid": "rct_seed", "filename": "seed.gif", "size": 64},
                {"uuid": "rct_raw", "url": "https://files.example.com/x", "filename": "x"},
                "junk",
            ],
        }
    )
    receipts = client.get("transactions/txr_m").json()["receipts"]
    assert receipts[0]["uuid"] == "rct_seed" and "signature=" in receipts[0]["url"]
    assert receipts[1:] == [
        {"uuid": "rct_raw", "url": "https://files.example.com/x", "filename": "x"},
        "junk",
    ]
    assert requests.get(receipts[0]["url"], timeout=10).content == fake_file("seed.gif", 64)


def test_the_generator_gives_some_clears_receipts_and_changes_nothing_else():
    plain = generate_week(date(2026, 11, 16), days=2, per_day=30)
    with_receipts = generate_week(date(2026, 11, 16), days=2, per_day=30, receipt_share=0.5)
    assert with_receipts == generate_week(date(2026, 11, 16), days=2, per_day=30, receipt_share=0.5)
    stripped = [
        {k: v for k, v in t.items() if k != "receipts"} for t in with_receipts["transactions"]
    ]
    assert stripped == plain["transactions"]
    having = [t for t in with_receipts["transactions"] if t.get("receipts")]
    assert having and all(t["transactionType"] == "CLEAR" for t in having)
    assert all(not t.get("parentTransactionUuid") for t in having)
    assert 1 <= max(len(t["receipts"]) for t in having) <= 2
    clears = [t for t in plain["transactions"] if t["transactionType"] == "CLEAR"]
    assert 0.25 < len(having) / len(clears) < 0.75
