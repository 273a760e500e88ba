from __future__ import annotations

import pytest
from gw_wire import (
    call,
    cctransaction,
    descriptions,
    el,
    errornos,
    line,
    login,
    read_by_query,
    results,
    split_date,
)

from sandbox.intacct_gateway.testing import running_gateway


def _one(gw, fn, **kw):
    [result] = results(call(gw.url, fn, **kw))
    return result


def test_record_success_stores_header_and_lines(gw):
    txn = cctransaction(
        line("6200", "100.00", locationid="100"),
        line("6250", "23.45", locationid="200", departmentid="20"),
    )
    result = _one(gw, txn)
    assert result.findtext("status") == "success", descriptions(result)
    assert result.findtext("function") == "record_cctransaction"
    key = result.findtext("key")
    assert result.find("data") is None
    [stored] = gw.cctransactions()
    assert stored["RECORDNO"] == key
    assert (
        stored["RECORDID"],
        stored["FINANCIALENTITY"],
        stored["WHENCREATED"],
        stored["TOTALENTERED"],
        stored["PAYEE"],
        stored["MEGAENTITYID"],
    ) == ("REF-1", "Divvy CC Object", "10/15/2026", "123.45", "Delta", "E100")
    assert [
        (x["LINE_NO"], x["ACCOUNTNO"], x["AMOUNT"], x["LOCATIONID"], x["DEPARTMENTID"])
        for x in stored["lines"]
    ] == [("1", "6200", "100.00", "100", ""), ("2", "6250", "23.45", "200", "20")]
    data = _one(gw, read_by_query("CCTRANSACTION", "RECORDID = 'REF-1'")).find("data")
    assert data.find("cctransaction").findtext("RECORDNO") == key
    lines = _one(gw, read_by_query("CCTRANSACTIONENTRY", f"RECORDKEY = '{key}'")).find("data")
    assert lines.get("count") == "2"


@pytest.mark.parametrize(
    ("txn", "text"),
    [
        (lambda: cctransaction(card="Nope"), "Invalid Charge Card 'Nope' specified."),
        (
            lambda: cctransaction(date=(2026, 9, 30)),
            "The date 09/30/2026 is in a closed period. Date must be on or after 10/01/2026.",
        ),
        (
            lambda: cctransaction(line("6999", "1.00", locationid="100")),
            "Account 6999 is not valid",
        ),
        (
            lambda: cctransaction(line("1234", "1.00", locationid="100")),
            "Account 1234 is not valid",
        ),
        (
            lambda: cctransaction(line("6250", "1.00", locationid="100")),
            "This transaction is missing the Department dimension for the Account 6250",
        ),
        (
            lambda: cctransaction(line("6200", "1.00", locationid="999")),
            "The location '999' is invalid.",
        ),
        (
            lambda: cctransaction(line("6200", "1.00", locationid="100", projectid="P-9")),
            "Invalid Project 'P-9' specified.",
        ),
        (
            lambda: cctransaction(line("6200", "1.00", locationid="100", departmentid="99")),
            "Department '99' specified is not valid.",
        ),
    ],
)
def test_record_validation_errors(gw, txn, text):
    result = _one(gw, txn())
    assert result.findtext("status") == "failure"
    assert errornos(result) == ["BL01001973", "BL01001973"]
    assert descriptions(result) == [text, "Could not create cctransaction record!"]
    assert gw.cctransactions() == []


@pytest.mark.parametrize(
    ("change", "text"),
    [
        (("CREDITCARD", 0, "STATUS", "inactive"), "Invalid Charge Card"),
        (("GLACCOUNT", 0, "SUBLEDGERCONTROLON", True), "Direct posting is disallowed"),
        (("GLACCOUNT", 0, "STATUS", "inactive"), "Account 2150 is not valid"),
    ],
)
def test_record_fails_on_broken_setup(seed, change, text):
    obj, index, field, value = change
    seed["companies"]["ACME-DEMO"]["objects"][obj][index][field] = value
    account = "2150" if field == "SUBLEDGERCONTROLON" else "6200"
    with running_gateway(seed) as gw:
        result = _one(gw, cctransaction(line(account, "1.00", locationid="100")))
    assert result.findtext("status") == "failure"
    assert descriptions(result)[0].startswith(text)


def test_top_level_multi_entity_needs_line_location(gw):
    top = login(entity=None)
    result = _one(gw, cctransaction(line("6200", "1.00")), auth=top)
    assert result.findtext("status") == "failure"
    assert "top level" in descriptions(result)[0]
    ok = _one(gw, cctransaction(line("6200", "1.00", locationid="300")), auth=top)
    assert ok.findtext("status") == "success"
    assert gw.cctransactions()[0]["MEGAENTITYID"] == "E100"  # owner entity of location 300


def test_entity_isolation(gw):
    gw.add_cctransaction(
        date="2026-10-02",
        lines=[{"ACCOUNTNO": "6100", "AMOUNT": "5"}],
        entity="E200",
        reference_no="UK-1",
    )
    gw.add_cctransaction(
        date="2026-10-02", lines=[{"ACCOUNTNO": "6100", "AMOUNT": "7"}], reference_no="US-1"
    )
    us = _one(gw, read_by_query("CCTRANSACTION")).find("data")
    assert [r.findtext("RECORDID") for r in us.findall("cctransaction")] == ["US-1"]
    top = _one(gw, read_by_query("CCTRANSACTION"), auth=login(entity=None)).find("data")
    assert top.get("count") == "2"


def test_transaction_rollback(gw):
    fns = [cctransaction(ref="A"), cctransaction(card="Nope", ref="B"), cctransaction(ref="C")]
    res = results(call(gw.url, *fns, transaction=True))
    assert [r.findtext("status") for r in res] == ["aborted", "failure", "aborted"]
    assert errornos(res[1]) == ["BL01001973", "BL01001973", "XL03000009"]
    assert errornos(res[0]) == errornos(res[2]) == ["XL03000009"]
    assert gw.cctransactions() == []
    # without transaction="true" the good ones persist
    res = results(call(gw.url, *fns))
    assert [r.findtext("status") for r in res] == ["success", "failure", "success"]
    assert sorted(t["RECORDID"] for t in gw.cctransactions()) == ["A", "C"]


def test_uniqueid_refuses_reused_function_controlid(gw):
    fn = el("function", None, cctransaction(), controlid="post-REF-1")
    first = results(call(gw.url, fn, unique=True))[0]
    assert first.findtext("status") == "success"
    again = results(
        call(gw.url, el("function", None, cctransaction(), controlid="post-REF-1"), unique=True)
    )[0]
    assert again.findtext("status") == "failure"
    assert errornos(again) == ["XL03000004"]
    assert len(gw.cctransactions()) == 1
    # uniqueid=false repeats run again (reference §1.2)
    results(call(gw.url, el("function", None, cctransaction(), controlid="post-REF-1")))
    assert len(gw.cctransactions()) == 2


def test_reverse_and_delete(gw):
    key = _one(gw, cctransaction()).findtext("key")
    rev = el("reverse_cctransaction", None, split_date("datereversed", 2026, 10, 20), key=key)
    result = _one(gw, rev)
    assert result.findtext("status") == "success"
    new_key = result.findtext("key")
    by_no = {t["RECORDNO"]: t for t in gw.cctransactions()}
    assert by_no[key]["STATE"] == "Reversed" and by_no[key]["REVERSALKEY"] == new_key
    assert by_no[new_key]["TOTALENTERED"] == "-123.45"
    assert by_no[new_key]["REVERSEDKEY"] == key
    assert _one(gw, rev).findtext("status") == "failure"  # already reversed
    missing = el(
        "reverse_cctransaction", None, split_date("datereversed", 2026, 10, 20), key="424242"
    )
    assert _one(gw, missing).findtext("status") == "failure"
    delete = el("delete", None, el("object", "CCTRANSACTION"), el("keys", new_key))
    assert _one(gw, delete).findtext("status") == "success"
    assert [t["RECORDNO"] for t in gw.cctransactions()] == [key]
