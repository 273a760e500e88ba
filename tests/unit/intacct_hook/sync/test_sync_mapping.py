"""Mapping precedence, provenance per value, and the reasons a transaction stays unmapped."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest

from intacct_hook.divvy.records import DivvyTransaction
from intacct_hook.sync.ledger import MappedLine
from intacct_hook.sync.mapping import lines_frame, map_lines
from intacct_hook.sync.rules import parse_rules

RULES = parse_rules(
    "match_field,match_value,gl_account,location,department,class,project,note\n"
    "merchant,Shell*,6600,,,,,\n"  # line 2
    "budget,Marketing,6500,200,10,C2,,\n"  # line 3
    "mcc,5811-5814,6300,,,,,\n"  # line 4
    "budget,Marketing,,,,,P-100,\n"  # line 5: adds project to line 3's match
    "custom_field:Trip,Client visit,6250,,10,,,\n",  # line 6
    source="rules.csv",
)
ACTIVE = {
    "gl_account": {"6100", "6200", "6250", "6300", "6500", "6600", "6900"},
    "location": {"100", "200", "300"},
    "department": {"10", "20", "30"},
    "class": {"C1", "C2"},
    "project": {"P-100", "P-200"},
}


def line(uuid="txr_1", line_no=1, amount="53.03", **kw):
    return {
        "uuid": uuid,
        "line_no": line_no,
        "source_uuid": kw.pop("source_uuid", uuid),
        "amount": Decimal(amount),
        "custom_fields": kw.pop("custom_fields", {}),
        "budget_name": kw.pop("budget_name", "Operations"),
        "budget_uuid": kw.pop("budget_uuid", "bgt_ops"),
        "mcc": kw.pop("mcc", "5942"),
        "merchant": kw.pop("merchant", "Book Store"),
        **kw,
    }


def map_one(rules=RULES, **kw):
    options = {k: kw.pop(k) for k in list(kw) if k in OPTIONS}
    result = map_lines(pd.DataFrame([line(**kw)]), rules, **options)
    (outcome,) = result.outcomes()
    return outcome


OPTIONS = {
    "field_names",
    "default_gl_account",
    "card_default_location",
    "valid_ids",
    "required_dimensions",
}


def coding(outcome):
    (ml,) = outcome.lines
    return {
        "gl": (ml.gl_account_no, ml.gl_account_rule),
        "location": (ml.location_id, ml.location_rule),
        "department": (ml.department_id, ml.department_rule),
        "class": (ml.class_id, ml.class_rule),
        "project": (ml.project_id, ml.project_rule),
    }


def test_custom_fields_carry_the_coding_and_beat_rules():
    out = map_one(
        budget_name="Marketing",
        custom_fields={
            "GL Account": ("6100 - Office Supplies",),
            "Location": ("300 - Field Office",),
            "Department": ("20 - Engineering",),
            "Class": ("C1",),
            "Project": ("P-200 - Website",),
        },
        card_default_location="100",
    )
    assert out.state == "ready" and out.reason is None
    assert coding(out) == {
        "gl": ("6100", "custom field 'GL Account'"),
        "location": ("300", "custom field 'Location'"),
        "department": ("20", "custom field 'Department'"),
        "class": ("C1", "custom field 'Class'"),
        "project": ("P-200", "custom field 'Project'"),
    }


def test_rules_fill_only_what_the_custom_fields_leave_empty():
    out = map_one(budget_name="Marketing", custom_fields={"GL Account": ("6100 - Office",)})
    assert coding(out) == {
        "gl": ("6100", "custom field 'GL Account'"),
        "location": ("200", "rules.csv line 3"),
        "department": ("10", "rules.csv line 3"),
        "class": ("C2", "rules.csv line 3"),
        "project": ("P-100", "rules.csv line 5"),
    }


def test_first_matching_rule_in_file_order_wins_per_dimension():
    # Shell (line 2) and Marketing (line 3) both match: line 2 gives the GL account, line 3
    # still gives what line 2 does not set.
    out = map_one(merchant="Shell 1234", budget_name="Marketing", mcc="5812")
    c = coding(out)
    assert c["gl"] == ("6600", "rules.csv line 2")
    assert c["department"] == ("10", "rules.csv line 3")


def test_mcc_and_custom_field_rules():
    assert coding(map_one(mcc="5813"))["gl"] == ("6300", "rules.csv line 4")
    out = map_one(custom_fields={"Trip": ("Client visit",)})
    assert coding(out)["gl"] == ("6250", "rules.csv line 6")
    assert coding(out)["department"] == ("10", "rules.csv line 6")


def test_default_account_comes_after_rules():
    assert coding(map_one(default_gl_account="6900"))["gl"] == ("6900", "default account")
    assert coding(map_one(mcc="5812", default_gl_account="6900"))["gl"] == (
        "6300",
        "rules.csv line 4",
    )


def test_location_falls_back_to_the_card_default_location_last():
    out = map_one(mcc="5812", card_default_location="100")
    assert coding(out)["location"] == ("100", "card default location")
    out = map_one(budget_name="Marketing", card_default_location="100")
    assert coding(out)["location"] == ("200", "rules.csv line 3")


def test_configured_field_names_and_disabled_fields():
    names = {"gl_account": "Sage GL", "location": None, "department": "Department",
             "class": "Class", "project": "Project"}  # fmt: skip
    out = map_one(
        field_names=names,
        custom_fields={"Sage GL": ("6200 - Travel",), "Location": ("300 - Field",)},
        card_default_location="100",
    )
    assert coding(out)["gl"] == ("6200", "custom field 'Sage GL'")
    assert coding(out)["location"] == ("100", "card default location")


def test_no_gl_account_reason_names_what_was_looked_at():
    out = map_one(budget_name="Travel", mcc="7999", merchant="Joe's Diner")
    assert out.state == "unmapped"
    assert out.reason == (
        "no GL account: custom field 'GL Account' is empty and no rule in rules.csv matches "
        "budget 'Travel' / MCC 7999 / merchant \"Joe's Diner\"; code it in Divvy, add a rule, "
        "or set default_gl_account"
    )
    assert out.lines[0].gl_account_no is None  # partial coding is still stored for inspection


def test_several_values_in_a_custom_field_are_unmapped():
    out = map_one(custom_fields={"GL Account": ("6100 - Office", "6200 - Travel")})
    assert out.state == "unmapped"
    assert out.reason == (
        "custom field 'GL Account' has several values (6100, 6200); keep one in Divvy"
    )


def test_the_same_id_twice_is_not_a_conflict():
    out = map_one(custom_fields={"GL Account": ("6100 - Office", "6100")})
    assert out.state == "ready"


@pytest.mark.parametrize(
    ("kw", "reason"),
    [
        (
            {"custom_fields": {"GL Account": ("6999 - Old Expenses",)}},
            "GL account '6999' (from custom field 'GL Account') does not exist in Intacct "
            "or is not active; choose another value for 'GL Account' in Divvy or activate it "
            "in Intacct",
        ),
        (
            {"default_gl_account": "6999"},
            "GL account '6999' (from default account) does not exist in Intacct or is not active; "
            "change the default_gl_account setting or activate the account in Intacct",
        ),
        (
            {"mcc": "5812", "card_default_location": "999"},
            "location '999' (from card default location) does not exist in Intacct or is not "
            "active; "
            "fix the credit card account's default location in Intacct",
        ),
        (
            {"mcc": "5812", "custom_fields": {"Class": ("C9 - Gone",)}},
            "class 'C9' (from custom field 'Class') does not exist in Intacct or is not active; "
            "choose another value for 'Class' in Divvy or activate it in Intacct",
        ),
    ],
)
def test_ids_that_are_not_active_in_intacct_are_unmapped(kw, reason):
    out = map_one(valid_ids=ACTIVE, **kw)
    assert (out.state, out.reason) == ("unmapped", reason)


def test_an_inactive_id_from_a_rule_names_the_rule_line():
    rules = parse_rules(
        "match_field,match_value,gl_account,location,department,class,project,note\n"
        "mcc,5812,6999,,,,,\n",
        source="rules.csv",
    )
    out = map_one(rules=rules, mcc="5812", valid_ids=ACTIVE)
    assert out.reason == (
        "GL account '6999' (from rules.csv line 2) does not exist in Intacct or is not active; "
        "fix rules.csv line 2 or activate the GL account in Intacct"
    )


def test_dimensions_without_a_valid_id_set_are_not_checked():
    out = map_one(mcc="5812", valid_ids={"location": {"100"}}, card_default_location="100")
    assert out.state == "ready"


def test_one_bad_line_holds_the_whole_transaction():
    frame = pd.DataFrame(
        [
            line("txr_s", 1, "30.00", source_uuid="txr_c1", mcc="5812"),
            line("txr_s", 2, "23.03", source_uuid="txr_c2", mcc="7999"),
            line("txr_ok", 1, "5.00", mcc="5812"),
        ]
    )
    result = map_lines(frame, RULES)
    tx = result.transactions.set_index("uuid")
    assert tx.loc["txr_s", "state"] == "unmapped"
    assert tx.loc["txr_s", "reason"].startswith("line 2: no GL account")
    assert (tx.loc["txr_s", "line_count"], tx.loc["txr_s", "amount"]) == (2, Decimal("53.03"))
    assert tx.loc["txr_ok", "state"] == "ready"
    assert list(result.unmapped()["uuid"]) == ["txr_s"]
    outcomes = {o.uuid: o for o in result.outcomes()}
    assert [ml.source_uuid for ml in outcomes["txr_s"].lines] == ["txr_c1", "txr_c2"]
    assert outcomes["txr_ok"].lines == (
        MappedLine(
            line_no=1,
            source_uuid="txr_ok",
            amount=Decimal("5.00"),
            gl_account_no="6300",
            gl_account_rule="rules.csv line 4",
        ),
    )


def test_empty_input_and_missing_columns():
    result = map_lines(pd.DataFrame(columns=list(line())), RULES)
    assert result.transactions.empty and list(result.outcomes()) == []
    with pytest.raises(ValueError, match="lacks column"):
        map_lines(pd.DataFrame([{"uuid": "x"}]), RULES)


def test_float_amounts_are_refused():
    with pytest.raises(TypeError, match="Decimal"):
        map_lines(pd.DataFrame([line() | {"amount": 53.03}]), RULES)


def _divvy(**overrides):
    data = {
        "uuid": "txr_p",
        "transactionType": "CLEAR",
        "amount": 80.5,
        "occurredTime": "2026-08-01T12:00:00.000+00:00",
        "merchantName": "Shell Oil",
        "merchantCategoryCode": "5541",
        "userName": "Jane Doe",
        "budgetName": "Field Operations",
        "budgetUuid": "bgt_field",
        "note": "site visit",
        "customFields": [
            {"name": "Department", "selectedValues": [{"value": "30 - Operations"}]},
        ],
    }
    data.update(overrides)
    return DivvyTransaction.from_json(data)


def test_lines_frame_from_divvy_transactions_and_splits():
    plain = _divvy()
    parent = _divvy(uuid="txr_split", amount=100, childTransactionUuids=["txr_a", "txr_b"])
    child_a = _divvy(
        uuid="txr_a",
        amount=60,
        budgetName=None,
        merchantName=None,
        customFields=[{"name": "GL Account", "selectedValues": [{"value": "6200"}]}],
    )
    child_b = _divvy(uuid="txr_b", amount=40, customFields=[])  # fmt: skip
    frame = lines_frame([plain, parent.with_children([child_a, child_b])])
    assert list(zip(frame["uuid"], frame["line_no"], frame["source_uuid"], strict=True)) == [
        ("txr_p", 1, "txr_p"),
        ("txr_split", 1, "txr_a"),
        ("txr_split", 2, "txr_b"),
    ]
    assert frame.loc[0, "description"] == "Jane Doe | Field Operations | site visit"
    assert frame.loc[1, "merchant"] == "Shell Oil"  # inherited from the parent
    result = map_lines(frame, RULES, card_default_location="100")
    lines = {ml.source_uuid: ml for o in result.outcomes() for ml in o.lines}
    assert (lines["txr_a"].gl_account_no, lines["txr_a"].gl_account_rule) == (
        "6200",
        "custom field 'GL Account'",
    )
    assert (lines["txr_b"].gl_account_no, lines["txr_b"].gl_account_rule) == (
        "6600",
        "rules.csv line 2",
    )
    assert lines["txr_p"].department_id == "30"
    assert lines["txr_a"].amount == Decimal("60")
    # An uncoded child is coded like its parent, exactly as the posting rules decided.
    assert (lines["txr_b"].department_id, lines["txr_b"].department_rule) == (
        "30",
        "custom field 'Department'",
    )
    assert lines["txr_a"].department_id is None  # a coded child stands on its own coding


def test_memo_from_a_free_text_custom_field_reaches_the_description():
    memo = {"name": "Memo", "note": "Team lunch with ACME", "selectedValues": []}
    frame = lines_frame([_divvy(note=None, customFields=[memo])])
    assert frame.loc[0, "description"] == "Jane Doe | Field Operations | Team lunch with ACME"


# As read from Intacct once per run (read_posting_facts): 6250 requires a department.
REQUIRED = {"6250": frozenset({"department"}), "6200": frozenset({"location"})}


def test_a_line_without_a_dimension_its_account_requires_is_held_naming_record_and_fix():
    out = map_one(
        uuid="txr_client",
        custom_fields={"GL Account": ("6250 - Travel - Client",)},
        required_dimensions=REQUIRED,
    )
    assert out.state == "unmapped"
    assert out.reason == (
        "Divvy record txr_client: GL account '6250' (from custom field 'GL Account') requires "
        "a department in Intacct and the line has none; choose a value for 'Department' in "
        "Divvy, add a department to a rule in rules.csv that matches it, or uncheck the "
        "required Department dimension of 6250 in Intacct (General Ledger > Accounts)"
    )


@pytest.mark.parametrize(
    "kw",
    [
        {"custom_fields": {"GL Account": ("6250 - Travel",), "Department": ("10 - Sales",)}},
        {"custom_fields": {"Trip": ("Client visit",)}},  # rules.csv line 6 gives 6250 and 10
        {"mcc": "3000", "card_default_location": "100"},  # 6200 needs a location: the card's
    ],
    ids=["department from Divvy", "department from the same rule", "card default location"],
)
def test_a_required_dimension_from_any_source_satisfies_the_account(kw):
    rules = parse_rules(
        "match_field,match_value,gl_account,location,department,class,project,note\n"
        "custom_field:Trip,Client visit,6250,,10,,,\n"
        "mcc,3000,6200,,,,,\n",
        source="rules.csv",
    )
    out = map_one(rules=rules, required_dimensions=REQUIRED, **kw)
    assert (out.state, out.reason) == ("ready", None)


def test_a_required_location_without_a_card_default_is_held():
    rules = parse_rules(
        "match_field,match_value,gl_account,location,department,class,project,note\n"
        "mcc,3000,6200,,,,,\n",
        source="rules.csv",
    )
    out = map_one(rules=rules, mcc="3000", required_dimensions=REQUIRED)
    assert out.state == "unmapped"
    assert "GL account '6200' (from rules.csv line 2) requires a location" in out.reason
    assert "set the credit card account's default location" in out.reason


def test_a_dimension_the_sync_cannot_supply_holds_every_line_on_that_account():
    out = map_one(mcc="5812", required_dimensions={"6300": frozenset({"customer"})})
    assert out.state == "unmapped"
    assert "GL account '6300' (from rules.csv line 4) requires the Customer dimension" in (
        out.reason
    )
    assert "this sync cannot supply" in out.reason


def test_only_the_split_line_missing_the_dimension_is_named():
    frame = pd.DataFrame(
        [
            line("txr_s", 1, "30.00", source_uuid="txr_c1", mcc="5812"),
            line("txr_s", 2, "23.03", source_uuid="txr_c2",
                 custom_fields={"GL Account": ("6250 - Travel - Client",)}),
        ]
    )  # fmt: skip
    result = map_lines(frame, RULES, required_dimensions=REQUIRED)
    [tx] = result.transactions.to_dict("records")
    assert tx["state"] == "unmapped"
    assert tx["reason"].startswith("line 2: Divvy record txr_c2: GL account '6250'")
    assert "line 1" not in tx["reason"]


def test_without_required_dimensions_nothing_is_held_for_them():
    out = map_one(custom_fields={"GL Account": ("6250 - Travel - Client",)})
    assert out.state == "ready"
