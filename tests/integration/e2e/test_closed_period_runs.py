"""closed_period_policy through real Airflow (``dag.test()``) against both sandboxes: each policy,
a second run that changes nothing, ``hold`` posting once the period reopens, and the refusal path
for an Intacct whose books-closed date cannot be read."""

from __future__ import annotations

from collections import Counter
from datetime import date

from e2e_world import posted_once, task_states, xcom

DAY = date(2026, 11, 17)
CLOSED_DAY = date(2026, 11, 15)  # within the run's lookback, in the closed period below


def close_books(world, through: date) -> None:
    with world.gw.state.lock:
        for row in world.gw.state.companies["ACME-DEMO"].objects["BOOKSCLOSED"]:
            row["CLOSEDTHROUGH"] = through.strftime("%m/%d/%Y")


def two_transactions(world) -> tuple[str, str]:
    close_books(world, date(2026, 11, 16))
    closed = world.add(CLOSED_DAY, 5.00)["uuid"]
    open_ = world.add(DAY, 6.00)["uuid"]
    return closed, open_


def states(world) -> dict[str, tuple[str, str | None]]:
    return {
        r.uuid: (r.state, r.state_reason)
        for r in world.ledger().select_in_state(["held", "ready", "posted", "failed"])
    }


def test_fail_leaves_it_failed_and_the_run_says_how_many_and_which_dates(world):
    closed, open_ = two_transactions(world)  # the default policy: fail

    first = world.run_day(DAY)

    assert task_states(first)["load"] == "failed"
    assert set(posted_once(world)) == {open_}
    summary = xcom(first, "load", key="closed_periods")
    # under `fail` the refusal decides: the books-closed date is not read before the claim
    assert summary["policy"] == "fail" and not summary["books_closed_read"]
    assert (summary["refused"], summary["failed"], summary["refused_dates"]) == (
        1,
        1,
        ["2026-11-15"],
    )
    assert states(world)[closed][0] == "failed"

    # A second run: the same refusal, nothing more in Intacct.
    second = world.run_day(DAY)
    assert task_states(second)["load"] == "failed"
    assert posted_once(world) == Counter({open_: 1})


def test_hold_holds_it_and_posts_it_once_the_period_reopens(world, capfd):
    world.configure(closed_period_policy="hold")
    closed, open_ = two_transactions(world)

    first = world.run_day(DAY)

    assert first.state == "success", task_states(first)
    assert set(posted_once(world)) == {open_}
    held = xcom(first, "load", key="closed_periods")
    assert (held["held"], held["held_dates"], held["books_closed_through"]) == (
        1,
        ["2026-11-15"],
        "2026-11-16",
    )
    state, reason = states(world)[closed]
    assert state == "held" and reason.startswith("Closed period: dated 11/15/2026")
    assert xcom(first, "reconcile")["matched"]
    out = capfd.readouterr().out
    assert "will be held until the period reopens" in out  # preflight said so

    second = world.run_day(DAY)  # changes nothing
    assert second.state == "success", task_states(second)
    assert posted_once(world) == Counter({open_: 1})
    assert states(world)[closed][0] == "held"
    assert xcom(second, "load")["posted"] == 0

    close_books(world, date(2026, 10, 31))  # the controller reopens November
    third = world.run_day(DAY)
    assert third.state == "success", task_states(third)
    assert posted_once(world) == Counter({open_: 1, closed: 1})
    # Within the lookback, stage offers it again each run; out of it, the load releases it
    # (test_closed_periods.py in the unit tests). Either way it posts once, on its date.
    assert xcom(third, "load")["posted"] == 1
    record = {r["RECORDID"]: r for r in world.records()}[closed]
    assert record["WHENCREATED"] == "11/15/2026"
    assert xcom(third, "reconcile")["matched"]


def test_post_to_first_open_day_moves_the_date_and_reconcile_reports_the_shift(world):
    world.configure(closed_period_policy="post_to_first_open_day")
    closed, open_ = two_transactions(world)

    first = world.run_day(DAY)

    assert first.state == "success", task_states(first)
    assert posted_once(world) == Counter({open_: 1, closed: 1})
    record = {r["RECORDID"]: r for r in world.records()}[closed]
    assert record["WHENCREATED"] == "11/17/2026"
    assert record["DESCRIPTION"].startswith("Purchased 11/15/2026 (closed period) | ")
    moved = xcom(first, "load", key="closed_periods")
    assert (moved["redated"], moved["redated_from"], moved["redated_to"]) == (
        1,
        ["2026-11-15"],
        ["2026-11-17"],
    )
    reconcile = xcom(first, "reconcile")
    assert reconcile["matched"]
    assert reconcile["days"]["2026-11-17"]["intacct_total"] == "11.00"
    assert reconcile["redated"]["count"] == 1 and reconcile["redated"]["total"] == "5.00"
    [row] = [r for r in world.ledger().select_in_state(["posted"]) if r.uuid == closed]
    assert row.posting_date == DAY and row.control_id == f"divvy-{closed}"

    second = world.run_day(DAY)  # changes nothing
    assert second.state == "success", task_states(second)
    assert xcom(second, "load")["posted"] == 0
    assert posted_once(world) == Counter({open_: 1, closed: 1})


def test_an_intacct_without_a_readable_books_closed_date_still_gets_the_policy(world):
    world.configure(closed_period_policy="post_to_first_open_day")
    closed, open_ = two_transactions(world)
    with world.gw.state.lock:
        world.gw.state.companies["ACME-DEMO"].unknown_objects.add("BOOKSCLOSED")

    dr = world.run_day(DAY)

    assert dr.state == "success", task_states(dr)
    summary = xcom(dr, "load", key="closed_periods")
    assert summary["verified"] is False and summary["redated"] == 1  # on Intacct's refusal
    assert summary["first_open_days"] == ["2026-11-17"]
    record = {r["RECORDID"]: r for r in world.records()}[closed]
    assert record["WHENCREATED"] == "11/17/2026"
    assert posted_once(world) == Counter({open_: 1, closed: 1})
    [row] = [r for r in world.ledger().select_in_state(["posted"]) if r.uuid == closed]
    assert row.control_id == f"divvy-{closed}#2"  # the refused attempt counted


def test_a_held_transaction_out_of_the_lookback_is_released_by_a_later_run(world):
    world.configure(closed_period_policy="hold", lookback_days=0)
    close_books(world, date(2026, 11, 16))
    closed = world.add(CLOSED_DAY, 5.00)["uuid"]

    held = world.run_day(CLOSED_DAY)
    assert held.state == "success", task_states(held)
    assert states(world)[closed][0] == "held" and posted_once(world) == Counter()

    # Two days later (the purchase is no longer extracted), after the period reopened.
    close_books(world, date(2026, 10, 31))
    later = world.run_day(DAY)

    assert later.state == "success", task_states(later)
    summary = xcom(later, "load", key="closed_periods")
    assert (summary["released"], summary["released_dates"]) == (1, ["2026-11-15"])
    assert posted_once(world) == Counter({closed: 1})
    assert {r["RECORDID"]: r for r in world.records()}[closed]["WHENCREATED"] == "11/15/2026"
