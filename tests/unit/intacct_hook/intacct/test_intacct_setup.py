"""The setup records, their normalisers, and the one table of error-text matches."""

from __future__ import annotations

from datetime import date

import pytest

from intacct_hook.intacct import errors as e
from intacct_hook.intacct.setup import (
    CreditCard,
    DimensionValue,
    GLAccount,
    card_expiry,
    flag,
    is_active,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        (False, False),
        ("true", True),
        ("T", True),
        ("1", True),
        ("yes", True),
        ("false", False),
        ("F", False),
        ("", False),
        (None, False),
        ("maybe", False),
    ],
)
def test_flag(value, expected):
    assert flag(value) is expected


@pytest.mark.parametrize(
    ("status", "expected"),
    [("active", True), ("Active", True), ("inactive", False), (True, True), ("F", False)],
)
def test_is_active(status, expected):
    assert is_active(status) is expected


@pytest.mark.parametrize(
    ("month", "year", "expected"),
    [
        ("December", "2035", date(2035, 12, 31)),
        ("Feb", 2028, date(2028, 2, 29)),
        ("02", "2027", date(2027, 2, 28)),
        ("", "2030", None),
        ("Smarch", "2030", None),
        ("May", "soon", None),
        (None, None, None),
    ],
)
def test_card_expiry(month, year, expected):
    assert card_expiry(month, year) == expected


def test_a_card_resolves_its_guessed_fields_and_keeps_its_row():
    card = CreditCard.from_row(
        {
            "CARDID": "Divvy CC Object",
            "STATUS": "active",
            "EXP_MONTH": "December",
            "EXP_YEAR": "2035",
            "OFFSETACCOUNTNO": "2150",
            "LIABACCTNO": "",
            "LOCATIONID": " 100 ",
            "GLACCOUNTNO": "2150",
            "DESCRIPTION": "x",
        }
    )
    assert (card.active, card.expires) == (True, date(2035, 12, 31))
    assert (card.offset_account_no, card.offset_account_field) == ("2150", "OFFSETACCOUNTNO")
    assert (card.default_location_id, card.default_location_field) == ("100", "LOCATIONID")
    assert card.account_like_fields() == {"OFFSETACCOUNTNO": "2150", "GLACCOUNTNO": "2150"}
    assert card.fields["DESCRIPTION"] == "x"


def test_a_card_without_status_or_guessed_fields_says_so():
    card = CreditCard.from_row({"CARDID": "C"})
    assert card.active is None and card.status is None and card.expires is None
    assert card.offset_account_no is None and card.default_location_field is None


def test_gl_account_flags():
    account = GLAccount.from_row(
        {
            "ACCOUNTNO": "6250",
            "TITLE": "T",
            "STATUS": "active",
            "REQUIREDEPT": True,
            "REQUIRELOC": "F",
            "REQUIRECUSTOMER": "true",
        }
    )
    assert account.required_flags == ("REQUIREDEPT", "REQUIRECUSTOMER")
    assert account.disallows_direct_posting is None
    direct = GLAccount.from_row({"ACCOUNTNO": "1", "SUBLEDGERCONTROLON": "T"})
    assert direct.disallows_direct_posting
    assert GLAccount.from_row({"ACCOUNTNO": "1"}).active  # no STATUS: nothing to refuse
    assert not GLAccount.from_row({"ACCOUNTNO": "1", "STATUS": "inactive"}).active


def test_dimension_value_reads_its_object_id_field():
    value = DimensionValue.from_row("DEPARTMENT", {"DEPARTMENTID": "10", "STATUS": "inactive"})
    assert (value.object, value.id, value.active) == ("DEPARTMENT", "10", False)


def test_every_text_match_names_the_error_number_it_backs_up():
    for meaning, match in e.TEXT_MATCHES.items():
        assert match.meaning == meaning
        assert match.errorno and match.phrases
        assert match.level in (e.GATEWAY, e.CONTROL, e.AUTHENTICATION, e.FUNCTION)


def test_says_reads_the_table():
    entity = e.IntacctSignInError(errors=[e.ErrorDetail("XL03000006", "Invalid entity ID 'E999'")])
    assert entity.says(e.ENTITY_REJECTED) and not entity.says(e.SESSION_INVALID)
    unknown = e.IntacctFunctionError(errors=[e.ErrorDetail("DL02000001", "Object not found")])
    assert unknown.says(e.OBJECT_UNKNOWN)


def test_fixes_are_written_once_on_the_error_and_name_the_facts_given():
    not_authorized = e.IntacctSenderNotAuthorized()
    assert "Web Services authorizations: add the sender ID exactly" in not_authorized.hint
    assert "add the sender ID 'bill.com' exactly" in not_authorized.fix(sender_id="bill.com")
    assert "Fix: " + not_authorized.hint in str(not_authorized)
    entity = e.IntacctSignInError(errors=[e.ErrorDetail("XL03000006", "Invalid entity ID 'X'")])
    assert "Company > Entities" in entity.fix(conn_id="intacct_default")
    assert "connection 'intacct_default'" in entity.fix(conn_id="intacct_default")
    password = e.IntacctSignInError(errors=[e.ErrorDetail("XL03000006", "Sign-in failed")])
    assert "Company > Web Services Users" in password.fix(conn_id="c")
