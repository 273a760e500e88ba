"""A normal day, a rerun, a refund, a late clear and a run without a logical date (previews:
test_preview.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from e2e_world import noon_utc, task_states, xcom

DAY = date(2026, 11, 17)
STEPS = ("preflight", "extract", "stage", "map", "load", "recode", "reconcile")


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


@pytest.mark.parametrize(
    ("utc_hour", "local_yesterday"),
    # At 02:00 UTC on Nov 18 it is still Nov 17 in Chicago, so "yesterday" is Nov 16 there
    # while UTC would say Nov 17: the hours the old wall-clock version of this test failed.
    [(2, date(2026, 11, 16)), (15, date(2026, 11, 17))],
)
def test_manual_run_without_logical_date_covers_yesterday(world, utc_hour, local_yesterday):
    # The run's clock is injected (run_after), never the wall clock.
    run_after = datetime(2026, 11, 18, utc_hour, tzinfo=UTC)
    in_window = world.add(local_yesterday, 33.00)
    # The local day the run is in: after the window, so never posted by this run.
    world.add(local_yesterday + timedelta(days=1), 44.00)

    dr = world.run(logical_date=None, run_after=run_after)

    assert dr.state == "success", task_states(dr)
    assert dr.run_after == run_after  # the clock the run used is the one the test set
    window = xcom(dr, "extract")["window"]
    assert (window["source"], window["first_day"], window["last_day"]) == (
        "run_after",
        local_yesterday.isoformat(),
        local_yesterday.isoformat(),
    )
    assert [(r["RECORDID"], r["TOTALENTERED"]) for r in world.records()] == [
        (in_window["uuid"], "33.00")
    ]


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


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("0001-01-01", DAY.isoformat(), "param start_date=0001-01-01 is before 2000-01-01"),
        # A reversed range: Airflow validates each param alone, so the trigger form accepts it;
        # the first task refuses it at once, naming both dates and the fix.
        ("2026-11-17", "2026-11-10", "end_date 2026-11-10 is before start_date 2026-11-17; swap"),
    ],
    ids=["before-2000", "reversed"],
)
def test_an_implausible_range_fails_the_run_before_anything_is_read(
    world, capfd, start, end, message
):
    world.add(DAY, 10.00)
    before = (len(world.dv.requests), len(world.gw.requests))

    dr = world.run_day(DAY, start_date=start, end_date=end)

    assert dr.state == "failed"
    # A setup problem (AirflowFailException, no retry) that names the param and the fix, not
    # an OverflowError from date arithmetic that the task would retry.
    logs = capfd.readouterr()
    assert message in logs.out + logs.err
    assert "OverflowError" not in logs.out + logs.err
    states = task_states(dr)
    assert states["preflight"] == "failed"
    assert {states[t] for t in STEPS[1:]} == {"upstream_failed"}
    assert world.records() == []
    # Nothing was read: not one request to Divvy or Intacct.
    assert (len(world.dv.requests), len(world.gw.requests)) == before


def test_noon_helper_is_on_the_local_day():
    # Guards the fixtures themselves: 15:00 UTC is 09:00 in Chicago.
    assert noon_utc(DAY).hour == 15
