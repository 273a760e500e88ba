"""A finance user's days: `backfill create --from-date 2026-11-01 --to-date 2026-11-07` is the
seven days Nov 1..Nov 7 in the company's time zone, DST days included, with no arithmetic.

Real parts: the `airflow` CLI in a subprocess (DAG processor serialization with `dags
reserialize`, the scheduler-side decoding in `backfill create`), `dag.test()` for the runs.
The clock is the test's: NOW below, passed to the CLI, and explicit logical dates.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

import pendulum
import pytest
from e2e_world import (
    PREVIEW_DAG,
    ROOT,
    SYNC_DAG,
    TZ,
    airflow_cli,
    delete_runs,
    local_midnight,
    task_states,
    xcom,
)

# Two days after the last day any test here backfills or runs.
NOW = pendulum.datetime(2026, 11, 29, 3, tz="UTC")
WEEK = [date(2026, 11, d) for d in range(1, 8)]


@pytest.fixture
def no_runs(world):
    delete_runs(SYNC_DAG, PREVIEW_DAG)
    yield
    delete_runs(SYNC_DAG, PREVIEW_DAG)


def _reserialize() -> None:
    # The DAG processor's path: parse the DAG files and store the serialized DAGs (the
    # timetable is encoded through the plugin that registers it).
    out = airflow_cli("dags", "reserialize", now=NOW)
    assert out.returncode == 0, out.stderr[-3000:]


def _planned(dag_id: str, *dates: str) -> list[pendulum.DateTime]:
    out = airflow_cli(
        "backfill", "create", "--dag-id", dag_id, "--from-date", dates[0], "--to-date", dates[1],
        "--dry-run", now=NOW,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    stamps = re.findall(r"^\|\s*(\d{4}-\d\d-\d\d[ T][\d:]+(?:\+00:00)?)\s*\|", out.stdout, re.M)
    return [pendulum.parse(s.replace(" ", "T"), tz="UTC") for s in stamps]


@pytest.mark.parametrize("dag_id", [SYNC_DAG, PREVIEW_DAG])
def test_backfill_dry_run_from_nov_1_to_nov_7_plans_those_seven_local_days(world, no_runs, dag_id):
    _reserialize()

    planned = _planned(dag_id, "2026-11-01", "2026-11-07")

    # One run per day, each at the local midnight that starts it (Nov 1 is the 25-hour DST day).
    assert planned == [local_midnight(d) for d in WEEK]
    # The README's old advice for the end date still means the same week.
    assert _planned(dag_id, "2026-11-01", "2026-11-07T23:59:59") == planned


def test_backfill_runs_are_named_by_their_day_and_extract_covers_it(world, no_runs):
    from airflow.dag_processing.dagbag import DagBag
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    from intacct_hook.sync.settings import SyncSettings

    _reserialize()
    out = airflow_cli(
        "backfill", "create", "--dag-id", SYNC_DAG, "--from-date", "2026-11-01",
        "--to-date", "2026-11-07", now=NOW,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]

    with create_session() as session:
        runs = list(
            session.scalars(
                select(DagRun).where(DagRun.dag_id == SYNC_DAG).order_by(DagRun.logical_date)
            )
        )
        session.expunge_all()
    assert [str(r.run_type) for r in runs] == ["backfill"] * 7
    extract = DagBag(dag_folder=str(ROOT / "dags")).get_dag(SYNC_DAG).get_task("extract")
    settings = SyncSettings.from_variable(world.settings)
    for run, day in zip(runs, WEEK, strict=True):
        assert pendulum.instance(run.logical_date) == local_midnight(day)
        assert (run.data_interval_start, run.data_interval_end) == (
            local_midnight(day),
            local_midnight(day + timedelta(days=1)),
        )
        assert not run.conf  # what the UI's backfill dialog sends: no run parameters
        # The days the extract task works out for this very run.
        window = extract.resolve_window(
            {
                "params": {"start_date": None, "end_date": None},
                "data_interval_start": run.data_interval_start,
                "data_interval_end": run.data_interval_end,
                "dag_run": run,
            },
            settings,
        )
        assert (window.first_day, window.last_day) == (day, day)


def _at(day: date, hour: int, minute: int = 0) -> str:
    local = pendulum.datetime(day.year, day.month, day.day, hour, minute, tz=TZ)
    return local.in_timezone("UTC").isoformat()


@pytest.mark.parametrize(
    ("day", "hours"),
    [(date(2026, 3, 8), 23), (date(2026, 11, 1), 25)],
    ids=["spring-forward", "fall-back"],
)
def test_a_dst_day_run_posts_exactly_that_local_day(world, day, hours):
    world.configure(lookback_days=0)
    with world.gw.state.lock:  # the seed closes the books through 2026-09-30
        for row in world.gw.state.companies["ACME-DEMO"].objects["BOOKSCLOSED"]:
            row["CLOSEDTHROUGH"] = "12/31/2025"
    inside = []
    for d, hour, minute in [
        (day - timedelta(days=1), 23, 30),
        (day, 0, 30),
        (day, 23, 30),
        (day + timedelta(days=1), 0, 30),
    ]:
        at = _at(d, hour, minute)
        row = world.add(d, 10.00, occurredTime=at, updatedTime=at)
        if d == day:
            inside.append(row["uuid"])

    dr = world.run(logical_date=local_midnight(day))

    assert dr.state == "success", task_states(dr)
    assert dr.data_interval_end - dr.data_interval_start == timedelta(hours=hours)
    window = xcom(dr, "extract")["window"]
    assert (window["first_day"], window["last_day"], window["source"]) == (
        day.isoformat(),
        day.isoformat(),
        "data_interval",
    )
    assert window["extract_from_utc"] == local_midnight(day).in_timezone("UTC").isoformat()
    assert window["extract_to_utc"] == (
        local_midnight(day + timedelta(days=1)).in_timezone("UTC").isoformat()
    )
    records = world.records()
    assert sorted(r["RECORDID"] for r in records) == sorted(inside)
    assert {r["WHENCREATED"] for r in records} == {day.strftime("%m/%d/%Y")}


def test_what_the_ui_reads_after_the_dag_processor_stored_the_dags(world, no_runs):
    """The DAG list and details read these columns, written when the DAG processor stores a DAG
    (here `airflow dags reserialize`, the same code)."""
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    _reserialize()

    with create_session() as session:
        sync, preview = (
            session.scalar(select(DagModel).where(DagModel.dag_id == dag_id))
            for dag_id in (SYNC_DAG, PREVIEW_DAG)
        )
        assert sync.timetable_summary == "Daily at 06:00 America/Chicago"
        assert sync.timetable_description.startswith(
            "Daily at 06:00 America/Chicago, one local day per run"
        )
        assert sync.timetable_type == "intacct_hook.timetables.LocalDayTimetable"
        assert preview.timetable_summary.startswith("Preview")
        assert preview.dag_display_name.startswith("Preview")
        # Never scheduled: no next run to show, and the scheduler will not create one.
        assert preview.next_dagrun_create_after is None and preview.next_dagrun is None
        assert sorted(preview.allowed_run_types) == ["backfill", "manual"]


def test_the_timetable_is_what_the_dag_uses(world):
    from airflow.dag_processing.dagbag import DagBag

    from intacct_hook.timetables import LocalDayTimetable

    dag = DagBag(dag_folder=str(ROOT / "dags")).get_dag(SYNC_DAG)
    assert isinstance(dag.timetable, LocalDayTimetable)
    assert dag.timetable.timezone == TZ
    # The run for Nov 17 happens at 06:00 Chicago on Nov 18.
    assert dag.timetable.runs_at(date(2026, 11, 17)) == datetime.fromisoformat(
        "2026-11-18T12:00:00+00:00"
    )
