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

from intacct_hook.divvy.records import DivvyTransaction
from intacct_hook.intacct import request as rq
from intacct_hook.intacct.text import FIELD_LIMITS, UnpostableRecord
from intacct_hook.sync import steps
from intacct_hook.sync.ledger import Ledger, LedgerRow, MappedLine
from intacct_hook.sync.rules import RuleSet
from intacct_hook.sync.settings import SyncSettings
from intacct_hook.sync.translation import line_description, posting_lines
from intacct_hook.sync.window import SyncWindow
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


def test_the_record_is_built_from_the_columns_and_lines_never_the_payload():
    # Stage and map read the payload; load builds from what they stored (issue 10): payee
    # from the merchant column, description from line 1.
    row = ledger_row(
        divvy_json(merchantName="Payload Merchant"),
        merchant="Column Merchant",
        raw_payload={"transaction": {"uuid": "unreadable"}, "children": []},
    )
    second = mapped(row.uuid, line_no=2, description="second line")
    txn = steps.build_cctransaction(row, [second, mapped(row.uuid)], SyncSettings())
    assert (txn.payee, txn.description) == (
        "Column Merchant",
        "Jane Doe | Operations | Printer paper",
    )
    assert [line.description for line in txn.lines] == [txn.description, "second line"]


def test_a_record_without_lines_is_the_typed_error():
    row = ledger_row(divvy_json())
    with pytest.raises(UnpostableRecord, match="no lines") as info:
        steps.build_cctransaction(row, [], SyncSettings())
    assert info.value.record == row.uuid


# --- stage: each landed record is decided on its own -----------------------------------------

DAY = date(2026, 11, 17)
WINDOW = SyncWindow(DAY, DAY, 0, "America/Chicago", "params")


def _land(ledger: Ledger, run_id: str, *records: dict[str, Any]) -> None:
    ledger.land(run_id, [{"transaction": r, "children": []} for r in records])


def _rows(ledger: Ledger) -> dict[str, LedgerRow]:
    return {r.uuid: r for r in ledger.select_in_state(["ready", "held", "skipped"])}


def test_bad_records_are_held_or_named_and_every_good_one_is_staged(ledger):
    good = divvy_json()
    other_good = divvy_json(amount="-12.50")
    dirty_text = divvy_json(  # postable: the text is cleaned where it is sent and stored
        merchantName="Sta\x00ples\x0b",
        rawMerchantName="STAPLES\ud800",
        note="paper\x00\ufffe",
        userName="Jane\uffff",
    )
    year_one = divvy_json(occurredTime="0001-01-01T00:00:00+00:00")
    year_max = divvy_json(occurredTime="9999-12-31T23:59:59+00:00")
    huge = divvy_json(amount=1e26)
    odd_type = divvy_json(transactionType="CLE\x00AR", merchantName="\x00")
    decline = divvy_json(transactionType="DECLINE", declineReason="CVV\x00 wrong\ud800")
    bad_key = divvy_json(uuid="txr_\x0bkey", merchantName="Kinko's")
    _land(ledger, "run-1", good, year_one, dirty_text, huge, bad_key, year_max, odd_type)
    _land(ledger, "run-1", other_good, decline)

    with pytest.raises(steps.StepError) as info:
        steps.stage(ledger, SyncSettings(), WINDOW, "run-1")

    message = str(info.value)  # names the record that has no row, and only that one
    assert "'txr_\\x0bkey'" in message and "uuid" in message and "\x0b" not in message
    assert good["uuid"] not in message and huge["uuid"] not in message

    rows = _rows(ledger)
    assert {uuid: row.state for uuid, row in rows.items()} == {
        good["uuid"]: "ready",
        other_good["uuid"]: "ready",
        dirty_text["uuid"]: "ready",
        year_one["uuid"]: "held",
        year_max["uuid"]: "held",
        huge["uuid"]: "held",
        odd_type["uuid"]: "skipped",
        decline["uuid"]: "skipped",
    }
    assert rows[dirty_text["uuid"]].merchant == "Sta ples"
    assert rows[odd_type["uuid"]].merchant is None
    assert rows[decline["uuid"]].state_reason.startswith("Declined card attempt (CVV  wrong\ufffd)")
    # The payload is kept exactly as Divvy sent it (JSON escapes what TEXT cannot hold).
    assert rows[dirty_text["uuid"]].raw_payload["transaction"]["note"] == "paper\x00\ufffe"
    assert "'occurredTime'" in rows[year_one["uuid"]].state_reason
    assert rows[year_one["uuid"]].posting_date == date(1, 1, 1)  # UTC date: local overflows
    assert rows[year_max["uuid"]].posting_date == date(9999, 12, 31)
    assert "'amount'" in rows[huge["uuid"]].state_reason
    assert rows[huge["uuid"]].amount == Decimal("1E+26")
    assert rows[odd_type["uuid"]].transaction_type == "CLE AR"


def test_stage_counts_the_held_bad_data(ledger):
    good, huge = divvy_json(), divvy_json(amount="-5E+30")
    _land(ledger, "run-1", good, huge)
    summary = steps.stage(ledger, SyncSettings(), WINDOW, "run-1")
    assert summary["by_state"] == {"ready": 1, "held": 1}
    assert summary["held_bad_data"] == 1


def test_a_year_9999_purchase_east_of_utc_is_held_on_its_utc_date(ledger):
    # Tokyo is ahead of UTC: the local date of 9999-12-31 23:00 UTC is past year 9999.
    late = divvy_json(occurredTime="9999-12-31T23:00:00+00:00")
    _land(ledger, "run-1", late)
    tokyo = SyncWindow(DAY, DAY, 0, "Asia/Tokyo", "params")
    steps.stage(ledger, SyncSettings(timezone="Asia/Tokyo"), tokyo, "run-1")
    row = _rows(ledger)[late["uuid"]]
    assert (row.state, row.posting_date) == ("held", date(9999, 12, 31))


def test_a_skipped_record_with_an_unrepresentable_local_date_stays_skipped(ledger):
    decline = divvy_json(transactionType="DECLINE", occurredTime="0001-01-01T00:00:00+00:00")
    _land(ledger, "run-1", decline)
    steps.stage(ledger, SyncSettings(), WINDOW, "run-1")
    row = _rows(ledger)[decline["uuid"]]
    assert (row.state, row.posting_date) == ("skipped", date(1, 1, 1))


def test_a_uuid_with_a_nul_is_named_and_the_rest_staged_on_sqlite(tmp_path):
    # PostgreSQL refuses NUL in TEXT already when extract lands the row (ledger.land); SQLite
    # takes it, so stage must still refuse it as a key.
    sqlite = Ledger.sqlite(tmp_path / "l.db")
    sqlite.ensure_schema()
    good, nul = divvy_json(), divvy_json(uuid="txr_\x00nul")
    _land(sqlite, "run-1", nul, good)
    with pytest.raises(steps.StepError, match=r"'txr_\\x00nul'"):
        steps.stage(sqlite, SyncSettings(), WINDOW, "run-1")
    assert set(_rows(sqlite)) == {good["uuid"]}


def test_a_landed_payload_that_is_not_even_an_object_is_named(ledger):
    good = divvy_json()
    _land(ledger, "run-1", good)
    ledger.land("run-1", [{"transaction": {"uuid": "txr_list", "amount": []}, "children": []}])
    with pytest.raises(steps.StepError, match="txr_list"):
        steps.stage(ledger, SyncSettings(), WINDOW, "run-1")
    assert set(_rows(ledger)) == {good["uuid"]}


def test_a_held_bad_record_is_posted_once_divvy_corrects_it(ledger):
    huge = divvy_json(amount="1e26")
    _land(ledger, "run-1", huge)
    steps.stage(ledger, SyncSettings(), WINDOW, "run-1")
    assert _rows(ledger)[huge["uuid"]].state == "held"
    _land(ledger, "run-2", {**huge, "amount": "26.00"})
    steps.stage(ledger, SyncSettings(), WINDOW, "run-2")
    assert _rows(ledger)[huge["uuid"]].state == "ready"


def test_a_split_part_whose_uuid_cannot_be_stored_holds_its_transaction(ledger):
    child = divvy_json(uuid="txr_part\x00", isParent=False, amount="53.03")
    parent = divvy_json(childTransactionUuids=[child["uuid"]])
    ledger.land("run-1", [{"transaction": parent, "children": [child]}])
    summary = steps.stage(ledger, SyncSettings(), WINDOW, "run-1")
    row = _rows(ledger)[parent["uuid"]]
    assert row.state == "held" and "'childTransactionUuids'" in row.state_reason
    assert "\x00" not in row.state_reason and summary["held_bad_data"] == 1


# --- map: dirty coding or memo never reaches a ledger column ----------------------------------


def _stage_and_map(ledger: Ledger, *records: dict[str, Any]) -> dict[str, LedgerRow]:
    _land(ledger, "run-1", *records)
    steps.stage(ledger, SyncSettings(), WINDOW, "run-1")
    steps.map_transactions(
        ledger,
        SyncSettings(),
        RuleSet(),
        card_default_location="100",
        valid_ids={"gl_account": {"6100"}, "location": {"100"}},
    )
    return {r.uuid: r for r in ledger.select_in_state(["ready", "unmapped"])}


def test_a_dirty_memo_is_mapped_into_a_clean_line_description(ledger):
    dirty = divvy_json(note="paper\x00\ud800", userName="Jane\x0bDoe", budgetName="B" * 5000)
    rows = _stage_and_map(ledger, divvy_json(), dirty)
    assert rows[dirty["uuid"]].state == "ready"
    (line,) = ledger.mapped_lines([dirty["uuid"]])[dirty["uuid"]]
    assert line.description.startswith("Jane Doe | BBB")
    assert line.description.endswith("paper \ufffd") or line.description.endswith("…")
    assert len(line.description) <= FIELD_LIMITS["line_description"]


@pytest.mark.parametrize("value", ["61\x0000 - Office Supplies", "\ud800 - Office"])
def test_a_custom_field_value_that_cannot_be_an_id_leaves_its_transaction_unmapped(ledger, value):
    good = divvy_json()
    dirty = divvy_json(customFields=[{"name": "GL Account", "selectedValues": [{"value": value}]}])
    rows = _stage_and_map(ledger, good, dirty)
    assert rows[good["uuid"]].state == "ready"
    row = rows[dirty["uuid"]]
    assert row.state == "unmapped" and "'GL Account'" in row.state_reason
    assert "U+" in row.state_reason and value not in row.state_reason


def test_bad_data_holds_count_as_one_kind_in_the_summary(ledger):
    _land(ledger, "run-1", divvy_json(amount="1e26"), divvy_json(amount="2e26"))
    _land(ledger, "run-1", divvy_json(occurredTime="1970-01-01T00:00:00+00:00"))
    summary = steps.stage(ledger, SyncSettings(), WINDOW, "run-1")
    assert summary["not_postable"] == {"held: Bad data in Divvy": 3}


# --- foreign currency --------------------------------------------------------------------------

EUR = {
    "exchangeRate": 1.1785,
    "exponent": 2,
    "originalCurrencyAmount": "4500",
    "originalCurrencyCode": "EUR",
    "symbol": "€",
}


def test_a_foreign_currency_purchase_is_held_unless_the_setting_allows_it(ledger):
    eur = divvy_json(currencyData=EUR)
    _land(ledger, "run-1", eur)
    steps.stage(ledger, SyncSettings(), WINDOW, "run-1")
    row = _rows(ledger)[eur["uuid"]]
    assert row.state == "held" and "allow_foreign_currency" in row.state_reason

    _land(ledger, "run-2", eur)
    steps.stage(ledger, SyncSettings(allow_foreign_currency=True), WINDOW, "run-2")
    assert _rows(ledger)[eur["uuid"]].state == "ready"


def test_an_allowed_foreign_purchase_posts_the_usd_amount_with_the_original_in_the_text(
    ledger, schema
):
    eur = divvy_json(currencyData=EUR)
    allowed = SyncSettings(allow_foreign_currency=True)
    _land(ledger, "run-1", eur)
    steps.stage(ledger, allowed, WINDOW, "run-1")
    steps.map_transactions(ledger, allowed, RuleSet(), card_default_location="100", valid_ids=None)
    (row,) = ledger.select_in_state(["ready"])
    lines = ledger.mapped_lines([row.uuid])[row.uuid]
    rec = _validates(schema, steps.build_cctransaction(row, lines, allowed))
    assert rec.find("currency") is None  # posted in the card's currency, USD
    assert rec.findtext("ccpayitems/ccpayitem/paymentamount") == "53.03"
    assert rec.findtext("ccpayitems/ccpayitem/description").endswith("| 45.00 EUR")
    assert rec.findtext("description").endswith("| 45.00 EUR")


def test_a_long_memo_is_cut_but_the_original_amount_is_kept():
    eur = DivvyTransaction.from_json(divvy_json(currencyData=EUR, note="N" * 5000))
    (line,) = posting_lines(eur)
    text = line_description(eur, line)
    assert len(text) == FIELD_LIMITS["line_description"]
    assert text.endswith("N… | 45.00 EUR") and text.startswith("Jane Doe | Operations | NNN")


def test_split_lines_name_the_original_amount_of_their_part_or_of_the_whole_purchase():
    part_eur = divvy_json(
        uuid="txr_part_eur",
        amount="20.00",
        isParent=False,
        currencyData={**EUR, "originalCurrencyAmount": "1700"},
    )
    part_plain = divvy_json(uuid="txr_part_plain", amount="33.03", isParent=False)
    part_plain.pop("currencyData")
    parent = DivvyTransaction.from_json(
        divvy_json(currencyData=EUR, childTransactionUuids=["txr_part_eur", "txr_part_plain"])
    ).with_children(DivvyTransaction.from_json(p) for p in (part_eur, part_plain))
    texts = [line_description(parent, line) for line in posting_lines(parent)]
    assert texts[0].endswith("| 17.00 EUR")
    assert texts[1].endswith("| 45.00 EUR for the whole purchase")
