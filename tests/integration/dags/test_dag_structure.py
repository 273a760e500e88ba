"""The DAG as the scheduler and the UI see it: wiring, schedule, docs, pools."""

from __future__ import annotations

import ast
import itertools
import pathlib
from datetime import timedelta

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def bag(airflow_db):
    # DagBag reads the metadata DB: without the migrated one this module passed only when an
    # e2e test had happened to run first.
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert bag.import_errors == {}
    return bag


@pytest.fixture(scope="module")
def dag(bag):
    return bag.get_dag("divvy_intacct_sync")


@pytest.fixture(scope="module")
def preview(bag):
    return bag.get_dag("divvy_intacct_preview")


def test_the_steps_run_in_one_line(dag):
    order = ["preflight", "extract", "stage", "map", "load", "recode", "reconcile"]
    for upstream, downstream in itertools.pairwise(order):
        assert dag.get_task(downstream).upstream_task_ids == {upstream}


def test_receipts_run_after_load_beside_reconcile_whatever_load_did(dag, preview):
    for d in (dag, preview):
        receipts = d.get_task("receipts")
        assert receipts.upstream_task_ids == {"load"}
        assert receipts.downstream_task_ids == set()
        assert receipts.trigger_rule == "all_done"
        # Reconcile never waits for receipts.
        assert "receipts" not in d.get_task("reconcile").upstream_task_ids


def test_every_task_and_the_dag_document_themselves(dag):
    assert "exactly once" in dag.doc_md
    for task in dag.tasks:
        # What the UI's task Docs tab shows: the step's own explanation.
        assert (task.doc_md or "").strip().startswith(f"**{task.task_id.title()}.**"), task.task_id


def test_daily_day_long_intervals_one_run_at_a_time(dag):
    from intacct_hook.timetables import LocalDayTimetable

    # One local day per run, in the company's zone, at 06:00 the next morning.
    assert isinstance(dag.timetable, LocalDayTimetable)
    assert (dag.timetable.timezone, dag.timetable.run_hour) == ("America/Chicago", 6)
    assert dag.timetable.summary == "Daily at 06:00 America/Chicago"
    # The UI shows the DAG's zone (its start date's), not UTC.
    assert dag.timezone.name == "America/Chicago"
    assert dag.catchup is False and dag.max_active_runs == 1
    assert dag.get_task("load").max_active_tis_per_dag == 1
    intacct_tasks = ("preflight", "map", "load", "recode", "reconcile")
    assert {dag.get_task(t).pool for t in intacct_tasks} == {"intacct_api"}
    assert dag.get_task("extract").pool == "divvy_api"
    # Receipts: many Divvy calls, a few Intacct writes; recode and reconcile must not wait on it.
    assert dag.get_task("receipts").pool == "divvy_api"
    assert dag.default_args["execution_timeout"] == timedelta(hours=1)
    # No dry_run parameter: a preview is the preview DAG (a parameter can be lost on the way).
    assert set(dag.params) == {"start_date", "end_date"}


def test_the_preview_dag_is_the_same_steps_built_to_write_nothing(dag, preview):
    assert [t.task_id for t in preview.tasks] == [t.task_id for t in dag.tasks]
    for task in preview.tasks:
        assert task.upstream_task_ids == dag.get_task(task.task_id).upstream_task_ids
        assert task.pool == dag.get_task(task.task_id).pool
        # Fixed when the DAG is defined: not a templated field, so no param or conf reaches it.
        assert task.preview is True and "preview" not in task.template_fields
    assert all(task.preview is False for task in dag.tasks)


def test_the_preview_dag_says_what_it_is_everywhere_the_ui_shows_it(preview):
    assert preview.description.startswith("PREVIEW — writes nothing to Intacct")
    assert preview.doc_md.lstrip().startswith("# PREVIEW — writes nothing to Intacct")
    assert "Preview" in preview.dag_display_name
    assert "preview" in preview.tags
    assert preview.timetable.summary.startswith("Preview")


def test_the_preview_dag_is_never_scheduled_but_can_be_triggered_and_backfilled(preview):
    from intacct_hook.timetables import LocalDayTimetable

    assert isinstance(preview.timetable, LocalDayTimetable)
    assert preview.timetable.preview is True and preview.timetable.can_be_scheduled is False
    # periodic: `airflow backfill create` and the UI's backfill dialog accept it.
    assert preview.timetable.periodic is True
    assert {t.value for t in preview.allowed_run_types} == {"manual", "backfill"}


def test_the_readme_and_the_dag_docs_give_the_same_backfill_recipe(dag, preview):
    source = ast.parse((ROOT / "dags" / "divvy_intacct_sync.py").read_text(encoding="utf-8"))
    (recipe,) = (
        ast.literal_eval(node.value)
        for node in source.body
        if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "BACKFILL_DOC"
    )

    def words(text: str) -> str:
        return " ".join(text.split())

    readme = words((ROOT / "README.md").read_text(encoding="utf-8"))
    assert words(recipe) in readme
    assert words(recipe) in words(dag.doc_md) and words(recipe) in words(preview.doc_md)


# --- the dimension push DAG ---------------------------------------------------------------------


def test_the_dimension_push_dag_one_task_per_dimension_then_report(bag):
    from airflow.sdk.definitions.timetables.trigger import CronTriggerTimetable

    push = bag.get_dag("divvy_intacct_dimensions")
    pushes = [f"push_{d}" for d in ("gl_account", "location", "department", "class", "project")]
    assert [t.task_id for t in push.tasks] == [*pushes, "report"]
    report = push.get_task("report")
    assert report.upstream_task_ids == set(pushes) and report.trigger_rule == "all_done"
    for task_id in pushes:
        task = push.get_task(task_id)
        assert task.upstream_task_ids == set() and task.pool == "divvy_api"
        assert task.dimension == task_id.removeprefix("push_")
        assert task.doc_md.strip().startswith("**Push one dimension to Divvy.**")
    # Daily, before the sync's 06:00, in the company's zone; triggerable with dry_run.
    assert isinstance(push.timetable, CronTriggerTimetable)
    assert push.timetable.expression == "0 5 * * *" and push.timezone.name == "America/Chicago"
    assert str(push.timetable.timezone) == "America/Chicago"
    assert set(push.params) == {"dry_run"} and push.params["dry_run"] is None
    assert "dry_run" in push.doc_md and push.max_active_runs == 1
