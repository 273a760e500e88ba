"""The dimension push's diff: Intacct records vs a Divvy field's values (no I/O)."""

from __future__ import annotations

import pytest

from intacct_hook.sync.dimension_push import (
    CurrentValue,
    GLAccountFilter,
    Record,
    plan_field,
    value_text,
)
from intacct_hook.sync.rules import intacct_id


def cur(*texts: str) -> list[CurrentValue]:
    return [CurrentValue(f"tvl_{i}", t) for i, t in enumerate(texts)]


def summary(diff) -> list[tuple[str, str, str | None]]:
    return [(c.action, c.text, c.old) for c in diff.changes]


def test_value_text_is_what_the_map_step_reads_back() -> None:
    assert value_text("6100", "Office Supplies") == "6100 - Office Supplies"
    assert value_text("P-100", "Web - Relaunch") == "P-100 - Web - Relaunch"
    assert value_text("C1", "") == "C1"
    assert value_text("10", "Sales\n East ") == "10 - Sales East"
    for rid, name in [("6100", "Office"), ("P-100", "X"), ("C1", "")]:
        assert intacct_id(value_text(rid, name)) == rid


def test_matching_values_change_nothing() -> None:
    records = [Record("10", "Sales", True), Record("20", "Engineering", True)]
    diff = plan_field("department", "Department", records, cur("10 - Sales", "20 - Engineering"))
    assert diff.changes == [] and diff.unchanged == 2 and not diff.changed
    assert diff.counts() == {
        "create_field": 0, "create": 0, "rename": 0, "retire": 0, "unchanged": 2,
    }  # fmt: skip


def test_create_rename_retire_and_unmatched() -> None:
    records = [
        Record("10", "Sales", True),
        Record("20", "Engineering & IT", True),  # renamed in Intacct
        Record("30", "Operations", False, "inactive in Intacct"),
        Record("40", "Legal", True),  # new
        Record("50", "Old", False, "inactive in Intacct"),  # inactive, not in Divvy: nothing
    ]
    current = cur("10 - Sales", "20 - Engineering", "30 - Operations", "99 - Typed by hand")
    diff = plan_field("department", "Department", records, current)
    assert summary(diff) == [
        ("create", "40 - Legal", None),
        ("rename", "20 - Engineering & IT", "20 - Engineering"),
        ("retire", "30 - Operations", None),
    ]
    retire = diff.changes[-1]
    assert retire.value_uuid == "tvl_2" and retire.reason == "inactive in Intacct"
    assert diff.changes[1].value_uuid == "tvl_1"
    assert diff.unchanged == 1
    assert diff.unmatched == ["99 - Typed by hand"]  # never retired: Intacct does not know it


def test_missing_field_is_created_with_every_wanted_value() -> None:
    records = [Record("C1", "Core", True), Record("C2", "Growth", False, "inactive in Intacct")]
    diff = plan_field("class", "Class", records, None)
    assert summary(diff) == [("create_field", "Class", None), ("create", "C1 - Core", None)]


def test_second_value_for_one_id_is_retired_as_replaced() -> None:
    records = [Record("6100", "Office Supplies", True), Record("6200", "Travel", True)]
    current = cur("6100 - Office Supplies", "6100 - Office supplies (old)", "6200 - Trips", "6200")
    diff = plan_field("gl_account", "GL Account", records, current)
    assert summary(diff) == [
        ("rename", "6200 - Travel", "6200 - Trips"),
        ("retire", "6100 - Office supplies (old)", None),
        ("retire", "6200", None),
    ]
    assert diff.changes[1].reason == "replaced by '6100 - Office Supplies'"


def test_unofferable_ids_are_problems_not_values() -> None:
    records = [
        Record("61 00", "Spaced", True),
        Record("7000-", "Dash", True),
        Record("", "No ID", True),
        Record("10", "Sales", True),
        Record("10", "Sales again", True),
    ]
    diff = plan_field("department", "Department", records, cur())
    assert summary(diff) == [("create", "10 - Sales", None)]
    assert len(diff.problems) == 4
    assert "'61 00' cannot be offered" in diff.problems[0]
    assert "'7000-' cannot be offered" in diff.problems[1]
    assert "twice" in diff.problems[3]


def test_diff_lines_and_public_dict() -> None:
    records = [Record("10", "Sales", True), Record("30", "Ops", False, "inactive in Intacct")]
    diff = plan_field("department", "Department", records, cur("10 - Sale", "30 - Ops"))
    lines = diff.lines()
    assert lines[0].startswith("department → Divvy custom field 'Department': ")
    assert lines[0].endswith("(planned (dry run))")
    assert "  rename  '10 - Sale' → '10 - Sales'" in lines
    assert "  retire  '30 - Ops' (inactive in Intacct)" in lines
    public = diff.to_public_dict()
    assert public["counts"]["rename"] == 1 and public["applied"] is False
    assert public["changes"][1] == {
        "action": "retire", "value": "30 - Ops", "reason": "inactive in Intacct",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("flt", "account", "selected"),
    [
        (GLAccountFilter(), ("6100", "incomestatement", ""), True),
        (GLAccountFilter(), ("2150", "balancesheet", ""), False),
        (GLAccountFilter(account_types=()), ("2150", "balancesheet", ""), True),
        (
            GLAccountFilter(card_account_no="2150", account_types=()),
            ("2150", "balancesheet", ""),
            False,
        ),
        (
            GLAccountFilter(card_account_title="Divvy GL Account", account_types=()),
            ("2150", "balancesheet", "", "divvy gl account"),
            False,
        ),
        (
            GLAccountFilter(card_account_title="Divvy GL Account"),
            ("6100", "incomestatement", "", "Office"),
            True,
        ),
        (GLAccountFilter(categories=("Travel",)), ("6200", "incomestatement", "travel"), True),
        (GLAccountFilter(categories=("Travel",)), ("6300", "incomestatement", "Meals"), False),
        (GLAccountFilter(accounts=("6300",), account_types=()), ("6300", "x", ""), True),
        (GLAccountFilter(accounts=("6300",), account_types=()), ("6100", "x", ""), False),
    ],
)
def test_gl_account_filter(flt: GLAccountFilter, account: tuple, selected: bool) -> None:
    assert (flt.why_not(*account) is None) is selected
