from __future__ import annotations

import time

import pytest
import requests
from gw_wire import call, cctransaction, post, read_by_query, request, results
from lxml import etree


def test_rate_limit_then_recovers(gw):
    gw.queue_fault("rate_limit", count=2)
    for _ in range(2):
        resp = post(gw.url, request([read_by_query("LOCATION")]))
        assert resp.status_code == 429
        assert etree.fromstring(resp.content).findtext("errormessage/error/errorno") == "GW-0010"
    assert post(gw.url, request([read_by_query("LOCATION")])).status_code == 200


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_do_not_commit(gw, status):
    gw.queue_fault("server_error", status=status, html=status == 502)
    resp = post(gw.url, request([cctransaction()]))
    assert resp.status_code == status
    assert gw.cctransactions() == []


def test_524_after_commit(gw):
    gw.queue_fault("timeout_after_commit")
    resp = post(gw.url, request([cctransaction()]))
    assert resp.status_code == 524
    assert len(gw.cctransactions()) == 1


def test_drop_after_commit(gw):
    gw.queue_fault("drop_after_commit")
    with pytest.raises(requests.ConnectionError):
        post(gw.url, request([cctransaction()]))
    assert len(gw.cctransactions()) == 1


def test_latency(gw):
    gw.queue_fault("latency", seconds=0.5)
    start = time.monotonic()
    assert post(gw.url, request([read_by_query("LOCATION")])).status_code == 200
    assert time.monotonic() - start >= 0.5


def test_http_admin_queues_faults(gw):
    admin = gw.url.replace("/ia/xml/xmlgw.phtml", "/_gateway/faults")
    assert requests.post(admin, json={"kind": "rate_limit"}, timeout=5).status_code == 200
    assert post(gw.url, request([read_by_query("LOCATION")])).status_code == 429
    assert requests.post(admin, json={"kind": "bogus"}, timeout=5).status_code == 400


def test_unknown_fault_kind_rejected(gw):
    with pytest.raises(ValueError):
        gw.queue_fault("meteor")


def test_a_fault_can_wait_for_a_function_to_be_answered(gw):
    # "Make the read after the write fail": the fault sleeps through other requests until one
    # carrying record_cctransaction has been answered, then hits the next one.
    gw.queue_fault("server_error", status=403, html=True, after_function="record_cctransaction")
    assert post(gw.url, request([read_by_query("LOCATION")])).status_code == 200
    assert post(gw.url, request([cctransaction()])).status_code == 200
    assert post(gw.url, request([read_by_query("LOCATION")])).status_code == 403
    assert post(gw.url, request([read_by_query("LOCATION")])).status_code == 200
    assert len(gw.cctransactions()) == 1


def test_a_waiting_fault_does_not_block_the_faults_behind_it(gw):
    gw.queue_fault("server_error", status=503, after_function="record_cctransaction")
    gw.queue_fault("rate_limit")
    assert post(gw.url, request([read_by_query("LOCATION")])).status_code == 429
    assert post(gw.url, request([read_by_query("LOCATION")])).status_code == 200


def test_drop_before_commit(gw):
    gw.queue_fault("drop_before_commit")
    with pytest.raises(requests.ConnectionError):
        post(gw.url, request([cctransaction()]))
    assert gw.cctransactions() == []
    assert gw.requests == []  # read, never processed
    assert post(gw.url, request([cctransaction()])).status_code == 200
    assert len(gw.cctransactions()) == 1


def test_clear_faults_reports_what_never_fired(gw):
    gw.queue_fault("rate_limit", count=3)
    assert post(gw.url, request([read_by_query("LOCATION")])).status_code == 429
    assert gw.clear_faults() == 2
    assert post(gw.url, request([read_by_query("LOCATION")])).status_code == 200
    assert gw.clear_faults() == 0


def test_reset_records_forgets_postings_and_control_ids(gw):
    assert results(call(gw.url, cctransaction(), unique=True))[0].findtext("status") == "success"
    assert results(call(gw.url, cctransaction(), unique=True))[0].findtext("status") == "failure"
    with gw.state.lock:
        for row in gw.state.companies["ACME-DEMO"].objects["BOOKSCLOSED"]:
            row["CLOSEDTHROUGH"] = "12/31/2030"
    gw.queue_fault("rate_limit")

    gw.reset_records()

    assert gw.cctransactions() == [] and gw.requests == []
    with gw.state.lock:
        company = gw.state.companies["ACME-DEMO"]
        assert company.processed_control_ids == set()
        assert {r["CLOSEDTHROUGH"] for r in company.objects["BOOKSCLOSED"]} == {"09/30/2026"}
    # The same control ID is accepted again, and no fault is left over.
    assert results(call(gw.url, cctransaction(), unique=True))[0].findtext("status") == "success"
    assert len(gw.cctransactions()) == 1
