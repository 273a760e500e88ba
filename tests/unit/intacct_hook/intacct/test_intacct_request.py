"""Every request the hook can build validates against Intacct's schema (api.xsd + extensions)."""

from __future__ import annotations

import base64
from datetime import date
from decimal import Decimal

import pytest
from lxml import etree

from intacct_hook.intacct import request as rq
from intacct_hook.intacct.records import (
    Attachment,
    CCLine,
    CCTransaction,
    SupportingDocument,
    control_id_for,
)
from intacct_hook.intacct.text import UnpostableRecord
from sandbox.intacct_gateway.schema import load_schema


@pytest.fixture(scope="module")
def schema() -> etree.XMLSchema:
    loaded = load_schema()
    if loaded is None:
        pytest.fail("api.xsd not found: set INTACCT_XSD_PATH (tests/conftest.py sets a default)")
    return loaded


def _envelope(functions, *, session: bool = True, transaction=False, unique_id=False) -> bytes:
    control = rq.control_block(
        sender_id="bill.com", sender_password="sender-pass-0001", unique_id=unique_id
    )
    auth = (
        rq.session_auth("SESSION123")
        if session
        else rq.login_auth(user_id="Divvy", company_id="ACME-DEMO", password="pw", entity_id="E100")
    )
    return rq.build_request(
        control=control, auth=auth, functions=functions, transaction=transaction
    )


def _assert_valid(schema: etree.XMLSchema, body: bytes) -> etree._Element:
    doc = etree.fromstring(body)
    ok = schema.validate(doc)
    assert ok, [e.message for e in schema.error_log]
    return doc


def _txn(**overrides) -> CCTransaction:
    fields = dict(
        card_id="Divvy CC Object",
        payment_date=date(2026, 10, 5),
        reference_no="6f1c7a52-2b1e-4f5e-9a0d-0c2c4b8c1d11",
        payee="Delta",
        description="Trip",
        lines=(
            CCLine(
                "6200",
                Decimal("123.45"),
                description="Airfare",
                location_id="100",
                department_id="20",
                class_id="C1",
                project_id="P-100",
                customer_id="CU1",
                vendor_id="V1",
                employee_id="E1",
                item_id="I1",
            ),
            CCLine("6300", "10.05"),
        ),
    )
    fields.update(overrides)
    return CCTransaction(**fields)


def test_login_with_get_api_session_validates(schema):
    doc = _assert_valid(schema, _envelope([rq.get_api_session()], session=False))
    login = doc.find("operation/authentication/login")
    assert [c.tag for c in login] == ["userid", "companyid", "password", "locationid"]
    assert login.findtext("locationid") == "E100"
    assert doc.find("operation/content/function").get("controlid") == "sessionProvider"


def test_control_block_order_and_flags(schema):
    doc = _assert_valid(schema, _envelope([rq.read_more("r1")], unique_id=True, transaction=True))
    control = doc.find("control")
    assert [c.tag for c in control] == [
        "senderid",
        "password",
        "controlid",
        "uniqueid",
        "dtdversion",
        "includewhitespace",
    ]
    assert control.findtext("uniqueid") == "true"
    assert control.findtext("dtdversion") == "3.0"
    assert doc.find("operation").get("transaction") == "true"


def test_read_functions_validate(schema):
    fns = [
        rq.read_by_query(
            "GLACCOUNT", "STATUS = 'T'", fields=("ACCOUNTNO", "TITLE"), page_size=1000
        ),
        rq.read_by_query("LOCATION"),
        rq.read_more("7765623332WU1hh8CoA4QAAHxI9i8AAAAA5"),
        rq.read("GLACCOUNT", [12, 34]),
        rq.read_by_name("CREDITCARD", ["Divvy CC Object"], fields=("CARDID", "STATUS")),
    ]
    doc = _assert_valid(schema, _envelope(fns))
    rbq = doc.find("operation/content/function/readByQuery")
    assert rbq.findtext("query") == "STATUS = 'T'"
    assert rbq.findtext("fields") == "ACCOUNTNO,TITLE"


def test_query_with_full_filter_tree_validates(schema):
    flt = rq.and_(
        rq.eq("FINANCIALENTITY", "Divvy CC Object"),
        rq.between("WHENCREATED", date(2026, 10, 1), date(2026, 10, 31)),
        rq.or_(
            rq.in_("RECORDID", ["a", "b"]),
            rq.not_in("RECORDID", ["c"]),
            rq.like("DESCRIPTION", "%x%"),
            rq.not_like("DESCRIPTION", "y%"),
            rq.is_null("PAYEE"),
            rq.is_not_null("STATE"),
            rq.ne("STATE", "Draft"),
            rq.lt("TOTALENTERED", Decimal("5")),
            rq.le("TOTALENTERED", 6),
            rq.gt("TOTALENTERED", 1),
            rq.ge("TOTALENTERED", 2),
        ),
    )
    fn = rq.query(
        "CCTRANSACTION",
        ["RECORDNO", "RECORDID"],
        filter=flt,
        order_by=(("WHENCREATED", "desc"), ("RECORDNO", "asc")),
        case_insensitive=True,
        page_size=2000,
        offset=4000,
    )
    doc = _assert_valid(schema, _envelope([fn]))
    q = doc.find("operation/content/function/query")
    assert [c.tag for c in q] == [
        "object",
        "select",
        "filter",
        "orderby",
        "options",
        "pagesize",
        "offset",
    ]
    assert q.find("filter/and/between").xpath("value/text()") == ["10/01/2026", "10/31/2026"]
    assert q.find("orderby/order/descending") is not None


def test_query_rejects_more_than_1000_in_values():
    with pytest.raises(ValueError, match="split the list"):
        rq.in_("RECORDID", [str(i) for i in range(1001)])


def test_single_condition_and_is_not_wrapped():
    # and/or need two children in the schema; a lone condition must stand alone.
    assert rq.and_(rq.eq("A", 1), None) == rq.eq("A", 1)
    assert rq.and_(None, None) is None


def test_record_cctransaction_validates_with_all_dimensions(schema):
    txn = _txn()
    doc = _assert_valid(schema, _envelope([rq.record_cctransaction(txn)], unique_id=True))
    fn = doc.find("operation/content/function")
    assert fn.get("controlid") == control_id_for(txn.reference_no)
    rec = fn.find("record_cctransaction")
    assert [c.tag for c in rec] == [
        "chargecardid",
        "paymentdate",
        "referenceno",
        "payee",
        "description",
        "ccpayitems",
    ]
    assert [c.text for c in rec.find("paymentdate")] == ["2026", "10", "05"]
    item = rec.find("ccpayitems/ccpayitem")
    assert [c.tag for c in item] == [
        "glaccountno",
        "description",
        "paymentamount",
        "departmentid",
        "locationid",
        "customerid",
        "vendorid",
        "employeeid",
        "projectid",
        "itemid",
        "classid",
    ]
    assert item.findtext("paymentamount") == "123.45"
    assert rec.findall("ccpayitems/ccpayitem")[1].findtext("paymentamount") == "10.05"


@pytest.mark.parametrize(
    "currency_fields",
    [
        dict(currency="GBP"),
        dict(
            currency="GBP",
            exchange_rate_date=date(2026, 10, 4),
            exchange_rate_type="Intacct Daily Rate",
        ),
        dict(currency="GBP", exchange_rate=Decimal("1.2710")),
    ],
)
def test_record_cctransaction_currency_variants_validate(schema, currency_fields):
    _assert_valid(schema, _envelope([rq.record_cctransaction(_txn(**currency_fields))]))


def test_reverse_cctransaction_validates(schema):
    fns = [
        rq.reverse_cctransaction("225351", date(2026, 11, 1), memo="Duplicate"),
        rq.reverse_cctransaction(7, date(2026, 11, 2)),
    ]
    doc = _assert_valid(schema, _envelope(fns))
    rev = doc.find("operation/content/function/reverse_cctransaction")
    assert rev.get("key") == "225351"
    assert [c.tag for c in rev] == ["datereversed", "memo"]


def test_batch_of_many_functions_validates_and_keeps_order(schema):
    txns = [_txn(reference_no=f"ref-{i}") for i in range(50)]
    doc = _assert_valid(schema, _envelope([rq.record_cctransaction(t) for t in txns]))
    ids = [f.get("controlid") for f in doc.findall("operation/content/function")]
    assert ids == [control_id_for(f"ref-{i}") for i in range(50)]


def test_duplicate_control_ids_in_one_request_are_refused():
    txn = _txn()
    with pytest.raises(ValueError, match="unique"):
        _envelope([rq.record_cctransaction(txn), rq.record_cctransaction(txn)])


def test_schema_rejects_out_of_order_elements(schema):
    # Proves the validation above can fail: swap paymentdate and chargecardid.
    doc = etree.fromstring(_envelope([rq.record_cctransaction(_txn())]))
    rec = doc.find("operation/content/function/record_cctransaction")
    rec.insert(0, rec.find("paymentdate"))
    assert not schema.validate(doc)


def test_page_size_bounds():
    with pytest.raises(ValueError):
        rq.read_by_query("GLACCOUNT", page_size=1001)
    with pytest.raises(ValueError):
        rq.query("GLACCOUNT", ["RECORDNO"], page_size=2001)
    with pytest.raises(ValueError):
        rq.read("GLACCOUNT", [str(i) for i in range(101)])


def test_builders_escape_text_instead_of_building_strings(schema):
    # An apostrophe, ampersand and angle bracket survive as data, not markup.
    txn = _txn(payee="O'Brien & <Sons>", description="a]]>b")
    body = _envelope([rq.record_cctransaction(txn)])
    doc = _assert_valid(schema, body)
    assert (
        doc.findtext("operation/content/function/record_cctransaction/payee") == "O'Brien & <Sons>"
    )


# --- supporting documents (receipts, issue 11 part 4) -------------------------------------------


def _supdoc(**overrides) -> SupportingDocument:
    fields = dict(
        supdoc_id="DVY0123456789ABCDEF0",
        folder="Divvy Receipts",
        attachments=(
            Attachment("lunch", "pdf", b"%PDF-1.4 \x00\xff"),
            Attachment("tip <&>", "jpg", b"\xff\xd8\xff"),
        ),
        name="Divvy receipts txr_1",
        description="Receipts of Divvy transaction txr_1",
    )
    fields.update(overrides)
    return SupportingDocument(**fields)


def test_create_supdoc_validates_in_schema_order_with_base64_data(schema):
    doc = _assert_valid(schema, _envelope([rq.create_supdoc(_supdoc())]))
    el = doc.find("operation/content/function/create_supdoc")
    assert [c.tag for c in el] == [
        "supdocid",
        "supdocname",
        "supdocfoldername",
        "supdocdescription",
        "attachments",
    ]
    atts = el.findall("attachments/attachment")
    assert [[c.tag for c in a] for a in atts] == [
        ["attachmentname", "attachmenttype", "attachmentdata"]
    ] * 2
    assert [base64.b64decode(a.findtext("attachmentdata")) for a in atts] == [
        b"%PDF-1.4 \x00\xff",
        b"\xff\xd8\xff",
    ]
    assert atts[1].findtext("attachmentname") == "tip <&>"
    assert doc.find("operation/content/function").get("controlid") == "supdoc-DVY0123456789ABCDEF0"


def test_create_supdoc_without_name_or_description_validates(schema):
    doc = _assert_valid(schema, _envelope([rq.create_supdoc(_supdoc(name=None, description=None))]))
    el = doc.find("operation/content/function/create_supdoc")
    assert [c.tag for c in el] == ["supdocid", "supdocfoldername", "attachments"]


def test_link_supdoc_is_update_cctransaction_with_only_supdocid(schema):
    doc = _assert_valid(schema, _envelope([rq.link_supdoc(225351, "DVY0123456789ABCDEF0")]))
    el = doc.find("operation/content/function/update_cctransaction")
    assert el.get("key") == "225351"
    assert [(c.tag, c.text) for c in el] == [("supdocid", "DVY0123456789ABCDEF0")]


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: _supdoc(supdoc_id=""), "supdoc_id"),
        (lambda: _supdoc(supdoc_id="A" * 101), "supdoc_id"),
        (lambda: _supdoc(folder="Bad\x00folder"), "supdoc_folder"),
        (lambda: _supdoc(attachments=()), "attachments"),
        (lambda: Attachment("", "pdf", b"x"), "attachment_name"),
        (lambda: Attachment("x", "", b"x"), "attachment_type"),
    ],
)
def test_a_supporting_document_that_cannot_be_sent_is_refused_naming_the_field(build, field):
    with pytest.raises(UnpostableRecord) as info:
        build()
    assert info.value.field == field


def test_a_function_sent_again_gives_the_same_bytes_and_stays_as_it_was(schema):
    # build_request lends each function's element to the request for its one serialization:
    # the element must come back unchanged and parentless, so a re-send (new session, lookup
    # round) gives the same functions; an element that already has a parent is copied instead.
    parented = etree.Element("holder")
    held = etree.SubElement(parented, "getAPISession")
    functions = [rq.record_cctransaction(_txn()), rq.Function("held", held)]
    control = rq.control_block(sender_id="bill.com", sender_password="sender-pass-0001")
    auth = rq.session_auth("SESSION123")
    expected = etree.tostring(
        rq.build_request_element(control=control, auth=auth, functions=functions),
        xml_declaration=True,
        encoding="UTF-8",
    )
    first = rq.build_request(control=control, auth=auth, functions=functions)
    again = rq.build_request(control=control, auth=auth, functions=functions)
    assert first == again == expected
    assert functions[0].element.getparent() is None
    assert held.getparent() is parented
    doc = _assert_valid(schema, first)
    assert [f.get("controlid") for f in doc.iterfind("operation/content/function")] == [
        functions[0].control_id,
        "held",
    ]


def test_a_prebuilt_record_is_the_function_sent_and_a_copy_is_built_afresh():
    import dataclasses

    txn = _txn()
    fresh = rq.record_cctransaction(_txn())
    rq.prebuild_cctransaction(txn)
    prebuilt = rq.record_cctransaction(txn)
    assert prebuilt is rq.record_cctransaction(txn)  # built once, whatever the rounds
    assert (prebuilt.control_id, prebuilt.xml()) == (fresh.control_id, fresh.xml())
    assert txn == _txn() and hash(txn) == hash(_txn())
    # Another control ID, or a changed copy, is never the prebuilt function.
    assert rq.record_cctransaction(txn, control_id="other") is not prebuilt
    retry = dataclasses.replace(txn, attempt=2)
    assert rq.record_cctransaction(retry).control_id == control_id_for(txn.reference_no, 2)
