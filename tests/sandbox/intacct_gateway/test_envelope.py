from __future__ import annotations

import datetime as dt

import requests
from gw_wire import (
    SENDER,
    call,
    descriptions,
    el,
    errornos,
    login,
    post,
    read_by_query,
    request,
    results,
)
from lxml import etree

from sandbox.intacct_gateway.testing import running_gateway


def test_wrong_path_and_method_are_404(gw):
    base = gw.url.rsplit("/ia/", 1)[0]
    assert requests.post(base + "/ia/xml/other.phtml", data=b"<a/>", timeout=5).status_code == 404
    assert requests.get(gw.url, timeout=5).status_code == 404


def test_non_xml_body_is_http_400_gw_0011(gw):
    resp = post(gw.url, b"not xml at all")
    assert resp.status_code == 400
    assert resp.headers["Content-Type"] == 'text/xml; encoding="UTF-8"'
    assert etree.fromstring(resp.content).findtext("errormessage/error/errorno") == "GW-0011"


def test_a_request_that_is_not_sent_as_xml_is_http_400_gw_0011(gw):
    good = etree.tostring(
        request([read_by_query("LOCATION")]), xml_declaration=True, encoding="UTF-8"
    )
    resp = requests.post(gw.url, data=good, headers={"Content-Type": "application/json"}, timeout=5)
    assert resp.status_code == 400
    error = etree.fromstring(resp.content).find("errormessage/error")
    assert error.findtext("errorno") == "GW-0011" and "application/json" in error.findtext(
        "description2"
    )
    ok = requests.post(
        gw.url, data=good, timeout=5, headers={"Content-Type": "application/xml; charset=UTF-8"}
    )
    assert ok.status_code == 200


def test_success_envelope_echoes_control_and_reports_session_window(gw):
    resp = call(gw.url, read_by_query("LOCATION"), control_id="my-ctl")
    control = resp.find("control")
    assert [c.tag for c in control] == ["status", "senderid", "controlid", "uniqueid", "dtdversion"]
    assert control.findtext("status") == "success"
    assert control.findtext("controlid") == "my-ctl"
    auth = resp.find("operation/authentication")
    assert auth.findtext("status") == "success"
    assert auth.findtext("locationid") == "E100"
    start = dt.datetime.fromisoformat(auth.findtext("sessiontimestamp"))
    end = dt.datetime.fromisoformat(auth.findtext("sessiontimeout"))
    assert 3590 <= (end - start).total_seconds() <= 3610
    [result] = results(resp)
    assert [c.tag for c in result][:3] == ["status", "function", "controlid"]


def test_schema_failure_is_control_failure_xl03000003(gw):
    bad = el("readByQuery", None, el("object", "GLACCOUNT"), el("bogus", "x"), el("query"))
    resp = call(gw.url, bad)
    assert resp.findtext("control/status") == "failure"
    assert resp.find("operation") is None
    assert errornos(resp) == ["XL03000003"]
    assert "bogus" in resp.findtext("errormessage/error/description2")


def test_bad_sender_password_is_control_failure(gw):
    resp = call(gw.url, read_by_query("LOCATION"), sender=(SENDER[0], "wrong"))
    assert resp.findtext("control/status") == "failure"
    assert descriptions(resp) == ["Incorrect Intacct XML Partner ID or password."]


def test_sender_not_authorized_for_company(seed):
    seed["companies"]["ACME-DEMO"]["authorized_senders"] = ["Bill.com"]
    with running_gateway(seed) as gw:
        resp = call(gw.url, read_by_query("LOCATION"))
    assert resp.findtext("control/status") == "success"
    auth = resp.find("operation/authentication")
    assert auth.findtext("status") == "failure"
    err = resp.find("operation/errormessage/error")
    assert err.findtext("errorno") == "XL03000006"
    assert err.findtext("description") == "Invalid Web Services Authorization"
    assert "'bill.com'" in err.findtext("description2")
    assert err.findtext("correction").startswith("Contact the company administrator")
    assert resp.find("operation/result") is None


def test_bad_password_unknown_company_and_entity(gw):
    for auth, text in [
        (login(password="nope"), "Sign-in information is incorrect"),
        (login(company="OTHER"), "Sign-in information is incorrect"),
        (login(entity="E999"), "Invalid entity ID 'E999'"),
    ]:
        resp = call(gw.url, read_by_query("LOCATION"), auth=auth)
        assert resp.findtext("operation/authentication/status") == "failure"
        assert errornos(resp.find("operation")) == ["XL03000006"]
        assert descriptions(resp.find("operation")) == [text]


def _session(gw, entity: str | None = None) -> str:
    fn = el("getAPISession")
    if entity is not None:
        fn.append(el("locationid", entity))
    resp = call(gw.url, fn)
    [result] = results(resp)
    assert result.findtext("status") == "success"
    assert result.findtext("data/api/endpoint") == gw.url
    assert result.findtext("data/api/locationid") == ("E100" if entity is None else entity)
    return result.findtext("data/api/sessionid")


def test_session_flow_and_expiry(gw):
    sid = _session(gw)
    resp = call(gw.url, read_by_query("LOCATION"), auth=el("sessionid", sid))
    assert resp.findtext("operation/authentication/locationid") == "E100"
    assert results(resp)[0].findtext("status") == "success"
    gw.expire_sessions()
    resp = call(gw.url, read_by_query("LOCATION"), auth=el("sessionid", sid))
    assert resp.findtext("operation/authentication/status") == "failure"
    assert descriptions(resp.find("operation")) == ["Invalid session"]


def test_top_level_session_with_empty_locationid(gw):
    sid = _session(gw, entity="")
    resp = call(gw.url, read_by_query("LOCATION"), auth=el("sessionid", sid))
    assert resp.findtext("operation/authentication/locationid") == ""


def test_session_timeout_slides(seed):
    import time

    with running_gateway(seed, session_timeout_seconds=2) as gw:
        sid = _session(gw)
        for _ in range(3):  # 3 x 1.2 s > 2 s, alive only because each call slides the expiry
            time.sleep(1.2)
            resp = call(gw.url, read_by_query("LOCATION"), auth=el("sessionid", sid))
            assert resp.findtext("operation/authentication/status") == "success"
        time.sleep(2.2)
        resp = call(gw.url, read_by_query("LOCATION"), auth=el("sessionid", sid))
        assert resp.findtext("operation/authentication/status") == "failure"


def test_requests_are_recorded(gw):
    call(gw.url, read_by_query("LOCATION"), control_id="seen")
    assert gw.requests[-1].findtext("control/controlid") == "seen"


def test_structural_fallback_without_xsd(tmp_path):
    with running_gateway(xsd_path=tmp_path / "missing.xsd") as gw:
        bad = el("readMore", None, el("resultId", "a"), el("object", "B"))
        resp = call(gw.url, bad)
        assert errornos(resp) == ["XL03000003"]
        ok = call(gw.url, read_by_query("LOCATION"))
        assert results(ok)[0].findtext("status") == "success"


def test_batch_results_in_order_with_controlids(gw):
    fns = [
        el("function", None, read_by_query(obj), controlid=f"c-{obj}")
        for obj in ("LOCATION", "NOSUCH", "CLASS")
    ]
    resp = post(gw.url, request(fns))
    res = results(etree.fromstring(resp.content))
    assert [r.findtext("controlid") for r in res] == ["c-LOCATION", "c-NOSUCH", "c-CLASS"]
    assert [r.findtext("status") for r in res] == ["success", "failure", "success"]
    assert "Object definition NOSUCH not found" in descriptions(res[1])[0]
