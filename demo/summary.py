"""Plain-text tables for the demo, read from the ledger and the local Intacct gateway.

Nothing here prints secrets: the ledger holds none, and gateway records are read field by field.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from intacct_hook.sync.ledger import Ledger, LedgerRow
from intacct_hook.sync.report import format_table, generic_reason


def money(value: Decimal) -> str:
    return f"{value:,.2f}"


def dataset_table(seed: Mapping[str, Any]) -> str:
    """What the generated Divvy week holds, by record type and sign."""
    counts: Counter[str] = Counter()
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for txn in seed["transactions"]:
        if txn.get("parentTransactionUuid"):
            continue  # split children are part of their parent
        kind = txn["transactionType"]
        amount = Decimal(str(txn["amount"]))
        if kind == "CLEAR" and amount < 0:
            kind = "CLEAR (refund)"
        elif kind == "AUTHORIZATION" and amount < 0:
            kind = "AUTHORIZATION (reversal)"
        elif kind == "CLEAR" and txn.get("childTransactionUuids"):
            kind = "CLEAR (split parent)"
        counts[kind] += 1
        totals[kind] += amount
    rows = [
        {"Divvy record type": k, "count": counts[k], "amount": money(totals[k])}
        for k in sorted(counts)
    ]
    return format_table(rows, title="Divvy transactions in the local API (parents only)")


def state_table(ledger: Ledger) -> str:
    rows = [
        {"state": state, "count": tally.count, "total": money(tally.total)}
        for state, tally in sorted(ledger.counts_by_state().items())
    ]
    return format_table(rows, title="Ledger: every transaction seen, by state")


def grouped_reasons(rows: Iterable[LedgerRow], *, title: str) -> str:
    """Count and total per reason kind, largest group first."""
    counts: Counter[str] = Counter()
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for row in rows:
        kind = generic_reason(row.state_reason)
        counts[kind] += 1
        totals[kind] += row.amount
    table = [
        {"count": n, "amount": money(totals[kind]), "reason": kind}
        for kind, n in counts.most_common()
    ]
    return format_table(table, title=title)


def unmapped_table(rows: Sequence[LedgerRow], *, limit: int = 25) -> str:
    """Each unmapped transaction with the reason the map step gave (it says what to fix)."""
    table = [
        {
            "date": r.posting_date.isoformat(),
            "amount": money(r.amount),
            "merchant": (r.merchant or "")[:24],
            "reason": r.state_reason or "",
        }
        for r in sorted(rows, key=lambda r: (r.posting_date, r.uuid))[:limit]
    ]
    more = f"\n… and {len(rows) - limit} more" if len(rows) > limit else ""
    title = f"Unmapped: {len(rows)} (held until a rule covers them)"
    return format_table(table, title=title) + more


def reconciliation_table(
    reconciliations: Mapping[date, Mapping[str, Any]], days: Iterable[date], *, title: str
) -> str:
    """One row per day: Divvy's postable count/total against Intacct's, and the status."""
    table = []
    for day in sorted(days):
        rec = reconciliations.get(day)
        if rec is None:
            continue
        table.append(
            {
                "posting date": day.isoformat(),
                "Divvy count": rec["divvy_count"],
                "Divvy total": money(rec["divvy_total"]),
                "Intacct count": rec["intacct_count"],
                "Intacct total": money(rec["intacct_total"]),
                "status": rec["status"],
            }
        )
    return format_table(table, title=title)


def intacct_total(records: Sequence[Mapping[str, Any]]) -> Decimal:
    return sum((Decimal(r["TOTALENTERED"]) for r in records), Decimal("0"))
