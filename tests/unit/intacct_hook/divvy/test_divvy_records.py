"""DivvyTransaction and friends from the API's JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from intacct_hook.divvy.records import (
    DivvyBudget,
    DivvyCard,
    DivvyCustomField,
    DivvyRecordError,
    DivvyTransaction,
    DivvyUser,
    TransactionType,
)
from tests.divvy_factories import txn, txn_json


def test_full_transaction_is_typed():
    data = txn_json(
        accountingIntegrationTransactions=[
            {"syncStatus": "SYNCED", "syncMessage": "ok", "integrationType": "SAGE_INTACCT"}
        ],
        note="Team lunch",
    )
    t = DivvyTransaction.from_json(data)
    assert t.uuid == data["uuid"]
    assert t.transaction_type is TransactionType.CLEAR
    assert t.amount == Decimal("53.03") and isinstance(t.amount, Decimal)
    assert t.occurred_time == datetime(2026, 8, 1, 12, 0, tzinfo=UTC)
    assert t.updated_time == datetime(2026, 8, 3, 9, 4, 52, 884000, tzinfo=UTC)
    assert t.complete is True and t.status == "COMPLETE"
    assert (t.budget_uuid, t.budget_name) == ("bgt_ops", "Operations")
    assert (t.card_uuid, t.card_last_four) == ("crd_4417", "4417")
    assert (t.user_uuid, t.user_name) == ("usr_jane", "Jane Doe")
    assert (t.merchant_name, t.raw_merchant_name, t.mcc) == ("Amazon", "AMZN Mktp US", "5942")
    assert t.custom_fields == {"GL Account": ("6100 - Office Supplies",)}
    assert t.original_auth_uuid == "txr_auth"
    assert t.currency_code == "USD"
    assert t.note == "Team lunch"
    assert t.accounting_sync[0].sync_status == "synced"
    assert t.synced_by_divvy
    assert t.raw["uuid"] == data["uuid"]
    assert t.children == () and not t.is_split


def test_amounts_survive_decimal_json_parsing_exactly():
    body = json.dumps(txn_json(amount=0.1, fees=0.2)).replace("0.2,", "0.20000000000000001,")
    t = DivvyTransaction.from_json(json.loads(body, parse_float=Decimal))
    assert t.fees == Decimal("0.20000000000000001")  # kept digit for digit
    assert t.amount == Decimal("0.10")
    # A float that slipped through is converted via str, never via its binary expansion.
    assert txn(amount=0.1).amount == Decimal("0.10")
    assert txn(amount=-20).amount == Decimal("-20.00")


def test_non_utc_offsets_are_normalised_to_utc():
    t = txn(occurredTime="2026-08-01T20:00:00.000-05:00")
    assert t.occurred_time == datetime(2026, 8, 2, 1, 0, tzinfo=UTC)
    assert t.occurred_time.tzinfo is UTC


def test_unknown_transaction_type_becomes_other_but_keeps_raw():
    t = txn(transactionType="CASHBACK")
    assert t.transaction_type is TransactionType.OTHER
    assert t.raw_transaction_type == "CASHBACK"


@pytest.mark.parametrize(
    ("overrides", "field", "problem"),
    [
        ({"amount": "12,50"}, "amount", "must be a number"),
        ({"amount": None}, "amount", "is missing"),
        ({"amount": True}, "amount", "must be a number"),
        ({"occurredTime": "2026-08-01T12:00:00"}, "occurredTime", "has no UTC offset"),
        ({"occurredTime": "yesterday"}, "occurredTime", "not an ISO-8601"),
        ({"transactionType": None}, "transactionType", "missing"),
        ({"complete": "yes"}, "complete", "true or false"),
        ({"childTransactionUuids": "txr_1"}, "childTransactionUuids", "list of strings"),
        ({"customFields": [{"selectedValues": []}]}, "customFields[0].name", "missing"),
    ],
)
def test_bad_fields_name_the_uuid_and_the_field(overrides, field, problem):
    data = txn_json(**overrides)
    with pytest.raises(DivvyRecordError) as info:
        DivvyTransaction.from_json(data)
    err = info.value
    assert err.uuid == data["uuid"] and err.field == field
    assert data["uuid"] in str(err) and field in str(err) and problem in str(err)


def test_missing_uuid_is_reported():
    with pytest.raises(DivvyRecordError, match="without a uuid: field 'uuid'"):
        DivvyTransaction.from_json(txn_json(uuid=None))
    with pytest.raises(DivvyRecordError, match="must be an object"):
        DivvyTransaction.from_json(["not", "an", "object"])  # type: ignore[arg-type]


def test_custom_fields_multi_select_and_note_fields():
    t = txn(
        customFields=[
            {"name": "Project", "selectedValues": [{"value": "P-100"}, {"value": "P-200"}]},
            {"name": "Purpose", "note": "Client dinner", "selectedValues": []},
            {"name": "Class", "selectedValues": None},
        ]
    )
    assert t.custom_fields == {
        "Project": ("P-100", "P-200"),
        "Purpose": ("Client dinner",),
        "Class": (),
    }


def test_records_are_immutable_and_children_attach_by_copy():
    parent = txn(childTransactionUuids=["txr_c1"])
    child = txn(uuid="txr_c1", isParent=False, parentTransactionUuid=parent.uuid)
    with pytest.raises(AttributeError):
        parent.amount = Decimal(0)  # type: ignore[misc]
    with pytest.raises(TypeError):
        parent.custom_fields["GL Account"] = ("x",)  # type: ignore[index]
    expanded = parent.with_children([child])
    assert expanded.children == (child,) and parent.children == ()
    assert expanded.is_split and child.parent_uuid == parent.uuid


def test_sync_status_is_lower_cased_and_only_synced_counts():
    t = txn(accountingIntegrationTransactions=[{"syncStatus": "ERROR", "syncMessage": "closed"}])
    assert t.accounting_sync[0].sync_status == "error"
    assert not t.synced_by_divvy
    assert txn(accountingIntegrationTransactions=[]).accounting_sync == ()


def test_reference_records():
    b = DivvyBudget.from_json({"uuid": "bgt_1", "name": "Travel", "limit": 5000.5})
    assert b.limit == Decimal("5000.5") and b.name == "Travel"
    u = DivvyUser.from_json(
        {
            "uuid": "usr_1",
            "firstName": "Jane",
            "lastName": "Doe",
            "role": "ADMIN",
            "email": "j@example.com",
        }
    )
    assert u.name == "Jane Doe" and u.role == "ADMIN"
    assert DivvyUser.from_json({"uuid": "usr_2", "email": "x@example.com"}).name == "x@example.com"
    c = DivvyCard.from_json(
        {
            "uuid": "crd_1",
            "lastFour": "4417",
            "status": "ACTIVATED",
            "userUuid": "usr_1",
            "budgetUuid": "bgt_1",
        }
    )
    assert c.last_four == "4417" and c.user_uuid == "usr_1"
    f = DivvyCustomField.from_json(
        {"uuid": "tty_1", "name": "GL Account", "type": "CUSTOM_SELECTOR", "required": True}
    )
    assert f.required and f.type == "CUSTOM_SELECTOR"
    with pytest.raises(DivvyRecordError, match="custom field tty_2: field 'name'"):
        DivvyCustomField.from_json({"uuid": "tty_2"})
    with pytest.raises(DivvyRecordError, match="budget bgt_3: field 'limit'"):
        DivvyBudget.from_json({"uuid": "bgt_3", "limit": "lots"})


@pytest.mark.parametrize(("raw", "cents"), [(10.0, "10.00"), (-2.5, "-2.50"), ("53.03", "53.03")])
def test_amounts_are_normalised_to_cents(raw, cents):
    # A JSON number like 10.0 must not reach the ledger or Intacct as "10.0".
    assert str(DivvyTransaction.from_json(txn_json(amount=raw)).amount) == cents


def test_a_sub_cent_amount_is_refused_naming_the_record():
    with pytest.raises(DivvyRecordError, match=r"txr_.*amount.*cent"):
        DivvyTransaction.from_json(txn_json(amount="1.005"))


@pytest.mark.parametrize("raw", [1e26, "-1E+26", "123456789012345678901234567890.25"])
def test_an_absurd_but_readable_amount_parses_so_the_rules_can_hold_it(raw):
    # Quantizing 1e26 to cents needs 29 digits, one more than Decimal's default context: it
    # used to raise a bare InvalidOperation that stopped the whole stage step.
    amount = DivvyTransaction.from_json(txn_json(amount=raw)).amount
    assert amount == Decimal(str(raw)) and amount.as_tuple().exponent == -2


@pytest.mark.parametrize("raw", ["1e60", "-9E+999999999"])
def test_an_amount_beyond_any_number_of_dollars_is_refused_naming_the_record(raw):
    with pytest.raises(DivvyRecordError, match=r"txr_.*'amount'.*too large"):
        DivvyTransaction.from_json(txn_json(amount=raw))


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+00:00", "9999-12-31T23:59:59.999+00:00"])
def test_extreme_years_in_utc_parse(moment):
    t = DivvyTransaction.from_json(txn_json(occurredTime=moment))
    assert t.occurred_time.isoformat().startswith(moment[:19])


@pytest.mark.parametrize(
    ("field", "moment"),
    [
        ("occurredTime", "0001-01-01T00:30:00+01:00"),
        ("updatedTime", "9999-12-31T23:00:00-05:00"),
    ],
)
def test_a_time_that_has_no_utc_equivalent_is_refused_naming_the_record(field, moment):
    # Converting to UTC overflowed with a bare OverflowError; now it is a record error.
    with pytest.raises(DivvyRecordError, match=rf"txr_.*'{field}'.*outside"):
        DivvyTransaction.from_json(txn_json(**{field: moment}))


def _currency(code, minor, exponent=2):
    return {
        "exchangeRate": 1.1,
        "exponent": exponent,
        "originalCurrencyAmount": minor,
        "originalCurrencyCode": code,
        "symbol": "?",
    }


@pytest.mark.parametrize(
    ("data", "code", "original"),
    [
        (_currency("EUR", "4500"), "EUR", Decimal("45.00")),
        (_currency("EUR", "-4500"), "EUR", Decimal("-45.00")),
        (_currency("JPY", "4500", 0), "JPY", Decimal("4500")),
        (_currency("USD", "5303"), "USD", Decimal("53.03")),
        (_currency("EUR", "45.00"), "EUR", None),  # not minor units: amount unknown
        (_currency("EUR", "4500", "2"), "EUR", None),
        ({"originalCurrencyCode": "GBP"}, "GBP", None),
        (None, None, None),
    ],
)
def test_original_currency_and_amount_are_read_from_currency_data(data, code, original):
    t = DivvyTransaction.from_json(txn_json(currencyData=data))
    assert (t.currency_code, t.original_amount) == (code, original)


@pytest.mark.parametrize(("code", "foreign"), [("EUR", True), ("usd", False), (None, False)])
def test_foreign_currency_is_anything_but_usd(code, foreign):
    t = DivvyTransaction.from_json(txn_json(currencyData=_currency(code, "100")))
    assert t.is_foreign_currency is foreign
