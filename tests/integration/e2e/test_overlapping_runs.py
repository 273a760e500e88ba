"""Runs that overlap on one ledger, a ledger that was lost, and data lost inside the sync.

The steps are driven directly (the same functions the operators call, with the real hooks over
real HTTP to both local sandboxes) so that each test can interleave two runs exactly where
production would: a backfill's runs, or a manual run during a scheduled one.
"""

from __future__ import annotations

import contextlib
import threading
from datetime import date

import pytest
import sqlalchemy as sa
from e2e_world import StepRun as Run
from e2e_world import posted_once, task_states, xcom

from intacct_hook.hooks.intacct import IntacctHook
from intacct_hook.sync import steps
from intacct_hook.sync.ledger import Ledger
from intacct_hook.sync.settings import SyncSettings

DAY1, DAY2 = date(2026, 11, 16), date(2026, 11, 17)


def test_a_run_landing_survives_another_runs_stage_and_reconcile(world):
    a_txn = world.add(DAY1, 11.00)
    b_txn = world.add(DAY2, 22.00)
    ledger = world.ledger()
    run_a = Run(world, "backfill__a", DAY1, ledger)
    run_b = Run(world, "backfill__b", DAY2, ledger)

    run_a.extract()
    # run B goes all the way through while A sits between extract and stage
    assert run_b.all().matched
    assert run_a.stage()["by_state"] == {"ready": 1}
    run_a.map()
    run_a.load()
    assert run_a.reconcile().matched
    assert posted_once(world) == {a_txn["uuid"]: 1, b_txn["uuid"]: 1}


def test_stage_fails_when_its_landing_lost_what_extract_read(world):
    # Found by the soak (schedule 820): a ledger lost, then the new run's landing deleted
    # before stage: stage staged nothing, and reconcile matched because Intacct already held
    # the records, so the ledger never learned of them. Stage now checks the extract manifest.
    lost = world.add(DAY1, 33.00)
    ledger = world.ledger()
    run = Run(world, "scheduled__lost", DAY1, ledger)
    run.extract()
    with ledger.engine.begin() as conn:  # the landing disappears before stage reads it
        conn.execute(sa.text("DELETE FROM divvy_landing"))
    with pytest.raises(steps.StepError) as err:
        run.stage()
    assert "1 transaction(s) this run's extract read" in str(err.value)
    assert "clear this run's extract task" in str(err.value)
    # had the run gone on regardless, reconcile reports it rather than "matched"
    run.map()
    run.load()
    result = run.reconcile()
    assert not result.matched
    (diff,) = result.differences
    assert (diff.kind, diff.divvy_uuid, diff.posting_date) == (
        "missing_in_intacct",
        lost["uuid"],
        DAY1,
    )
    assert "never reached the ledger" in diff.detail
    # the fix the message names: read it again
    again = Run(world, "manual__again", DAY1, ledger)
    assert again.all().matched
    assert posted_once(world) == {lost["uuid"]: 1}


def test_two_loads_racing_on_one_ledger_post_each_transaction_once(world):
    txns = [world.add(DAY1, 1.00 + i) for i in range(30)]
    ledger = world.ledger()
    run_a = Run(world, "backfill__a", DAY1, ledger)
    run_a.settings = SyncSettings.from_variable({**world.settings, "batch_size": 4})
    run_a.extract()
    run_a.stage()
    run_a.map()
    twin = Ledger.sqlite(world.ledger_path)  # another worker's connection to the same file
    run_b = Run(world, "manual__b", DAY1, twin)
    run_b.settings = run_a.settings
    reports: dict[str, steps.LoadReport] = {}
    errors: list[BaseException] = []

    def load(run: Run) -> None:
        try:
            reports[run.run_id] = run.load()
        except BaseException as exc:  # re-raised below through the assertion
            errors.append(exc)

    threads = [threading.Thread(target=load, args=(r,)) for r in (run_a, run_b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert sum(r.posted + r.already_posted for r in reports.values()) == 30
    assert all(r.released_unknown == 0 for r in reports.values())  # no live claim was taken
    assert posted_once(world) == {t["uuid"]: 1 for t in txns}
    assert run_a.reconcile().matched


def test_a_lost_ledger_does_not_post_again_even_a_second_attempt(world):
    # Posted on its second attempt (control ID divvy-<uuid>#2) after a closed period.
    with world.gw.state.lock:
        for row in world.gw.state.companies["ACME-DEMO"].objects["BOOKSCLOSED"]:
            row["CLOSEDTHROUGH"] = "11/16/2026"
    txn = world.add(DAY1, 44.00)
    other = world.add(DAY2, 5.00)
    first = Run(world, "scheduled__1", DAY1, world.ledger(), DAY2)
    first.extract()
    first.stage()
    first.map()
    assert first.load().failed == 1
    with world.gw.state.lock:
        for row in world.gw.state.companies["ACME-DEMO"].objects["BOOKSCLOSED"]:
            row["CLOSEDTHROUGH"] = "10/31/2026"
    assert Run(world, "scheduled__2", DAY1, world.ledger(), DAY2).all().matched
    assert posted_once(world) == {txn["uuid"]: 1, other["uuid"]: 1}

    world.ledger_path.unlink()  # the ledger is lost; a new, empty one starts
    for suffix in ("-wal", "-shm"):
        world.ledger_path.with_name(world.ledger_path.name + suffix).unlink(missing_ok=True)
    fresh = Ledger.sqlite(world.ledger_path)
    assert fresh.created
    run = Run(world, "scheduled__3", DAY1, fresh, DAY2)
    run.extract()
    run.stage()
    run.map()
    report = run.load()
    assert (report.posted, report.adopted) == (0, 2)
    assert run.reconcile().matched
    assert posted_once(world) == {txn["uuid"]: 1, other["uuid"]: 1}
    rows = {r.uuid: r for r in fresh.select_in_state(["posted"])}
    assert set(rows) == {txn["uuid"], other["uuid"]}
    assert all(r.intacct_record_no for r in rows.values())


def test_a_killed_load_is_recovered_by_its_retry_without_waiting_for_the_lease(world):
    txn = world.add(DAY1, 12.34)
    ledger = world.ledger()
    run = Run(world, "scheduled__k", DAY1, ledger)
    run.extract()
    run.stage()
    run.map()

    class Killed(BaseException):
        pass

    class DiesAfterSending:
        """The worker dies after Intacct committed, before the ledger heard the answer."""

        def __init__(self, hook: IntacctHook) -> None:
            self.hook = hook

        def __getattr__(self, name):
            return getattr(self.hook, name)

        def record_cctransactions(self, txns, **kwargs):
            self.hook.record_cctransactions(txns, **kwargs)
            raise Killed

    with contextlib.suppress(Killed):
        steps.load(DiesAfterSending(run.intacct()), ledger, run.settings, run.run_id)
    assert [r.uuid for r in ledger.select_in_state(["posting"])] == [txn["uuid"]]
    # another run may not touch the live claim…
    other = Run(world, "manual__o", DAY1, ledger).load()
    assert (other.resolved_unknown, other.released_unknown, other.posted) == (0, 0, 0)
    # …but the same run's retry resolves it by lookup at once, without posting again
    report = run.load(try_number=2)
    assert (report.resolved_unknown, report.posted) == (1, 0)
    assert posted_once(world) == {txn["uuid"]: 1}
    assert run.reconcile().matched


def test_the_helper_runs_cover_exactly_their_days(world):
    # guard for the helper above: without a lookback, the runs of DAY1 and DAY2 do not overlap
    assert Run(world, "x", DAY1, world.ledger()).window.days() == [DAY1]
    assert Run(world, "y", DAY1, world.ledger(), DAY2).window.days() == [DAY1, DAY2]


def test_a_lost_ledger_is_reported_by_preflight_and_nothing_is_posted_again(world):
    txn = world.add(DAY1, 7.00)
    first = world.run_day(DAY1)
    assert first.state == "success", task_states(first)
    assert xcom(first, "preflight")["ledger_warning"] is None  # nothing in Intacct yet
    for suffix in ("", "-wal", "-shm"):
        world.ledger_path.with_name(world.ledger_path.name + suffix).unlink(missing_ok=True)

    again = world.run_day(DAY1)

    assert again.state == "success", task_states(again)
    warning = xcom(again, "preflight")["ledger_warning"]
    assert "The sync ledger is a new file" in warning and "already holds 1" in warning
    assert (xcom(again, "load")["posted"], xcom(again, "load")["adopted"]) == (0, 1)
    assert posted_once(world) == {txn["uuid"]: 1}
