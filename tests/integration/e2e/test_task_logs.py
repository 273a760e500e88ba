"""What the task logs look like in Airflow's log view: each message logged once, at its level,
without a level of its own written into the text."""

from __future__ import annotations

import re
from datetime import date

import pytest
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


SHORT_SECRET = "Skipping masking for a secret as it's too short"


@pytest.fixture
def every_short_registration_warns(monkeypatch):
    """Airflow warns about a value too short to mask once per process. A worker runs each task
    in a process of its own, so each task's log can carry the warning; ``dag.test()`` runs them
    all in one. Resetting the once-flag before each registration makes every registration that
    would warn in a worker warn here."""
    from airflow._shared.secrets_masker import secrets_masker as core
    from airflow.sdk._shared.secrets_masker import secrets_masker as sdk

    for masker in (sdk.SecretsMasker, core.SecretsMasker):

        def add_mask(self, secret, name=None, _add=masker.add_mask, _cls=masker):
            _cls._has_warned_short_secret = False
            return _add(self, secret, name)

        monkeypatch.setattr(masker, "add_mask", add_mask)


def test_no_task_registers_a_value_too_short_to_mask(
    world, capfd, caplog, every_short_registration_warns
):
    # Settings with short values ("warn"), secrets of sane length, connection extras without a
    # short text value: nothing the package registers with Airflow's masker is too short, so no
    # task log says "Skipping masking…". (A short extra such as entity_id "E100" is registered
    # by Airflow's own connection lookup, by its key; see the README.)
    world.configure(reconcile_mode="warn", lookback_days=1, entity_id=None)
    world.connect_intacct(entity_id=None)
    world.add(DAY, 10.00)

    dr = world.run_day(DAY)

    assert dr.state == "success", task_states(dr)
    # The masker logs through the standard library: pytest's log capture sees its records
    # (its console handler writes to where stdout was when Airflow configured logging).
    out = capfd.readouterr().out
    assert "Reconciliation per posting day" in out  # the tasks did log
    assert SHORT_SECRET not in out
    assert [r.getMessage() for r in caplog.records if SHORT_SECRET in r.getMessage()] == []
    # Control: a registration that is too short does show here.
    from airflow.sdk.log import mask_secret

    mask_secret("E1")
    assert [r for r in caplog.records if SHORT_SECRET in r.getMessage()]
