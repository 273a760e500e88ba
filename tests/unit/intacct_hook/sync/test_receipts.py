"""The receipts step without Airflow: which transactions it asks about, which receipts it
sends, the limits and their messages, the ledger's record (SQLite and PostgreSQL), against the
local Intacct gateway and the local Divvy API."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from decimal import Decimal
from types import SimpleNamespace

import pytest

from intacct_hook.divvy.records import DivvyReceipt
from intacct_hook.intacct.records import CCLine, CCTransaction
from intacct_hook.sync.ledger import ReceiptRecord, StagedTransaction
from intacct_hook.sync.receipts import (
    attach_receipts,
    file_type,
    supdoc_id_for,
    type_problem,
)
from intacct_hook.sync.settings import SyncSettings
from intacct_hook.sync.window import SyncWindow
from sandbox.divvy_api.testing import running_divvy
from sandbox.intacct_gateway.testing import default_connection, running_gateway
from tests.divvy_factories import empty_seed

DAY = dt.date(2026, 11, 17)
WINDOW = SyncWindow(DAY, DAY, 2, "America/Chicago", "test")
# Asked about every run (receipts_recheck_days 0): these tests add receipts between runs.
ON = SyncSettings.from_variable(
    {"receipts_enabled": True, "receipts_max_mb": 0.01, "receipts_recheck_days": 0}
)


def staged(uuid: str, day: dt.date = DAY) -> StagedTransaction:
    return StagedTransaction(
        uuid=uuid,
        transaction_type="CLEAR",
        amount=Decimal("5.00"),
        occurred_time=dt.datetime.combine(day, dt.time(15), dt.UTC),
        posting_date=day,
        updated_time=None,
        merchant="Staples",
        raw_payload={"uuid": uuid},
        state="ready",
    )


# --- pure rules ---------------------------------------------------------------------------------


def test_the_document_id_is_the_transaction_and_its_receipts_whatever_their_order():
    one = supdoc_id_for("txr_a", ["rct_1", "rct_2"])
    assert one == supdoc_id_for("txr_a", ["rct_2", "rct_1"])
    assert len(one) == 20 and one.startswith("DVY") and one.isalnum()
    assert one != supdoc_id_for("txr_a", ["rct_1"]) != supdoc_id_for("txr_b", ["rct_1"])


def test_the_type_is_the_extension_else_the_content_type():
    named = DivvyReceipt("rct_1", "https://x/1", "Lunch.JPG")
    assert (named.extension, named.stem) == ("jpg", "Lunch")
    bare = DivvyReceipt("rct_2", "https://x/2", None)
    assert (bare.extension, bare.stem) == (None, "rct_2")
    assert file_type(named, "application/pdf") == "jpg"
    assert file_type(bare, "application/pdf; charset=binary") == "pdf"
    assert file_type(bare, "application/octet-stream") is None
    assert file_type(DivvyReceipt("rct_3", None, ".hidden"), None) is None


def test_a_type_problem_names_the_setting_and_the_fix():
    assert type_problem("pdf", ON) is None
    text = type_problem("docx", ON)
    assert "'docx' is not allowed" in text and "receipts_allowed_types" in text
    assert "pdf, jpg, jpeg, png, gif" in text and "Fix:" in text
    assert "unknown" in type_problem(None, ON)


# --- the ledger ---------------------------------------------------------------------------------


def test_candidates_are_the_posted_transactions_of_the_days(ledger):
    days = [DAY - dt.timedelta(days=n) for n in range(5)]
    ledger.stage([staged(f"txr_{n}", day) for n, day in enumerate(days)], "run")
    ledger.stage([staged("txr_ready")], "run")
    for n in range(5):
        assert ledger.adopt_posted(f"txr_{n}", f"REC-{n}", "test")

    got = ledger.receipt_candidates(DAY - dt.timedelta(days=2), DAY)

    assert [(c.uuid, c.posting_date, c.record_no) for c in got] == [
        ("txr_2", days[2], "REC-2"),
        ("txr_1", days[1], "REC-1"),
        ("txr_0", DAY, "REC-0"),
    ]


def test_a_receipt_is_recorded_once_and_a_failure_counts_its_attempts(ledger):
    ledger.record_receipts([ReceiptRecord("txr_a", "rct_1", "failed", "a.pdf", None, "down")])
    ledger.record_receipts([ReceiptRecord("txr_a", "rct_1", "failed", "a.pdf", None, "down")])
    ledger.record_receipts([ReceiptRecord("txr_a", "rct_1", "attached", "a.pdf", "DVY1")])
    first = ledger.receipt_records(["txr_a"])["txr_a"]["rct_1"]
    ledger.record_receipts([ReceiptRecord("txr_a", "rct_1", "attached", "a.pdf", "DVY2")])
    (row,) = ledger.receipt_records(["txr_a", "txr_none"])["txr_a"].values()

    assert (row.state, row.supdoc_id, row.message, row.attempts) == ("attached", "DVY2", None, 2)
    assert row.attached_at == first.attached_at is not None  # the first attachment's time
    with pytest.raises(ValueError, match="unknown receipt state"):
        ledger.record_receipts([ReceiptRecord("txr_a", "rct_1", "lost")])


# --- the step against both sandboxes ------------------------------------------------------------


@pytest.fixture
def world(ledger, monkeypatch) -> Iterator[SimpleNamespace]:
    from intacct_hook.hooks.divvy import DivvyHook
    from intacct_hook.hooks.intacct import IntacctHook

    with running_gateway() as gw, running_divvy(empty_seed(), calls_per_minute=100_000) as dv:
        monkeypatch.setenv("AIRFLOW_CONN_INTACCT_DEFAULT", json.dumps(default_connection(gw.url)))
        monkeypatch.setenv(
            "AIRFLOW_CONN_DIVVY_DEFAULT",
            json.dumps(
                {
                    "conn_type": "divvy",
                    "host": dv.url,
                    "password": dv.token,
                    # The sandbox serves receipt files on "localhost".
                    "extra": {"receipts_allow_loopback": True},
                }
            ),
        )
        intacct = IntacctHook()

        def post(uuid: str, day: dt.date = DAY) -> str:
            dv.state.add_transaction({"uuid": uuid, "amount": 5, "merchantName": "Staples"})
            ledger.stage([staged(uuid, day)], "run")
            line = CCLine("6100", Decimal("5.00"), location_id="100")
            [outcome] = intacct.record_cctransactions(
                [CCTransaction("Divvy CC Object", day, uuid, (line,))]
            )
            assert ledger.adopt_posted(uuid, outcome.record_no, "test")
            return outcome.record_no

        yield SimpleNamespace(
            gw=gw, dv=dv, ledger=ledger, intacct=intacct, divvy=DivvyHook(), post=post
        )


def _files(dv) -> list[str]:
    return [q.path.rsplit("/", 1)[1] for q in dv.requests if q.path.startswith("/files/")]


def test_only_new_or_failed_receipts_of_posted_transactions_are_sent(world):
    dv, ledger = world.dv, world.ledger
    world.post("txr_a")
    world.post("txr_old", DAY - dt.timedelta(days=10))  # before the window and its lookback
    first = dv.state.add_receipt("txr_a", "a.pdf", size=100)
    dv.state.add_receipt("txr_old", "old.pdf", size=100)

    report = attach_receipts(world.divvy, world.intacct, ledger, ON, WINDOW)

    assert (report.transactions, report.attached, report.supdocs) == (1, 1, 1)
    assert _files(dv) == [first["uuid"]]
    second = dv.state.add_receipt("txr_a", "b.png", size=100)
    big = dv.state.add_receipt("txr_a", "c.pdf", size=20_000)
    report = attach_receipts(world.divvy, world.intacct, ledger, ON, WINDOW)
    # The new document holds every receipt the transaction has: the first is fetched again.
    assert (report.attached, report.unchanged, len(report.rejected)) == (1, 1, 1)
    assert _files(dv)[1:] == [first["uuid"], second["uuid"], big["uuid"]]
    held = ledger.receipt_records(["txr_a"])["txr_a"]
    doc = world.gw.cctransactions()[0]["SUPDOCID"]
    assert {u: (r.state, r.supdoc_id) for u, r in held.items()} == {
        first["uuid"]: ("attached", doc),
        second["uuid"]: ("attached", doc),
        big["uuid"]: ("rejected", None),
    }
    assert "receipts_max_mb = 0.01 MB" in held[big["uuid"]].message

    report = attach_receipts(world.divvy, world.intacct, ledger, ON, WINDOW)

    assert (report.attached, report.unchanged, report.rejected, report.failed) == (0, 2, [], [])
    assert len(_files(dv)) == 4  # nothing downloaded again
    assert len(world.gw.supdocs()) == 2


def test_a_preview_only_counts_and_off_does_nothing(world):
    world.post("txr_a")
    dv = world.dv
    dv.state.add_receipt("txr_a", "a.pdf", size=100)
    asked = len(dv.requests)

    off = attach_receipts(world.divvy, world.intacct, world.ledger, SyncSettings(), WINDOW)
    assert off.summary()["enabled"] is False and len(dv.requests) == asked

    preview = attach_receipts(world.divvy, None, world.ledger, ON, WINDOW, dry_run=True)

    assert (preview.would_attach, preview.attached) == (1, 0)
    assert _files(dv) == [] and world.gw.supdocs() == []
    assert world.ledger.receipt_records(["txr_a"]) == {}


def test_an_unknown_folder_fails_the_receipt_with_intaccts_message_and_is_retried(world):
    world.post("txr_a")
    world.dv.state.add_receipt("txr_a", "a.pdf", size=100)
    elsewhere = SyncSettings.from_variable({"receipts_enabled": True, "receipts_folder": "Nope"})

    report = attach_receipts(world.divvy, world.intacct, world.ledger, elsewhere, WINDOW)

    assert report.attached == 0 and len(report.failed) == 1
    assert "Invalid folder name 'Nope'" in report.failed[0]
    (row,) = world.ledger.receipt_records(["txr_a"])["txr_a"].values()
    assert (row.state, row.attempts) == ("failed", 1)
    report = attach_receipts(world.divvy, world.intacct, world.ledger, ON, WINDOW)
    assert report.attached == 1


def test_a_transaction_divvy_no_longer_knows_is_reported_and_the_others_go_on(world):
    world.post("txr_a")
    world.post("txr_b")
    world.dv.state.add_receipt("txr_b", "b.pdf", size=100)
    with world.dv.state.lock:
        del world.dv.state.transactions["txr_a"]

    report = attach_receipts(world.divvy, world.intacct, world.ledger, ON, WINDOW)

    assert report.attached == 1 and len(report.failed) == 1
    assert "txr_a" in report.failed[0] and "404" in report.failed[0]


def test_new_receipts_wait_when_an_attached_one_cannot_be_read_again(world):
    dv, ledger = world.dv, world.ledger
    record_no = world.post("txr_a")
    first = dv.state.add_receipt("txr_a", "a.pdf", size=100)
    attach_receipts(world.divvy, world.intacct, ledger, ON, WINDOW)
    doc = world.gw.cctransactions()[0]["SUPDOCID"]
    late = dv.state.add_receipt("txr_a", "b.pdf", size=100)
    kept = dv.state.receipt_files.pop(first["uuid"])  # its URL now answers 403

    report = attach_receipts(world.divvy, world.intacct, ledger, ON, WINDOW)

    assert report.attached == 0 and len(report.failed) == 1
    assert "'a.pdf'" in report.failed[0] and "attached earlier" in report.failed[0]
    held = ledger.receipt_records(["txr_a"])["txr_a"]
    assert (held[first["uuid"]].state, held[first["uuid"]].supdoc_id) == ("attached", doc)
    assert held[late["uuid"]].state == "failed"
    assert world.gw.cctransactions()[0]["SUPDOCID"] == doc and len(world.gw.supdocs()) == 1

    dv.state.receipt_files[first["uuid"]] = kept
    assert attach_receipts(world.divvy, world.intacct, ledger, ON, WINDOW).attached == 1
    assert world.gw.cctransactions()[0]["SUPDOCID"] != doc
    assert record_no == world.gw.cctransactions()[0]["RECORDNO"]


def test_a_failed_download_keeps_the_signed_query_out_of_the_ledger_and_the_report(world):
    import socket

    import tenacity

    from intacct_hook.hooks.divvy import DivvyHook

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed once the block ends: the download is refused
    signature = "FAKESIG0123456789abcdef"
    world.post("txr_a")
    with world.dv.state.lock:
        world.dv.state.transactions["txr_a"]["receipts"] = [
            {
                "uuid": "rct_sig",
                "url": f"http://127.0.0.1:{port}/k.pdf?X-Amz-Signature={signature}",
                "filename": "k.pdf",
            }
        ]
    fast = {"wait": tenacity.wait_none(), "stop": tenacity.stop_after_attempt(2)}

    report = attach_receipts(DivvyHook(retry_args=fast), world.intacct, world.ledger, ON, WINDOW)

    assert len(report.failed) == 1 and "/k.pdf (ConnectionError)" in report.failed[0]
    row = world.ledger.receipt_records(["txr_a"])["txr_a"]["rct_sig"]
    assert row.state == "failed" and "/k.pdf" in row.message
    assert signature not in row.message and signature not in json.dumps(report.summary())


# --- which transactions are asked about: the cap, the order, the skip ---------------------------


def _asked(dv) -> list[str]:
    """The transactions Divvy was asked about by id (GET by id lists the receipts)."""
    marker = "/v3/spend/transactions/"
    return [q.path.split(marker, 1)[1] for q in dv.requests if marker in q.path]


def test_a_window_larger_than_the_cap_is_covered_over_successive_runs(world):
    now = [dt.datetime(2026, 11, 18, 12, tzinfo=dt.UTC)]
    world.ledger.clock = lambda: now[0]
    uuids = [f"txr_{n}" for n in range(5)]
    for uuid in uuids:
        world.post(uuid)
        world.dv.state.add_receipt(uuid, f"{uuid}.pdf", size=100)
    capped = SyncSettings.from_variable(
        {"receipts_enabled": True, "receipts_max_mb": 0.01, "receipts_max_checks": 2}
    )
    asked_per_run, attached = [], 0
    for _ in range(3):
        before = len(_asked(world.dv))
        report = attach_receipts(world.divvy, world.intacct, world.ledger, capped, WINDOW)
        asked_per_run.append(_asked(world.dv)[before:])
        attached += report.attached
        now[0] += dt.timedelta(hours=1)

    assert [len(a) for a in asked_per_run] == [2, 2, 1]
    assert sorted(u for run in asked_per_run for u in run) == uuids  # each once, all of it
    assert attached == 5 and report.summary()["transactions_deferred"] == 0


def test_a_transaction_checked_and_unchanged_is_not_asked_again_until_due(world):
    import sqlalchemy as sa

    now = [dt.datetime(2026, 11, 18, 12, tzinfo=dt.UTC)]
    world.ledger.clock = lambda: now[0]
    world.post("txr_a")
    world.dv.state.add_receipt("txr_a", "a.pdf", size=100)
    week = SyncSettings.from_variable(
        {"receipts_enabled": True, "receipts_max_mb": 0.01, "receipts_recheck_days": 3}
    )

    assert attach_receipts(world.divvy, world.intacct, world.ledger, week, WINDOW).attached == 1
    now[0] += dt.timedelta(days=1)
    report = attach_receipts(world.divvy, world.intacct, world.ledger, week, WINDOW)
    assert report.transactions == 0 and _asked(world.dv) == ["txr_a"]

    # Divvy changed it since (the ledger holds a newer updatedTime): asked again.
    with world.ledger.engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE divvy_transaction SET updated_time = :t WHERE uuid = 'txr_a'"),
            {"t": "2026-11-18T20:00:00+00:00"},
        )
    attach_receipts(world.divvy, world.intacct, world.ledger, week, WINDOW)
    assert _asked(world.dv) == ["txr_a", "txr_a"]
    attach_receipts(world.divvy, world.intacct, world.ledger, week, WINDOW)
    assert len(_asked(world.dv)) == 2
    # Unchanged, but its last check is receipts_recheck_days old: asked again (a receipt upload
    # may not change updatedTime).
    now[0] += dt.timedelta(days=3)
    attach_receipts(world.divvy, world.intacct, world.ledger, week, WINDOW)
    assert len(_asked(world.dv)) == 3
