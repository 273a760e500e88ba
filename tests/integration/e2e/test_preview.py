"""A preview can never post (issue 8 item 1).

Airflow 3.3.2's backfill dialog sends ``dag_run_conf: null``: a run parameter ``dry_run`` was
lost and 64 transactions were posted. A preview is now its own DAG, ``divvy_intacct_preview``,
whose tasks are built in preview mode (an operator argument, not a parameter) and whose Intacct
hook refuses every write; the real DAG has no ``dry_run`` parameter and refuses a run that asks
for one.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from e2e_world import (
    PREVIEW_DAG,
    ROOT,
    SYNC_DAG,
    World,
    local_midnight,
    task_states,
    xcom,
)

from intacct_hook.intacct.request import READ_FUNCTIONS

DAY = date(2026, 11, 17)
STEPS = ("preflight", "extract", "stage", "map", "load", "recode", "reconcile")


def written_functions(world: World, since: int = 0) -> list[str]:
    """Every function the gateway received (from request number ``since`` on) that is not a
    read: a write, or anything unknown."""
    names = []
    for request in world.gw.requests[since:]:
        for function in request.iter("function"):
            names += [op.tag for op in function if op.tag not in READ_FUNCTIONS]
    return names


def posted_count(world: World) -> int:
    tally = world.ledger().counts_by_state().get("posted")
    return tally.count if tally else 0


@pytest.mark.parametrize(
    "conf",
    [
        None,  # what the backfill dialog and `backfill create` without --dag-run-conf send
        {},
        # Forged: no run parameter can turn a preview into a real run.
        {"dry_run": False, "preview": False},
    ],
    ids=["conf-none", "conf-empty", "conf-forged"],
)
def test_a_preview_run_writes_nothing_to_intacct(world, conf):
    # A real run of the day before first, so the ledger holds a posting the preview must keep.
    world.add(DAY - timedelta(days=1), 3.00)
    real = world.run(logical_date=local_midnight(DAY - timedelta(days=1)))
    assert real.state == "success", task_states(real)
    assert posted_count(world) == 1
    records_before, requests_before = world.records(), len(world.gw.requests)
    world.add(DAY, 10.00)
    world.add(DAY, 7.25, gl=None, merchantName="Mystery Vendor", merchantCategoryCode="7399")

    dr = world.run(logical_date=local_midnight(DAY), conf=conf, dag_id=PREVIEW_DAG)

    assert dr.state == "success", task_states(dr)
    assert world.records() == records_before  # no CCTRANSACTION added
    assert written_functions(world, since=requests_before) == []
    assert posted_count(world) == 1
    load = xcom(dr, "load")
    assert load["preview"] is True and load["posted"] == 0
    assert (load["would_post"], load["would_post_total"]) == (1, "10.00")
    # Reconcile compares only what was really posted: the would-post one is not "missing".
    rec = xcom(dr, "reconcile")
    assert rec["matched"] is True and rec["preview"] is True


@pytest.mark.parametrize(
    "conf",
    [{"dry_run": True}, {"dry_run": "true"}, {"preview": True}],
    ids=["dry_run-true", "dry_run-string", "preview-true"],
)
def test_the_real_dag_refuses_a_run_that_asks_for_a_preview(world, capfd, conf):
    world.add(DAY, 10.00)

    dr = world.run(logical_date=local_midnight(DAY), conf=conf)

    assert dr.state == "failed"
    states = task_states(dr)
    assert states["preflight"] == "failed"
    assert {states[t] for t in STEPS[1:]} == {"upstream_failed"}
    assert world.records() == [] and written_functions(world) == []
    out = capfd.readouterr()
    assert "divvy_intacct_preview" in out.out + out.err


def test_the_real_dag_has_no_dry_run_parameter(world):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert set(bag.get_dag(SYNC_DAG).params) == {"start_date", "end_date"}
    assert set(bag.get_dag(PREVIEW_DAG).params) == {"start_date", "end_date"}


def test_the_preview_load_cannot_write_even_when_its_step_is_told_to(world):
    """Defence in depth: were the load step ever called for real in a preview, the hook the
    preview hands it refuses the write before anything leaves."""
    from airflow.dag_processing.dagbag import DagBag

    from intacct_hook.hooks.read_only import IntacctWriteRefused
    from intacct_hook.sync import steps
    from intacct_hook.sync.settings import SyncSettings

    # Stage and map a transaction for real (a preview run does), so the ledger has a ready row.
    world.add(DAY, 10.00)
    dr = world.run(logical_date=local_midnight(DAY), dag_id=PREVIEW_DAG)
    assert dr.state == "success", task_states(dr)
    assert [r.state for r in world.ledger().select_in_state(["ready"])] == ["ready"]
    load = DagBag(dag_folder=str(ROOT / "dags")).get_dag(PREVIEW_DAG).get_task("load")
    settings = SyncSettings.from_variable(world.settings)
    hook = load.intacct_hook(batch_size=settings.batch_size)
    requests_before = len(world.gw.requests)

    with pytest.raises(IntacctWriteRefused, match="preview"):
        steps.load(hook, world.ledger(), settings, "forged-run", dry_run=False)
    with pytest.raises(IntacctWriteRefused, match="preview"):
        hook.reverse_cctransaction("1", DAY)

    assert world.records() == []
    assert written_functions(world, since=requests_before) == []
    assert posted_count(world) == 0
