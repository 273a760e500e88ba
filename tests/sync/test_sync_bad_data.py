"""Bad data fails alone: one record Intacct or the ledger cannot take never stops the others.

Real parts only: real lxml and the official api.xsd for requests, real SQLite and PostgreSQL
ledgers (the ``ledger`` fixture runs each ledger test on both).
"""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from lxml import etree

from intacct_hook.intacct import request as rq
from intacct_hook.intacct.text import FIELD_LIMITS, UnpostableRecord
from intacct_hook.sync import steps
from intacct_hook.sync.ledger import LedgerRow, MappedLine
from intacct_hook.sync.settings import SyncSettings
from sandbox.intacct_gateway.schema import load_schema

_n = itertools.count(1)


def divvy_json(**overrides: Any) -> dict[str, Any]:
    """A complete, settled $53.03 charge in USD coded to GL 6100, as Divvy's API sends it."""
    n = next(_n)
    data: dict[str, Any] = {
        "uuid": f"txr_bad{n:020d}",
        "transactionType": "CLEAR",
        "complete": True,
        "amount": "53.03",
        "currencyData": {
            "exchangeRate": 1.0,
            "exponent": 2,
            "originalCurrencyAmount": "5303",
            "originalCurrencyCode": "USD",
            "symbol": "$",
        },
        "merchantName": "Staples",
        "occurredTime": "2026-11-17T15:00:00.000+00:00",
        "updatedTime": "2026-11-18T09:00:00.000+00:00",
        "userName": "Jane Doe",
        "budgetName": "Operations",
        "note": "Printer paper",
        "customFields": [
            {"name": "GL Account", "selectedValues": [{"value": "6100 - Office Supplies"}]}
        ],
    }
    data.update(overrides)
    return data


def ledger_row(data: dict[str, Any], **overrides: Any) -> LedgerRow:
    fields: dict[str, Any] = dict(
        uuid=data["uuid"],
        transaction_type="CLEAR",
        amount=Decimal(str(data["amount"])),
        occurred_time=data["occurredTime"],
        posting_date=date(2026, 11, 17),
        updated_time=None,
        merchant=data.get("merchantName"),
        raw_payload={"transaction": data, "children": []},
        state="ready",
        state_reason=None,
        intacct_record_no=None,
        control_id=None,
        last_error=None,
        failed_attempts=0,
        first_run_id="run-1",
        last_run_id="run-1",
        staged_at="2026-11-18T12:00:00+00:00",
        updated_at="2026-11-18T12:00:00+00:00",
        posted_at=None,
    )
    fields.update(overrides)
    return LedgerRow(**fields)


def mapped(uuid: str, **overrides: Any) -> MappedLine:
    fields: dict[str, Any] = dict(
        line_no=1,
        source_uuid=uuid,
        amount=Decimal("53.03"),
        gl_account_no="6100",
        location_id="100",
        description="Jane Doe | Operations | Printer paper",
        gl_account_rule="custom field 'GL Account'",
        location_rule="mapping_rules.csv line 4",
    )
    fields.update(overrides)
    return MappedLine(**fields)


@pytest.fixture(scope="module")
def schema() -> etree.XMLSchema:
    loaded = load_schema()
    if loaded is None:
        pytest.fail("api.xsd not found: set INTACCT_XSD_PATH (tests/conftest.py sets a default)")
    return loaded


def _validates(schema: etree.XMLSchema, txn) -> etree._Element:
    body = rq.build_request(
        control=rq.control_block(sender_id="bill.com", sender_password="x", unique_id=True),
        auth=rq.session_auth("S"),
        functions=[rq.record_cctransaction(txn)],
    )
    doc = etree.fromstring(body)
    assert schema.validate(doc), [e.message for e in schema.error_log]
    return doc.find("operation/content/function/record_cctransaction")


# --- build_cctransaction: the one call load makes per record ----------------------------------


@pytest.mark.parametrize("bad", ["\x00", "\x0b", "\ufffe", "\ud800"])
def test_a_good_record_with_dirty_free_text_builds_clean_and_validates(schema, bad):
    data = divvy_json(merchantName=f"Sta{bad}ples", note=f"paper{bad}", userName="J" * 5000)
    row = ledger_row(data)
    line = mapped(row.uuid, description=f"Jane{bad} | Ops")
    txn = steps.build_cctransaction(row, [line], SyncSettings())
    rec = _validates(schema, txn)
    assert rec.findtext("referenceno") == row.uuid
    assert bad not in rec.findtext("payee") and rec.findtext("payee").startswith("Sta")
    assert len(rec.findtext("description")) <= FIELD_LIMITS["description"]
    assert bad not in rec.findtext("ccpayitems/ccpayitem/description")


def test_a_10k_character_merchant_is_cut_to_the_payee_limit(schema):
    row = ledger_row(divvy_json(merchantName="M" * 10_000))
    txn = steps.build_cctransaction(row, [mapped(row.uuid)], SyncSettings())
    assert len(_validates(schema, txn).findtext("payee")) == FIELD_LIMITS["payee"]


@pytest.mark.parametrize(
    ("line", "field", "names"),
    [
        (dict(gl_account_no="61\x0b00"), "lines[1].gl_account_no", "custom field 'GL Account'"),
        (dict(location_id="1" * 500), "lines[1].location_id", "mapping_rules.csv line 4"),
        (
            dict(gl_account_no=None, gl_account_rule=None),
            "lines[1].gl_account_no",
            "add a mapping rule",
        ),
    ],
)
def test_a_bad_line_raises_the_typed_error_naming_uuid_field_and_source(line, field, names):
    row = ledger_row(divvy_json())
    with pytest.raises(UnpostableRecord) as info:
        steps.build_cctransaction(row, [mapped(row.uuid, **line)], SyncSettings())
    err = info.value
    assert (err.record, err.field) == (row.uuid, field)
    message = str(err)
    assert row.uuid in message and field in message and names in message
    assert "\x0b" not in message


def test_a_bad_card_setting_names_the_setting():
    row = ledger_row(divvy_json())
    settings = SyncSettings(card_account_id="Divvy\x00CC")
    with pytest.raises(UnpostableRecord) as info:
        steps.build_cctransaction(row, [mapped(row.uuid)], settings)
    assert info.value.field == "card_id" and "card_account_id" in str(info.value)


def test_a_uuid_that_cannot_be_a_reference_number_is_the_typed_error():
    row = ledger_row(divvy_json(uuid="txr_\x0bbad"))
    with pytest.raises(UnpostableRecord) as info:
        steps.build_cctransaction(row, [mapped(row.uuid)], SyncSettings())
    assert info.value.field == "reference_no" and "'txr_\\x0bbad'" in str(info.value)


def test_an_unreadable_payload_is_the_typed_error_not_a_divvy_error():
    row = ledger_row(divvy_json(), raw_payload={"transaction": {"uuid": "txr_x"}, "children": []})
    with pytest.raises(UnpostableRecord) as info:
        steps.build_cctransaction(row, [mapped(row.uuid)], SyncSettings())
    assert info.value.record == row.uuid and "transactionType" in info.value.field


def test_a_record_without_lines_is_the_typed_error():
    row = ledger_row(divvy_json())
    with pytest.raises(UnpostableRecord, match="no lines") as info:
        steps.build_cctransaction(row, [], SyncSettings())
    assert info.value.record == row.uuid
