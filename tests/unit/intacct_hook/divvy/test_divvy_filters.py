"""The ``filters`` syntax and half-open windows, without a server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from intacct_hook.divvy.filters import (
    FilterError,
    TransactionWindow,
    build_filters,
    filter_term,
    format_datetime,
)
from intacct_hook.divvy.records import TransactionType
from tests.divvy_factories import txn

AUG1 = datetime(2026, 8, 1, tzinfo=UTC)
AUG2 = datetime(2026, 8, 2, tzinfo=UTC)


def test_datetimes_are_quoted_utc_milliseconds():
    eastern = timezone(timedelta(hours=-5))
    assert format_datetime(datetime(2026, 8, 1, 19, 0, tzinfo=eastern)) == (
        '"2026-08-02T00:00:00.000Z"'
    )
    assert format_datetime(datetime(2026, 8, 1, 1, 2, 3, 456789, tzinfo=UTC)) == (
        '"2026-08-01T01:02:03.456Z"'
    )
    # The upper bound rounds up so a row at .4567 is still inside "lte .457".
    assert format_datetime(datetime(2026, 8, 1, 1, 2, 3, 456789, tzinfo=UTC), round_up=True) == (
        '"2026-08-01T01:02:03.457Z"'
    )
    assert format_datetime(AUG1, round_up=True) == '"2026-08-01T00:00:00.000Z"'
    with pytest.raises(FilterError, match="no timezone"):
        format_datetime(datetime(2026, 8, 1))


def test_terms_per_value_type():
    assert filter_term("type", "in", [TransactionType.CLEAR, "DECLINE"]) == (
        'type:in:"CLEAR,DECLINE"'
    )
    assert filter_term("type", "ne", TransactionType.DECLINE) == 'type:ne:"DECLINE"'
    assert filter_term("complete", "eq", True) == "complete:eq:true"
    assert filter_term("amount", "gte", Decimal("10.50")) == "amount:gte:10.50"
    assert filter_term("syncStatus", "nin", ("SYNCED", "MANUAL_SYNCED")) == (
        'syncStatus:nin:"SYNCED,MANUAL_SYNCED"'
    )
    assert filter_term("budgetId", "eq", "bgt_1") == 'budgetId:eq:"bgt_1"'


@pytest.mark.parametrize(
    ("field", "op", "value", "match"),
    [
        ("occurredTime", "eq", AUG1, "does not support 'eq'"),
        ("occurredTime", "lt", AUG1, "does not support 'lt'"),
        ("updatedTime", "gt", AUG1, "does not support 'gt'"),
        ("status", "eq", "COMPLETE", "'status' cannot be filtered on"),
        ("transactionType", "eq", "CLEAR", "cannot be filtered on"),
        ("type", "like", "CLEAR", "unknown filter operator"),
        ("complete", "ne", True, "does not support 'ne'"),
        ("type", "in", "CLEAR", "needs a list"),
        ("type", "in", [], "at least one"),
        ("merchantName", "eq", 'Joe\'s "Diner"', "double quote"),
        ("transactionIds", "in", ["a,b"], "commas"),
        ("amount", "gte", 10.5, "not float"),
    ],
)
def test_refuses_what_the_api_would_reject_or_misread(field, op, value, match):
    with pytest.raises(FilterError, match=match):
        filter_term(field, op, value)


def test_window_filters_are_comma_joined_half_open_terms():
    window = TransactionWindow(
        occurred_from=AUG1, occurred_to=AUG2, updated_from=AUG1, updated_to=AUG2
    )
    assert window.to_filters(extra=[filter_term("type", "ne", "DECLINE")]) == (
        'occurredTime:gte:"2026-08-01T00:00:00.000Z",occurredTime:lte:"2026-08-02T00:00:00.000Z",'
        'updatedTime:gte:"2026-08-01T00:00:00.000Z",updatedTime:lte:"2026-08-02T00:00:00.000Z",'
        'type:ne:"DECLINE"'
    )
    assert "updatedTime:lte" not in window.to_filters(updated_upper_bound=False)
    assert TransactionWindow().to_filters() == "" and TransactionWindow().is_open
    assert build_filters(["a:eq:1", "b:eq:2"]) == "a:eq:1,b:eq:2"


def test_window_contains_is_half_open_at_day_boundaries():
    window = TransactionWindow(occurred_from=AUG1, occurred_to=AUG2)
    last_ms = txn(occurredTime="2026-08-01T23:59:59.999+00:00")
    next_day = txn(occurredTime="2026-08-02T00:00:00.000+00:00")
    first_ms = txn(occurredTime="2026-08-01T00:00:00.000+00:00")
    before = txn(occurredTime="2026-07-31T23:59:59.999+00:00")
    assert window.contains(last_ms) and window.contains(first_ms)
    assert not window.contains(next_day) and not window.contains(before)


def test_updated_window_checks_updated_time_and_needs_one():
    window = TransactionWindow(updated_from=AUG1, updated_to=AUG2)
    late_clear = txn(
        occurredTime="2026-07-20T10:00:00.000+00:00", updatedTime="2026-08-01T08:00:00.000+00:00"
    )
    assert window.contains(late_clear)
    assert not window.contains(txn(updatedTime=None))
    assert not window.contains(txn(updatedTime="2026-08-02T00:00:00.000+00:00"))


def test_window_validation():
    with pytest.raises(FilterError, match="empty window"):
        TransactionWindow(occurred_from=AUG2, occurred_to=AUG1)
    with pytest.raises(FilterError, match="timezone-aware"):
        TransactionWindow(updated_from=datetime(2026, 8, 1))
    assert TransactionWindow(occurred_from=AUG1).describe() == (
        "occurred [2026-08-01T00:00:00Z, …)"
    )
