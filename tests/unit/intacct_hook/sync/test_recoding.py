"""Re-coding after posting (sync/recoding.py) on both ledgers (SQLite and PostgreSQL), against the
local Intacct gateway over real HTTP through the real hook, with the real stage, map, load and
reconcile steps around it: a change of coding, amount or date is reversed and re-posted under
``<uuid>:v2``, a decline is reversed, ``report_only`` touches nothing, a rerun changes nothing,
and a run stopped between the reversal and the replacement neither reverses twice nor loses the
replacement. The default seed closes the books through 2026-09-30."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from intacct_hook.sync import recoding, steps
from intacct_hook.sync.ledger import Ledger
from intacct_hook.sync.mapping import StoredMapper
from intacct_hook.sync.preflight import read_posting_facts
from intacct_hook.sync.rules import parse_rules
from intacct_hook.sync.settings import SyncSettings
from intacct_hook.sync.states import LedgerState
from intacct_hook.sync.window import resolve_window
from sandbox.intacct_gateway.testing import GatewayHandle
from tests.divvy_factories import coding, txn_json
from tests.unit.intacct_hook.sync.conftest import map_and_load

NOW = dt.datetime(2026, 10, 12, 12, tzinfo=dt.UTC)
DAY = dt.date(2026, 10, 5)
FIRST, LAST = dt.date(2026, 9, 20), dt.date(2026, 10, 10)
RULES = parse_rules(
    "match_field,match_value,gl_account,location,department,class,project,note\n", "r"
)


@pytest.fixture
def led(ledger: Ledger) -> Ledger:
    ledger.clock = lambda: NOW  # no test reads the wall clock
    return ledger


def settings(policy: str = "reverse_and_repost") -> SyncSettings:
    return SyncSettings(batch_size=5, timezone="UTC", recode_policy=policy)


def version(
    uuid: str,
    *,
    day: dt.date = DAY,
    amount: float = 53.03,
    gl: str = "6100",
    updated: str = "2026-10-06T09:00:00.000+00:00",
    **extra: Any,
) -> dict[str, Any]:
    return txn_json(
        uuid=uuid,
        amount=amount,
        occurredTime=f"{day.isoformat()}T12:00:00.000+00:00",
        updatedTime=updated,
        customFields=coding(f"{gl} - Account {gl}"),
        **extra,
    )


class Runs:
    """Runs of the real steps, each over what Divvy returns that day (its landing)."""

    def __init__(self, ledger: Ledger, hook: Any, policy: str = "reverse_and_repost") -> None:
        self.ledger, self.hook, self.n = ledger, hook, 0
        self.settings = settings(policy)

    def coder(self) -> StoredMapper:
        facts = read_posting_facts(self.hook, self.settings)
        return StoredMapper(
            RULES,
            **facts.coding_kwargs(),
        )

    def run(
        self,
        *payloads: dict[str, Any],
        recode: bool = True,
        dry_run: bool = False,
        before_recode: Callable[[str], Any] | None = None,
    ):
        self.n += 1
        run_id = f"run-{self.n}"
        window = resolve_window(
            params={"start_date": FIRST.isoformat(), "end_date": LAST.isoformat()},
            data_interval_start=None,
            data_interval_end=None,
            run_after=None,
            timezone="UTC",
            lookback_days=0,
        )
        self.ledger.land(run_id, [{"transaction": p, "children": []} for p in payloads])
        steps.stage(self.ledger, self.settings, window, run_id)
        map_and_load(self.ledger, self.settings, self.hook, RULES, run_id)
        report = None
        if before_recode is not None:
            before_recode(run_id)
        if recode:
            report = recoding.recode(
                self.hook, self.ledger, self.settings, run_id, mapper=self.coder,
                dry_run=dry_run,
            )  # fmt: skip
        return report, steps.reconcile(self.hook, self.ledger, self.settings, window, run_id)


def records(gw: GatewayHandle) -> list[dict[str, Any]]:
    return gw.cctransactions()


def lines_of(gw: GatewayHandle, record_no: str) -> list[dict[str, Any]]:
    with gw.state.lock:
        return [
            dict(r)
            for r in gw.state.companies["ACME-DEMO"].records("CCTRANSACTIONENTRY")
            if r["RECORDKEY"] == record_no
        ]


def row(ledger: Ledger, uuid: str):
    [found] = [r for r in ledger.select_in_state(list(LedgerState)) if r.uuid == uuid]
    return found


def sent(gw: GatewayHandle, name: str) -> int:
    return sum(len(req.findall(f".//{name}")) for req in gw.requests)


def test_a_new_gl_account_reverses_the_original_and_posts_v2_and_a_rerun_changes_nothing(
    led, hook, gw
):
    runs = Runs(led, hook)
    u = "txr_recode_gl_0001"
    _, first = runs.run(version(u))
    assert first.matched
    [original] = records(gw)

    report, result = runs.run(version(u, gl="6200", updated="2026-10-07T09:00:00.000+00:00"))

    assert report.summary()["reposted"] == 1 and report.failures == []
    by_state = {r["STATE"]: r for r in records(gw)}
    assert set(by_state) == {"Reversed", "Reversal", "Posted"}
    reversal, replacement = by_state["Reversal"], by_state["Posted"]
    assert by_state["Reversed"]["RECORDNO"] == original["RECORDNO"]
    assert (reversal["RECORDID"], reversal["WHENCREATED"], reversal["TOTALENTERED"]) == (
        u,
        "10/05/2026",  # the original's date: its period is open
        "-53.03",
    )
    assert replacement["RECORDID"] == f"{u}:v2"
    assert [ln["ACCOUNTNO"] for ln in lines_of(gw, replacement["RECORDNO"])] == ["6200"]
    posted = row(led, u)
    assert (posted.state, posted.intacct_record_no, posted.control_id) == (
        "posted",
        replacement["RECORDNO"],
        f"divvy-{u}:v2",
    )
    assert [ln.gl_account_no for ln in led.mapped_lines([u])[u]] == ["6200"]
    [link] = recoding.links(led, [u])
    assert (link.status, link.original_record_no, link.reversal_record_no) == (
        "replaced",
        original["RECORDNO"],
        reversal["RECORDNO"],
    )
    assert link.change == "GL account 6100 → 6200"
    # Reconcile: the chain is expected by record number; the day still totals Divvy's amount.
    assert result.matched, result.differences
    day = result.summary()["days"]["2026-10-05"]
    assert (day["divvy_count"], day["intacct_count"], day["intacct_total"]) == (3, 3, "53.03")
    assert result.summary()["recoded"]["net"] == "0.00"

    again, rerun = runs.run(version(u, gl="6200", updated="2026-10-07T09:00:00.000+00:00"))
    assert again.summary()["examined"] == 0 and len(records(gw)) == 3
    assert rerun.matched and len(recoding.links(led, [u])) == 1


def test_an_amount_change_reposts_the_new_amount_and_the_totals_match_divvy(led, hook, gw):
    runs = Runs(led, hook)
    u = "txr_recode_amount_01"
    runs.run(version(u))

    report, result = runs.run(version(u, amount=60.00, updated="2026-10-07T09:00:00.000+00:00"))

    assert report.summary()["reposted"] == 1
    assert recoding.links(led, [u])[0].change == "amount 53.03 → 60.00"
    assert row(led, u).amount == Decimal("60.00")
    assert result.matched, result.differences
    assert result.summary()["days"]["2026-10-05"]["intacct_total"] == "60.00"


def test_a_date_change_reverses_on_the_original_date_and_posts_on_the_new_one(led, hook, gw):
    runs = Runs(led, hook)
    u = "txr_recode_date_0001"
    runs.run(version(u))
    new_day = dt.date(2026, 10, 8)

    report, result = runs.run(version(u, day=new_day, updated="2026-10-09T09:00:00.000+00:00"))

    assert report.summary()["reposted"] == 1
    dates = {r["STATE"]: r["WHENCREATED"] for r in records(gw)}
    assert dates == {"Reversed": "10/05/2026", "Reversal": "10/05/2026", "Posted": "10/08/2026"}
    assert row(led, u).posting_date == new_day
    assert result.matched, result.differences
    days = result.summary()["days"]
    assert days["2026-10-05"]["intacct_total"] == "0.00"
    assert days["2026-10-08"]["intacct_total"] == "53.03"


def test_a_change_to_a_transaction_in_a_closed_period_is_reversed_on_the_day_of_the_change(
    led, hook, gw
):
    # closed_period_policy post_to_first_open_day (each policy: test_recoding_closed_periods.py)
    runs = Runs(led, hook)
    runs.settings = dataclasses.replace(
        runs.settings, closed_period_policy="post_to_first_open_day"
    )
    u = "txr_recode_closed_01"
    closed_day = dt.date(2026, 9, 28)
    with gw.state.lock:  # posted while September was open, then the books closed
        for r in gw.state.companies["ACME-DEMO"].objects["BOOKSCLOSED"]:
            r["CLOSEDTHROUGH"] = "08/31/2026"
    runs.run(version(u, day=closed_day))
    with gw.state.lock:
        for r in gw.state.companies["ACME-DEMO"].objects["BOOKSCLOSED"]:
            r["CLOSEDTHROUGH"] = "09/30/2026"

    report, result = runs.run(
        version(u, day=closed_day, gl="6200", updated="2026-10-07T09:00:00.000+00:00")
    )

    assert report.failures == [] and report.summary()["reposted"] == 1
    dates = {r["STATE"]: r["WHENCREATED"] for r in records(gw)}
    # The reversal on the day of the change; the new version on the first open day.
    assert dates == {"Reversed": "09/28/2026", "Reversal": "10/07/2026", "Posted": "10/01/2026"}
    assert row(led, u).posting_date == dt.date(2026, 10, 1)
    assert result.matched, result.differences


def test_a_decline_after_posting_is_reversed_only_and_no_longer_expected(led, hook, gw):
    runs = Runs(led, hook)
    u = "txr_recode_decline01"
    runs.run(version(u))

    report, result = runs.run(
        version(u, transactionType="DECLINE", updated="2026-10-07T09:00:00.000+00:00")
    )

    assert report.summary()["reversed"] == 1 and report.summary()["reposted"] == 0
    assert Counter(r["STATE"] for r in records(gw)) == Counter({"Reversed": 1, "Reversal": 1})
    skipped = row(led, u)
    assert skipped.state == "skipped" and skipped.state_reason.startswith("Reversed in Intacct")
    assert [lk.status for lk in recoding.links(led, [u])] == ["done"]
    assert result.matched, result.differences
    assert result.summary()["days"]["2026-10-05"]["intacct_total"] == "0.00"

    again, rerun = runs.run(
        version(u, transactionType="DECLINE", updated="2026-10-07T09:00:00.000+00:00")
    )
    assert len(records(gw)) == 2 and rerun.matched and again.summary()["reversed"] == 0


def test_report_only_records_the_change_once_and_touches_nothing_in_intacct(led, hook, gw):
    runs = Runs(led, hook, policy="report_only")
    u = "txr_recode_report_01"
    runs.run(version(u))
    changed = version(u, gl="6200", updated="2026-10-07T09:00:00.000+00:00")

    report, result = runs.run(changed)

    assert report.summary()["reported"] == 1 and len(records(gw)) == 1
    assert "GL account 6100 → 6200" in report.reported[0]
    assert [lk.status for lk in recoding.links(led, [u])] == ["reported"]
    assert row(led, u).control_id == f"divvy-{u}"
    assert result.matched

    again, _ = runs.run(changed)  # reported again in the log, recorded once
    assert again.summary()["reported"] == 1 and len(recoding.links(led, [u])) == 1
    assert len(records(gw)) == 1 and sent(gw, "reverse_cctransaction") == 0


def test_an_update_that_changes_nothing_posted_only_records_the_version(led, hook, gw):
    runs = Runs(led, hook)
    u = "txr_recode_note_0001"
    runs.run(version(u))

    report, _ = runs.run(version(u, updated="2026-10-07T09:00:00.000+00:00", notes="a receipt"))

    assert report.summary()["unchanged"] == 1 and len(records(gw)) == 1
    assert recoding.links(led, [u]) == []
    again, _ = runs.run(version(u, updated="2026-10-07T09:00:00.000+00:00", notes="a receipt"))
    assert again.summary()["examined"] == 0


def test_a_run_stopped_after_the_reversal_never_reverses_twice_and_posts_the_replacement(
    led, hook, gw
):
    runs = Runs(led, hook)
    u = "txr_recode_crash_001"
    runs.run(version(u))
    changed = version(u, gl="6200", updated="2026-10-07T09:00:00.000+00:00")
    # Intacct reverses it, then the answer is lost: the run stops with the ledger saying
    # 'reversing'.
    gw.queue_fault("drop_after_commit", after_function="read")

    report, _ = runs.run(changed)

    assert len(report.failures) == 1
    assert Counter(r["STATE"] for r in records(gw)) == Counter({"Reversed": 1, "Reversal": 1})
    assert [lk.status for lk in recoding.links(led, [u])] == ["reversing"]
    gw.clear_faults()

    report, result = runs.run(changed)

    assert report.failures == [] and report.summary()["reposted"] == 1
    assert sent(gw, "reverse_cctransaction") == 1
    assert Counter(r["STATE"] for r in records(gw)) == Counter(
        {"Reversed": 1, "Reversal": 1, "Posted": 1}
    )
    assert [lk.status for lk in recoding.links(led, [u])] == ["replaced"]
    assert result.matched, result.differences


def test_a_replacement_intacct_refuses_is_resent_next_run_as_its_next_attempt(led, hook, gw):
    runs = Runs(led, hook)
    u = "txr_recode_refused01"
    runs.run(version(u))
    changed = version(u, gl="6200", updated="2026-10-07T09:00:00.000+00:00")
    gw.queue_fault("drop_before_commit", after_function="reverse_cctransaction")

    report, _ = runs.run(changed)

    assert len(report.failures) == 1
    [link] = recoding.links(led, [u])
    assert link.status == "reversed"
    report, result = runs.run(changed)

    assert report.summary()["reposted"] == 1 and sent(gw, "reverse_cctransaction") == 1
    assert Counter(r["RECORDID"] for r in records(gw)) == Counter({u: 2, f"{u}:v2": 1})
    assert result.matched, result.differences


def test_a_preview_reports_and_writes_nothing(led, hook, gw):
    runs = Runs(led, hook)
    u = "txr_recode_preview01"
    runs.run(version(u))

    report, _ = runs.run(
        version(u, gl="6200", updated="2026-10-07T09:00:00.000+00:00"), dry_run=True
    )

    assert report.summary()["reported"] == 1 and "preview" in report.reported[0]
    assert recoding.links(led, [u]) == [] and len(records(gw)) == 1


def test_an_older_ledger_gains_the_recoding_table_in_place(led):
    import sqlalchemy as sa

    u = "txr_recode_upgrade01"
    with led.engine.begin() as conn:  # a ledger written before re-coding existed
        conn.execute(sa.text("DROP TABLE recoding"))
    with pytest.raises(sa.exc.DBAPIError):
        recoding.links(led, [u])

    led.ensure_schema()
    led.ensure_schema()  # idempotent

    assert recoding.links(led, [u]) == []
    assert recoding.chain_for_reconcile(led, FIRST, LAST) == ({}, [])


def test_a_decline_charged_again_posts_the_charge_as_the_next_version_once(led, hook, gw):
    runs = Runs(led, hook)
    u = "txr_recode_recharge1"
    runs.run(version(u))
    runs.run(version(u, transactionType="DECLINE", updated="2026-10-07T09:00:00.000+00:00"))

    # Divvy charges it again: stage makes it ready, and the load's look-up by the plain uuid
    # finds the reversed original (or its reversal) and records it as posted.
    report, result = runs.run(version(u, amount=40.00, updated="2026-10-08T09:00:00.000+00:00"))

    assert report.summary()["reposted"] == 1, report.summary()
    assert Counter(r["STATE"] for r in records(gw)) == Counter(
        {"Reversed": 1, "Reversal": 1, "Posted": 1}
    )
    [charge] = [r for r in records(gw) if r["STATE"] == "Posted"]
    assert (charge["RECORDID"], charge["TOTALENTERED"]) == (f"{u}:v2", "40.00")
    posted = row(led, u)
    assert (posted.state, posted.intacct_record_no) == ("posted", charge["RECORDNO"])
    assert [lk.status for lk in recoding.links(led, [u])] == ["done", "replaced"]
    assert result.matched, result.differences
    assert result.summary()["days"]["2026-10-05"]["intacct_total"] == "40.00"

    again, rerun = runs.run(version(u, amount=40.00, updated="2026-10-08T09:00:00.000+00:00"))
    assert again.summary()["reposted"] == 0 and len(records(gw)) == 3 and rerun.matched


def test_two_recodes_of_the_same_change_at_once_reverse_and_repost_it_once(led, hook, gw):
    # Two recode tasks read the same candidate at their start; one finishes the chain, then the
    # other acts on what it read: the original it names is already reversed and replaced.
    runs = Runs(led, hook)
    u = "txr_recode_twice_001"
    runs.run(version(u))
    stale: list[tuple[dict[str, Any], str]] = []

    first, _ = runs.run(
        version(u, amount=60.00, updated="2026-10-07T09:00:00.000+00:00"),
        before_recode=lambda run_id: stale.extend(recoding._candidates(led, run_id)),
    )
    assert [r["uuid"] for r, _ in stale] == [u]
    second = recoding.RecodeReport(runs.settings.recode_policy)
    recoding._apply(
        hook, led, runs.settings, f"run-{runs.n}", stale, second,
        mapper=runs.coder, closed_through=lambda: None, dry_run=False,
    )  # fmt: skip

    assert first.summary()["reposted"] == 1 and second.summary()["reposted"] == 0
    assert second.failures == []
    assert sent(gw, "reverse_cctransaction") == 1
    assert Counter(r["RECORDID"] for r in records(gw)) == Counter({u: 2, f"{u}:v2": 1})
    assert [lk.status for lk in recoding.links(led, [u])] == ["replaced"]
    assert row(led, u).control_id == f"divvy-{u}:v2"


def test_the_reversal_is_sent_once_under_a_control_id_derived_from_its_link(led, hook, gw):
    runs = Runs(led, hook)
    u = "txr_recode_revctl_01"
    runs.run(version(u))

    report, _ = runs.run(version(u, gl="6200", updated="2026-10-07T09:00:00.000+00:00"))

    assert report.summary()["reposted"] == 1
    [request] = [r for r in gw.requests if r.find(".//reverse_cctransaction") is not None]
    assert request.findtext("control/uniqueid") == "true"
    assert request.find(".//function").get("controlid") == f"divvy-{u}#rev1"


def test_a_posted_row_on_a_replaced_original_is_a_failure_and_the_run_goes_on(led, hook, gw):
    # The ledger row names a record of its chain whose link was replaced, not declined: there is
    # no 'done' link to re-post from. That transaction fails; the others are re-coded.
    import sqlalchemy as sa

    runs = Runs(led, hook)
    u, other = "txr_recode_odd_00001", "txr_recode_odd_00002"
    runs.run(version(u), version(other))
    runs.run(version(u, gl="6200", updated="2026-10-07T09:00:00.000+00:00"), version(other))
    [link] = recoding.links(led, [u])
    with led.engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE divvy_transaction SET intacct_record_no = :no WHERE uuid = :u"),
            {"no": link.original_record_no, "u": u},
        )

    report, _ = runs.run(
        version(u, gl="6200", updated="2026-10-07T09:00:00.000+00:00"),
        version(other, gl="6300", updated="2026-10-08T09:00:00.000+00:00"),
    )

    assert report.summary()["reposted"] == 1 and len(report.failures) == 1
    assert report.failures[0].startswith(f"{u}: ")
    assert [lk.status for lk in recoding.links(led, [other])] == ["replaced"]


def test_a_read_back_of_two_records_is_a_failure_and_the_run_goes_on(led, hook, gw):
    runs = Runs(led, hook)
    u, other = "txr_recode_two_00001", "txr_recode_two_00002"
    runs.run(version(u), version(other))
    posted = row(led, u).intacct_record_no
    with gw.state.lock:  # Intacct answers the read of its RECORDNO with two records
        company = gw.state.companies["ACME-DEMO"]
        [header] = [r for r in company.records("CCTRANSACTION") if r["RECORDNO"] == posted]
        company.records("CCTRANSACTION").append(dict(header))

    report, _ = runs.run(
        version(u, gl="6200", updated="2026-10-07T09:00:00.000+00:00"),
        version(other, gl="6300", updated="2026-10-07T09:00:00.000+00:00"),
    )

    assert report.summary()["reposted"] == 1 and len(report.failures) == 1
    assert report.failures[0].startswith(f"{u}: ")
    assert [lk.status for lk in recoding.links(led, [u])] == ["reversing"]
    assert sent(gw, "reverse_cctransaction") == 1


def test_a_version_once_examined_is_no_candidate_again(led, hook, gw):
    # Issue 13: a posted row Divvy touched after posting (a note; a re-code already re-posted)
    # was decoded again on every later run; once examined, the same text is not a candidate.
    runs = Runs(led, hook)
    noted, moved = "txr_recode_seen_0001", "txr_recode_seen_0002"
    runs.run(version(noted), version(moved))
    later = [
        version(noted, updated="2026-10-07T09:00:00.000+00:00", notes="a receipt"),
        version(moved, gl="6200", updated="2026-10-07T09:00:00.000+00:00"),
    ]
    report, _ = runs.run(*later)
    assert (report.summary()["unchanged"], report.summary()["reposted"]) == (1, 1)
    candidates: list[tuple[dict[str, Any], str]] = []

    again, _ = runs.run(
        *later, before_recode=lambda run_id: candidates.extend(recoding._candidates(led, run_id))
    )

    assert candidates == [] and again.summary()["examined"] == 0
    newer, _ = runs.run(  # a newer version is a candidate again
        version(noted, updated="2026-10-09T09:00:00.000+00:00", notes="two receipts"),
        later[1],
    )
    assert newer.summary()["examined"] == 1 and newer.summary()["unchanged"] == 1


def test_the_replacement_links_the_receipts_the_original_had(led, hook, gw):
    from intacct_hook.intacct.records import Attachment, SupportingDocument
    from intacct_hook.sync.ledger import ReceiptRecord

    runs = Runs(led, hook)
    u = "txr_recode_receipt01"
    runs.run(version(u))
    with gw.state.lock:
        folders = gw.state.companies["ACME-DEMO"].records("SUPDOCFOLDER")
        folder = folders[0]["NAME"]
    doc = SupportingDocument(
        supdoc_id="DVYRECODE0000000001",
        folder=folder,
        attachments=(Attachment("lunch", "pdf", b"%PDF-1.4 "),),
    )
    hook.create_supdoc(doc)
    hook.link_supdoc(row(led, u).intacct_record_no, doc.supdoc_id)
    led.record_receipts([ReceiptRecord(u, "rcpt_1", "attached", "lunch.pdf", doc.supdoc_id)])

    report, _ = runs.run(version(u, gl="6200", updated="2026-10-07T09:00:00.000+00:00"))

    assert report.summary()["reposted"] == 1, report.failures
    [replacement] = [r for r in records(gw) if r["RECORDID"] == f"{u}:v2"]
    assert replacement["SUPDOCID"] == doc.supdoc_id


def test_a_second_reversal_of_a_change_is_refused_when_the_read_back_misses_the_first(
    led, hook, gw
):
    # An Intacct whose reads do not return REVERSALKEY: the read-back cannot see the reversal a
    # stopped run made. The second reversal carries the change's control ID, and Intacct refuses
    # it as a duplicate; the change stays open, reversed once.
    runs = Runs(led, hook)
    u = "txr_recode_hidden_01"
    runs.run(version(u))
    with gw.state.lock:
        gw.state.companies["ACME-DEMO"].field_names = {"CCTRANSACTION": {"REVERSALKEY": None}}
    changed = version(u, gl="6200", updated="2026-10-07T09:00:00.000+00:00")
    gw.queue_fault("drop_after_commit", after_function="read")
    runs.run(changed)
    gw.clear_faults()

    report, _ = runs.run(changed)

    assert [lk.status for lk in recoding.links(led, [u])] == ["reversing"]
    assert sent(gw, "reverse_cctransaction") == 2
    assert Counter(r["STATE"] for r in records(gw)) == Counter({"Reversed": 1, "Reversal": 1})
    [failure] = report.failures
    assert f"divvy-{u}#rev1" in failure


def test_two_recodes_of_a_decline_charged_again_post_the_charge_once(led, hook, gw):
    runs = Runs(led, hook)
    u = "txr_recode_recharge2"
    runs.run(version(u))
    runs.run(version(u, transactionType="DECLINE", updated="2026-10-07T09:00:00.000+00:00"))
    stale: list[dict[str, Any]] = []

    first, _ = runs.run(
        version(u, amount=40.00, updated="2026-10-08T09:00:00.000+00:00"),
        before_recode=lambda run_id: stale.extend(recoding._reinstated(led)),
    )
    assert [r["uuid"] for r in stale] == [u] and first.summary()["reposted"] == 1
    second = recoding._open_reinstated(led, stale[0], f"run-{runs.n}", None)

    assert second is None
    assert [lk.status for lk in recoding.links(led, [u])] == ["done", "replaced"]
