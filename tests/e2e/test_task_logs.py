"""What the task logs look like in Airflow's log view: each message logged once, at its level,
without a level of its own written into the text."""

from __future__ import annotations

import re
from datetime import date

from e2e_world import log_records, task_states

DAY = date(2026, 11, 17)
_LEVEL_IN_TEXT = re.compile(r"^\s*\[?(DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL)\]?\b", re.IGNORECASE)


def test_no_message_carries_its_level_a_second_time(world, capfd):
    world.add(DAY, 10.00)
    # 6250 requires a department and 7777 does not exist: preflight warns about both (the
    # default rules and Divvy values), and reports what it verified at info.
    dr = world.run_day(DAY)

    assert dr.state == "success", task_states(dr)
    records = log_records(capfd.readouterr().out)
    doubled = [r for r in records if _LEVEL_IN_TEXT.match(r.text)]
    assert doubled == []
    by_check = {r.text.split(":")[0]: r.level for r in records}
    assert by_check["mapping.required_dimension"] == "warning"
    assert by_check["card.offset_account"] == "info"
    [fix] = [r.text for r in records if r.text.startswith("mapping.required_dimension")][:1]
    assert "\n    fix: " in fix  # the fix stays with its finding, on its own line


def test_a_failed_check_is_logged_at_error_without_a_level_in_its_text(world, capfd):
    world.add(DAY, 10.00)
    with world.gw.state.lock:
        world.gw.state.companies["ACME-DEMO"].authorized_senders.clear()

    dr = world.run_day(DAY)

    assert task_states(dr)["preflight"] == "failed"
    records = log_records(capfd.readouterr().out)
    [finding] = [r for r in records if r.text.startswith("setup.sender_authorized")]
    assert finding.level == "error"
    assert [r for r in records if _LEVEL_IN_TEXT.match(r.text)] == []


def test_reconcile_tables_fit_the_log_view_and_keep_each_reason_whole(world, capfd):
    world.add(DAY, 10.00)
    client = world.add(DAY, 40.00, customFields={"GL Account": "6250 - Travel - Client"})

    dr = world.run_day(DAY)

    assert dr.state == "success", task_states(dr)
    [held] = world.ledger().select_in_state(["unmapped"])
    assert held.uuid == client["uuid"] and len(held.state_reason) > 120
    records = log_records(capfd.readouterr().out)
    [table] = [r.text for r in records if r.text.lstrip().startswith("Held, unmapped or failed")]
    # The console adds " [logger] loc=…" after the message's last line.
    lines = table.strip("\n").rsplit(" [airflow.task.", 1)[0].splitlines()
    assert max(len(line) for line in lines) <= 120, table
    assert " ".join(held.state_reason.split()) in " ".join(" ".join(lines).split())
