"""The sync ledger on SQLite and PostgreSQL: upserts, protected states, exact money, claims."""

from __future__ import annotations

import datetime as dt
import json
import logging
import pathlib
import threading
from decimal import Decimal

import pytest
import sqlalchemy as sa

from intacct_hook.sync.ledger import (
    SQL_DIR,
    ExpectedEntry,
    Ledger,
    LedgerMissingError,
    LedgerStateError,
    MappedLine,
    StagedTransaction,
    Tally,
    for_dialect,
    payload_json,
    split_statements,
)
from intacct_hook.sync.reconcile import Difference

DAY = dt.date(2026, 8, 1)


class FakeClock:
    """The ledger's injected clock: time moves only when a test says so."""

    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, delta: dt.timedelta) -> None:
        self.now += delta


def staged(uuid="txr_1", amount="53.03", state="ready", day=DAY, **kw) -> StagedTransaction:
    return StagedTransaction(
        uuid=uuid,
        transaction_type=kw.pop("transaction_type", "CLEAR"),
        amount=Decimal(amount),
        occurred_time=dt.datetime.combine(day, dt.time(12), dt.UTC),
        posting_date=day,
        updated_time=kw.pop("updated_time", dt.datetime(2026, 8, 3, 9, tzinfo=dt.UTC)),
        merchant=kw.pop("merchant", "Amazon"),
        raw_payload=kw.pop("raw_payload", {"uuid": uuid, "amount": amount}),
        state=state,
        reason=kw.pop("reason", None),
    )


def one(ledger: Ledger, uuid: str = "txr_1"):
    (row,) = [r for s in ("held", "unmapped", "ready", "posting", "posted", "failed", "skipped")
              for r in ledger.select_in_state([s]) if r.uuid == uuid]  # fmt: skip
    return row


def line(n=1, amount="53.03", gl="6100") -> MappedLine:
    return MappedLine(n, "txr_1", Decimal(amount), gl, "100", gl_account_rule="rules.csv line 2",
                      location_rule="card default location")  # fmt: skip


LEASE = dt.timedelta(minutes=60)
OWNER = "run1#try1"


def claim(ledger: Ledger, n: int = 100, owner: str = OWNER, run_id: str = "run1") -> list[str]:
    """Claim up to ``n`` ready rows; the uuids claimed."""
    rows = ledger.claim_for_posting(owner, run_id=run_id, batch_size=n, lease=LEASE)
    return [r.uuid for r in rows]


def stage_mapped(ledger: Ledger, rows: list[StagedTransaction], run_id: str = "run1") -> None:
    """Stage rows and code the ready ones, as stage and map do: only coded rows are claimable."""
    ledger.stage(rows, run_id)
    for row in rows:
        if row.state == "ready":
            ledger.save_mapping(row.uuid, [line()], "ready")


def posted(ledger: Ledger, uuid="txr_1") -> None:
    ledger.stage([staged(uuid)], "run1")
    ledger.save_mapping(uuid, [line()], "ready")
    assert claim(ledger) == [uuid]
    ledger.mark_posted(uuid, "REC-1", f"ctl-{uuid}")


def test_schema_is_idempotent(ledger):
    ledger.ensure_schema()
    ledger.ensure_schema()
    assert ledger.counts_by_state() == {}


def test_restaging_updates_and_never_duplicates(ledger):
    first = ledger.stage([staged(), staged("txr_2", state="held", reason="incomplete")], "run1")
    assert (first.inserted, first.updated, first.protected) == (2, 0, 0)
    assert dict(first.by_state) == {"ready": 1, "held": 1}
    again = ledger.stage([staged(amount="60.00", merchant="Amazon EU")], "run2")
    assert (again.inserted, again.updated, again.protected) == (0, 1, 0)
    row = one(ledger)
    assert (row.amount, row.merchant, row.first_run_id, row.last_run_id) == (
        Decimal("60.00"), "Amazon EU", "run1", "run2",
    )  # fmt: skip
    assert ledger.counts_by_state() == {
        "ready": Tally(1, Decimal("60.00")),
        "held": Tally(1, Decimal("53.03")),
    }


def test_restaging_re_decides_held_and_unmapped_rows(ledger):
    ledger.stage([staged(state="held", reason="incomplete in Divvy")], "run1")
    assert one(ledger).state_reason == "incomplete in Divvy"
    ledger.stage([staged()], "run2")
    assert (one(ledger).state, one(ledger).state_reason) == ("ready", None)
    ledger.save_mapping("txr_1", [line()], "unmapped", "no GL account")
    # Divvy changed the transaction: stage re-decides it and the stale coding is dropped
    ledger.stage([staged(raw_payload={"uuid": "txr_1", "amount": "53.03", "v": 2})], "run3")
    assert one(ledger).state == "ready"
    assert ledger.mapped_lines(["txr_1"]) == {"txr_1": []}


@pytest.mark.parametrize(("mapped_as", "reason"), [("ready", None), ("unmapped", "no GL")])
def test_restaging_an_unchanged_transaction_leaves_its_coding_alone(ledger, mapped_as, reason):
    # Another run re-reads the same Divvy data between this run's map and its load: its
    # stage must not undo the map (a coded row reset to ready without lines, an unmapped row
    # suddenly expected in Intacct by this run's reconcile).
    ledger.stage([staged()], "run1")
    ledger.save_mapping("txr_1", [line()], mapped_as, reason)
    before = one(ledger)
    counts = ledger.stage([staged()], "run2")
    assert (counts.inserted, counts.updated, counts.unchanged) == (0, 0, 1)
    assert one(ledger) == before
    assert ledger.mapped_lines(["txr_1"])["txr_1"] == [line()]


def test_restaging_unchanged_data_under_new_rules_re_decides_it(ledger):
    # Same Divvy data, different decision (a setting changed): the new decision wins.
    ledger.stage([staged(state="held", reason="purchased in EUR")], "run1")
    ledger.stage([staged()], "run2")
    assert one(ledger).state == "ready"


@pytest.mark.parametrize("final", ["posting", "posted"])
def test_a_posting_or_posted_row_is_never_regressed_by_restaging(ledger, final):
    ledger.stage([staged()], "run1")
    ledger.save_mapping("txr_1", [line()], "ready")
    assert claim(ledger) == ["txr_1"]
    if final == "posted":
        ledger.mark_posted("txr_1", "REC-9", "ctl-1")
    before = one(ledger)
    counts = ledger.stage([staged(amount="1.00", state="held", raw_payload={"x": 1})], "run2")
    assert (counts.inserted, counts.updated, counts.protected) == (0, 0, 1)
    assert one(ledger) == before
    assert ledger.mapped_lines(["txr_1"])["txr_1"] == [line()]


def test_the_stage_sql_itself_guards_posted_rows(ledger):
    # The Python pre-check skips protected rows; the SQL must hold even without it (a claim can
    # land between the pre-check and the upsert).
    posted(ledger)
    before = one(ledger)
    params = {
        "uuid": "txr_1", "transaction_type": "CLEAR", "amount": "1.00",
        "occurred_time": "2026-08-01T12:00:00+00:00", "posting_date": "2026-08-01",
        "updated_time": None, "merchant": "x", "raw_payload": "{}", "state": "ready",
        "state_reason": None, "run_id": "run2", "now": "2026-08-02T00:00:00+00:00",
    }  # fmt: skip
    with ledger.engine.begin() as conn:
        conn.execute(sa.text(ledger.sql("stage_transaction")), params)
    assert one(ledger) == before
    assert (before.state, before.intacct_record_no, before.control_id) == (
        "posted", "REC-1", "ctl-txr_1",
    )  # fmt: skip


def test_a_failed_row_is_restaged_and_keeps_its_last_error(ledger):
    stage_mapped(ledger, [staged()])
    assert claim(ledger) == ["txr_1"]
    ledger.mark_failed("txr_1", "BL01001973 closed period", owner=OWNER)
    ledger.stage([staged()], "run2")  # same Divvy data: map decides (and re-maps it to ready)
    row = one(ledger)
    assert (row.state, row.last_error) == ("failed", "BL01001973 closed period")
    ledger.stage([staged(raw_payload={"uuid": "txr_1", "v": 2})], "run3")  # Divvy changed it
    row = one(ledger)
    assert (row.state, row.last_error) == ("ready", "BL01001973 closed period")


@pytest.mark.parametrize(
    "amounts",
    [
        ["0.10", "0.20"],
        ["-12.50", "12.49"],
        ["9999999999999999.99", "0.01"],
        ["1.005", "2.0050"],
    ],
)
def test_money_round_trips_exactly(ledger, amounts):
    rows = [staged(f"txr_{i}", a) for i, a in enumerate(amounts)]
    ledger.stage(rows, "run1")
    stored = {r.uuid: r.amount for r in ledger.select_in_state(["ready"])}
    assert stored == {f"txr_{i}": Decimal(a) for i, a in enumerate(amounts)}
    assert [str(stored[f"txr_{i}"]) for i in range(len(amounts))] == amounts  # scale kept
    total = sum((Decimal(a) for a in amounts), Decimal(0))
    assert ledger.counts_by_date() == {DAY: {"ready": Tally(len(amounts), total)}}
    ledger.save_mapping("txr_0", [line(1, amounts[0])], "ready")
    assert ledger.mapped_lines(["txr_0"])["txr_0"][0].amount == Decimal(amounts[0])


def test_float_amounts_are_refused(ledger):
    bad = staged()
    object.__setattr__(bad, "amount", 53.03)
    with pytest.raises(TypeError, match="must be Decimal"):
        ledger.stage([bad], "run1")
    assert ledger.counts_by_state() == {}


def test_raw_payload_and_dates_round_trip(ledger):
    payload = {"uuid": "txr_1", "customFields": [{"name": "GL Account", "v": ["6100 - Ofc"]}]}
    ledger.stage([staged(raw_payload=payload)], "run1")
    row = one(ledger)
    assert row.raw_payload == payload
    assert row.posting_date == DAY
    assert row.occurred_time == "2026-08-01T12:00:00+00:00"


def test_select_for_mapping_covers_ready_unmapped_and_failed_only(ledger):
    stage_mapped(ledger, [staged("r"), staged("u"), staged("f"), staged("p"),
                          staged("h", state="held"), staged("s", state="skipped")])  # fmt: skip
    ledger.save_mapping("u", [], "unmapped", "no GL account")
    assert claim(ledger, 2) == ["f", "p"]
    ledger.mark_failed("f", "inactive account", owner=OWNER)
    assert sorted(r.uuid for r in ledger.select_for_mapping()) == ["f", "r", "u"]


def test_save_mapping_replaces_lines_atomically(ledger):
    ledger.stage([staged()], "run1")
    ledger.save_mapping("txr_1", [line(1, "30.00"), line(2, "23.03", "6200")], "ready")
    ledger.save_mapping("txr_1", [line(1, "53.03", "6300")], "ready")
    (only,) = ledger.mapped_lines(["txr_1"])["txr_1"]
    assert (only.gl_account_no, only.amount, only.gl_account_rule, only.location_rule) == (
        "6300", Decimal("53.03"), "rules.csv line 2", "card default location",
    )  # fmt: skip


def test_save_mapping_leaves_posted_rows_alone_and_refuses_bad_states(ledger):
    posted(ledger)
    # Another run's load claimed (here: posted) it after this map read it: its lines stand.
    assert ledger.save_mapping("txr_1", [line(1, "1.00", "6900")], "ready") is False
    assert ledger.mapped_lines(["txr_1"])["txr_1"] == [line()]
    assert one(ledger).state == "posted"
    with pytest.raises(LedgerStateError, match="not in the ledger"):
        ledger.save_mapping("nope", [], "ready")
    with pytest.raises(ValueError, match="must be one of"):
        ledger.save_mapping("txr_1", [], "posted")


def test_claim_only_takes_ready_rows_once(ledger):
    stage_mapped(ledger, [staged("a"), staged("b"), staged("c", state="held")], "run1")
    ledger.save_mapping("b", [], "unmapped", "no GL account")
    (row,) = ledger.claim_for_posting("run2#try1", run_id="run2", batch_size=10, lease=LEASE)
    assert (row.uuid, row.state, row.last_run_id) == ("a", "posting", "run2")
    assert claim(ledger, owner="run3#try1", run_id="run3") == []


def test_mark_posted_records_intacct_ids_and_is_idempotent(ledger):
    posted(ledger)
    first = one(ledger)
    ledger.mark_posted("txr_1", "REC-1", "ctl-txr_1")  # a retried task repeats the call
    row = one(ledger)
    assert (row.state, row.intacct_record_no, row.control_id) == ("posted", "REC-1", "ctl-txr_1")
    assert row.posted_at == first.posted_at and row.posted_at is not None
    assert ledger.take_over_claims("run9#try1", run_id="run9", lease=LEASE) == []
    with pytest.raises(LedgerStateError, match="it is 'posted'"):
        ledger.mark_posted("txr_1", "REC-2", "ctl-txr_1")


def test_mark_failed_and_release_need_a_posting_row(ledger):
    stage_mapped(ledger, [staged("a"), staged("b")], "run1")
    with pytest.raises(LedgerStateError, match="cannot mark failed a: it is 'ready'"):
        ledger.mark_failed("a", "boom", owner=OWNER)
    assert claim(ledger) == ["a", "b"]
    ledger.mark_failed("a", "Could not create cctransaction record!", owner=OWNER)
    ledger.release_claim("b", "not found in Intacct by reference number", owner=OWNER)
    assert (one(ledger, "a").state, one(ledger, "a").state_reason) == (
        "failed", "Could not create cctransaction record!",
    )  # fmt: skip
    assert (one(ledger, "b").state, one(ledger, "b").state_reason) == (
        "ready", "not found in Intacct by reference number",
    )  # fmt: skip
    with pytest.raises(LedgerStateError):
        ledger.release_claim("b", "again", owner=OWNER)


def test_select_in_state_filters_states_and_dates(ledger):
    days = [DAY + dt.timedelta(days=i) for i in range(3)]
    ledger.stage([staged(f"d{i}", day=d) for i, d in enumerate(days)], "run1")
    ledger.stage([staged("h", state="held", day=days[1])], "run1")
    got = ledger.select_in_state(["ready", "held"], days[1], days[2])
    assert [(r.uuid, r.posting_date) for r in got] == [
        ("d1", days[1]), ("h", days[1]), ("d2", days[2]),
    ]  # fmt: skip
    assert ledger.select_in_state([]) == []
    with pytest.raises(ValueError, match="unknown state"):
        ledger.select_in_state(["done"])


def test_counts_by_date_groups_per_day_and_state(ledger):
    ledger.stage([staged("a", "10.10"), staged("b", "-2.05"), staged("c", "1", state="held"),
                  staged("d", "7.00", day=DAY + dt.timedelta(days=1))], "run1")  # fmt: skip
    assert ledger.counts_by_date(DAY, DAY) == {
        DAY: {"ready": Tally(2, Decimal("8.05")), "held": Tally(1, Decimal("1"))}
    }
    assert list(ledger.counts_by_date()) == [DAY, DAY + dt.timedelta(days=1)]


def test_reconciliation_is_stored_per_run_and_date_and_retries_overwrite(ledger):
    diff = Difference(
        DAY, "missing_in_intacct", "txr_1", None, Decimal("53.03"), None, "not found in Intacct"
    )
    status = ledger.record_reconciliation(
        "run1", DAY, "Divvy CC Object", Tally(2, Decimal("60.03")), Tally(1, Decimal("7.00")),
        [diff, Difference(DAY, "extra_in_intacct", None, "REC-7", None, Decimal("9.99"))],
    )  # fmt: skip
    assert status == "differs"
    # The task is retried and Intacct now matches: the same run+date is replaced, not doubled.
    status = ledger.record_reconciliation(
        "run1", DAY, "Divvy CC Object", Tally(2, Decimal("60.03")), Tally(2, Decimal("60.03"))
    )
    assert status == "matched"
    (rec,) = ledger.reconciliations("run1")
    assert (rec["posting_date"], rec["divvy_total"], rec["intacct_count"], rec["status"]) == (
        DAY, Decimal("60.03"), 2, "matched",
    )  # fmt: skip
    assert ledger.reconciliation_differences("run1") == []


def test_reconciliation_differences_round_trip(ledger):
    diffs = [
        Difference(DAY, "amount_differs", "txr_1", "REC-1", Decimal("53.03"),
                                 Decimal("53.30"), "amount 53.03 vs 53.30"),
        Difference(DAY, "date_differs", "txr_2", "REC-2", Decimal("1.00"),
                                 Decimal("1.00"), "2026-08-01 vs 2026-08-02"),
    ]  # fmt: skip
    ledger.record_reconciliation("run1", DAY, "Divvy CC Object", Tally(), Tally(), diffs)
    ledger.record_reconciliation(
        "run2", DAY, "Divvy CC Object", Tally(1, Decimal(1)), Tally(0, Decimal(0))
    )
    got = ledger.reconciliation_differences("run1")
    assert [(d["diff_no"], d["kind"], d["intacct_amount"]) for d in got] == [
        (1, "amount_differs", Decimal("53.30")), (2, "date_differs", Decimal("1.00")),
    ]  # fmt: skip
    assert ledger.reconciliations("run2")[0]["status"] == "differs"  # counts differ, no rows
    with pytest.raises(ValueError, match="unknown difference kind"):
        ledger.record_reconciliation("run3", DAY, "x", Tally(), Tally(), [Difference(DAY, "other")])


def test_the_database_rejects_unknown_states(ledger):
    params = {
        "uuid": "x", "transaction_type": "CLEAR", "amount": "1", "occurred_time": "t",
        "posting_date": "2026-08-01", "updated_time": None, "merchant": None,
        "raw_payload": "{}", "state": "done", "state_reason": None, "run_id": "r", "now": "n",
    }  # fmt: skip
    with pytest.raises(sa.exc.IntegrityError), ledger.engine.begin() as conn:
        conn.execute(sa.text(ledger.sql("stage_transaction")), params)


def test_sql_files_use_only_bind_parameters():
    # Each file parses into named parameters; a stray ':word' in a comment would show up here.
    expected = {
        "claim_for_posting": {"owner", "run_id", "lease_until", "now", "batch_size"},
        "mark_posted": {"uuid", "record_no", "control_id", "now"},
        "select_in_state": {"states", "date_from", "date_to"},
        "schema": set(),
        "select_receipt_candidates": {"date_from", "date_to", "recheck_before"},
        "record_receipt_check": {"uuid", "now", "updated_time"},
        "select_receipt_attachments": {"uuids"},
        "record_receipt_attachment": {
            "uuid", "receipt_uuid", "filename", "supdoc_id", "state", "message", "now",
        },
    }  # fmt: skip
    for name, params in expected.items():
        text = (SQL_DIR / f"{name}.sql").read_text()
        assert set(sa.text(text).compile().params) == params, name
    statements = split_statements((SQL_DIR / "schema.sql").read_text())
    assert [s.split("EXISTS")[1].split()[0] for s in statements] == [
        "divvy_transaction", "divvy_transaction_state_idx", "divvy_transaction_posting_date_idx",
        "divvy_transaction_claim_order_idx", "divvy_payload", "mapped_line", "map_input",
        "reconciliation",
        "reconciliation_difference", "divvy_landing", "divvy_landing_extracted_at_idx",
        "extract_manifest", "extract_manifest_extracted_at_idx", "receipt_attachment",
        "receipt_check",
    ]  # fmt: skip


def test_from_url_sqlite_enforces_foreign_keys(tmp_path):
    led = Ledger.from_url(f"sqlite:///{tmp_path / 'l.db'}")
    led.ensure_schema()
    with pytest.raises(sa.exc.IntegrityError), led.engine.begin() as conn:
        conn.execute(
            sa.text(led.sql("insert_mapped_line")),
            {"uuid": "no-such-txn", "line_no": 1, "source_uuid": "x", "amount": "1",
             "gl_account_no": None, "location_id": None, "department_id": None,
             "class_id": None, "project_id": None, "description": None,
             "gl_account_rule": None, "location_rule": None, "department_rule": None,
             "class_rule": None, "project_rule": None, "now": "n"},
        )  # fmt: skip


@pytest.mark.postgres
def test_from_url_postgresql(postgres_dsn):
    url = sa.make_url(postgres_dsn).set(drivername="postgresql+psycopg")
    led = Ledger.from_url(url)
    try:
        assert led.engine.dialect.name == "postgresql"
        with led.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT 1")).scalar() == 1
    finally:
        led.engine.dispose()


def _payload(uuid: str, amount: str = "1.00") -> dict:
    return {
        "transaction": {"uuid": uuid, "amount": amount, "merchantName": "Café 🍕 & <Co>"},
        "children": [],
    }


def test_landing_round_trips_and_a_retried_extract_overwrites(ledger):
    assert ledger.land("run-1", [_payload("txr_a"), _payload("txr_b")]) == 2
    ledger.land("run-1", [_payload("txr_a", "2.00")])  # extract retried: same run, same uuid
    landed = {p["transaction"]["uuid"]: p for p in ledger.landed("run-1")}
    assert set(landed) == {"txr_a", "txr_b"}
    assert landed["txr_a"]["transaction"]["amount"] == "2.00"
    assert landed["txr_b"]["transaction"]["merchantName"] == "Café 🍕 & <Co>"
    assert list(ledger.landed("run-2")) == []


def test_purge_landing_drops_the_finished_run_and_abandoned_ones_only(ledger):
    # Runs overlap (backfills): a run's landing is its own until it has finished, so purging
    # after run-2 must not take run-1's recent landing (run-1 may be between extract and stage).
    clock = FakeClock(dt.datetime(2026, 8, 1, 12, tzinfo=dt.UTC))
    ledger.clock = clock
    ledger.land("abandoned", [_payload("txr_z")])
    clock.advance(dt.timedelta(days=8))
    ledger.land("run-1", [_payload("txr_a")])
    ledger.land("run-2", [_payload("txr_b")])
    assert ledger.purge_landing("run-2", retention=dt.timedelta(days=7)) == 2
    assert [p["transaction"]["uuid"] for p in ledger.landed("run-1")] == ["txr_a"]
    assert list(ledger.landed("run-2")) == []
    assert list(ledger.landed("abandoned")) == []


def test_a_uuid_twice_in_one_stage_call_is_one_row_with_the_last_state(ledger):
    counts = ledger.stage([staged("txr_x", state="held"), staged("txr_x", state="ready")], "r1")
    assert (counts.inserted, counts.updated, counts.by_state) == (1, 0, {"ready": 1})
    assert [r.state for r in ledger.select_in_state(["ready", "held"])] == ["ready"]


# --- overlapping runs: claims with owners and leases -------------------------------------------


def _twin(ledger: Ledger) -> Ledger:
    """A second Ledger object on the same database, as another worker process would open it."""
    return Ledger(sa.create_engine(ledger.engine.url, creator=ledger.engine.pool._creator))


def test_concurrent_claims_take_disjoint_rows(ledger):
    stage_mapped(ledger, [staged(f"t{i:03d}") for i in range(120)], "run1")
    other = _twin(ledger)
    got: dict[str, list[str]] = {"a": [], "b": []}
    errors: list[BaseException] = []

    def drain(led: Ledger, name: str) -> None:
        try:
            while uuids := claim(led, 7, owner=f"{name}#try1", run_id=name):
                got[name].extend(uuids)
        except BaseException as exc:  # surfaced below; a thread's exception is otherwise lost
            errors.append(exc)

    threads = [threading.Thread(target=drain, args=a) for a in ((ledger, "a"), (other, "b"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    other.engine.dispose()
    assert not errors
    assert not set(got["a"]) & set(got["b"])
    assert sorted(got["a"] + got["b"]) == [f"t{i:03d}" for i in range(120)]


def test_a_live_claim_of_another_run_is_never_taken_over(ledger):
    clock = FakeClock(dt.datetime(2026, 8, 1, 12, tzinfo=dt.UTC))
    ledger.clock = clock
    stage_mapped(ledger, [staged("a")], "run1")
    assert claim(ledger, owner="run1#try1", run_id="run1") == ["a"]
    clock.advance(LEASE - dt.timedelta(seconds=1))
    assert ledger.take_over_claims("run2#try1", run_id="run2", lease=LEASE) == []
    with pytest.raises(LedgerStateError):  # nor released or failed by a non-owner
        ledger.release_claim("a", "not found", owner="run2#try1")
    with pytest.raises(LedgerStateError):
        ledger.mark_failed("a", "boom", owner="run2#try1")
    assert one(ledger, "a").state == "posting"
    clock.advance(dt.timedelta(seconds=2))  # the lease has expired: run1's load is gone
    (row,) = ledger.take_over_claims("run2#try1", run_id="run2", lease=LEASE)
    assert row.uuid == "a"
    # run1's load comes back to life: it no longer owns the claim
    with pytest.raises(LedgerStateError):
        ledger.release_claim("a", "not found", owner="run1#try1")
    ledger.release_claim("a", "not found in Intacct", owner="run2#try1")
    assert one(ledger, "a").state == "ready"


def test_a_retried_load_takes_over_its_own_runs_earlier_claims_at_once(ledger):
    ledger.clock = FakeClock(dt.datetime(2026, 8, 1, 12, tzinfo=dt.UTC))
    stage_mapped(ledger, [staged("a"), staged("b")], "run1")
    assert claim(ledger, 1, owner="run1#try1", run_id="run1") == ["a"]
    assert claim(ledger, 1, owner="run2#try1", run_id="run2") == ["b"]
    taken = ledger.take_over_claims("run1#try2", run_id="run1", lease=LEASE)
    assert [r.uuid for r in taken] == ["a"]  # its own run's; run2's live claim stays
    assert ledger.take_over_claims("run1#try2", run_id="run1", lease=LEASE) == []


def test_adopt_posted_only_takes_rows_nobody_is_sending(ledger):
    stage_mapped(ledger, [staged("a"), staged("b")], "run1")
    assert claim(ledger, 1) == ["a"]
    assert ledger.adopt_posted("a", "REC-7", "already in Intacct") is False
    assert ledger.adopt_posted("b", "REC-8", "already in Intacct") is True
    row = one(ledger, "b")
    assert (row.state, row.intacct_record_no, row.state_reason) == (
        "posted", "REC-8", "already in Intacct",
    )  # fmt: skip


def test_a_build_failure_does_not_count_as_an_attempt(ledger):
    stage_mapped(ledger, [staged("a")], "run1")
    assert claim(ledger) == ["a"]
    ledger.mark_failed("a", "payee holds a NUL", owner=OWNER, sent=False)
    row = one(ledger, "a")
    assert (row.state, row.failed_attempts, row.last_error) == ("failed", 0, "payee holds a NUL")


def test_an_existing_ledger_gains_the_claim_columns(tmp_path):
    path = tmp_path / "old.db"
    old_schema = (SQL_DIR / "schema.sql").read_text()
    for column in ("claim_run_id", "claim_owner", "claim_expires_at"):
        old_schema = "\n".join(ln for ln in old_schema.splitlines() if column not in ln)
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        for statement in split_statements(old_schema):
            conn.execute(sa.text(statement))
    engine.dispose()
    ledger = Ledger.sqlite(path)
    assert ledger.created is False
    ledger.ensure_schema()
    stage_mapped(ledger, [staged("a")])
    assert claim(ledger) == ["a"]


def test_a_missing_ledger_file_is_created_only_when_asked_and_said(tmp_path, monkeypatch):
    # Listen on the module's logger itself, at its own level: Airflow's logging set-up (run by
    # earlier tests in the session) may have disabled loggers created before it or raised a
    # parent's level, and caplog sees only what reaches the root.
    records: list[logging.LogRecord] = []
    logger = logging.getLogger("intacct_hook.sync.ledger")
    monkeypatch.setattr(logger, "disabled", False)
    handler = logging.Handler(logging.WARNING)
    handler.emit = records.append  # type: ignore[method-assign]
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        with pytest.raises(LedgerMissingError):
            Ledger.sqlite(tmp_path / "gone.db", create=False)
        created = Ledger.sqlite(tmp_path / "new.db")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert created.created is True
    assert [r.levelno for r in records] == [logging.WARNING]
    assert "did not exist: created a new, empty one" in records[0].getMessage()
    created.ensure_schema()
    assert created.is_empty()
    assert Ledger.sqlite(tmp_path / "new.db").created is False


def test_postgresql_only_lines_are_dropped_for_sqlite():
    text = (SQL_DIR / "claim_for_posting.sql").read_text()
    assert "SKIP LOCKED" in for_dialect(text, "postgresql")
    assert "SKIP LOCKED" not in for_dialect(text, "sqlite")


def test_a_ready_row_without_coding_is_not_claimed(ledger):
    # Divvy changed it and another run's stage re-decided it after this run's map coded it,
    # which drops its lines: it waits for the next map instead of being sent without lines.
    stage_mapped(ledger, [staged("a")])
    ledger.stage([staged("a", raw_payload={"uuid": "a", "v": 2})], "run2")
    assert ledger.mapped_lines(["a"]) == {"a": []}
    assert claim(ledger) == []


@pytest.mark.postgres
def test_a_stage_in_progress_does_not_hide_rows_from_a_concurrent_load(pg_ledger):
    # Found by the scheduler backfill test: stage read the rows it re-stages FOR UPDATE, and a
    # load claiming with SKIP LOCKED meanwhile found nothing to post, so that run's reconcile
    # reported every transaction missing. (SQLite has no row locks: it serialises writers.)
    ledger = pg_ledger
    stage_mapped(ledger, [staged("a"), staged("b")])
    other = _twin(ledger)
    with other.engine.begin() as conn:  # another run's stage, between its read and its commit
        conn.execute(other._stmt("select_staged", "uuids"), {"uuids": ["a", "b"]})
        assert claim(ledger) == ["a", "b"]
    other.engine.dispose()


# --- batch writes (issue 10): one transaction per batch, the same per-row conditions ----------


def test_mark_outcomes_records_a_whole_batch_with_each_rows_conditions(ledger):
    stage_mapped(ledger, [staged("a"), staged("b"), staged("c")], "run1")
    assert claim(ledger) == ["a", "b", "c"]

    ledger.mark_outcomes(
        owner=OWNER, posted=[("a", "REC-A", "ctl-a"), ("c", "REC-C", None)], failed=[("b", "no")]
    )

    assert [(one(ledger, u).state, one(ledger, u).intacct_record_no) for u in "abc"] == [
        ("posted", "REC-A"), ("failed", None), ("posted", "REC-C"),
    ]  # fmt: skip
    assert (one(ledger, "b").failed_attempts, one(ledger, "b").last_error) == (1, "no")
    # Repeating the posted part is harmless, as with mark_posted.
    ledger.mark_outcomes(owner=OWNER, posted=[("a", "REC-A", "ctl-a")])
    ledger.mark_outcomes(owner=OWNER)  # nothing to record


def test_mark_outcomes_never_fails_a_row_another_load_took_over_and_records_the_rest(ledger):
    clock = FakeClock(dt.datetime(2026, 8, 1, 12, tzinfo=dt.UTC))
    ledger.clock = clock
    stage_mapped(ledger, [staged("a"), staged("b"), staged("c")], "run1")
    assert claim(ledger) == ["a", "b", "c"]
    # run1's lease runs out; run2 takes "b" over (say it found it in Intacct and posted it).
    clock.advance(LEASE + dt.timedelta(minutes=1))
    taken = ledger.take_over_claims("run2#try1", run_id="run2", lease=LEASE)
    assert [r.uuid for r in taken] == ["a", "b", "c"]
    ledger.mark_posted("b", "REC-B", "ctl-b")
    ledger.release_claim("c", "not found", owner="run2#try1")

    with pytest.raises(LedgerStateError) as refused:
        ledger.mark_outcomes(owner=OWNER, posted=[("a", "REC-A", "ctl-a")], failed=[("b", "x")])

    # run1 still learnt "a"'s RECORDNO (Intacct's answer is the truth whoever holds the claim),
    # but its failure for "b" must not overwrite what run2 recorded.
    assert "cannot mark failed b: it is 'posted'" in str(refused.value)
    assert (one(ledger, "a").state, one(ledger, "a").intacct_record_no) == ("posted", "REC-A")
    assert (one(ledger, "b").state, one(ledger, "b").intacct_record_no) == ("posted", "REC-B")
    with pytest.raises(LedgerStateError, match="cannot mark failed c: it is 'ready'"):
        ledger.mark_outcomes(owner=OWNER, failed=[("c", "x")], sent=False)
    assert one(ledger, "c").state == "ready"


def test_save_mappings_saves_all_verdicts_and_leaves_claimed_rows_alone(ledger):
    stage_mapped(ledger, [staged("a")], "run1")
    ledger.stage([staged("b"), staged("c"), staged("d")], "run1")
    assert claim(ledger) == ["a"]  # another run's load took "a" after this map read it

    claimed = ledger.save_mappings(
        [
            ("a", [line(1, "1.00", "6900")], "ready", None),
            ("b", [line(1, "30.00"), line(2, "23.03", "6200")], "ready", None),
            ("c", [], "unmapped", "no GL account"),
            ("d", [line(1, "53.03", "6300")], "ready", None),
        ]
    )

    assert claimed == {"a"}
    assert ledger.mapped_lines(["a"])["a"] == [line()]
    assert [ln.gl_account_no for ln in ledger.mapped_lines(["b"])["b"]] == ["6100", "6200"]
    assert [(one(ledger, u).state, one(ledger, u).state_reason) for u in "bcd"] == [
        ("ready", None), ("unmapped", "no GL account"), ("ready", None),
    ]  # fmt: skip


def test_save_mappings_stops_at_a_row_restaged_meanwhile_and_keeps_what_came_before(ledger):
    ledger.stage([staged("a"), staged("b"), staged("c")], "run1")
    ledger.stage([staged("b", state="held", reason="incomplete")], "run2")

    with pytest.raises(LedgerStateError, match="save a mapping for b: it is 'held'"):
        ledger.save_mappings([(u, [line()], "ready", None) for u in ("a", "b", "c")])

    assert [one(ledger, u).state for u in "abc"] == ["ready", "held", "ready"]
    assert [len(ledger.mapped_lines([u])[u]) for u in "abc"] == [1, 0, 0]


def test_ready_references_are_the_ready_rows_uuids_and_dates(ledger):
    later = DAY + dt.timedelta(days=1)
    ledger.stage([staged("b", day=later), staged("a"), staged("h", state="held")], "run1")
    assert ledger.ready_references() == [("a", DAY), ("b", later)]


def test_expected_amounts_are_the_rows_in_the_states_and_days_without_payloads(ledger):
    later = DAY + dt.timedelta(days=1)
    ledger.stage(
        [
            staged("b", amount="-12.50", day=later),
            staged("a", amount="1000000.01"),
            staged("h", state="held"),
            staged("z", day=later + dt.timedelta(days=1)),
        ],
        "run1",
    )
    assert list(ledger.expected_amounts(["ready", "posted"], DAY, later)) == [
        ("a", DAY, Decimal("1000000.01")),
        ("b", later, Decimal("-12.50")),
    ]
    assert list(ledger.expected_amounts([], DAY, later)) == []
    with pytest.raises(ValueError, match="unknown state"):
        list(ledger.expected_amounts(["bogus"], DAY, later))


def test_extracted_not_staged_are_the_manifest_entries_the_ledger_does_not_hold(ledger):
    later = DAY + dt.timedelta(days=1)
    ledger.land(
        "run1",
        [],
        [
            ExpectedEntry("staged", DAY, Decimal("1.00")),
            ExpectedEntry("lost", DAY, Decimal("-2.50")),
            ExpectedEntry("lost-later", later, Decimal("3.00")),
        ],
    )
    ledger.land("run2", [], [ExpectedEntry("other-run", DAY, Decimal("4.00"))])
    ledger.stage([staged("staged")], "run1")
    assert ledger.extracted_not_staged("run1", DAY, DAY) == [
        ExpectedEntry("lost", DAY, Decimal("-2.50"))
    ]
    assert [e.uuid for e in ledger.extracted_not_staged("run1")] == ["lost", "lost-later"]
    ledger.stage([staged("lost", state="held")], "run1")  # any state counts as held
    assert [e.uuid for e in ledger.extracted_not_staged("run1")] == ["lost-later"]


def test_an_override_takes_effect_after_the_statement_was_used(ledger):
    ledger.stage([staged("a")], "run1")
    assert ledger.ready_references() == [("a", DAY)]
    ledger.override_sql(
        "select_ready_references",
        "SELECT uuid, posting_date FROM divvy_transaction WHERE state = 'held'",
    )
    assert ledger.ready_references() == []


def test_an_existing_ledger_gains_the_landing_columns_and_its_old_landing_still_counts(tmp_path):
    # A landing written by a version without transaction_type and staged (extract before the
    # upgrade, stage after): counted from its payload, staged from its payload.
    from intacct_hook.sync import steps
    from intacct_hook.sync.ledger import payload_json
    from intacct_hook.sync.settings import SyncSettings
    from intacct_hook.sync.window import SyncWindow
    from tests.divvy_factories import txn_json

    path = tmp_path / "old.db"
    old_schema = "\n".join(
        ln
        for ln in (SQL_DIR / "schema.sql").read_text().splitlines()
        if "for the counts" not in ln and "what extract decided for stage" not in ln
    )
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        for statement in split_statements(old_schema):
            conn.execute(sa.text(statement))
        conn.execute(
            sa.text(
                "INSERT INTO divvy_landing (run_id, uuid, payload, extracted_at)"
                " VALUES ('run-1', 'txr_old', :payload, '2026-08-01T00:00:00.000000+00:00')"
            ),
            {"payload": payload_json({"transaction": txn_json(uuid="txr_old"), "children": []})},
        )
    engine.dispose()
    ledger = Ledger.sqlite(path)
    ledger.ensure_schema()
    new = txn_json(uuid="txr_new", transactionType="DECLINE")
    ledger.land("run-1", [{"transaction": new, "children": []}])

    window = SyncWindow(DAY, DAY, 0, "UTC", "params")
    counts = ledger.landed_by_type("run-1")
    summary = steps.stage(ledger, SyncSettings(timezone="UTC"), window, "run-1")

    assert counts == {"CLEAR": 1, "DECLINE": 1}
    assert summary["by_state"] == {"ready": 1, "skipped": 1}


def test_a_ledger_with_the_payload_in_divvy_transaction_is_upgraded_in_place(ledger):
    # Ledgers created before divvy_payload existed hold the Divvy JSON in a raw_payload column
    # of divvy_transaction (schema kept in data/). ensure_schema moves every payload to the
    # new table and drops the column; rows, states and lines are kept, and staging the same
    # data again finds it unchanged.
    old_schema = pathlib.Path(__file__).parent / "data/schema_with_raw_payload_column.sql"
    with ledger.engine.begin() as conn:
        for table in (
            "reconciliation_difference",
            "reconciliation",
            "mapped_line",
            "map_input",
            "divvy_payload",
            "divvy_transaction",
            "divvy_landing",
            "extract_manifest",
        ):
            conn.execute(sa.text(f"DROP TABLE {table}"))  # fixed names, not input
        for statement in split_statements(old_schema.read_text()):
            conn.execute(sa.text(statement))
        payloads = {u: payload_json({"uuid": u, "memo": "é " * 600}) for u in ("a", "b", "c")}
        for n, (uuid, payload) in enumerate(payloads.items()):
            conn.execute(
                sa.text(
                    "INSERT INTO divvy_transaction (uuid, transaction_type, amount, "
                    "occurred_time, posting_date, merchant, raw_payload, state, first_run_id, "
                    "last_run_id, staged_at, updated_at) VALUES (:uuid, 'CLEAR', '1.00', "
                    "'2026-08-01T12:00:00+00:00', '2026-08-01', 'x', :payload, :state, 'old', "
                    "'old', 'now', 'now')"
                ),
                {"uuid": uuid, "payload": payload, "state": ("ready", "posted", "held")[n]},
            )
    ledger.ensure_schema()
    ledger.save_mapping("a", [line()], "ready")

    columns = {c["name"] for c in sa.inspect(ledger.engine).get_columns("divvy_transaction")}
    assert "raw_payload" not in columns
    rows = {r.uuid: r for r in ledger.select_in_state(["ready", "posted", "held"])}
    assert {u: payload_json(r.raw_payload) for u, r in rows.items()} == payloads
    assert {u: r.state for u, r in rows.items()} == {"a": "ready", "b": "posted", "c": "held"}
    ledger.ensure_schema()  # nothing left to move
    assert (
        ledger.stage(
            [staged(u, "1.00", state="held", raw_payload=json.loads(payloads[u])) for u in "c"],
            "run2",
        ).unchanged
        == 1
    )
    assert claim(ledger) == ["a"]
