"""The load task's extra link: only a link into Intacct is offered, and reading it back is
optional: it can never fail a load whose postings are done."""

from __future__ import annotations

from datetime import date

import pytest
from e2e_world import task_states, xcom

DAY = date(2026, 11, 17)


@pytest.mark.parametrize(
    "record_url",
    [
        "javascript:alert(document.cookie)//{recordno}",
        "data:text/html,<script>alert(1)</script>{recordno}",
        "https://intacct.evil.example/ia/acct/ur.phtml?.r={recordno}",
    ],
)
def test_a_record_url_that_does_not_lead_into_intacct_is_dropped(world, capfd, record_url):
    # A RECORD_URL is whatever the response says; behind the UI's link it must not run script
    # or lead anywhere but Intacct (or the configured gateway).
    world.gw.state.record_url_format = record_url
    world.add(DAY, 10.00)

    dr = world.run_day(DAY)

    assert dr.state == "success", task_states(dr)
    assert [r["TOTALENTERED"] for r in world.records()] == ["10.00"]
    assert xcom(dr, "load", key="intacct_record_url") is None
    assert not xcom(dr, "load", key="_link_IntacctRecordsLink")
    logs = capfd.readouterr()
    text = logs.out + logs.err
    assert "not offered as the task's link" in text
    assert record_url.split("{recordno}")[0] not in text  # the value is not echoed either


def test_a_failing_read_back_of_the_link_does_not_fail_a_load_whose_postings_are_done(world, capfd):
    charge, refund = world.add(DAY, 10.00), world.add(DAY, -2.50)
    # The request after the write (reading the posted record's RECORD_URL) meets a 403 page
    # from the edge: a failure the hook does not retry.
    world.gw.queue_fault(
        "server_error", status=403, html=True, after_function="record_cctransaction"
    )

    dr = world.run_day(DAY)

    assert dr.state == "success", task_states(dr)
    assert set(task_states(dr).values()) == {"success"}
    assert xcom(dr, "load")["posted"] == 2
    assert {r["RECORDID"] for r in world.records()} == {charge["uuid"], refund["uuid"]}
    assert {r.uuid for r in world.ledger().select_in_state(["posted"])} == {
        charge["uuid"],
        refund["uuid"],
    }
    assert xcom(dr, "load", key="intacct_record_url") is None
    assert xcom(dr, "reconcile")["matched"] is True
    logs = capfd.readouterr()
    assert "Could not read the posted record's link" in logs.out + logs.err
