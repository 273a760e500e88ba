"""Readable summaries for task logs and small ones for XCom (counts and totals, no payloads)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from intacct_hook.intacct.text import fit
from intacct_hook.sync.ledger import Ledger
from intacct_hook.sync.window import SyncWindow

DRY_RUN_ACTIONS = {
    "ready": "would create",
    "held": "held",
    "unmapped": "held (unmapped)",
    "skipped": "skipped",
    "failed": "would retry",
    "posting": "unknown outcome: would look up",
}


# The record-specific parts of a posting decision's reason (posting_rules.decide, stage):
# amounts ($1,234.50), Divvy ids, and whatever is in parentheses (a decline's reason, the
# original currency amount, a split part). Blanked, the reasons of one kind read the same.
_MONEY = re.compile(r"\$[\d,]*\d(?:\.\d+)?")
_DIVVY_ID = re.compile(r"\b(?:txr|bgt|usr|crd|tty)_[\w.-]*\w")
_PARENS = re.compile(r"\([^()]*\)")
# A clause ends at '.', ';' or ':' followed by a space or the end: never inside "$29.99".
_CLAUSE_END = re.compile(r"[.;:](?=\s|$)")
REASON_KIND_LIMIT = 80


def generic_reason(reason: str | None) -> str:
    """``reason`` with its record-specific parts blanked (``$…``, ``…``, ``(…)``)."""
    text = _PARENS.sub("(…)", reason or "")  # first: a parenthesis may hold '. ' or an amount
    text = _MONEY.sub("$…", text)
    text = _DIVVY_ID.sub("…", text)
    return " ".join(text.split()) or "(no reason recorded)"


def reason_kind(reason: str | None) -> str:
    """A short bucket for counting reasons: the first clause of :func:`generic_reason`, at most
    80 characters. Records held or skipped for the same cause share it; the full reason stays
    in the ledger.

    ``"Reversal of a pending $29.99 authorization (cancelled before it settled); nothing to
    post."`` → ``"Reversal of a pending $… authorization (…)"``.
    """
    first = _CLAUSE_END.split(generic_reason(reason), maxsplit=1)[0].strip()
    return fit(first or "(no reason recorded)", REASON_KIND_LIMIT)


def format_table(rows: Sequence[Mapping[str, Any]], *, title: str = "") -> str:
    """A plain-text table (fixed-width columns) that reads well in the Airflow log view."""
    if not rows:
        return f"{title}: (none)" if title else "(none)"
    columns = list(dict.fromkeys(k for row in rows for k in row))
    cells = [[("" if row.get(c) is None else str(row.get(c))) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    line = "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))
    rule = "  ".join("-" * w for w in widths)
    body = ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join([*([title] if title else []), line, rule, *body])


def ledger_summary(ledger: Ledger, window: SyncWindow) -> dict[str, Any]:
    """Counts and totals per state (whole ledger) and per posting day and state (window)."""
    by_state = [
        {"state": state, "count": tally.count, "total": str(tally.total)}
        for state, tally in sorted(ledger.counts_by_state().items())
    ]
    days = window.days()
    by_date = {
        day.isoformat(): {s: {"count": t.count, "total": str(t.total)} for s, t in states.items()}
        for day, states in ledger.counts_by_date(days[0], days[-1]).items()
    }
    return {"by_state": by_state, "by_date": by_date}


def would_post_rows(ledger: Ledger, window: SyncWindow) -> list[dict[str, Any]]:
    """Every transaction of the window with what a real run would do with it, and why."""
    days = window.days()
    rows = ledger.select_in_state(list(DRY_RUN_ACTIONS), days[0], days[-1])
    return [
        {
            "date": r.posting_date.isoformat(),
            "uuid": r.uuid,
            "type": r.transaction_type,
            "amount": r.amount,
            "merchant": (r.merchant or "")[:30],
            "action": DRY_RUN_ACTIONS[r.state],
            "why": r.state_reason or "",
        }
        for r in rows
    ]
