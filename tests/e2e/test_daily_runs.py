"""A normal day, a rerun, a refund, a late clear, a dry run and a run without a logical date."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from e2e_world import noon_utc, task_states, xcom

DAY = date(2026, 11, 17)
STEPS = ("preflight", "extract", "stage", "map", "load", "reconcile")


def test_normal_day_posts_clears_only_and_reconciles(world):
    charge = world.add(DAY, 53.03, merchantName="Café Münster & <Co> 🍕")
    refund = world.add(DAY, -12.50, gl="6100")
    auth = world.add(DAY, 20.00, kind="AUTHORIZATION")
    world.add(DAY, 99.00, kind="DECLINE", declineReason="CVV is invalid.")
    other_day = world.add(DAY - timedelta(days=30), 5.00)  # outside window and lookback

    dr = world.run_day(DAY)

    assert dr.state == "success", task_states(dr)
    assert set(task_states(dr).values()) == {"success"}
    records = {r["RECORDID"]: r for r in world.records()}
    assert set(records) == {charge["uuid"], refund["uuid"]}
    assert auth["uuid"] not in records and other_day["uuid"] not in records
    assert records[refund["uuid"]]["TOTALENTERED"] == "-12.50"
    assert records[charge["uuid"]]["WHENCREATED"] == "11/17/2026"
    assert records[charge["uuid"]]["PAYEE"] == "Café Münster & <Co> 🍕"
    line = records[charge["uuid"]]["lines"][0]
    assert (line["ACCOUNTNO"], line["LOCATIONID"]) == ("6100", "100")  # card default location

    load = xcom(dr, "load")
    assert (load["posted"], load["failed"]) == (2, 0)
    # The load task's extra link opens the last posted record in Intacct.
    link = xcom(dr, "load", key="_link_IntacctRecordsLink")
    assert link == xcom(dr, "load", key="intacct_record_url")
    assert link.startswith(world.gw.url.rsplit("/ia/", 1)[0]) and "?.r=" in link
    rec = xcom(dr, "reconcile")
    assert rec["matched"] is True
    assert rec["days"][DAY.isoformat()] == {
        "divvy_count": 2,
        "divvy_total": "40.53",
        "intacct_count": 2,
        "intacct_total": "40.53",
        "status": "matched",
    }
    by_state = {row["state"]: row for row in rec["ledger"]["by_state"]}
    assert by_state["posted"]["count"] == 2 and by_state["skipped"]["count"] == 2


def test_rerun_posts_nothing_new(world):
    world.add(DAY, 10.00)
    world.add(DAY, 11.00)
    first = world.run_day(DAY)
    assert first.state == "success"
    before = world.records()

    again = world.run_day(DAY)

    assert again.state == "success", task_states(again)
    assert world.records() == before
    assert xcom(again, "load")["posted"] == 0
    assert xcom(again, "reconcile")["matched"] is True


def test_late_clear_is_picked_up_by_a_later_run(world):
    auth = world.add(DAY, 180.00, kind="AUTHORIZATION", merchantName="Hotel Lumière")
    assert world.run_day(DAY).state == "success"
    assert world.records() == []

    # The hotel settles four days later, at a different amount: a new CLEAR record with a new
    # uuid, dated at the purchase.
    clear = world.dv.state.clear_authorization(
        auth["uuid"], amount=212.40, customFields={"GL Account": "6200 - Travel"}, complete=True
    )
    later = DAY + timedelta(days=4)
    dr = world.run_day(later)

    assert dr.state == "success", task_states(dr)
    [record] = world.records()
    assert (record["RECORDID"], record["TOTALENTERED"], record["WHENCREATED"]) == (
        clear["uuid"],
        "212.40",
        "11/17/2026",
    )
    assert xcom(dr, "reconcile")["days"][DAY.isoformat()]["status"] == "matched"


def test_dry_run_writes_nothing_to_intacct(world):
    world.add(DAY, 10.00)
    world.add(DAY, 7.25, gl=None, merchantName="Mystery Vendor", merchantCategoryCode="7399")

    dr = world.run_day(DAY, dry_run=True)

    assert world.records() == []
    load = xcom(dr, "load")
    assert load["dry_run"] is True and load["would_post"] == 1
    assert load["would_post_total"] == "10.00"
    # Reconcile compares what is really in Intacct with what was really posted: a dry run is
    # green, and the would-post transaction is not reported as missing.
    assert dr.state == "success", task_states(dr)
    rec = xcom(dr, "reconcile")
    assert rec["matched"] is True and rec["dry_run"] is True


def test_manual_run_without_logical_date_covers_yesterday(world):
    from datetime import UTC, datetime

    # A fixed run_after (02:30 UTC is still the previous evening in Chicago): the local day
    # before it is DAY, at any wall-clock time the test runs.
    run_after = datetime(2026, 11, 19, 2, 30, tzinfo=UTC)
    world.add(DAY, 33.00)
    world.add(DAY + timedelta(days=1), 44.00)  # the local "today" of run_after: not this run's

    dr = world.run(logical_date=None, run_after=run_after)

    assert dr.state == "success", task_states(dr)
    assert xcom(dr, "extract")["window"]["source"] == "run_after"
    assert [r["TOTALENTERED"] for r in world.records()] == ["33.00"]


def test_manual_range_params_cover_several_days(world):
    uuids = {world.add(DAY + timedelta(days=n), 1.00 + n)["uuid"] for n in range(3)}

    dr = world.run_day(
        DAY, start_date=DAY.isoformat(), end_date=(DAY + timedelta(days=2)).isoformat()
    )

    assert dr.state == "success", task_states(dr)
    assert {r["RECORDID"] for r in world.records()} == uuids
    window = xcom(dr, "extract")["window"]
    assert (window["first_day"], window["last_day"], window["source"]) == (
        "2026-11-17",
        "2026-11-19",
        "params",
    )
    assert sum(Decimal(r["TOTALENTERED"]) for r in world.records()) == Decimal("6.00")


def test_noon_helper_is_on_the_local_day():
    # Guards the fixtures themselves: 15:00 UTC is 09:00 in Chicago.
    assert noon_utc(DAY).hour == 15
