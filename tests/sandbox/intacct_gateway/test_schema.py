from __future__ import annotations

import pytest
from gw_wire import cctransaction, el, line, request
from lxml import etree

from sandbox.intacct_gateway import schema


@pytest.fixture(scope="module")
def xsd() -> etree.XMLSchema:
    loaded = schema.load_schema()
    if loaded is None:
        pytest.skip(f"api.xsd not found at {schema.default_xsd_path()}")
    return loaded


def _query(*children: etree._Element) -> etree._Element:
    return el(
        "query",
        None,
        el("object", "GLACCOUNT"),
        el("select", None, el("field", "ACCOUNTNO"), el("count", "RECORDNO")),
        *children,
    )


MODES = ["xsd", "structural"]


def _validate(doc: etree._Element, mode: str, xsd: etree.XMLSchema) -> list[str]:
    return schema.validate(doc, xsd if mode == "xsd" else None)


@pytest.mark.parametrize("mode", MODES)
def test_query_function_and_read_by_query_local_query_coexist(mode, xsd):
    equal = el("equalto", None, el("field", "STATUS"), el("value", "active"))
    q = _query(
        el(
            "filter",
            None,
            el(
                "and",
                None,
                equal,
                el("in", None, el("field", "ACCOUNTNO"), el("value", "1"), el("value", "2")),
            ),
        ),
        el("orderby", None, el("order", None, el("field", "ACCOUNTNO"), el("descending"))),
        el("pagesize", "2000"),
        el("offset", "0"),
    )
    rbq = el("readByQuery", None, el("query", "STATUS = 'T'"), el("object", "GLACCOUNT"))
    assert _validate(request([q, rbq]), mode, xsd) == []


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "bad",
    [
        lambda: el("query", None, el("select", None, el("field", "A")), el("object", "GLACCOUNT")),
        lambda: _query(el("pagesize", "2001")),
        lambda: _query(
            el(
                "filter",
                None,
                el("in", None, el("field", "A"), *[el("value", str(i)) for i in range(1001)]),
            )
        ),
        lambda: _query(el("filter", None, el("and", None, el("isnull", None, el("field", "A"))))),
        lambda: el("readByQuery", None, el("object", "X"), el("query"), el("pagesize", "1001")),
        lambda: cctransaction(
            el(
                "ccpayitem",
                None,
                el("glaccountno", "6200"),
                el("paymentamount", "1.00"),
                el("classid", "C1"),
                el("locationid", "100"),
            )
        ),
        lambda: el("reverse_cctransaction", None, el("memo", "x"), key="1"),
    ],
    ids=[
        "query-order",
        "query-pagesize",
        "in-1001",
        "and-one-child",
        "rbq-pagesize",
        "ccpayitem-order",
        "reverse-missing-date",
    ],
)
def test_invalid_requests_are_rejected(mode, xsd, bad):
    errors = _validate(request([bad()]), mode, xsd)
    assert errors, "expected a schema error"


def test_newer_cctransaction_elements_accepted_at_documented_positions(xsd):
    item = line("6200", "10.00", locationid="100", projectid="P-100")
    item.insert(item.index(item.find("projectid")) + 1, el("taskid", "T1"))
    item.insert(item.index(item.find("taskid")) + 1, el("costtypeid", "CT"))
    item.extend(
        [
            el("totaltrxamount", "10.00"),
            el("taxentries", None, el("taxentry", None, el("detailid", "VAT"))),
            el("billable", "false"),
        ]
    )
    txn = cctransaction(item)
    txn.insert(txn.index(txn.find("ccpayitems")), el("inclusivetax", "false"))
    txn.insert(txn.index(txn.find("ccpayitems")), el("taxsolutionid", "US"))
    doc = request([txn])
    assert schema.validate(doc, xsd) == []
    assert schema.validate(doc, None) == []
    # ...and rejected one slot too early (billable before customfields-era elements)
    item.insert(0, el("billable", "true"))
    assert schema.validate(request([txn]), xsd)


def test_missing_xsd_returns_none(tmp_path):
    assert schema.load_schema(tmp_path / "nope.xsd") is None


def test_error_message_shape(xsd):
    errors = schema.validate(request([_query(el("pagesize", "0"))]), xsd)
    assert errors[0].startswith("XML Parse schema error: Error ")
    assert "pagesize" in errors[0]


def test_every_implemented_function_has_an_order():
    for fn in (
        "getAPISession",
        "readByQuery",
        "readMore",
        "query",
        "read",
        "readByName",
        "delete",
        "record_cctransaction",
        "reverse_cctransaction",
    ):
        assert fn in schema.FUNCTION_CHILD_ORDER
