"""closed_period_policy (sync/closed_periods.py) on both ledgers (SQLite and PostgreSQL), against
the local Intacct gateway over real HTTP through the real hook: what is held, re-dated, released
or failed, before the load claims and on Intacct's refusals, and that nothing posts twice.

The default seed closes the books through 2026-09-30."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from intacct_hook.intacct.errors import IntacctClosedPeriod
from intacct_hook.sync import closed_periods, steps
from intacct_hook.sync.closed_periods import (
    HOLD_PREFIX,
    before_load,
    first_open_readings,
    plan_before_load,
    purchase_note,
    read_closed_through,
)
from intacct_hook.sync.ledger import Ledger, MappedLine, StagedTransaction
from intacct_hook.sync.settings import SyncSettings
from intacct_hook.sync.states import EXPECTED_IN_INTACCT, LedgerState
from sandbox.intacct_gateway.testing import GatewayHandle
from tests.fake_intacct import txn_json

CLOSED_DAY = dt.date(2026, 9, 28)  # in the seed's closed period
OPEN_DAY = dt.date(2026, 10, 5)
FIRST_OPEN = dt.date(2026, 10, 1)
NOW = dt.datetime(2026, 10, 6, 12, tzinfo=dt.UTC)


@pytest.fixture
def led(ledger: Ledger) -> Ledger:
    ledger.clock = lambda: NOW  # no test reads the wall clock
    return ledger


def close_books(gw: GatewayHandle, through: dt.date) -> None:
    with gw.state.lock:
        for row in gw.state.companies["ACME-DEMO"].objects["BOOKSCLOSED"]:
            row["CLOSEDTHROUGH"] = through.strftime("%m/%d/%Y")


def hide_books_closed_object(gw: GatewayHandle) -> None:
    """An Intacct that does not know the (invented) BOOKSCLOSED object."""
    with gw.state.lock:
        gw.state.companies["ACME-DEMO"].unknown_objects.add("BOOKSCLOSED")


def ready(ledger: Ledger, day: dt.date, *uuids: str, amount: str = "12.50") -> None:
    """Staged and mapped on ``day``, as stage and map leave postable transactions."""
    ledger.stage(
        [
            StagedTransaction(
                uuid=u,
                transaction_type="CLEAR",
                amount=Decimal(amount),
                occurred_time=dt.datetime.combine(day, dt.time(12), dt.UTC),
                posting_date=day,
                updated_time=None,
                merchant="Staples",
                raw_payload={"transaction": txn_json(uuid=u), "children": []},
                state=LedgerState.READY,
            )
            for u in uuids
        ],
        "run-stage",
    )
    ledger.save_mappings(
        (
            u,
            [MappedLine(1, u, Decimal(amount), "6100", "100", description="Jane | Ops | paper")],
            "ready",
            None,
        )
        for u in uuids
    )


def settings(policy: str, workers: int = 1) -> SyncSettings:
    return SyncSettings(
        batch_size=5, timezone="UTC", closed_period_policy=policy, intacct_concurrency=workers
    )


def row(ledger: Ledger, uuid: str):
    [found] = [r for r in ledger.select_in_state(list(LedgerState)) if r.uuid == uuid]
    return found


def original_date(ledger: Ledger, uuid: str) -> str | None:
    with ledger.engine.connect() as conn:
        return conn.execute(
            sa.text("SELECT original_posting_date FROM divvy_transaction WHERE uuid = :u"),
            {"u": uuid},
        ).scalar_one()


def stored(gw: GatewayHandle) -> dict[str, dict]:
    return {r["RECORDID"]: r for r in gw.cctransactions()}


def sent(gw: GatewayHandle) -> Counter[str]:
    return Counter(
        ref.text
        for doc in gw.requests
        for ref in doc.iterfind("operation/content/function/record_cctransaction/referenceno")
    )


def run_load(
    hook, ledger: Ledger, policy: str, run_id: str, *, workers: int = 1
) -> tuple[Any, steps.LoadReport]:
    """What the load task does: the policy (with the date read now when it is needed), then
    the load."""
    plan = plan_before_load(hook, ledger, settings(policy))
    return plan, steps.load(hook, ledger, settings(policy, workers), run_id)


# --- the message ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "days"),
    [
        (
            "The date 09/28/2026 is in a closed period. Date must be on or after 10/01/2026.",
            [FIRST_OPEN, dt.date(2026, 1, 10)],  # month/day first, then day/month
        ),
        ("Date must be on or after 2026-10-01", [FIRST_OPEN]),
        ("The date is in a closed period.", []),
        ("Date must be on or after 13/45/2026.", []),
    ],
)
def test_the_first_open_day_is_read_from_intacct_s_message_when_it_names_one(message, days):
    assert first_open_readings(message) == days


# --- hold -------------------------------------------------------------------------------------


def test_hold_keeps_a_closed_period_transaction_back_until_the_period_reopens(led, gw, hook):
    ready(led, CLOSED_DAY, "txr-closed")
    ready(led, OPEN_DAY, "txr-open")

    plan, report = run_load(hook, led, "hold", "run-1")

    assert plan.held == [("txr-closed", CLOSED_DAY)] and plan.closed_through == dt.date(2026, 9, 30)
    assert (report.posted, report.failed) == (1, 0)
    assert set(stored(gw)) == {"txr-open"}  # the closed one was never sent
    held = row(led, "txr-closed")
    assert held.state == LedgerState.HELD and held.state_reason.startswith(HOLD_PREFIX)
    assert "closed through 09/30/2026" in held.state_reason
    assert led.mapped_lines(["txr-closed"])["txr-closed"]  # its lines wait with it

    # A second run while the books stay closed changes nothing and sends nothing.
    before = len(gw.requests)
    plan, report = run_load(hook, led, "hold", "run-2")
    assert (plan.held, plan.still_held, report.posted) == ([], [("txr-closed", CLOSED_DAY)], 0)
    assert row(led, "txr-closed").state == LedgerState.HELD
    assert sent(gw)["txr-closed"] == 0 and len(gw.requests) > before  # reads only

    # The controller reopens September: the next load releases it and posts it on its date.
    close_books(gw, dt.date(2026, 8, 31))
    plan, report = run_load(hook, led, "hold", "run-3")
    assert plan.released == [("txr-closed", CLOSED_DAY)] and report.posted == 1
    posted = row(led, "txr-closed")
    assert posted.state == LedgerState.POSTED and posted.control_id == "divvy-txr-closed"
    assert stored(gw)["txr-closed"]["WHENCREATED"] == "09/28/2026"
    assert sent(gw) == Counter({"txr-closed": 1, "txr-open": 1})


def test_hold_applies_to_a_refusal_the_up_front_check_could_not_foresee(led, gw, hook):
    hide_books_closed_object(gw)
    ready(led, CLOSED_DAY, "txr-closed")

    plan, report = run_load(hook, led, "hold", "run-1")

    assert plan.closed_through is None and "BOOKSCLOSED" in next(plan.messages())[1]
    assert report.failed == 0 and report.posted == 0  # held, not a failure of the task
    [refusal] = report.closed_period
    assert (refusal.refused_date, refusal.first_open, refusal.action) == (
        CLOSED_DAY,
        FIRST_OPEN,
        "held",
    )
    held = row(led, "txr-closed")
    assert held.state == LedgerState.HELD and held.failed_attempts == 1
    assert "names 10/01/2026 as the first open day" in held.state_reason
    summary = report.summary()["closed_period_refusals"]
    assert (summary["refused"], summary["held"], summary["refused_dates"]) == (
        1,
        1,
        ["2026-09-28"],
    )

    # The date cannot be read, so each run tries it again (a new attempt, a new control ID)...
    plan, report = run_load(hook, led, "hold", "run-2")
    assert (
        plan.released == [("txr-closed", CLOSED_DAY)] and report.closed_period[0].action == "held"
    )
    # ...and once the period is reopened, that try posts it, once.
    close_books(gw, dt.date(2026, 8, 31))
    plan, report = run_load(hook, led, "hold", "run-3")
    assert report.posted == 1 and row(led, "txr-closed").control_id == "divvy-txr-closed#3"
    assert sent(gw)["txr-closed"] == 3 and list(stored(gw)) == ["txr-closed"]


# --- post_to_first_open_day --------------------------------------------------------------------


def test_redating_posts_on_the_first_open_day_keeping_the_purchase_date(led, gw, hook):
    ready(led, CLOSED_DAY, "txr-closed")

    plan, report = run_load(hook, led, "post_to_first_open_day", "run-1")

    assert plan.redated == [("txr-closed", CLOSED_DAY, FIRST_OPEN)] and report.posted == 1
    record = stored(gw)["txr-closed"]
    assert record["WHENCREATED"] == "10/01/2026"
    assert record["DESCRIPTION"].startswith("Purchased 09/28/2026 (closed period) | Jane")
    assert record["lines"][0]["DESCRIPTION"].startswith("Purchased 09/28/2026")
    posted = row(led, "txr-closed")
    assert (posted.state, posted.posting_date, posted.control_id) == (
        LedgerState.POSTED,
        FIRST_OPEN,
        "divvy-txr-closed",  # the attempt is untouched by re-dating
    )
    assert original_date(led, "txr-closed") == "2026-09-28"
    shifts = closed_periods.shifts(led, EXPECTED_IN_INTACCT, CLOSED_DAY, CLOSED_DAY)
    assert [(s.uuid, s.purchase_date, s.posted_date, s.amount) for s in shifts] == [
        ("txr-closed", CLOSED_DAY, FIRST_OPEN, Decimal("12.50"))
    ]

    # The next run changes nothing.
    plan, report = run_load(hook, led, "post_to_first_open_day", "run-2")
    assert (plan.redated, plan.restored, report.posted, sent(gw)["txr-closed"]) == ([], [], 0, 1)


def test_a_redated_transaction_already_in_intacct_on_its_purchase_date_is_not_sent(led, gw, hook):
    # A lost ledger's run posted it on its purchase date before the books were closed.
    gw.add_cctransaction(
        date=CLOSED_DAY, reference_no="txr-closed", lines=[{"ACCOUNTNO": "6100", "AMOUNT": "12.50"}]
    )
    ready(led, CLOSED_DAY, "txr-closed")

    plan, report = run_load(hook, led, "post_to_first_open_day", "run-1")

    assert plan.adopted == 1 and report.posted == 0
    assert sent(gw)["txr-closed"] == 0 and row(led, "txr-closed").state == LedgerState.POSTED


@pytest.mark.parametrize("workers", [1, 2])
def test_redating_applies_to_a_refusal_naming_the_first_open_day(led, gw, hook, workers):
    hide_books_closed_object(gw)
    ready(led, CLOSED_DAY, "txr-closed")
    ready(led, OPEN_DAY, "txr-open")

    _plan, report = run_load(hook, led, "post_to_first_open_day", "run-1", workers=workers)

    # Refused on 09/28, re-dated to the day Intacct named, sent again in the same load.
    assert (report.posted, report.failed) == (2, 0)
    assert [r.action for r in report.closed_period] == ["redated"]
    posted = row(led, "txr-closed")
    assert (posted.posting_date, posted.control_id) == (FIRST_OPEN, "divvy-txr-closed#2")
    assert stored(gw)["txr-closed"]["WHENCREATED"] == "10/01/2026"
    assert sent(gw) == Counter({"txr-closed": 2, "txr-open": 1})


def test_a_redated_transaction_goes_back_to_its_date_when_the_period_reopens(led, gw, hook):
    ready(led, CLOSED_DAY, "txr-closed")
    closed, _ = read_closed_through(hook)
    before_load(hook, led, settings("post_to_first_open_day"), closed)
    assert row(led, "txr-closed").posting_date == FIRST_OPEN

    close_books(gw, dt.date(2026, 8, 31))
    plan, report = run_load(hook, led, "post_to_first_open_day", "run-1")

    assert plan.restored == [("txr-closed", CLOSED_DAY)] and report.posted == 1
    assert original_date(led, "txr-closed") is None
    record = stored(gw)["txr-closed"]
    assert record["WHENCREATED"] == "09/28/2026"
    assert record["DESCRIPTION"] == "Jane | Ops | paper"  # the note went with the re-dating


def test_the_purchase_note_is_added_once_however_often_the_step_runs(led, gw, hook):
    ready(led, CLOSED_DAY, "txr-closed")
    closed, _ = read_closed_through(hook)
    for _ in range(3):
        before_load(hook, led, settings("post_to_first_open_day"), closed)
    [line] = led.mapped_lines(["txr-closed"])["txr-closed"]
    assert line.description == purchase_note(CLOSED_DAY) + "Jane | Ops | paper"


# --- fail --------------------------------------------------------------------------------------


def test_fail_sends_it_and_counts_the_refusal_with_its_date(led, gw, hook):
    ready(led, CLOSED_DAY, "txr-closed")
    ready(led, OPEN_DAY, "txr-open")

    gw.requests.clear()
    plan = plan_before_load(hook, led, settings("fail"))
    # nothing held or re-dated to reconsider: the refusal decides, nothing is read up front
    assert plan.read_skipped and plan.will_fail == [] and gw.requests == []
    report = steps.load(hook, led, settings("fail"), "run-1")
    assert (report.posted, report.failed) == (1, 1)
    assert report.summary()["closed_period_refusals"] == {
        "refused": 1,
        "refused_dates": ["2026-09-28"],
        "first_open_days": ["2026-10-01"],
        "failed": 1,
        "held": 0,
        "redated": 0,
        "unverified": 0,
    }
    assert row(led, "txr-closed").state == LedgerState.FAILED


def test_fail_still_reads_the_date_to_release_what_an_earlier_hold_kept_back(led, gw, hook):
    close_books(gw, CLOSED_DAY)
    ready(led, CLOSED_DAY, "txr-held")
    run_load(hook, led, "hold", "run-1")
    assert row(led, "txr-held").state == LedgerState.HELD
    close_books(gw, dt.date(2026, 9, 1))  # the period reopened; the policy is now `fail`

    plan, report = run_load(hook, led, "fail", "run-2")

    assert not plan.read_skipped and plan.released == [("txr-held", CLOSED_DAY)]
    assert report.posted == 1 and row(led, "txr-held").state == LedgerState.POSTED


def test_a_preview_says_what_the_policy_would_do_and_writes_nothing(led, gw, hook):
    ready(led, CLOSED_DAY, "txr-closed")
    closed, _ = read_closed_through(hook)

    plan = before_load(hook, led, settings("hold"), closed, dry_run=True)

    assert plan.held == [("txr-closed", CLOSED_DAY)] and plan.summary()["preview"] is True
    assert "would be held" in " ".join(m for _, m in plan.messages())
    assert row(led, "txr-closed").state == LedgerState.READY


# --- the ledger ---------------------------------------------------------------------------------


def test_an_existing_ledger_gains_the_re_dating_column_in_place(led):
    ready(led, OPEN_DAY, "txr-old")
    with led.engine.begin() as conn:  # the ledger as an earlier version left it
        conn.execute(sa.text("DROP INDEX divvy_transaction_original_date_idx"))
        conn.execute(sa.text("ALTER TABLE divvy_transaction DROP COLUMN original_posting_date"))

    led.ensure_schema()
    led.ensure_schema()  # idempotent

    assert original_date(led, "txr-old") is None and row(led, "txr-old").state == "ready"
    indexes = {i["name"] for i in sa.inspect(led.engine).get_indexes("divvy_transaction")}
    assert "divvy_transaction_original_date_idx" in indexes


# --- the first open day in the company's date format -------------------------------------------


@pytest.mark.parametrize(
    ("message", "readings"),
    [
        ("Date must be on or after 01/12/2026.", [dt.date(2026, 1, 12), dt.date(2026, 12, 1)]),
        ("Date must be on or after 10/31/2026.", [dt.date(2026, 10, 31)]),  # month/day only
        ("Date must be on or after 31/10/2026.", [dt.date(2026, 10, 31)]),  # day/month only
        ("Date must be on or after 05/05/2026.", [dt.date(2026, 5, 5)]),
        ("Date must be on or after 2026-12-01", [dt.date(2026, 12, 1)]),
        ("The date is in a closed period.", []),
    ],
)
def test_a_slashed_first_open_day_is_read_both_ways_when_both_are_dates(message, readings):
    # Intacct writes dates in the company's format, month/day or day/month.
    assert first_open_readings(message) == readings


def failed_on(ledger: Ledger, day: dt.date, uuid: str) -> None:
    """A transaction the load sent on ``day`` and recorded failed (Intacct refused it)."""
    ready(ledger, day, uuid)
    owner = "run-1#try1"
    [claimed] = ledger.claim_for_posting(
        owner, run_id="run-1", batch_size=1, lease=dt.timedelta(hours=1)
    )
    ledger.mark_failed(claimed.uuid, "closed period", owner=owner)


def refused_as_closed(day: str, first_open: str) -> IntacctClosedPeriod:
    return IntacctClosedPeriod(
        f"The date {day} is in a closed period. Date must be on or after {first_open}."
    )


def test_a_day_month_company_s_first_open_day_is_the_day_after_the_books_closed_date(led, gw, hook):
    # 01/12/2026 from a day/month company is 1 December: the books are closed through 30/11.
    close_books(gw, dt.date(2026, 11, 30))
    failed_on(led, dt.date(2026, 11, 28), "txr-dm")

    [refusal] = closed_periods.settle_refusals(
        hook,
        led,
        "post_to_first_open_day",
        [("txr-dm", dt.date(2026, 11, 28), refused_as_closed("28/11/2026", "01/12/2026"))],
    )

    assert (refusal.first_open, refusal.action) == (dt.date(2026, 12, 1), "redated")
    assert row(led, "txr-dm").posting_date == dt.date(2026, 12, 1)


def test_a_month_day_company_s_first_open_day_is_the_day_after_the_books_closed_date(led, gw, hook):
    close_books(gw, dt.date(2026, 1, 11))
    failed_on(led, dt.date(2026, 1, 9), "txr-md")

    [refusal] = closed_periods.settle_refusals(
        hook,
        led,
        "post_to_first_open_day",
        [("txr-md", dt.date(2026, 1, 9), refused_as_closed("01/09/2026", "01/12/2026"))],
    )

    assert (refusal.first_open, refusal.action) == (dt.date(2026, 1, 12), "redated")
    assert row(led, "txr-md").posting_date == dt.date(2026, 1, 12)


def test_without_the_books_closed_date_only_a_plausible_reading_is_used(led, gw, hook):
    # 01/12/2026 is 12 January or 1 December; the books-closed date cannot be read, but
    # 1 December 2026 is after the run's day (2026-10-06): only 12 January is plausible.
    hide_books_closed_object(gw)
    failed_on(led, dt.date(2026, 1, 9), "txr-early")

    [refusal] = closed_periods.settle_refusals(
        hook,
        led,
        "post_to_first_open_day",
        [("txr-early", dt.date(2026, 1, 9), refused_as_closed("01/09/2026", "01/12/2026"))],
    )

    assert (refusal.first_open, refusal.action) == (dt.date(2026, 1, 12), "redated")


def test_an_ambiguous_first_open_day_that_cannot_be_verified_leaves_it_failed(led, gw, hook):
    # 05/06/2026 is 6 May or 5 June; both follow the refused date and precede the run, and the
    # books-closed date cannot be read: re-dating to either could post in the wrong month.
    hide_books_closed_object(gw)
    failed_on(led, dt.date(2026, 4, 30), "txr-amb")

    [refusal] = closed_periods.settle_refusals(
        hook,
        led,
        "post_to_first_open_day",
        [("txr-amb", dt.date(2026, 4, 30), refused_as_closed("04/30/2026", "05/06/2026"))],
    )

    assert (refusal.first_open, refusal.action) == (None, "failed")
    assert refusal.unverified is not None
    assert "05/06/2026" in refusal.unverified and "books-closed date" in refusal.unverified
    assert row(led, "txr-amb").state == LedgerState.FAILED
    assert row(led, "txr-amb").posting_date == dt.date(2026, 4, 30)
    summary = closed_periods.refusal_summary([refusal])
    assert summary["unverified"] == 1
