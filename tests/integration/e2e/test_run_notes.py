"""Where the UI lists runs, each says which days it covers, and a preview says it is one.

Airflow 3.3 gives a task no way to write its DAG run's note (the Execution API has no such
endpoint), so the note is written where the run changes state: a listener of the plugin, in the
scheduler (run started, finished) and in `dag.test()` (finished). It never replaces a note
someone wrote.
"""

from __future__ import annotations

from datetime import date

import pendulum
import pytest
from e2e_world import (
    PREVIEW_DAG,
    SYNC_DAG,
    airflow_cli,
    delete_runs,
    local_midnight,
    task_states,
)

DAY = date(2026, 11, 17)
NOW = pendulum.datetime(2026, 11, 29, 3, tz="UTC")


def _note(dag_run) -> str | None:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        run = session.scalar(
            select(DagRun).where(DagRun.dag_id == dag_run.dag_id, DagRun.run_id == dag_run.run_id)
        )
        return run.note


def test_a_daily_run_is_labelled_with_its_local_day(world):
    world.add(DAY, 10.00)

    dr = world.run(logical_date=local_midnight(DAY))

    assert dr.state == "success", task_states(dr)
    assert _note(dr) == "Nov 17, 2026 (America/Chicago)"


def test_a_preview_run_says_preview(world):
    dr = world.run(logical_date=local_midnight(DAY), dag_id=PREVIEW_DAG)

    assert dr.state == "success", task_states(dr)
    assert _note(dr) == "Preview: Nov 17, 2026 (America/Chicago)"


@pytest.mark.parametrize(
    ("start", "end", "note"),
    [
        ("2026-11-01", "2026-11-07", "Preview: Nov 1–7, 2026 (America/Chicago)"),  # noqa: RUF001
        ("2026-10-30", "2026-11-02", "Preview: Oct 30 – Nov 2, 2026 (America/Chicago)"),  # noqa: RUF001
    ],
)
def test_a_range_run_is_labelled_with_its_range(world, start, end, note):
    dr = world.run(
        logical_date=local_midnight(DAY),
        conf={"start_date": start, "end_date": end},
        dag_id=PREVIEW_DAG,
    )

    assert dr.state == "success", task_states(dr)
    assert _note(dr) == note


def test_a_refused_or_impossible_run_says_why(world):
    refused = world.run(logical_date=local_midnight(DAY), conf={"dry_run": True})
    reversed_ = world.run(
        logical_date=local_midnight(DAY - pendulum.duration(days=1)),
        conf={"start_date": "2026-11-09", "end_date": "2026-11-01"},
    )

    assert (refused.state, reversed_.state) == ("failed", "failed")
    assert _note(refused) == (
        "Refused: asks for a preview (dry_run=True); use divvy_intacct_preview"
    )
    assert _note(reversed_) == (
        "No days: end_date 2026-11-01 is before start_date 2026-11-09; swap them"
    )


def test_the_scheduler_labels_a_backfill_run_when_it_starts(world):
    """What the scheduler does with a queued run (SchedulerJobRunner._start_queued_dagruns):
    attach its serialized DAG, mark it running, notify the listeners, commit."""
    from airflow.models.dagbag import DBDagBag
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState
    from sqlalchemy import select

    delete_runs(SYNC_DAG)
    try:
        assert airflow_cli("dags", "reserialize", now=NOW).returncode == 0
        out = airflow_cli(
            "backfill", "create", "--dag-id", SYNC_DAG, "--from-date", "2026-11-01",
            "--to-date", "2026-11-02", now=NOW,
        )  # fmt: skip
        assert out.returncode == 0, out.stderr[-3000:]

        with create_session() as session:
            runs = session.scalars(
                select(DagRun).where(DagRun.dag_id == SYNC_DAG).order_by(DagRun.logical_date)
            ).all()
            assert [r.note for r in runs] == [None, None]
            bag = DBDagBag()
            for run in runs:
                run.dag = bag.get_dag_for_run(run, session)
                run.state = DagRunState.RUNNING
                run.notify_dagrun_state_changed(msg="started")
            session.commit()

        with create_session() as session:
            runs = session.scalars(
                select(DagRun).where(DagRun.dag_id == SYNC_DAG).order_by(DagRun.logical_date)
            ).all()
            notes = [r.note for r in runs]
        # Nov 1 has 25 hours (DST ends); still one day.
        assert notes == [
            "Nov 1, 2026 (America/Chicago)",
            "Nov 2, 2026 (America/Chicago)",
        ]
    finally:
        delete_runs(SYNC_DAG)


def test_a_note_someone_wrote_is_kept(world):
    from types import SimpleNamespace

    from intacct_hook import run_notes
    from intacct_hook.timetables import LocalDayTimetable

    tt = LocalDayTimetable("America/Chicago")
    interval = tt.day_interval(DAY)
    run = SimpleNamespace(
        note="checked by Ana",
        conf={},
        data_interval_start=interval.start,
        data_interval_end=interval.end,
        run_after=tt.runs_at(DAY),
        run_id="manual__x",
        dag=SimpleNamespace(timetable=tt),
    )
    run_notes.label_run(run)
    assert run.note == "checked by Ana"
    run.note = None
    run_notes.label_run(run)
    assert run.note == "Nov 17, 2026 (America/Chicago)"
    # Not one of the sync's DAGs: left alone.
    other = SimpleNamespace(**{**vars(run), "note": None, "dag": SimpleNamespace(timetable=None)})
    run_notes.label_run(other)
    assert other.note is None
