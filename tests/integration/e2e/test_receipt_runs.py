"""Receipts as Intacct attachments (issue 11, part 4), through real Airflow against both
sandboxes: attached once, a rerun attaches nothing, a receipt added later is attached by a later
run, an oversized or wrong-type receipt is reported per record without blocking posting, a
download failure fails only the receipts task; on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from e2e_world import task_states, xcom

from intacct_hook.sync.ledger import Ledger

DAY = date(2026, 11, 17)
KB = 1024


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def ledger_of(request, world, monkeypatch) -> Iterator:
    """A function giving the run's ledger: the SQLite file, or a fresh PostgreSQL database
    named by ``ledger_conn_id``."""
    if request.param == "sqlite":
        yield world.ledger
        return
    url = request.getfixturevalue("pg_ledger_url")
    world.settings["ledger_conn_id"] = "ledger_pg"
    ledgers: list[Ledger] = []

    def open_ledger() -> Ledger:
        ledger = Ledger.from_url(url)
        ledgers.append(ledger)
        return ledger

    try:
        yield open_ledger
    finally:
        for ledger in ledgers:
            ledger.engine.dispose()


def receipts_of(ledger: Ledger, *uuids: str) -> dict[str, dict[str, tuple]]:
    rows = ledger.receipt_records(list(uuids))
    return {
        u: {r: (rec.state, rec.supdoc_id, rec.message) for r, rec in recs.items()}
        for u, recs in rows.items()
    }


def test_receipts_attached_once_later_ones_later_and_bad_ones_reported(world, ledger_of):
    world.configure(
        **world.settings
        | {
            "receipts_enabled": True,
            "receipts_max_mb": 10 * KB / (1024 * KB),
            # Receipts are added between runs and the sandbox, like Divvy perhaps, leaves
            # updatedTime alone: ask about every transaction each run.
            "receipts_recheck_days": 0,
        }
    )
    dv = world.dv.state
    lunch = world.add(DAY, 10.00, merchantName="Lunch Place")
    hotel = world.add(DAY, 20.00, merchantName="Hotel")
    notes = world.add(DAY, 30.00, merchantName="Notes Inc")
    two = [
        dv.add_receipt(lunch["uuid"], "lunch.pdf", size=3 * KB),
        dv.add_receipt(lunch["uuid"], "tip.jpg", size=4 * KB),
    ]
    scan = dv.add_receipt(hotel["uuid"], "scan.pdf", size=20 * KB)  # over the 10 KB limit
    memo = dv.add_receipt(notes["uuid"], "memo.docx", size=KB)  # a type not allowed

    first = world.run_day(DAY)

    # Posting is whole; the receipts task succeeds: rejected receipts are reported, not failed.
    assert first.state == "success", task_states(first)
    assert xcom(first, "load")["posted"] == 3
    assert xcom(first, "reconcile")["matched"] is True
    summary = xcom(first, "receipts")
    assert (summary["attached"], summary["rejected"], summary["failed"]) == (2, 2, 0)
    assert any("larger than receipts_max_mb" in m for m in summary["messages"])
    assert any("type 'docx' is not allowed" in m for m in summary["messages"])
    docs = world.gw.supdocs()
    assert len(docs) == 1 and docs[0]["FOLDER"] == "Divvy Receipts"
    assert sorted((n, t) for n, t, _ in docs[0]["attachments"]) == [
        ("lunch", "pdf"),
        ("tip", "jpg"),
    ]
    served = {r["uuid"]: dv.receipt_files[r["uuid"]][0] for r in two}
    assert sorted(d for _, _, d in docs[0]["attachments"]) == sorted(served.values())
    by_ref = {r["RECORDID"]: r for r in world.records()}
    assert by_ref[lunch["uuid"]]["SUPDOCID"] == docs[0]["SUPDOCID"]
    assert by_ref[hotel["uuid"]]["SUPDOCID"] == by_ref[notes["uuid"]]["SUPDOCID"] == ""
    ledger = ledger_of()
    held = receipts_of(ledger, lunch["uuid"], hotel["uuid"], notes["uuid"])
    assert {r: s[:2] for r, s in held[lunch["uuid"]].items()} == {
        r["uuid"]: ("attached", docs[0]["SUPDOCID"]) for r in two
    }
    assert held[hotel["uuid"]][scan["uuid"]][0] == "rejected"
    assert "scan.pdf" in held[hotel["uuid"]][scan["uuid"]][2]
    assert held[notes["uuid"]][memo["uuid"]][0] == "rejected"
    # The files came from another host than the API's, and without the Divvy token.
    downloads = [q for q in world.dv.requests if q.path.startswith("/files/receipts/")]
    assert downloads and all("apiToken" not in q.headers for q in downloads)
    assert scan["uuid"] in {q.path.rsplit("/", 1)[1] for q in downloads}  # stopped at the cap
    assert memo["uuid"] not in {q.path.rsplit("/", 1)[1] for q in downloads}  # never fetched

    second = world.run_day(DAY)

    assert second.state == "success", task_states(second)
    again = xcom(second, "receipts")
    assert (again["attached"], again["already_attached"], again["rejected"]) == (0, 2, 0)
    assert len(world.gw.supdocs()) == 1

    # Receipts added in Divvy after posting: a later day's run (its lookback holds DAY).
    late = dv.add_receipt(hotel["uuid"], "folio.png", size=2 * KB)
    extra = dv.add_receipt(lunch["uuid"], "parking.jpg", size=KB)
    third = world.run_day(DAY + timedelta(days=1))

    assert third.state == "success", task_states(third)
    assert xcom(third, "receipts")["attached"] == 2
    docs = {d["SUPDOCID"]: d for d in world.gw.supdocs()}
    by_ref = {r["RECORDID"]: r for r in world.records()}
    lunch_doc = docs[by_ref[lunch["uuid"]]["SUPDOCID"]]
    hotel_doc = docs[by_ref[hotel["uuid"]]["SUPDOCID"]]
    # The transaction's one document now holds every receipt it has.
    assert sorted(n for n, _, _ in lunch_doc["attachments"]) == ["lunch", "parking", "tip"]
    assert [n for n, _, _ in hotel_doc["attachments"]] == ["folio"]
    held = receipts_of(ledger, lunch["uuid"], hotel["uuid"])
    assert held[hotel["uuid"]][late["uuid"]][:2] == ("attached", hotel_doc["SUPDOCID"])
    assert held[hotel["uuid"]][scan["uuid"]][0] == "rejected"  # not tried again
    assert {s[:2] for s in held[lunch["uuid"]].values()} == {("attached", lunch_doc["SUPDOCID"])}
    assert extra["uuid"] in held[lunch["uuid"]]
    assert xcom(world.run_day(DAY + timedelta(days=1)), "receipts")["attached"] == 0


def test_a_failed_download_fails_only_the_receipts_task_and_a_later_run_attaches_it(world):
    world.configure(**world.settings | {"receipts_enabled": True})
    dv = world.dv.state
    txn = world.add(DAY, 12.00)
    receipt = dv.add_receipt(txn["uuid"], "receipt.pdf", size=KB)
    kept = dv.receipt_files.pop(receipt["uuid"])  # its pre-signed URL now answers 403

    first = world.run_day(DAY)

    states = task_states(first)
    assert states["receipts"] == "failed"
    assert {k: v for k, v in states.items() if k != "receipts"} == dict.fromkeys(
        ("preflight", "extract", "stage", "map", "load", "recode", "reconcile"), "success"
    )
    assert [r["RECORDID"] for r in world.records()] == [txn["uuid"]]
    assert world.gw.supdocs() == []
    (row,) = world.ledger().receipt_records([txn["uuid"]])[txn["uuid"]].values()
    assert row.state == "failed" and "HTTP 403" in row.message

    dv.receipt_files[receipt["uuid"]] = kept
    second = world.run_day(DAY)

    assert second.state == "success", task_states(second)
    assert xcom(second, "receipts")["attached"] == 1
    (row,) = world.ledger().receipt_records([txn["uuid"]])[txn["uuid"]].values()
    assert row.state == "attached" and row.attempts == 1


def test_receipts_are_off_by_default(world):
    txn = world.add(DAY, 12.00)
    world.dv.state.add_receipt(txn["uuid"], "receipt.pdf", size=KB)

    dr = world.run_day(DAY)

    assert dr.state == "success", task_states(dr)
    assert xcom(dr, "receipts") == {"enabled": False}
    assert world.gw.supdocs() == []
    assert not [q for q in world.dv.requests if q.path.endswith(txn["uuid"])]
