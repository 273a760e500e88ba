"""Reconcile: Divvy's postable transactions against what Intacct actually holds, per posting day.

The Intacct side is always read back from Intacct (never from our own ledger), so a record that
someone posted by hand, deleted, or changed shows up as a difference.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Literal

DifferenceKind = Literal["missing_in_intacct", "extra_in_intacct", "amount_differs", "date_differs"]
ZERO = Decimal("0.00")
MATCHED = "matched"
DIFFERS = "differs"


def day_status(
    divvy: tuple[int, Decimal], intacct: tuple[int, Decimal], differences: Sequence[Any]
) -> str:
    """The one definition of a matched day: no row-level difference, and Divvy's count and total
    equal Intacct's. Both are checked: totals could agree while records differ, and a difference
    found elsewhere must never read as matched because the sums happen to agree."""
    return MATCHED if not differences and tuple(divvy) == tuple(intacct) else DIFFERS


# Slots: reconcile holds one per expected transaction of the window (100k at issue 10's size).
@dataclass(frozen=True, slots=True)
class ExpectedPosting:
    """A Divvy transaction that should exist in Intacct (reference number = Divvy uuid)."""

    uuid: str
    posting_date: date
    amount: Decimal
    note: str | None = None  # why it is expected, when that is not obvious (shown if missing)


@dataclass(frozen=True, slots=True)
class Shift:
    """A transaction posted on another day than its purchase: the books were closed on the
    purchase date (closed_period_policy ``post_to_first_open_day``, sync/closed_periods.py).
    Reconcile compares it on ``posted_date``, and reports it so that totals by purchase date
    can still be tied to Divvy's."""

    uuid: str
    purchase_date: date
    posted_date: date
    amount: Decimal


@dataclass(frozen=True, slots=True)
class ChainRecord:
    """A record a change after posting left in Intacct (re-coding, sync/recoding.py): the
    reversed original or its reversal. Both carry the original's reference number, so they
    are expected by RECORDNO; per change they net to zero."""

    record_no: str
    uuid: str  # the Divvy transaction
    role: Literal["original", "reversal"]
    posting_date: date
    amount: Decimal


@dataclass(frozen=True)
class IntacctPosting:
    record_no: str
    reference_no: str | None
    posting_date: date
    amount: Decimal

    @classmethod
    def from_record(cls, row: Mapping[str, Any]) -> IntacctPosting:
        when = row.get("WHENCREATED")
        if not isinstance(when, date):
            month, day, year = str(when).split(" ")[0].split("/")
            when = date(int(year), int(month), int(day))
        amount = row.get("TOTALENTERED")
        return cls(
            record_no=str(row.get("RECORDNO")),
            reference_no=(str(row["RECORDID"]) if row.get("RECORDID") else None),
            posting_date=when,
            amount=Decimal(str(amount if amount not in (None, "") else "0")),
        )


@dataclass(frozen=True)
class Difference:
    """One row-level difference; the ledger stores it as is."""

    posting_date: date
    kind: DifferenceKind
    divvy_uuid: str | None = None
    intacct_record_no: str | None = None
    divvy_amount: Decimal | None = None
    intacct_amount: Decimal | None = None
    detail: str | None = None


@dataclass(frozen=True)
class DayTotals:
    posting_date: date
    divvy_count: int
    divvy_total: Decimal
    intacct_count: int
    intacct_total: Decimal
    differences: tuple[Difference, ...]

    @property
    def status(self) -> str:
        return day_status(
            (self.divvy_count, self.divvy_total),
            (self.intacct_count, self.intacct_total),
            self.differences,
        )


@dataclass
class ReconcileResult:
    days: list[DayTotals] = field(default_factory=list)
    #: Re-dated transactions whose purchase or posted date is in the window (closed periods).
    shifts: list[Shift] = field(default_factory=list)
    #: Originals and reversals of changes after posting dated in the window (re-coding).
    chain: list[ChainRecord] = field(default_factory=list)

    def chain_summary(self) -> dict[str, Any]:
        """The re-coding chains of the window: their records, and their net (zero when each
        change's original and reversal are both in the window)."""
        return {
            "records": len(self.chain),
            "changes": len({c.uuid for c in self.chain}),
            "net": str(sum((c.amount for c in self.chain), ZERO)),
            "chain": [
                f"{c.uuid}: {c.role} {c.record_no} {c.amount} on {c.posting_date}"
                for c in self.chain[:20]
            ],
        }

    def shift_summary(self) -> dict[str, Any]:
        """The re-dated postings of the window: how many, and the amounts that moved into the
        window's days from a purchase date before them (``shifted_in``) or out of them to a
        posted date after (``shifted_out``). Divvy's total by purchase date over the window is
        Intacct's total + shifted_out - shifted_in."""
        first = self.days[0].posting_date if self.days else None
        last = self.days[-1].posting_date if self.days else None
        inside = (lambda d: first <= d <= last) if first and last else (lambda d: False)
        moved_in = [s for s in self.shifts if inside(s.posted_date) and not inside(s.purchase_date)]
        moved_out = [
            s for s in self.shifts if inside(s.purchase_date) and not inside(s.posted_date)
        ]
        return {
            "count": len(self.shifts),
            "total": str(sum((s.amount for s in self.shifts), ZERO)),
            "shifted_in": {
                "count": len(moved_in),
                "total": str(sum((s.amount for s in moved_in), ZERO)),
            },
            "shifted_out": {
                "count": len(moved_out),
                "total": str(sum((s.amount for s in moved_out), ZERO)),
            },
            "shifts": [
                f"{s.uuid}: purchased {s.purchase_date}, posted {s.posted_date} ({s.amount})"
                for s in self.shifts[:20]
            ],
        }

    @property
    def differences(self) -> list[Difference]:
        return [d for day in self.days for d in day.differences]

    @property
    def matched(self) -> bool:
        return all(day.status == MATCHED for day in self.days)

    def summary(self) -> dict[str, Any]:
        """Small, XCom-safe: per-day counts and totals, and the differences by kind."""
        kinds: dict[str, int] = defaultdict(int)
        for diff in self.differences:
            kinds[diff.kind] += 1
        return {
            "matched": self.matched,
            "days": {
                d.posting_date.isoformat(): {
                    "divvy_count": d.divvy_count,
                    "divvy_total": str(d.divvy_total),
                    "intacct_count": d.intacct_count,
                    "intacct_total": str(d.intacct_total),
                    "status": d.status,
                }
                for d in self.days
                if d.divvy_count or d.intacct_count
            },
            "differences": dict(kinds),
            "redated": self.shift_summary(),
            "recoded": self.chain_summary(),
        }


def compare(
    expected: Iterable[ExpectedPosting],
    actual: Iterable[IntacctPosting],
    days: Sequence[date],
    chain: Sequence[ChainRecord] = (),
) -> ReconcileResult:
    """Per day, totals on both sides and a row-level difference keyed by reference number.

    ``chain``: records of changes after posting (re-coding), expected by RECORDNO and counted
    on the ledger's side of their day.

    ``actual`` is consumed once, as it comes (Intacct's pages): totals are summed per day on
    the way and only the references seen and the differences are kept, never Intacct's rows.
    """
    day_set = set(days)
    expected_by_uuid = {e.uuid: e for e in expected}
    divvy_tally: dict[date, list[Any]] = defaultdict(lambda: [0, ZERO])
    for exp in expected_by_uuid.values():
        tally = divvy_tally[exp.posting_date]
        tally[0] += 1
        tally[1] += exp.amount
    chain_by_record = {c.record_no: c for c in chain}
    for link in chain_by_record.values():
        tally = divvy_tally[link.posting_date]
        tally[0] += 1
        tally[1] += link.amount
    chain_seen: set[str] = set()
    intacct_tally: dict[date, list[Any]] = defaultdict(lambda: [0, ZERO])
    seen: set[str] = set()
    found_differing: dict[str, Difference] = {}
    not_ours: list[Difference] = []  # no reference, or a second record for one
    not_expected: list[IntacctPosting] = []
    for posting in actual:
        if posting.posting_date in day_set:
            # Every record on the card that day counts on Intacct's side, ours or not.
            tally = intacct_tally[posting.posting_date]
            tally[0] += 1
            tally[1] += posting.amount
        chained = chain_by_record.get(posting.record_no)
        if chained is not None:
            chain_seen.add(chained.record_no)
            if (diff := _chain_differs(chained, posting)) is not None:
                not_ours.append(diff)
            continue
        if posting.reference_no and posting.reference_no not in seen:
            seen.add(posting.reference_no)
            ours = expected_by_uuid.get(posting.reference_no)
            if ours is None:
                if posting.posting_date in day_set:
                    not_expected.append(posting)
            elif (diff := _differs(ours, posting)) is not None:
                found_differing[ours.uuid] = diff
            continue
        if posting.posting_date in day_set:
            why = (
                "a second Intacct record carries this reference number"
                if posting.reference_no
                else "no reference number"
            )
            not_ours.append(
                Difference(
                    posting.posting_date,
                    "extra_in_intacct",
                    posting.reference_no,
                    posting.record_no,
                    None,
                    posting.amount,
                    f"Intacct record {posting.record_no} on the card is not from this "
                    f"sync ({why}).",
                )
            )

    diffs: dict[date, list[Difference]] = defaultdict(list)
    for diff in not_ours:
        diffs[diff.posting_date].append(diff)
    for uuid, exp in expected_by_uuid.items():
        if uuid in found_differing:
            diffs[exp.posting_date].append(found_differing[uuid])
        elif uuid not in seen and exp.posting_date in day_set:
            diffs[exp.posting_date].append(
                Difference(
                    exp.posting_date,
                    "missing_in_intacct",
                    uuid,
                    None,
                    exp.amount,
                    None,
                    f"Divvy {uuid} ({exp.amount}) has no Intacct record"
                    + (f": {exp.note}." if exp.note else "."),
                )
            )
    for link in chain_by_record.values():
        if link.record_no not in chain_seen and link.posting_date in day_set:
            diffs[link.posting_date].append(
                Difference(
                    link.posting_date,
                    "missing_in_intacct",
                    link.uuid,
                    link.record_no,
                    link.amount,
                    None,
                    f"Intacct record {link.record_no} ({link.role} of a change to Divvy "
                    f"{link.uuid} after posting, {link.amount}) is not on the card that day.",
                )
            )
    for got in not_expected:
        diffs[got.posting_date].append(
            Difference(
                got.posting_date,
                "extra_in_intacct",
                got.reference_no,
                got.record_no,
                None,
                got.amount,
                f"Intacct record {got.record_no} (reference {got.reference_no}) is on "
                "the card but is not a postable Divvy transaction of this window.",
            )
        )

    result = ReconcileResult(chain=[c for c in chain if c.posting_date in day_set])
    for day in sorted(day_set):
        divvy_count, divvy_total = divvy_tally.get(day, (0, ZERO))
        intacct_count, intacct_total = intacct_tally.get(day, (0, ZERO))
        result.days.append(
            DayTotals(
                posting_date=day,
                divvy_count=divvy_count,
                divvy_total=divvy_total,
                intacct_count=intacct_count,
                intacct_total=intacct_total,
                differences=tuple(diffs.get(day, [])),
            )
        )
    return result


def _differs(exp: ExpectedPosting, got: IntacctPosting) -> Difference | None:
    if got.posting_date != exp.posting_date:
        return Difference(
            exp.posting_date,
            "date_differs",
            exp.uuid,
            got.record_no,
            exp.amount,
            got.amount,
            f"Intacct record {got.record_no} is dated "
            f"{got.posting_date}, Divvy says {exp.posting_date}.",
        )
    if got.amount != exp.amount:
        return Difference(
            exp.posting_date,
            "amount_differs",
            exp.uuid,
            got.record_no,
            exp.amount,
            got.amount,
            f"Intacct record {got.record_no} is {got.amount}, Divvy says {exp.amount}.",
        )
    return None


def _chain_differs(link: ChainRecord, got: IntacctPosting) -> Difference | None:
    if got.posting_date == link.posting_date and got.amount == link.amount:
        return None
    kind: DifferenceKind = (
        "date_differs" if got.posting_date != link.posting_date else ("amount_differs")
    )
    return Difference(
        got.posting_date,
        kind,
        link.uuid,
        got.record_no,
        link.amount,
        got.amount,
        f"Intacct record {got.record_no} ({link.role} of a change to Divvy {link.uuid} after "
        f"posting) is {got.amount} on {got.posting_date}; the ledger says {link.amount} on "
        f"{link.posting_date}.",
    )
