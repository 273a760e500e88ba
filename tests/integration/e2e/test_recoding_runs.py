"""Re-coding after posting through real Airflow (``dag.test()``) against both sandboxes: a posted
transaction re-coded in Divvy is reversed and re-posted by the next run (the ``recode`` task),
reconcile matches with the chain, and a further run changes nothing; ``report_only`` touches
nothing in Intacct; a decline after posting is reversed, and so is a transaction deleted in Divvy
(no event: the next run finds it missing from its extract, and Divvy answers 404 for it)."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

from e2e_world import task_states, xcom

DAY = date(2026, 11, 17)
NEXT = DAY + timedelta(days=1)


def test_a_recode_in_divvy_is_reversed_and_reposted_and_the_next_run_changes_nothing(world):
    kept = world.add(DAY, 10.00)["uuid"]
    moved = world.add(DAY, 53.03)["uuid"]
    first = world.run_day(DAY)
    assert first.state == "success", task_states(first)
    assert xcom(first, "recode")["examined"] == 0

    world.dv.state.update_transaction(moved, customFields={"GL Account": "6200 - Travel"})
    second = world.run_day(DAY)

    assert second.state == "success", task_states(second)
    recode = xcom(second, "recode")
    assert (recode["reposted"], recode["failed"], recode["policy"]) == (
        1,
        0,
        "reverse_and_repost",
    )
    records = world.records()
    assert Counter(r["RECORDID"] for r in records) == Counter({kept: 1, moved: 2, f"{moved}:v2": 1})
    [replacement] = [r for r in records if r["RECORDID"] == f"{moved}:v2"]
    assert [ln["ACCOUNTNO"] for ln in replacement["lines"]] == ["6200"]
    rec = xcom(second, "reconcile")
    assert rec["matched"], rec
    assert rec["days"][DAY.isoformat()]["intacct_total"] == "63.03"
    assert rec["recoded"]["changes"] == 1 and rec["recoded"]["net"] == "0.00"

    third = world.run_day(DAY)  # changes nothing
    assert third.state == "success", task_states(third)
    assert xcom(third, "recode")["examined"] == 0 and xcom(third, "load")["posted"] == 0
    assert len(world.records()) == 4
    assert xcom(third, "reconcile")["matched"]


def test_report_only_reports_and_a_decline_is_reversed_once_allowed(world):
    world.configure(recode_policy="report_only")
    txn = world.add(DAY, 20.00)["uuid"]
    assert world.run_day(DAY).state == "success"
    world.dv.state.update_transaction(txn, amount=25.00)

    reported = world.run_day(DAY)

    assert reported.state == "success", task_states(reported)
    assert xcom(reported, "recode")["reported"] == 1 and len(world.records()) == 1
    assert "amount 20.00 → 25.00" in xcom(reported, "recode")["changes"][0]

    world.configure()  # back to the default: reverse_and_repost
    world.dv.state.update_transaction(txn, transactionType="DECLINE")
    declined = world.run_day(DAY)

    assert declined.state == "success", task_states(declined)
    assert xcom(declined, "recode")["reversed"] == 1
    assert Counter(r["STATE"] for r in world.records()) == Counter({"Reversed": 1, "Reversal": 1})
    assert xcom(declined, "reconcile")["matched"]
    again = world.run_day(DAY)
    assert again.state == "success" and len(world.records()) == 2


def test_a_transaction_deleted_in_divvy_after_posting_is_reversed_by_the_next_run(world):
    # The next day's run reads the day again (its lookback): a run of its own, as production has
    # (a cleared rerun of the same run keeps its first extract's manifest).
    world.configure(lookback_days=2)
    kept = world.add(DAY, 10.00)["uuid"]
    gone = world.add(DAY, 53.03)["uuid"]
    first = world.run_day(DAY)
    assert first.state == "success", task_states(first)
    assert xcom(first, "recode")["missing"] == 0 and len(world.records()) == 2

    # Divvy sends no event: the list no longer returns it and GET by id answers 404.
    world.dv.state.delete_transaction(gone)
    second = world.run_day(NEXT)

    assert second.state == "success", task_states(second)
    recode = xcom(second, "recode")
    assert (recode["missing"], recode["deleted"], recode["reversed"], recode["failed"]) == (
        1,
        1,
        1,
        0,
    )
    states = Counter((r["RECORDID"], r["STATE"]) for r in world.records())
    assert states[(kept, "Posted")] == 1 and states[(gone, "Reversed")] == 1
    assert sum(1 for (_, state) in states.elements() if state == "Reversal") == 1
    rec = xcom(second, "reconcile")
    assert rec["matched"], rec
    assert rec["days"][DAY.isoformat()]["intacct_total"] == "10.00"

    third = world.run_day(NEXT + timedelta(days=1))  # changes nothing
    assert third.state == "success", task_states(third)
    assert xcom(third, "recode")["missing"] == 0 and len(world.records()) == 3
    assert xcom(third, "reconcile")["matched"]
