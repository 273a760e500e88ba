"""The soak in the suite: randomized, seeded fault schedules through the sync steps (issue 7).

``DIVVY_INTACCT_SOAK_SCHEDULES`` (default 200) and ``DIVVY_INTACCT_SOAK_SEED`` (default 1) set
the size and the seed; ``make soak`` runs the full 1,000 from the command line. Run it alone with
``pytest -m soak``; leave it out with ``-m "not soak"``.
"""

from __future__ import annotations

import os
from datetime import timedelta

import pytest

from soak import _env

pytestmark = pytest.mark.soak


def test_every_clear_is_in_intacct_exactly_once_after_randomized_faults(tmp_path, capsys):
    _env.prepare(own_airflow_home=False)
    from soak.run import run_soak

    schedules = int(os.environ.get("DIVVY_INTACCT_SOAK_SCHEDULES", "200"))
    seed = int(os.environ.get("DIVVY_INTACCT_SOAK_SEED", "1"))

    with _env.quiet():
        report = run_soak(schedules=schedules, seed=seed, workdir=tmp_path)

    with capsys.disabled():
        print(f"\n{report.render()}")  # the summary table, and each problem with its replay
    ran, duplicates, losses = len(report.results), report.duplicates, report.losses
    others = sorted({p.kind for p in report.problems} - {"duplicate", "loss"})
    assert ran == schedules
    assert (duplicates, losses) == (0, 0), "see the soak report above for each one and its replay"
    assert others == [], "see the soak report above for each problem and its replay"


def test_a_schedule_is_the_same_for_the_same_seed_and_number():
    _env.prepare(own_airflow_home=False)
    from soak.faults import plan

    first, again, other = plan(7, 42), plan(7, 42), plan(8, 42)
    assert first.fault_list() == again.fault_list()
    assert first.data.rows == again.data.rows
    assert first.data.expected == again.data.expected
    assert (first.runs, first.lookback_days, first.batch_size) == (
        again.runs,
        again.lookback_days,
        again.batch_size,
    )
    assert first.data.rows != other.data.rows


def test_the_check_finds_a_duplicate_a_loss_and_a_wrong_amount(tmp_path):
    """The check itself: a clean schedule passes; records changed behind its back do not."""
    _env.prepare(own_airflow_home=False)
    from sandbox.intacct_gateway.state import fmt_date
    from soak.faults import plan
    from soak.harness import ScheduleRunner, world

    schedule = plan(1, 3)
    schedule.faults = []
    with world(tmp_path) as w:
        runner = ScheduleRunner(w, schedule)
        runner.reset_servers()
        outcome = None
        for i, spec in enumerate(schedule.runs):
            outcome = runner.run(i, spec, faulty=False)
            assert outcome.ok, outcome.failure
        runner.check(schedule.runs[-1], outcome)
        assert runner.result.problems == []

        doubled, lost, changed = sorted(schedule.data.expected.values(), key=lambda e: e.uuid)[:3]
        w.gw.add_cctransaction(
            date=doubled.posting_date,
            reference_no=doubled.uuid,
            lines=[{"ACCOUNTNO": "6100", "AMOUNT": str(doubled.total)}],
        )
        with w.gw.state.lock:
            records = w.gw.state.companies["ACME-DEMO"].objects["CCTRANSACTION"]
            records[:] = [r for r in records if r["RECORDID"] != lost.uuid]
            for r in records:
                if r["RECORDID"] == changed.uuid:
                    r["TOTALENTERED"] = str(changed.total + 1)
                    r["WHENCREATED"] = fmt_date(changed.posting_date - timedelta(days=1))
        runner.check(schedule.runs[-1], outcome)
        runner.delete_ledger()

    found = {(p.kind, p.detail.split(" ")[0].rstrip(":")) for p in runner.result.problems}
    assert found == {
        ("duplicate", doubled.uuid),
        ("loss", lost.uuid),
        ("wrong_amount", changed.uuid),
        ("wrong_date", changed.uuid),
    }
