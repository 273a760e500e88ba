"""The load task's extra links: the run's reconciliation, and the last record it posted as
Intacct links it; only a link into Intacct (or the UI's own origin) is offered, and reading the
record's link back is optional: it can never fail a load whose postings are done."""

from __future__ import annotations

from datetime import date
from urllib.parse import quote

import pytest
from e2e_world import task_states, xcom

DAY = date(2026, 11, 17)
RECONCILIATION = "Reconciliation (this run)"
LAST_RECORD = "Intacct: last record posted"


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


def _links(api, dag_run, task_id: str) -> dict:
    """What the UI shows: the API server's extra links of one task instance."""
    run = quote(dag_run.run_id, safe="")
    response = api.get(f"/api/v2/dags/{dag_run.dag_id}/dagRuns/{run}/taskInstances/{task_id}/links")
    assert response.status_code == 200, response.text
    return response.json()["extra_links"]


def test_the_load_task_offers_the_runs_reconciliation_and_the_last_record(world, airflow_api):
    charge = world.add(DAY, 10.00)

    dr = world.run_day(DAY)

    assert dr.state == "success", task_states(dr)
    links = _links(airflow_api, dr, "load")
    assert set(links) == {RECONCILIATION, LAST_RECORD}
    # The reconcile task of the same run in Airflow's UI (its log: the per-day table and each
    # difference), as a path on the UI's own origin when [api] base_url is not set.
    run = quote(dr.run_id, safe="")
    assert links[RECONCILIATION] == f"/dags/divvy_intacct_sync/runs/{run}/tasks/reconcile"
    # The last record as Intacct itself links it (RECORD_URL), on the gateway's origin.
    [record] = world.records()
    assert record["RECORDID"] == charge["uuid"]
    assert links[LAST_RECORD].startswith(world.gw.url.rsplit("/ia/", 1)[0] + "/")
    assert links[LAST_RECORD].endswith(f"={record['RECORDNO']}")


@pytest.mark.parametrize(
    ("base_url", "expected_prefix"),
    [
        ("https://airflow.acme.example/", "https://airflow.acme.example/dags/"),
        ("https://acme.example/airflow", "https://acme.example/airflow/dags/"),
        # Not an http(s) URL with a plain host: the link stays on the UI's own origin.
        ("javascript:alert(1)//", "/dags/"),
        ("https://user:pw@airflow.acme.example/", "/dags/"),
    ],
)
def test_the_reconciliation_link_follows_the_configured_base_url_only_when_it_is_a_web_url(
    world, airflow_api, monkeypatch, base_url, expected_prefix
):
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", base_url)
    dr = world.run_day(DAY)  # nothing to post: the reconciliation is still the run's

    link = _links(airflow_api, dr, "load")[RECONCILIATION]

    run = quote(dr.run_id, safe="")
    assert link == f"{expected_prefix}divvy_intacct_sync/runs/{run}/tasks/reconcile"
    assert _links(airflow_api, dr, "load")[LAST_RECORD] is None  # nothing posted, no record
