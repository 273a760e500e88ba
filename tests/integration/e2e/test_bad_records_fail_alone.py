"""A record that cannot be landed or built fails alone, named; every other record goes on."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa
from e2e_world import StepRun, posted_once

from intacct_hook.sync.steps import StepError

DAY = date(2026, 11, 16)


def test_a_record_that_cannot_be_built_fails_alone_and_is_not_counted_as_an_attempt(world):
    good = [world.add(DAY, 10.00 + i) for i in range(3)]
    bad = world.add(DAY, 99.00)
    ledger = world.ledger()
    run = StepRun(world, "scheduled__bad", DAY, ledger)
    run.extract()
    run.stage()
    run.map()
    # Whatever got into the coding (a hand-edited rule, a future Divvy field): Intacct IDs are
    # at most 100 characters here, so this line cannot be built into a request.
    with ledger.engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE mapped_line SET gl_account_no = :gl WHERE uuid = :uuid"),
            {"gl": "6" * 150, "uuid": bad["uuid"]},
        )

    report = run.load()

    assert (report.posted, report.failed) == (3, 1)
    assert posted_once(world) == {t["uuid"]: 1 for t in good}
    (row,) = ledger.select_in_state(["failed"])
    assert row.uuid == bad["uuid"] and row.failed_attempts == 0  # Intacct never saw it
    assert bad["uuid"] in row.last_error and "gl_account_no" in row.last_error
    assert report.failures == [f"{bad['uuid']}: {row.last_error}"]
    # the next run does not crash on it either: it fails alone again until the coding is fixed
    again = StepRun(world, "scheduled__again", DAY, ledger)
    again.extract()
    again.stage()
    again.map()  # re-coded from Divvy: the bad override is gone
    assert again.load().posted == 1
    assert posted_once(world)[bad["uuid"]] == 1


@pytest.mark.parametrize("bad_uuid", ["txr_nul\x00uuid", "txr_lone\ud800surrogate"])
def test_a_uuid_no_database_can_key_is_landed_and_named_by_stage(world, bad_uuid):
    good = world.add(DAY, 5.00)
    world.add(DAY, 6.00, uuid=bad_uuid)
    ledger = world.ledger()
    run = StepRun(world, "scheduled__uuid", DAY, ledger)
    run.extract()  # lands both: the bad one under a key derived from its content
    with pytest.raises(StepError) as err:
        run.stage()
    assert "uuid" in str(err.value)
    assert [r.uuid for r in ledger.select_in_state(["ready"])] == [good["uuid"]]
    run.map()
    run.load()
    assert posted_once(world) == {good["uuid"]: 1}
