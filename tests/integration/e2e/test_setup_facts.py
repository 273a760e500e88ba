"""What preflight cannot read does not stop the sync; what it promises, map and load keep."""

from __future__ import annotations

from datetime import date

import pytest
from e2e_world import log_records, task_states, xcom

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
    records = log_records(capfd.readouterr().out)
    assert [r.level for r in records if r.text.startswith("card.offset_account:")] == [severity]


def test_a_line_missing_a_dimension_its_account_requires_is_held_as_preflight_said(world, capfd):
    ok = world.add(DAY, 10.00)
    client = world.add(DAY, 40.00, customFields={"GL Account": "6250 - Travel - Client"})

    first = world.run_day(DAY)

    assert first.state == "success", task_states(first)
    assert [r["RECORDID"] for r in world.records()] == [ok["uuid"]]
    out = capfd.readouterr().out
    # What preflight promised is what happened: held for coding, never sent.
    assert "GL account 6250 requires the Department dimension" in out
    assert "without a Divvy Department value will be held" in out
    assert xcom(first, "map")["unmapped"] == 1
    [held] = world.ledger().select_in_state(["unmapped"])
    assert held.uuid == client["uuid"]
    for words in (client["uuid"], "GL account '6250'", "department", "'Department'"):
        assert words in held.state_reason, held.state_reason

    world.dv.state.update_transaction(
        client["uuid"],
        customFields={"GL Account": "6250 - Travel - Client", "Department": "10 - Sales"},
    )
    second = world.run_day(DAY)

    assert second.state == "success", task_states(second)
    records = {r["RECORDID"]: r for r in world.records()}
    assert set(records) == {ok["uuid"], client["uuid"]}
    [line] = records[client["uuid"]]["lines"]
    assert (line["ACCOUNTNO"], line["DEPARTMENTID"]) == ("6250", "10")
