from __future__ import annotations

from datetime import date
from decimal import Decimal

from intacct_hook.sync.reconcile import ExpectedPosting, IntacctPosting, Shift, compare

D1, D2 = date(2026, 11, 16), date(2026, 11, 17)


def test_matching_sides_reconcile_with_totals():
    exp = [
        ExpectedPosting("txr_a", D1, Decimal("10.00")),
        ExpectedPosting("txr_b", D1, Decimal("-2.50")),
    ]
    act = [
        IntacctPosting("1", "txr_a", D1, Decimal("10.00")),
        IntacctPosting("2", "txr_b", D1, Decimal("-2.50")),
    ]
    result = compare(exp, act, [D1, D2])
    assert result.matched
    day = result.summary()["days"][D1.isoformat()]
    assert day == {
        "divvy_count": 2,
        "divvy_total": "7.50",
        "intacct_count": 2,
        "intacct_total": "7.50",
        "status": "matched",
    }
    assert D2.isoformat() not in result.summary()["days"]  # empty days stay out of XCom


def test_every_kind_of_difference_is_reported_on_its_day():
    exp = [
        ExpectedPosting("txr_missing", D1, Decimal("5.00")),
        ExpectedPosting("txr_amount", D1, Decimal("5.00")),
        ExpectedPosting("txr_date", D2, Decimal("7.00")),
    ]
    act = [
        IntacctPosting("11", "txr_amount", D1, Decimal("5.01")),
        IntacctPosting("12", "txr_date", D1, Decimal("7.00")),
        IntacctPosting("13", "MANUAL-1", D2, Decimal("99.00")),
        IntacctPosting("14", None, D2, Decimal("1.00")),
    ]
    result = compare(exp, act, [D1, D2])
    kinds = sorted((d.posting_date, d.kind, d.divvy_uuid or "") for d in result.differences)
    assert kinds == [
        (D1, "amount_differs", "txr_amount"),
        (D1, "missing_in_intacct", "txr_missing"),
        (D2, "date_differs", "txr_date"),
        (D2, "extra_in_intacct", ""),
        (D2, "extra_in_intacct", "MANUAL-1"),
    ]
    assert result.summary()["differences"] == {
        "amount_differs": 1,
        "missing_in_intacct": 1,
        "date_differs": 1,
        "extra_in_intacct": 2,
    }
    by_day = {d.posting_date: d for d in result.days}
    assert (by_day[D1].intacct_count, by_day[D1].intacct_total) == (2, Decimal("12.01"))
    assert (by_day[D2].intacct_count, by_day[D2].intacct_total) == (2, Decimal("100.00"))


def test_a_second_record_with_the_same_reference_is_extra():
    exp = [ExpectedPosting("txr_a", D1, Decimal("10.00"))]
    act = [
        IntacctPosting("1", "txr_a", D1, Decimal("10.00")),
        IntacctPosting("2", "txr_a", D1, Decimal("10.00")),
    ]
    result = compare(exp, act, [D1])
    assert [(d.kind, d.intacct_record_no) for d in result.differences] == [
        ("extra_in_intacct", "2")
    ]


def test_records_outside_the_window_are_ignored():
    act = [IntacctPosting("1", "OLD", date(2026, 1, 1), Decimal("3.00"))]
    assert compare([], act, [D1]).matched


def test_intacct_row_parsing_accepts_wire_dates():
    row = {
        "RECORDNO": "7",
        "RECORDID": "txr_a",
        "WHENCREATED": "11/16/2026",
        "TOTALENTERED": "12.30",
    }
    p = IntacctPosting.from_record(row)
    assert (p.record_no, p.reference_no, p.posting_date, p.amount) == (
        "7",
        "txr_a",
        D1,
        Decimal("12.30"),
    )


def test_re_dated_postings_are_compared_on_the_day_posted_and_listed_as_shifts():
    # Purchased Sep 29 and 30 (books closed), posted on Oct 1; the window is Sep 30..Oct 1.
    days = [date(2026, 9, 30), date(2026, 10, 1)]
    expected = [ExpectedPosting("a", date(2026, 10, 1), Decimal("5.00"))]
    expected += [ExpectedPosting("b", date(2026, 10, 1), Decimal("7.00"))]
    actual = [
        IntacctPosting("1", "a", date(2026, 10, 1), Decimal("5.00")),
        IntacctPosting("2", "b", date(2026, 10, 1), Decimal("7.00")),
    ]
    result = compare(expected, actual, days)
    result.shifts = [
        Shift("a", date(2026, 9, 29), date(2026, 10, 1), Decimal("5.00")),
        Shift("b", date(2026, 9, 30), date(2026, 10, 1), Decimal("7.00")),
    ]

    assert result.matched
    redated = result.summary()["redated"]
    assert (redated["count"], redated["total"]) == (2, "12.00")
    # "a" moved into the window from a purchase date before it; "b" moved within it.
    assert redated["shifted_in"] == {"count": 1, "total": "5.00"}
    assert redated["shifted_out"] == {"count": 0, "total": "0.00"}
    assert redated["shifts"][0] == "a: purchased 2026-09-29, posted 2026-10-01 (5.00)"
