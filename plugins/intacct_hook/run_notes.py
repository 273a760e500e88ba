"""Each run of the sync's DAGs carries a note saying which local days it covers.

The UI lists runs by run ID and logical date; neither says "Nov 1 to 7" for a range run, and a
backfill's run ID carries the moment it ran after (the next morning). The note does, and a
preview's starts with ``Preview:``.

Why a listener and not the first task: in Airflow 3.3 a task cannot write its DAG run's note
(tasks reach the metadata DB only through the Execution API, which has no endpoint for it; the
REST API's PATCH of a run needs credentials a task does not have). So the note is written where
Airflow changes the run's state, in the same database session: the scheduler when the run
starts (``on_dag_run_running``), and when it finishes (``on_dag_run_success`` /
``on_dag_run_failed``, which is also where ``dag.test()`` runs the listeners). The days come from
the run alone (its conf's ``start_date``/``end_date``, its data interval, ``run_after``) through
the same :func:`resolve_window` the tasks use, in the timetable's zone. A note someone wrote is
never replaced; runs of other DAGs are not touched; nothing here can fail a run.

Registered by :mod:`intacct_hook.airflow_plugin`.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.listeners import hookimpl

from intacct_hook.operators.base import PREVIEW_DAG_ID, describe, preview_request
from intacct_hook.sync.accounts import account_dag_id, account_of_dag_id
from intacct_hook.sync.window import WindowError, resolve_window
from intacct_hook.timetables import LocalDayTimetable

log = logging.getLogger(__name__)

NOTE_LIMIT = 1000  # DagRunNote.content


def run_note(dag_run: Any, timetable: LocalDayTimetable) -> str:
    """The note for ``dag_run`` of a DAG scheduled by ``timetable``."""
    conf = dag_run.conf or {}
    if not timetable.preview and (asked := preview_request(conf)):
        preview_dag = account_dag_id(PREVIEW_DAG_ID, account_of_dag_id(dag_run.dag_id))
        return f"Refused: asks for a preview ({describe(asked)}); use {preview_dag}"
    try:
        window = resolve_window(
            params=conf,
            data_interval_start=dag_run.data_interval_start,
            data_interval_end=dag_run.data_interval_end,
            run_after=dag_run.run_after,
            timezone=timetable.timezone,
            lookback_days=0,
        )
    except WindowError as exc:
        return f"No days: {exc}"[:NOTE_LIMIT]
    return ("Preview: " if timetable.preview else "") + window.label()


def label_run(dag_run: Any) -> None:
    """Give ``dag_run`` its note, unless it has one or is not a run of the sync's DAGs."""
    try:
        timetable = getattr(getattr(dag_run, "dag", None), "timetable", None)
        if not isinstance(timetable, LocalDayTimetable):
            return
        target = _in_session(dag_run)
        if target is None or target.note:
            return
        target.note = run_note(dag_run, timetable)
    except Exception:
        # A label is a convenience: it must never break the scheduler or the run.
        run_id = getattr(dag_run, "run_id", "?")
        log.warning("Could not write the note of run %s", run_id, exc_info=True)


def _in_session(dag_run: Any) -> Any:
    """The run as its database session holds it.

    The scheduler hands listeners a run bound to its session. ``dag.test()`` hands them one its
    session let go of (each task closes the thread's scoped session; ``update_state`` merges the
    run back afterwards): the note then goes on the copy that thread's session holds, which
    ``dag.test()`` commits, and the merge leaves it alone (the detached run's note is unloaded).
    """
    from sqlalchemy import inspect
    from sqlalchemy.exc import NoInspectionAvailable

    try:
        state = inspect(dag_run)
    except NoInspectionAvailable:
        return dag_run  # not an ORM object
    if state.session is not None:
        return dag_run
    from airflow import settings
    from airflow.models.dagrun import DagRun

    if settings.Session is None:
        raise RuntimeError("Airflow's ORM is not configured")  # label_run logs it
    return settings.Session().get(DagRun, dag_run.id)


@hookimpl
def on_dag_run_running(dag_run: Any, msg: str) -> None:
    label_run(dag_run)


@hookimpl
def on_dag_run_success(dag_run: Any, msg: str) -> None:
    label_run(dag_run)


@hookimpl
def on_dag_run_failed(dag_run: Any, msg: str) -> None:
    label_run(dag_run)
