"""What preflight cannot read does not stop the sync; what it promises, map and load keep."""

from __future__ import annotations

from datetime import date

import pytest
from e2e_world import task_states, xcom

DAY = date(2026, 11, 17)


def _name_card_fields(world, **names: str | None) -> None:
    with world.gw.state.lock:
        world.gw.state.companies["ACME-DEMO"].field_names["CREDITCARD"] = names


@pytest.mark.parametrize(
    ("offset_field", "severity"),
    [("CCOFFSETACCT", "info"), (None, "warning")],
    ids=["offset field named otherwise", "no offset field at all"],
)
def test_a_card_offset_field_nobody_guessed_does_not_stop_the_run(
    world, capfd, offset_field, severity
):
    txn = world.add(DAY, 12.34)
    _name_card_fields(world, LIABACCTNO=offset_field)

    dr = world.run_day(DAY)

    assert dr.state == "success", task_states(dr)
    assert [r["RECORDID"] for r in world.records()] == [txn["uuid"]]
    assert xcom(dr, "preflight")["errors"] == 0
    out = capfd.readouterr().out
    assert f"[{severity.upper()}] card.offset_account" in out
