"""The response parser, the error taxonomy, value conversion and the records."""

from __future__ import annotations

import pickle
from datetime import date, datetime
from decimal import Decimal

import pytest

from intacct_hook.intacct import errors as e
from intacct_hook.intacct.records import CCLine, CCTransaction, control_id_for
from intacct_hook.intacct.response import parse_response
from intacct_hook.intacct.values import (
    coerce,
    last_day_of_month,
    month_number,
    parse_bool,
    parse_date,
    parse_decimal,
    parse_timestamp,
    quote_literal,
)

CONTROL_OK = """<control><status>success</status><senderid>bill.com</senderid>
<controlid>c1</controlid><uniqueid>false</uniqueid><dtdversion>3.0</dtdversion></control>"""
AUTH_OK = """<authentication><status>success</status><userid>Divvy</userid>
<companyid>ACME-DEMO</companyid><locationid>E100</locationid></authentication>"""


def _ok(results: str) -> bytes:
    return (
        f"<?xml version='1.0' encoding='UTF-8'?><response>{CONTROL_OK}<operation>{AUTH_OK}"
        f"{results}</operation></response>"
    ).encode()


def _err(errorno: str, desc: str = "", desc2: str = "", corr: str = "") -> str:
    return (
        f"<error><errorno>{errorno}</errorno><description>{desc}</description>"
        f"<description2>{desc2}</description2><correction>{corr}</correction></error>"
    )


def test_success_rows_become_plain_values():
    body = _ok("""<result><status>success</status><function>readByQuery</function>
      <controlid>f1</controlid>
      <data listtype="glaccount" count="1" totalcount="3" numremaining="2" resultId="R1">
        <glaccount><RECORDNO>12</RECORDNO><ACCOUNTNO>2150</ACCOUNTNO><TITLE>true</TITLE>
          <REQUIREDEPT>false</REQUIREDEPT><WHENCREATED>05/12/2021 22:03:51</WHENCREATED>
          <WHENMODIFIED>05/12/2021</WHENMODIFIED><TOTALENTERED>1,234.50</TOTALENTERED>
          <CLOSINGACCOUNTNO/><STATUS>active</STATUS></glaccount>
      </data></result>""")
    resp = parse_response(body)
    (res,) = resp.results
    assert res.ok and res.result_id == "R1" and res.num_remaining == 2 and res.total_count == 3
    row = res.data[0]
    assert row == {
        "RECORDNO": "12",
        "ACCOUNTNO": "2150",
        "TITLE": "true",
        "REQUIREDEPT": False,
        "WHENCREATED": datetime(2021, 5, 12, 22, 3, 51),
        "WHENMODIFIED": date(2021, 5, 12),
        "TOTALENTERED": Decimal("1234.50"),
        "CLOSINGACCOUNTNO": None,
        "STATUS": "active",
    }
    assert resp.authentication["locationid"] == "E100"


def test_repeated_children_become_lists_and_nested_become_dicts():
    body = _ok("""<result><status>success</status><function>read</function><controlid>f</controlid>
      <data><CCTRANSACTION><RECORDNO>1</RECORDNO><CCTRANSACTIONENTRIES>
        <cctransactionentry><AMOUNT>1.00</AMOUNT></cctransactionentry>
        <cctransactionentry><AMOUNT>2.00</AMOUNT></cctransactionentry>
      </CCTRANSACTIONENTRIES></CCTRANSACTION></data></result>""")
    row = parse_response(body).results[0].data[0]
    entries = row["CCTRANSACTIONENTRIES"]["cctransactionentry"]
    assert [x["AMOUNT"] for x in entries] == [Decimal("1.00"), Decimal("2.00")]


def test_legacy_key_and_results_matched_by_control_id():
    body = _ok("""<result><status>success</status><function>record_cctransaction</function>
      <controlid>b</controlid><key>225351</key></result>
      <result><status>success</status><function>record_cctransaction</function>
      <controlid>a</controlid><key>225352</key></result>""")
    by_id = parse_response(body).by_control_id()
    assert by_id["a"].key == "225352" and by_id["b"].key == "225351"


def test_control_failure_without_children_raises_typed_error():
    # js #13 / net #215: failure responses can leave out uniqueid/senderid.
    body = (
        b"""<response><control><status>failure</status></control><errormessage>
      """
        + _err("XL03000006", "Incorrect Intacct XML Partner ID or password.").encode()
        + b"</errormessage></response>"
    )
    with pytest.raises(e.IntacctSenderCredentialsError) as info:
        parse_response(body)
    assert info.value.level == "control" and info.value.errorno == "XL03000006"
    assert "sender_password" in str(info.value)


def test_schema_control_error():
    body = (
        f"<response><control><status>failure</status><controlid>c</controlid></control>"
        f"<errormessage>{_err('XL03000003', 'XML Parse schema error')}</errormessage>"
        f"</response>"
    ).encode()
    with pytest.raises(e.IntacctSchemaError):
        parse_response(body)


@pytest.mark.parametrize(
    ("desc", "desc2", "cls"),
    [
        (
            "Invalid Web Services Authorization",
            "The sender ID 'bill.com' is not authorized to make Web Services requests to company "
            "ID 'ACME-DEMO'.",
            e.IntacctSenderNotAuthorized,
        ),
        ("Sign-in information is incorrect", "", e.IntacctSignInError),
        ("Invalid session", "", e.IntacctSessionExpired),
        ("Invalid entity ID 'E999'", "", e.IntacctSignInError),
    ],
)
def test_authentication_failures(desc, desc2, cls):
    body = (
        f"<response>{CONTROL_OK}<operation><authentication><status>failure</status>"
        f"</authentication><errormessage>{_err('XL03000006', desc, desc2)}</errormessage>"
        f"</operation></response>"
    ).encode()
    with pytest.raises(cls) as info:
        parse_response(body)
    assert info.value.level == "authentication"
    assert isinstance(info.value, e.IntacctAuthenticationError)


def test_function_failures_are_typed_and_do_not_raise():
    body = _ok(f"""
      <result><status>failure</status><function>readByQuery</function><controlid>p</controlid>
        <errormessage>{
        _err(
            "PL04000005",
            "You do not have permission for API operation "
            "READ_BY_QUERY on objects of type arinvoice",
        )
    }</errormessage></result>
      <result><status>failure</status><function>record_cctransaction</function>
        <controlid>c</controlid><errormessage>
        {
        _err(
            "BL01001973",
            "",
            "The date 09/15/2026 is in a closed period. Date must be on or after 10/01/2026.",
        )
    }
        {_err("BL01001973", "", "Could not create cctransaction record!")}</errormessage></result>
      <result><status>failure</status><function>record_cctransaction</function>
        <controlid>d</controlid><errormessage>
        {_err("XL03000004", "A function with control ID d has already been processed")}
        </errormessage></result>
      <result><function>record_cctransaction</function><controlid>n</controlid></result>
      <result><status>failure</status><function>record_cctransaction</function>
        <controlid>b</controlid><errormessage>
        {_err("BL01001973", "", "Invalid Project %2710064%27 specified. [Support ID: a%7Eb]")}
        </errormessage></result>""")
    res = parse_response(body, records={"c": "REF-C"}).by_control_id()
    assert isinstance(res["p"].error, e.IntacctPermissionError)
    assert isinstance(res["c"].error, e.IntacctClosedPeriod)
    assert res["c"].error.record == "REF-C" and "REF-C" in str(res["c"].error)
    assert len(res["c"].error.errors) == 2
    assert isinstance(res["d"].error, e.IntacctDuplicateControlId)
    assert res["n"].status == "unknown" and isinstance(res["n"].error, e.IntacctResultIncomplete)
    assert isinstance(res["b"].error, e.IntacctRecordError)
    assert "Invalid Project '10064' specified. [Support ID: a~b]" in str(res["b"].error)
    with pytest.raises(e.IntacctPermissionError):
        res["p"].raise_for_status()


def test_transaction_rollback_shape():
    rolled = _err(
        "XL03000009",
        "The entire transaction in this operation has been rolled back due to an error.",
    )
    body = _ok(f"""
      <result><status>aborted</status><function>record_cctransaction</function>
        <controlid>a</controlid><errormessage>{rolled}</errormessage></result>
      <result><status>failure</status><function>record_cctransaction</function>
        <controlid>b</controlid><errormessage>
        {_err("BL01001973", "", "Account 6999 is not valid")}{rolled}</errormessage></result>""")
    res = parse_response(body).by_control_id()
    assert isinstance(res["a"].error, e.IntacctTransactionAborted)
    assert isinstance(res["b"].error, e.IntacctRecordError)
    assert not isinstance(res["b"].error, e.IntacctTransactionAborted)


def test_secrets_are_redacted_from_error_texts():
    body = (
        f"<response>{CONTROL_OK}<operation><authentication><status>failure</status>"
        f"</authentication><errormessage>{_err('XL03000006', 'Invalid session S3CR3T-SID')}"
        f"</errormessage></operation></response>"
    ).encode()
    with pytest.raises(e.IntacctSessionExpired) as info:
        parse_response(body, secrets=["S3CR3T-SID"])
    assert "S3CR3T-SID" not in str(info.value) and "S3CR3T-SID" not in repr(info.value)


def test_not_xml_raises_response_error():
    with pytest.raises(e.IntacctResponseError):
        parse_response(b"<html><body>Cloudflare 502</body></html", http_status=200)
    with pytest.raises(e.IntacctResponseError):
        parse_response(b"<html><body>hello</body></html>")


def test_errors_pickle_and_carry_context():
    err = e.error_for(
        "function",
        [e.ErrorDetail("BL01001973", "", "Account 6999 is not valid", "Use an active account")],
    )
    err = err.with_context(record="REF-1", control_id="divvy-REF-1")
    clone = pickle.loads(pickle.dumps(err))
    assert type(clone) is e.IntacctRecordError
    assert str(clone) == str(err)
    assert "REF-1" in str(err) and "Fix: Use an active account" in str(err)


def test_values():
    assert parse_date("10/05/2026") == date(2026, 10, 5)
    assert parse_date("2026-10-05") == date(2026, 10, 5)
    assert parse_date("") is None
    assert parse_timestamp("05/12/2021 22:03:51") == datetime(2021, 5, 12, 22, 3, 51)
    assert parse_decimal("-1,000.10") == Decimal("-1000.10")
    assert [parse_bool(x) for x in ("true", "F", "T", "false", " ")] == [
        True,
        False,
        True,
        False,
        None,
    ]
    with pytest.raises(ValueError):
        parse_bool("yes")
    assert coerce("LOCATIONID", "100") == "100"
    assert coerce("ACCOUNTNO", "10/05/2026") == "10/05/2026"
    assert coerce("TRX_AMOUNT", "5.10") == Decimal("5.10")
    assert quote_literal("Erin's \\ Software") == "'Erin\\'s \\\\ Software'"
    assert month_number("December") == 12 and month_number("02") == 2
    assert last_day_of_month(2028, 2) == date(2028, 2, 29)


def test_control_ids_are_deterministic_bounded_and_distinct():
    uuid = "6f1c7a52-2b1e-4f5e-9a0d-0c2c4b8c1d11"
    assert control_id_for(uuid) == "divvy-" + uuid
    weird = "ref with spaces/and'quotes" * 20
    assert control_id_for(weird) == control_id_for(weird)
    assert len(control_id_for(weird)) <= 256 and control_id_for(weird) != control_id_for(uuid)
    assert control_id_for("a") != control_id_for("b")


def test_records_validate_inputs():
    with pytest.raises(TypeError):
        CCLine("6100", 1.1)
    line = CCLine("6100", "1.10")
    assert line.amount == Decimal("1.10")
    txn = CCTransaction("card", date(2026, 1, 1), "r", [line, CCLine("6200", 2)])
    assert txn.total == Decimal("3.10") and isinstance(txn.lines, tuple)
    with pytest.raises(ValueError):
        CCTransaction("card", date(2026, 1, 1), "r", ())
