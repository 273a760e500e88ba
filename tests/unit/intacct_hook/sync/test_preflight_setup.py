"""Every setup-guide mistake, made in the local gateway, is caught by preflight with its fix.

Preflight runs through the real IntacctHook over HTTP; only the gateway's seed changes.
"""

from __future__ import annotations

import copy
import json
import pathlib
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
import tenacity

from intacct_hook.hooks.intacct import IntacctHook
from intacct_hook.sync.preflight import (
    REQUIRED_DIMENSION_FLAGS,
    CodingTarget,
    read_posting_facts,
    run_preflight,
)
from intacct_hook.sync.settings import SyncSettings
from intacct_hook.sync.window import SyncWindow
from sandbox.intacct_gateway.testing import running_gateway

SEED = json.loads(
    (
        pathlib.Path(__file__).resolve().parents[4] / "sandbox/intacct_gateway/seeds/default.json"
    ).read_text()
)
WINDOW = SyncWindow(date(2026, 11, 17), date(2026, 11, 17), 14, "America/Chicago", "params")


def _company(seed: dict[str, Any]) -> dict[str, Any]:
    return seed["companies"]["ACME-DEMO"]


def _gl(seed: dict[str, Any], no: str = "2150") -> dict[str, Any]:
    return next(a for a in _company(seed)["objects"]["GLACCOUNT"] if a["ACCOUNTNO"] == no)


def _card(seed: dict[str, Any]) -> dict[str, Any]:
    return _company(seed)["objects"]["CREDITCARD"][0]


def _set(getter: Callable[[dict], dict], **fields: Any) -> Callable[[dict], None]:
    return lambda seed: getter(seed).update(fields)


def _no_sender(seed: dict[str, Any]) -> None:
    _company(seed)["authorized_senders"] = []


def _no_admin_role(seed: dict[str, Any]) -> None:
    _company(seed)["users"]["Divvy"]["roles"] = []


def _no_card(seed: dict[str, Any]) -> None:
    _company(seed)["objects"]["CREDITCARD"] = []


def _no_gl(seed: dict[str, Any]) -> None:
    _gl(seed)["TITLE"] = "Card liability"


@pytest.fixture
def preflight(monkeypatch) -> Callable[..., Any]:
    def _run(
        mutate: Callable[[dict], None] | None = None,
        *,
        targets=(),
        entity="E100",
        password="ws-user-pass-0001",
        **settings: Any,
    ):
        seed = copy.deepcopy(SEED)
        if mutate:
            mutate(seed)
        with running_gateway(seed) as gw:
            hook = _hook(monkeypatch, gw.url, entity=entity, password=password)
            return run_preflight(hook, SyncSettings.from_variable(settings), WINDOW, targets)

    return _run


def _hook(
    monkeypatch, url: str, *, entity: str = "E100", password: str = "ws-user-pass-0001"
) -> IntacctHook:
    monkeypatch.setenv(
        "AIRFLOW_CONN_INTACCT_DEFAULT",
        json.dumps(
            {
                "conn_type": "intacct",
                "host": url,
                "login": "Divvy",
                "password": password,
                "extra": {
                    "company_id": "ACME-DEMO",
                    "sender_id": "bill.com",
                    "sender_password": "sender-pass-0001",
                    "entity_id": entity,
                    "timeout": 10,
                },
            }
        ),
    )
    return IntacctHook(retry_args={"stop": tenacity.stop_after_attempt(1)})


def test_the_setup_guide_company_passes(preflight):
    report = preflight()
    assert report.errors == []
    assert report.card_default_location == "100"
    assert report.active_ids["gl_account"] >= {"2150", "6100"}
    # Books are closed through Sept 30, before the window's lookback: nothing to report.
    assert [f.check for f in report.warnings] == []


# (mutation, check id, words the fix must contain)
BROKEN = {
    "sender not authorized": (_no_sender, "setup.sender_authorized", "Web Services authorizations"),
    "no permission": (_no_admin_role, "setup.user_permissions", "Administrator role"),
    "income statement account": (
        _set(_gl, ACCOUNTTYPE="incomestatement"),
        "gl_account.accounttype",
        "Account type to Balance Sheet",
    ),
    "debit normal balance": (
        _set(_gl, NORMALBALANCE="debit"),
        "gl_account.normalbalance",
        "Normal balance to Credit",
    ),
    "closing account": (
        _set(_gl, CLOSINGTYPE="closing account"),
        "gl_account.closingtype",
        "Non-Closing Account",
    ),
    "inactive GL account": (_set(_gl, STATUS="inactive"), "gl_account.status", "Status to Active"),
    "direct posting disallowed": (
        _set(_gl, SUBLEDGERCONTROLON=True),
        "gl_account.direct_posting",
        "uncheck 'Disallow direct",
    ),
    "required dimension": (
        _set(_gl, REQUIREDEPT=True),
        "gl_account.required_dimensions",
        "uncheck every dimension",
    ),
    "GL account missing": (_no_gl, "gl_account.exists", "General Ledger > Accounts > Add"),
    "card missing": (_no_card, "card.exists", "Cash Management > Accounts > Credit card > Add"),
    "card inactive": (_set(_card, STATUS="inactive"), "card.active", "Status to Active"),
    "card expiring": (
        _set(_card, EXP_MONTH="November", EXP_YEAR="2026"),
        "card.expiry",
        "expiration date far in the future",
    ),
    "offset is another account": (
        _set(_card, LIABACCTNO="6100"),
        "card.offset_account",
        "'Credit card offset account' to 2150",
    ),
    "default location is no active location": (
        _set(_card, LOCATION="999"),
        "card.default_location",
        "choose an active location as 'Default location'",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_each_broken_setup_is_named_with_its_fix(preflight, case):
    mutate, check, fix_words = BROKEN[case]
    report = preflight(mutate)
    errors = {f.check: f for f in report.errors}
    assert check in errors, [f.line() for f in report.findings]
    assert fix_words in errors[check].fix
    with pytest.raises(Exception, match="nothing was posted"):
        report.raise_if_failed()


def test_wrong_password_names_the_web_services_user(preflight):
    [error] = preflight(password="wrong").errors
    assert error.check == "setup.user_sign_in"
    assert "Company > Web Services Users" in error.fix
    assert "wrong" not in error.line()


@pytest.mark.parametrize("settings_entity", [None, "E200"])
def test_wrong_entity_names_the_entity_the_connection_signed_in_with(preflight, settings_entity):
    settings = {"entity_id": settings_entity} if settings_entity else {}
    [error] = preflight(entity="E999", **settings).errors
    assert error.check == "setup.entity"
    assert "'E999'" in error.message and "'None'" not in error.message
    assert "E200" not in error.line()
    assert "extra 'entity_id' of the Airflow connection 'intacct_default'" in error.fix


def test_retired_sign_in_keys_in_the_settings_are_reported_with_the_value_used(preflight):
    report = preflight(sender_id="bill.com", entity_id="E200")
    assert not report.errors
    found = {f.message: f.severity for f in report.findings if f.check == "settings.retired_key"}
    assert found == {
        "Settings key 'sender_id' ('bill.com') is not read: the sign-in uses the Airflow "
        "connection 'intacct_default', extra 'sender_id' = 'bill.com'.": "info",
        "Settings key 'entity_id' ('E200') is not read: the sign-in uses the Airflow "
        "connection 'intacct_default', extra 'entity_id' = 'E100' (a different value).": "warning",
    }


def test_mapping_targets_must_exist_and_carry_required_dimensions(preflight):
    targets = [
        CodingTarget(source="mapping_rules.csv line 3", gl_account="9999"),
        CodingTarget(source="mapping_rules.csv line 4", gl_account="6250"),  # needs department
        CodingTarget(source="mapping_rules.csv line 5", gl_account="6100", department="99"),
        CodingTarget(
            source="Divvy custom field 'GL Account' value '7777 - X'",
            gl_account="7777",
            blocking=False,
        ),
        CodingTarget(source="mapping_rules.csv line 6", gl_account="6250", department="10"),
    ]
    report = preflight(targets=targets)
    errors = sorted(
        (f.check, f.message.split(" maps")[0].split(" names")[0]) for f in report.errors
    )
    assert ("mapping.gl_account", "mapping_rules.csv line 3") in errors
    assert ("mapping.department", "mapping_rules.csv line 5") in errors
    assert any(
        f.check == "mapping.required_dimension" and "line 4" in f.message for f in report.errors
    )
    assert not any("line 6" in f.message for f in report.findings)
    # A bad Divvy option is data, not setup: a warning, the map step holds those transactions.
    assert any("7777" in f.message for f in report.warnings)
    assert not any("7777" in f.message for f in report.errors)


def test_closed_period_in_the_window_is_reported(preflight):
    def close_november(seed):
        _company(seed)["books_closed_through"] = {"E100": "2026-11-10", "E200": "2026-11-10"}

    report = preflight(close_november)
    [warning] = [f for f in report.warnings if f.check == "periods.closed"]
    assert "2026-11-10" in warning.message and "2026-11-03..2026-11-10" in warning.message
    assert report.books_closed_through == date(2026, 11, 10)


@pytest.mark.parametrize(
    ("policy", "severity", "says"),
    [
        ("fail", "warning", "will fail individually"),
        ("hold", "info", "will be held until the period reopens"),
        ("post_to_first_open_day", "info", "will be posted on the first open day"),
    ],
)
def test_preflight_says_what_the_closed_period_policy_will_do(preflight, policy, severity, says):
    def close_november(seed):
        _company(seed)["books_closed_through"] = {"E100": "2026-11-10", "E200": "2026-11-10"}

    report = preflight(close_november, closed_period_policy=policy)
    [finding] = [f for f in report.findings if f.check == "periods.closed"]
    assert finding.severity == severity
    assert says in finding.message and f"closed_period_policy '{policy}'" in finding.message


def test_an_unreadable_books_closed_date_says_the_policy_applies_on_refusal(preflight):
    def forget_the_object(seed):
        _company(seed)["unknown_objects"] = ["BOOKSCLOSED"]

    report = preflight(forget_the_object, closed_period_policy="hold")
    [warning] = [f for f in report.warnings if f.check == "periods.closed"]
    assert "Could not verify closed periods" in warning.message
    assert "refuses as dated in a closed period will be held" in warning.message


def test_settings_names_are_settings_not_constants(preflight):
    def rename(seed):
        _card(seed)["CARDID"] = "Amex Corporate"
        _gl(seed)["TITLE"] = "Card Liability"

    report = preflight(
        rename, card_account_id="Amex Corporate", divvy_gl_account_title="Card Liability"
    )
    assert report.errors == []


def _card_fields(**names: str | None) -> Callable[[dict], None]:
    """The gateway returns the card's fields under other names (None: not at all)."""
    return lambda seed: _company(seed).update(field_names={"CREDITCARD": names})


def _finding(report, check: str):
    [finding] = [f for f in report.findings if f.check == check]
    return finding


def test_offset_account_is_found_by_value_under_a_name_nobody_guessed(preflight):
    report = preflight(_card_fields(LIABACCTNO="CCOFFSETACCT"))
    assert report.errors == [], [f.line() for f in report.errors]
    found = _finding(report, "card.offset_account")
    assert found.severity == "info"
    assert "CCOFFSETACCT" in found.message and "2150" in found.message
    assert report.card_offset_account == "2150"


def test_an_offset_account_that_cannot_be_read_is_a_warning_saying_what_was_looked_for(
    preflight,
):
    report = preflight(_card_fields(LIABACCTNO=None))
    assert report.errors == [], [f.line() for f in report.errors]
    warning = _finding(report, "card.offset_account")
    assert warning.severity == "warning"
    assert "could not verify" in warning.message.lower()
    for looked_for in ("2150", "LIABACCTNO", "OFFSETACCOUNTNO", "GLACCOUNTNO"):
        assert looked_for in warning.message
    assert "'Credit card offset account'" in warning.fix
    assert report.card_offset_account is None


def test_an_unguessed_field_holding_another_account_is_not_taken_for_the_offset(preflight):
    def other_account(seed):
        _card_fields(LIABACCTNO="CCOFFSETACCT")(seed)
        _card(seed)["LIABACCTNO"] = "6100"

    report = preflight(other_account)
    assert report.errors == []
    warning = _finding(report, "card.offset_account")
    assert warning.severity == "warning" and "CCOFFSETACCT = 6100" in warning.message


def test_an_empty_guessed_offset_field_proves_nothing(preflight):
    report = preflight(_set(_card, LIABACCTNO=""))
    assert report.errors == []
    assert _finding(report, "card.offset_account").severity == "warning"


def _gl_fields(**names: str | None) -> Callable[[dict], None]:
    return lambda seed: _company(seed).update(field_names={"GLACCOUNT": names})


def _unknown_books_closed(seed: dict[str, Any]) -> None:
    _company(seed)["unknown_objects"] = ["BOOKSCLOSED"]


# (mutation, check id, words the warning must contain): facts preflight cannot read.
UNVERIFIABLE = {
    "no default location field": (
        _card_fields(LOCATION=None),
        "card.default_location",
        ["LOCATION", "LOCATIONID", "DEFAULTLOCATION"],
    ),
    # An empty field under a guessed name proves nothing: the real field may be another one.
    "empty guessed default location": (
        _set(_card, LOCATION=""),
        "card.default_location",
        ["LOCATION", "LOCATIONID", "DEFAULTLOCATION"],
    ),
    "no card status field": (_card_fields(STATUS=None), "card.active", ["STATUS"]),
    "no card expiry fields": (
        _card_fields(EXP_MONTH=None, EXP_YEAR=None),
        "card.expiry",
        ["EXP_MONTH", "EXP_YEAR"],
    ),
    "no account type field": (
        _gl_fields(ACCOUNTTYPE=None),
        "gl_account.accounttype",
        ["ACCOUNTTYPE", "2150"],
    ),
    "no direct posting field": (
        _gl_fields(SUBLEDGERCONTROLON=None),
        "gl_account.direct_posting",
        ["SUBLEDGERCONTROLON"],
    ),
    "no required-dimension flags": (
        _gl_fields(**{flag: None for flag in REQUIRED_DIMENSION_FLAGS}),
        "gl_account.required_dimensions",
        ["REQUIREDEPT", "2150"],
    ),
    "no books-closed object": (
        _unknown_books_closed,
        "periods.closed",
        ["BOOKSCLOSED", "CLOSEDTHROUGH"],
    ),
}


@pytest.mark.parametrize("case", sorted(UNVERIFIABLE))
def test_a_fact_that_cannot_be_read_is_a_warning_and_the_run_goes_on(preflight, case):
    mutate, check, looked_for = UNVERIFIABLE[case]
    report = preflight(mutate)
    assert report.errors == [], [f.line() for f in report.errors]
    warning = _finding(report, check)
    assert warning.severity == "warning"
    assert "could not verify" in warning.message.lower()
    for name in looked_for:
        assert name in warning.message
    report.raise_if_failed()


def test_default_location_read_from_the_card_is_named_with_its_field(preflight):
    report = preflight()
    found = _finding(report, "card.default_location")
    assert (found.severity, report.card_default_location) == ("info", "100")
    assert "LOCATION" in found.message


@pytest.mark.parametrize(
    ("default_location", "severity", "says"),
    [
        ("100", "info", "Lines without a mapped location take '100' (default_location)"),
        ("300", "warning", "has the default location '100'"),
        ("999", "error", "'999' of the settings (default_location) does not exist"),
    ],
)
def test_the_default_location_setting_replaces_the_cards(
    preflight, default_location, severity, says
):
    report = preflight(default_location=default_location)
    found = _finding(report, "card.default_location")
    assert found.severity == severity and says in found.message, found
    assert report.card_default_location == default_location


def test_posting_facts_carry_the_required_dimensions_of_active_accounts_read_once(monkeypatch):
    seed = copy.deepcopy(SEED)
    _gl(seed, "6300")["REQUIRECUSTOMER"] = True
    _gl(seed, "6999")["REQUIREDEPT"] = True  # inactive: nothing may post to it anyway
    with running_gateway(seed) as gw:
        hook = _hook(monkeypatch, gw.url)
        facts = read_posting_facts(hook, SyncSettings.from_variable({}))
        account_reads = [
            r for r in gw.requests for obj in r.iter("object") if obj.text == "GLACCOUNT"
        ]
    assert facts.required_dimensions == {"6250": {"department"}, "6300": {"customer"}}
    assert facts.card_default_location == "100"
    assert len(account_reads) == 1


def test_accounts_apart_the_later_of_two_sharing_a_token_or_a_card_stops():
    from intacct_hook.sync.preflight import AccountFacts, PreflightReport, check_accounts_apart

    east = AccountFacts("east", "d1", "ACME", "E100", "CC East")
    west = AccountFacts("west", "d1", "ACME", "E100", "CC West")  # east's token
    north = AccountFacts("north", "d3", "ACME", "E100", "CC East")  # east's card
    south = AccountFacts("south", None, None, None, "CC East")  # unreadable: not compared
    listed = [east, west, north, south]
    findings = {}
    for name in ("east", "west", "north", "south"):
        report = PreflightReport()
        check_accounts_apart(report, name, listed)
        findings[name] = sorted((f.severity, f.message.split(":")[0][:60]) for f in report.findings)
    assert [s for s, _ in findings["east"]] == ["warning", "warning"]  # listed first: goes on
    assert [s for s, _ in findings["west"]] == ["error"]
    assert [s for s, _ in findings["north"]] == ["error"]
    assert findings["south"] == []
