"""A re-code whose new version is dated in a closed period follows ``closed_period_policy`` as
the load does for a first posting (sync/recoding.py with sync/closed_periods.py), on both
ledgers, with the real steps against the local Intacct gateway: ``fail`` posts nothing and
fails naming the transaction, its date and the books-closed date; ``hold`` changes nothing in
Intacct until the period reopens, then the next run reverses and re-posts it; and
``post_to_first_open_day`` posts it on the first open day with the load's "Purchased …" note
and the purchase date kept, so reconcile lists the shift."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter

import pytest
import sqlalchemy as sa
from test_recoding import NOW, Runs, lines_of, records, row, sent, version

from intacct_hook.sync import closed_periods, recoding
from intacct_hook.sync.ledger import Ledger

PURCHASE = dt.date(2026, 9, 28)  # posted while September was open; then the books close
CHANGED = "2026-10-07T09:00:00.000+00:00"


@pytest.fixture
def led(ledger: Ledger) -> Ledger:
    ledger.clock = lambda: NOW  # no test reads the wall clock
    return ledger


def close_books(gw, through: dt.date) -> None:
    with gw.state.lock:
        for r in gw.state.companies["ACME-DEMO"].objects["BOOKSCLOSED"]:
            r["CLOSEDTHROUGH"] = through.strftime("%m/%d/%Y")


def posted_then_closed(led, hook, gw, policy: str) -> tuple[Runs, str]:
    """One transaction posted on PURCHASE while it was open; then the books close through
    September, and Divvy re-codes it (its date stays in the closed period)."""
    runs = Runs(led, hook)
    runs.settings = dataclasses.replace(runs.settings, closed_period_policy=policy)
    u = f"txr_recode_cp_{policy[:4]}"
    close_books(gw, dt.date(2026, 8, 31))
    runs.run(version(u, day=PURCHASE))
    close_books(gw, dt.date(2026, 9, 30))
    return runs, u


def row_dates(led: Ledger, u: str) -> tuple[dt.date, dt.date | None]:
    """The row's posting date and the purchase date it keeps when they differ."""
    with led.engine.connect() as conn:
        got = conn.execute(
            sa.text(
                "SELECT posting_date, original_posting_date FROM divvy_transaction WHERE uuid = :u"
            ),
            {"u": u},
        ).one()
    return dt.date.fromisoformat(got[0]), (dt.date.fromisoformat(got[1]) if got[1] else None)


def recoded(u: str):
    return version(u, day=PURCHASE, gl="6200", updated=CHANGED)


def test_fail_posts_nothing_and_names_the_transaction_its_date_and_the_books_closed_date(
    led, hook, gw
):
    runs, u = posted_then_closed(led, hook, gw, "fail")

    report, _ = runs.run(recoded(u))

    [failure] = report.failures
    assert failure.startswith(f"{u}: GL account 6100 → 6200: Closed period: dated 09/28/2026")
    assert "books are closed through 09/30/2026" in failure and "'fail'" in failure
    # Nothing in Intacct changed: neither reversed nor re-posted.
    assert [r["STATE"] for r in records(gw)] == ["Posted"]
    assert sent(gw, "reverse_cctransaction") == 0
    [link] = recoding.links(led, [u])
    assert link.status == "reversing" and link.last_error.startswith("Closed period:")
    closed = report.summary()["closed_periods"]
    assert (closed["policy"], closed["books_closed_through"]) == ("fail", "2026-09-30")
    assert (closed["failed"], closed["failed_dates"], closed["held"]) == (1, ["2026-09-28"], 0)

    again, _ = runs.run(recoded(u))  # every run fails the same way; nothing sent
    assert len(again.failures) == 1 and len(records(gw)) == 1
    assert len(recoding.links(led, [u])) == 1

    # The policy changes: the open change goes on, on the first open day.
    runs.settings = dataclasses.replace(
        runs.settings, closed_period_policy="post_to_first_open_day"
    )
    done, result = runs.run(recoded(u))
    assert done.failures == [] and done.summary()["reposted"] == 1
    dates = {r["STATE"]: r["WHENCREATED"] for r in records(gw)}
    assert dates == {"Reversed": "09/28/2026", "Reversal": "10/07/2026", "Posted": "10/01/2026"}
    assert result.matched, result.differences


def test_hold_changes_nothing_until_the_period_reopens_then_the_next_run_reposts(led, hook, gw):
    runs, u = posted_then_closed(led, hook, gw, "hold")
    [original] = records(gw)

    report, result = runs.run(recoded(u))

    assert report.failures == [] and report.summary()["reposted"] == 0
    assert records(gw) == [original] and sent(gw, "reverse_cctransaction") == 0
    [waiting] = report.waiting
    assert waiting.startswith(f"{u}: GL account 6100 → 6200: Closed period: dated 09/28/2026")
    assert "Held until the period reopens" in waiting
    closed = report.summary()["closed_periods"]
    assert (closed["held"], closed["held_dates"], closed["books_closed_through"]) == (
        1,
        ["2026-09-28"],
        "2026-09-30",
    )
    [link] = recoding.links(led, [u])
    assert link.status == "reversing" and link.last_error.startswith("Closed period: dated")
    assert row(led, u).intacct_record_no == original["RECORDNO"]
    assert result.matched, result.differences  # Intacct still holds the posted version

    again, rerun = runs.run(recoded(u))  # still closed: nothing changes
    assert again.summary()["closed_periods"]["held"] == 1 and again.failures == []
    assert records(gw) == [original] and len(recoding.links(led, [u])) == 1
    assert rerun.matched

    close_books(gw, dt.date(2026, 8, 31))  # the controller reopens September
    reopened, result = runs.run()  # Divvy returns nothing new: the open change resumes

    assert reopened.failures == [] and reopened.summary()["reposted"] == 1
    dates = {r["STATE"]: (r["RECORDID"], r["WHENCREATED"]) for r in records(gw)}
    # Both on the purchase date now that its period is open; no closed-period note.
    assert dates == {
        "Reversed": (u, "09/28/2026"),
        "Reversal": (u, "09/28/2026"),
        "Posted": (f"{u}:v2", "09/28/2026"),
    }
    [replacement] = [r for r in records(gw) if r["STATE"] == "Posted"]
    assert not any(
        (ln.get("DESCRIPTION") or "").startswith("Purchased")
        for ln in lines_of(gw, replacement["RECORDNO"])
    )
    [link] = recoding.links(led, [u])
    assert (link.status, link.reversal_date, link.replacement_date, link.last_error) == (
        "replaced",
        "2026-09-28",
        "2026-09-28",
        None,
    )
    assert row_dates(led, u) == (PURCHASE, None)
    assert result.matched, result.differences

    final, _ = runs.run(recoded(u))
    assert final.summary()["examined"] == 0 and len(records(gw)) == 3


def test_post_to_first_open_day_posts_it_there_with_the_loads_note_and_reconcile_shifts_it(
    led, hook, gw
):
    runs, u = posted_then_closed(led, hook, gw, "post_to_first_open_day")

    report, result = runs.run(recoded(u))

    assert report.failures == [] and report.summary()["reposted"] == 1
    dates = {r["STATE"]: r["WHENCREATED"] for r in records(gw)}
    # The reversal on the day of the change (the original's period is closed); the new version
    # on the first open day.
    assert dates == {"Reversed": "09/28/2026", "Reversal": "10/07/2026", "Posted": "10/01/2026"}
    [replacement] = [r for r in records(gw) if r["STATE"] == "Posted"]
    note = closed_periods.purchase_note(PURCHASE)
    assert note == "Purchased 09/28/2026 (closed period) | "
    assert replacement["DESCRIPTION"].startswith(note)
    sent_lines = lines_of(gw, replacement["RECORDNO"])
    assert sent_lines and all(ln["DESCRIPTION"].startswith(note) for ln in sent_lines)
    assert [ln["ACCOUNTNO"] for ln in sent_lines] == ["6200"]
    assert row_dates(led, u) == (dt.date(2026, 10, 1), PURCHASE)
    assert all(ln.description.startswith(note) for ln in led.mapped_lines([u])[u])
    closed = report.summary()["closed_periods"]
    assert (closed["redated"], closed["redated_from"], closed["redated_to"]) == (
        1,
        ["2026-09-28"],
        ["2026-10-01"],
    )
    assert result.matched, result.differences
    assert result.summary()["redated"]["count"] == 1  # the shift, as for a load's re-dating

    again, rerun = runs.run(recoded(u))
    assert again.summary()["examined"] == 0 and len(records(gw)) == 3
    assert rerun.matched and len(recoding.links(led, [u])) == 1
    assert Counter(r["RECORDID"] for r in records(gw)) == Counter({u: 2, f"{u}:v2": 1})


def test_a_replacement_dated_in_an_open_period_ignores_the_policy(led, hook, gw):
    # The original is in the closed period, Divvy moves the date into October: the reversal goes
    # on the day of the change, the new version on its own date, whatever the policy.
    runs, u = posted_then_closed(led, hook, gw, "fail")

    report, result = runs.run(version(u, day=dt.date(2026, 10, 3), updated=CHANGED))

    assert report.failures == [] and report.summary()["reposted"] == 1
    dates = {r["STATE"]: r["WHENCREATED"] for r in records(gw)}
    assert dates == {"Reversed": "09/28/2026", "Reversal": "10/07/2026", "Posted": "10/03/2026"}
    assert report.summary()["closed_periods"]["failed"] == 0
    assert result.matched, result.differences


def test_the_policys_placement_is_the_loads():
    closed = dt.date(2026, 9, 30)
    day = dt.date(2026, 9, 28)
    place = closed_periods.place
    assert place(day, None, "fail") == closed_periods.Placement("post", day)
    assert place(dt.date(2026, 10, 1), closed, "hold") == ("post", dt.date(2026, 10, 1), None)
    held = place(day, closed, "hold")
    assert held.action == "hold" and held.reason == closed_periods.hold_reason(day, closed)
    moved = place(day, closed, "post_to_first_open_day")
    assert (moved.action, moved.day, moved.moved) == ("post", dt.date(2026, 10, 1), True)
    failed = place(day, closed, "fail")
    assert failed.action == "fail" and "09/30/2026" in (failed.reason or "")


# --- Intacct's books-closed date cannot be read: the policy applies on Intacct's refusal -------

OPEN_DAY = dt.date(2026, 10, 5)


def moved_into_the_closed_period(led, hook, gw, policy: str) -> tuple[Runs, str]:
    """Posted on an open day; then Divvy moves its date into September, which the seed closes,
    on an Intacct whose books-closed date cannot be read (only its refusal tells)."""
    runs = Runs(led, hook)
    runs.settings = dataclasses.replace(runs.settings, closed_period_policy=policy)
    u = f"txr_recode_cr_{policy[:4]}"
    runs.run(version(u, day=OPEN_DAY))
    with gw.state.lock:
        gw.state.companies["ACME-DEMO"].unknown_objects.add("BOOKSCLOSED")
    return runs, u


def moved(u: str):
    return version(u, day=PURCHASE, updated=CHANGED)


def test_a_refused_replacement_is_redated_to_the_day_intacct_names_and_sent_again(led, hook, gw):
    runs, u = moved_into_the_closed_period(led, hook, gw, "post_to_first_open_day")

    report, result = runs.run(moved(u))

    assert report.failures == [] and report.summary()["reposted"] == 1
    dates = {r["STATE"]: r["WHENCREATED"] for r in records(gw)}
    assert dates == {"Reversed": "10/05/2026", "Reversal": "10/05/2026", "Posted": "10/01/2026"}
    [replacement] = [r for r in records(gw) if r["STATE"] == "Posted"]
    assert replacement["DESCRIPTION"].startswith(closed_periods.purchase_note(PURCHASE))
    # The refused attempt counts, as for the load: the next control ID.
    assert row(led, u).control_id == f"divvy-{u}:v2#2"
    assert row_dates(led, u) == (dt.date(2026, 10, 1), PURCHASE)
    closed = report.summary()["closed_periods"]
    assert (closed["books_closed_through"], closed["redated"], closed["redated_to"]) == (
        None,
        1,
        ["2026-10-01"],
    )
    assert result.matched, result.differences
    assert result.summary()["redated"]["count"] == 1

    again, rerun = runs.run(moved(u))
    assert again.summary()["examined"] == 0 and len(records(gw)) == 3 and rerun.matched


def test_a_refused_replacement_under_hold_waits_and_posts_once_the_period_reopens(led, hook, gw):
    runs, u = moved_into_the_closed_period(led, hook, gw, "hold")

    report, result = runs.run(moved(u))

    assert report.failures == [] and report.summary()["reposted"] == 0
    [waiting] = report.waiting
    assert "Closed period: Intacct refused the date 09/28/2026 as a closed period" in waiting
    assert report.summary()["closed_periods"]["held_dates"] == ["2026-09-28"]
    [link] = recoding.links(led, [u])
    assert (link.status, link.attempts) == ("reversed", 1)
    assert Counter(r["STATE"] for r in records(gw)) == Counter({"Reversed": 1, "Reversal": 1})
    # The transaction is held, not expected: Intacct's original and reversal net to nothing.
    assert result.matched, result.differences

    again, rerun = runs.run(moved(u))  # tried again (only a refusal tells), held again
    assert again.failures == [] and again.summary()["closed_periods"]["held"] == 1
    assert len(records(gw)) == 2 and rerun.matched

    close_books(gw, dt.date(2026, 8, 31))
    reopened, result = runs.run()

    assert reopened.failures == [] and reopened.summary()["reposted"] == 1
    [replacement] = [r for r in records(gw) if r["STATE"] == "Posted"]
    assert (replacement["RECORDID"], replacement["WHENCREATED"]) == (f"{u}:v2", "09/28/2026")
    assert row(led, u).control_id == f"divvy-{u}:v2#3"
    assert result.matched, result.differences


def test_a_refused_replacement_under_fail_is_a_failure_counted_with_its_date(led, hook, gw):
    runs, u = moved_into_the_closed_period(led, hook, gw, "fail")

    report, _ = runs.run(moved(u))

    [failure] = report.failures
    assert failure.startswith(f"{u}: date 2026-10-05 → 2026-09-28: ")
    closed = report.summary()["closed_periods"]
    assert (closed["failed"], closed["failed_dates"]) == (1, ["2026-09-28"])
    assert [lk.status for lk in recoding.links(led, [u])] == ["reversed"]


def test_a_replacement_a_stopped_run_posted_on_another_day_is_recorded_not_sent_again(
    led, hook, gw
):
    # A run sent the replacement on the first open day and stopped before the ledger knew; the
    # period reopened since, so this run would send it on its purchase date, where the lookup
    # of that day alone finds nothing.
    import json

    from intacct_hook.sync.translation import build_cctransaction

    runs, u = posted_then_closed(led, hook, gw, "post_to_first_open_day")
    gw.queue_fault("drop_before_commit", after_function="reverse_cctransaction")
    runs.run(recoded(u))
    gw.clear_faults()
    [link] = recoding.links(led, [u])
    assert (link.status, link.replacement_date) == ("reversed", "2026-10-01")
    lines = [
        recoding._mapped(ln)
        for ln in json.loads(link.replacement_lines or "[]")
        # the lines the stopped run sent, with the note
    ]
    stopped = dataclasses.replace(
        build_cctransaction(
            recoding._Posting(u, dt.date(2026, 10, 1), link.merchant, 1), lines, runs.settings
        ),
        reference_no=f"{u}:v2",
    )
    [sent_before] = hook.record_cctransactions([stopped])
    close_books(gw, dt.date(2026, 8, 31))

    report, result = runs.run()

    assert report.failures == [] and report.summary()["reposted"] == 1
    assert Counter(r["RECORDID"] for r in records(gw)) == Counter({u: 2, f"{u}:v2": 1})
    posted = row(led, u)
    assert posted.intacct_record_no == sent_before.record_no
    # The ledger says where the record is: its day, the purchase date kept.
    assert row_dates(led, u) == (dt.date(2026, 10, 1), PURCHASE)
    assert result.matched, result.differences


def test_a_reversal_a_stopped_run_sent_is_recorded_before_the_replacement_waits(led, hook, gw):
    # The reversal was sent while September was open and its answer lost; then the books
    # closed. The replacement now waits (hold), and the ledger says the original is reversed.
    runs = Runs(led, hook)
    runs.settings = dataclasses.replace(runs.settings, closed_period_policy="hold")
    u = "txr_recode_cp_stop"
    close_books(gw, dt.date(2026, 8, 31))
    runs.run(version(u, day=PURCHASE))
    gw.queue_fault("drop_after_commit", after_function="read")
    stopped, _ = runs.run(recoded(u))
    gw.clear_faults()
    assert len(stopped.failures) == 1
    assert [lk.status for lk in recoding.links(led, [u])] == ["reversing"]
    close_books(gw, dt.date(2026, 9, 30))

    report, result = runs.run()

    assert report.failures == [] and report.summary()["closed_periods"]["held"] == 1
    [link] = recoding.links(led, [u])
    assert (link.status, link.reversal_date) == ("reversed", "2026-09-28")
    assert link.reversal_record_no and sent(gw, "reverse_cctransaction") == 1
    assert result.matched, result.differences

    close_books(gw, dt.date(2026, 8, 31))
    reopened, result = runs.run()
    assert reopened.summary()["reposted"] == 1 and sent(gw, "reverse_cctransaction") == 1
    assert Counter(r["RECORDID"] for r in records(gw)) == Counter({u: 2, f"{u}:v2": 1})
    assert result.matched, result.differences


# --- Divvy changes it again while its change waits -----------------------------------------


def test_a_newer_version_replaces_the_waiting_change_and_posts_once_the_period_reopens(
    led, hook, gw
):
    runs, u = posted_then_closed(led, hook, gw, "hold")
    runs.run(recoded(u))
    again = version(u, day=PURCHASE, gl="6300", updated="2026-10-09T09:00:00.000+00:00")

    report, _ = runs.run(again)

    assert report.failures == [] and report.summary()["closed_periods"]["held"] == 1
    [link] = recoding.links(led, [u])
    assert (link.status, link.change) == ("reversing", "GL account 6100 → 6300")
    assert link.divvy_updated_time.startswith("2026-10-09T09:00")
    assert len(records(gw)) == 1

    close_books(gw, dt.date(2026, 8, 31))
    reopened, result = runs.run()
    assert reopened.summary()["reposted"] == 1
    [replacement] = [r for r in records(gw) if r["STATE"] == "Posted"]
    assert [ln["ACCOUNTNO"] for ln in lines_of(gw, replacement["RECORDNO"])] == ["6300"]
    assert result.matched, result.differences


def test_a_waiting_change_divvy_changes_back_is_withdrawn_and_never_sent(led, hook, gw):
    runs, u = posted_then_closed(led, hook, gw, "hold")
    runs.run(recoded(u))
    back = version(u, day=PURCHASE, gl="6100", updated="2026-10-09T09:00:00.000+00:00")

    report, result = runs.run(back)

    assert report.failures == [] and report.summary()["unchanged"] == 1
    assert report.summary()["closed_periods"]["held"] == 0
    [link] = recoding.links(led, [u])
    assert link.status == "reported" and "withdrawn" in link.change
    assert result.matched, result.differences

    close_books(gw, dt.date(2026, 8, 31))
    reopened, _ = runs.run(back)
    assert reopened.summary()["reposted"] == 0 and len(records(gw)) == 1
    assert sent(gw, "reverse_cctransaction") == 0


def test_a_decline_of_a_change_failing_for_a_closed_period_is_reversed_only(led, hook, gw):
    runs, u = posted_then_closed(led, hook, gw, "fail")
    failed, _ = runs.run(recoded(u))
    assert len(failed.failures) == 1

    report, result = runs.run(
        version(u, day=PURCHASE, transactionType="DECLINE", updated="2026-10-08T09:00:00.000+00:00")
    )

    assert report.failures == [] and report.summary()["reversed"] == 1
    dates = {r["STATE"]: r["WHENCREATED"] for r in records(gw)}
    assert dates == {"Reversed": "09/28/2026", "Reversal": "10/08/2026"}  # the day of the change
    assert [lk.status for lk in recoding.links(led, [u])] == ["done"]
    assert row(led, u).state == "skipped"
    assert result.matched, result.differences
