"""Bad data fails alone: text Intacct's XML cannot carry is cleaned, identifiers are refused.

Every request here is serialized by real lxml and validated against the official api.xsd.
"""

from __future__ import annotations

import pickle
from datetime import date
from decimal import Decimal

import pytest
from lxml import etree

from intacct_hook.intacct import request as rq
from intacct_hook.intacct.records import CCLine, CCTransaction
from intacct_hook.intacct.text import (
    ELLIPSIS,
    FIELD_LIMITS,
    UnpostableRecord,
    clean_text,
    fit,
    xml_safe,
)
from sandbox.intacct_gateway.schema import load_schema

# Every character class XML 1.0 cannot carry, as Divvy could send it in a JSON string.
ILLEGAL = ["\x00", "\x0b", "\x0c", "\x1f", "\ufffe", "\uffff", "\ud800", "\udfff"]
REF = "6f1c7a52-2b1e-4f5e-9a0d-0c2c4b8c1d11"


@pytest.fixture(scope="module")
def schema() -> etree.XMLSchema:
    loaded = load_schema()
    if loaded is None:
        pytest.fail("api.xsd not found: set INTACCT_XSD_PATH (tests/conftest.py sets a default)")
    return loaded


def _body(*functions: rq.Function) -> bytes:
    return rq.build_request(
        control=rq.control_block(sender_id="bill.com", sender_password="x"),
        auth=rq.session_auth("S"),
        functions=list(functions),
    )


def _valid(schema: etree.XMLSchema, body: bytes) -> etree._Element:
    doc = etree.fromstring(body)
    assert schema.validate(doc), [e.message for e in schema.error_log]
    return doc


def _txn(**overrides) -> CCTransaction:
    fields = dict(
        card_id="Divvy CC Object",
        payment_date=date(2026, 10, 5),
        reference_no=REF,
        payee="Delta",
        description="Trip",
        lines=(CCLine("6200", Decimal("123.45"), description="Airfare", location_id="100"),),
    )
    fields.update(overrides)
    return CCTransaction(**fields)


# --- xml_safe / fit ---------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ILLEGAL)
def test_xml_safe_output_is_accepted_by_lxml(bad):
    el = etree.Element("x")
    with pytest.raises(ValueError):  # the failure this module exists to prevent
        el.text = f"a{bad}b"
    el.text = xml_safe(f"a{bad}b")
    assert etree.fromstring(etree.tostring(el)).text == xml_safe(f"a{bad}b")


def test_layout_controls_become_a_space_and_encoding_damage_becomes_the_replacement_char():
    assert xml_safe("Line 1\x0bLine 2\x00\x0c") == "Line 1 Line 2  "
    assert xml_safe("caf\ud800 \ufffe\uffff") == "caf\ufffd \ufffd\ufffd"


def test_xml_safe_keeps_everything_xml_can_carry():
    text = "Tab\tLF\nCR\r € 🍺 \x7f\x85 \ufdd0 \U0001fffe <&>'\""
    assert xml_safe(text) == text


def test_fit_cuts_on_a_character_boundary_and_marks_the_cut():
    assert fit("Delta", 5) == "Delta"
    assert fit("Delta Air", 6) == "Delta" + ELLIPSIS
    assert len(fit("x" * 10_000, 80)) == 80
    # A combining accent is never separated from its letter, nor a ZWJ emoji sequence split.
    assert fit("Cafe\u0301 Paris", 5) == "Caf" + ELLIPSIS
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    assert fit(f"ab{family}", 4) == "ab" + ELLIPSIS


def test_clean_text_is_none_for_nothing_left():
    assert clean_text(None, 80) is None
    assert clean_text(" \x00\x0b ", 80) is None
    assert clean_text("  Delta\x00 ", 80) == "Delta"


def test_limits_table_names_every_free_text_field_we_send():
    assert {"payee", "description", "line_description", "memo"} <= FIELD_LIMITS.keys()
    assert all(isinstance(n, int) and n > 0 for n in FIELD_LIMITS.values())


# --- records clean their free text ------------------------------------------------------------


@pytest.mark.parametrize("bad", ILLEGAL)
def test_free_text_with_illegal_characters_is_cleaned_and_validates(schema, bad):
    txn = _txn(
        payee=f"Del{bad}ta",
        description=f"Trip{bad}",
        lines=(CCLine("6200", Decimal("1.00"), description=f"memo {bad}x"),),
    )
    doc = _valid(schema, _body(rq.record_cctransaction(txn)))
    rec = doc.find("operation/content/function/record_cctransaction")
    assert rec.findtext("payee") == xml_safe(f"Del{bad}ta")
    assert rec.findtext("ccpayitems/ccpayitem/description") == xml_safe(f"memo {bad}x")


def test_a_10k_character_payee_is_cut_to_the_limit(schema):
    txn = _txn(
        payee="M" * 10_000,
        description="D" * 10_000,
        lines=(CCLine("6200", Decimal("1.00"), description="L" * 10_000),),
    )
    assert len(txn.payee) == FIELD_LIMITS["payee"] and txn.payee.endswith(ELLIPSIS)
    assert len(txn.description) == FIELD_LIMITS["description"]
    assert len(txn.lines[0].description) == FIELD_LIMITS["line_description"]
    _valid(schema, _body(rq.record_cctransaction(txn)))


def test_reverse_memo_is_cleaned(schema):
    fn = rq.reverse_cctransaction("1", date(2026, 11, 1), memo="dup\x00" + "m" * 5000)
    doc = _valid(schema, _body(fn))
    memo = doc.findtext("operation/content/function/reverse_cctransaction/memo")
    assert len(memo) == FIELD_LIMITS["memo"] and "\x00" not in memo


# --- identifiers are refused, never altered ---------------------------------------------------


@pytest.mark.parametrize("bad", ILLEGAL)
@pytest.mark.parametrize(
    ("field", "build"),
    [
        ("card_id", lambda v: _txn(card_id=f"Divvy{v}")),
        ("reference_no", lambda v: _txn(reference_no=f"txr_{v}")),
        ("supdoc_id", lambda v: _txn(supdoc_id=f"A{v}")),
        ("gl_account_no", lambda v: CCLine(f"61{v}00", Decimal("1"))),
        ("location_id", lambda v: CCLine("6100", Decimal("1"), location_id=f"1{v}")),
        ("department_id", lambda v: CCLine("6100", Decimal("1"), department_id=v)),
        ("class_id", lambda v: CCLine("6100", Decimal("1"), class_id=v)),
        ("project_id", lambda v: CCLine("6100", Decimal("1"), project_id=f"P{v}")),
        ("currency", lambda v: _txn(currency=f"E{v}")),
        ("exchange_rate_type", lambda v: _txn(currency="EUR", exchange_rate_type=f"D{v}")),
        ("customer_id", lambda v: CCLine("6100", Decimal("1"), customer_id=f"C{v}")),
        ("vendor_id", lambda v: CCLine("6100", Decimal("1"), vendor_id=f"V{v}")),
        ("employee_id", lambda v: CCLine("6100", Decimal("1"), employee_id=f"E{v}")),
        ("item_id", lambda v: CCLine("6100", Decimal("1"), item_id=f"I{v}")),
    ],
)
def test_identifier_with_an_illegal_character_is_refused_with_the_field(field, build, bad):
    with pytest.raises(UnpostableRecord) as info:
        build(bad)
    assert info.value.field == field
    message = str(info.value)
    assert field in message and f"U+{ord(bad):04X}" in message and "fix" in message
    assert bad not in message  # the message itself must be safe to log and to store


def test_identifier_that_is_too_long_is_refused():
    with pytest.raises(UnpostableRecord) as info:
        CCLine("6" * 5000, Decimal("1"))
    assert info.value.field == "gl_account_no" and "5000 characters" in str(info.value)
    assert len(str(info.value)) < 600  # the value is not copied into the message whole


def test_each_identifier_is_held_to_its_own_fields_limit():
    # A record's IDs are checked in one scan (issue 10); the limits stay per field.
    assert _txn(currency="EUR", reference_no="r" * 100).reference_no == "r" * 100
    with pytest.raises(UnpostableRecord) as info:
        _txn(currency="E" * 11)
    assert info.value.field == "currency" and "11 characters" in str(info.value)
    with pytest.raises(UnpostableRecord) as info:
        _txn(reference_no="r" * 101)
    assert info.value.field == "reference_no"


def test_the_first_bad_field_in_check_order_is_named():
    with pytest.raises(UnpostableRecord) as info:
        _txn(card_id="C\x00", supdoc_id="S\x00")
    assert info.value.field == "card_id"
    with pytest.raises(UnpostableRecord) as info:
        CCLine("6\x00", Decimal("1"), location_id="L\x00")
    assert info.value.field == "gl_account_no"


def test_transaction_errors_name_the_record():
    with pytest.raises(UnpostableRecord) as info:
        _txn(card_id="Divvy\x0bCC")
    assert info.value.record == REF and REF in str(info.value)
    with pytest.raises(UnpostableRecord, match="no lines"):
        _txn(lines=())


def test_for_record_adds_the_record_and_a_field_prefix():
    with pytest.raises(UnpostableRecord) as info:
        CCLine("", Decimal("1"))
    err = info.value.for_record("txr_1", field_prefix="lines[2].", fix="map it")
    assert (err.record, err.field, err.fix) == ("txr_1", "lines[2].gl_account_no", "map it")
    assert "txr_1" in str(err) and "lines[2].gl_account_no" in str(err) and "map it" in str(err)
    assert isinstance(err, ValueError)


def test_unpostable_record_survives_pickling():
    err = UnpostableRecord("payee", "is bad", record="r1", fix="do x")
    back = pickle.loads(pickle.dumps(err))
    assert (back.field, back.record, back.fix, str(back)) == ("payee", "r1", "do x", str(err))


# --- request building: the typed error, never lxml's bare ValueError ------------------------


def test_unsanitized_text_reaching_the_builder_raises_the_typed_error():
    txn = _txn()
    object.__setattr__(txn, "payee", "Del\x00ta")  # bypasses construction on purpose
    with pytest.raises(UnpostableRecord) as info:
        rq.record_cctransaction(txn)
    assert (info.value.field, info.value.record) == ("payee", REF)


@pytest.mark.parametrize("bad", ["\x00", "\ud800", "\uffff"])
def test_any_builder_refuses_illegal_text_with_the_typed_error(bad):
    with pytest.raises(UnpostableRecord) as info:
        rq.read_by_query("GLACCOUNT", f"ACCOUNTNO = '6{bad}'")
    assert info.value.field == "query"
    with pytest.raises(UnpostableRecord):
        rq.query("CCTRANSACTION", ["RECORDNO"], filter=rq.eq("RECORDID", f"x{bad}"))
    with pytest.raises(UnpostableRecord):
        rq.reverse_cctransaction(f"1{bad}", date(2026, 1, 1))
