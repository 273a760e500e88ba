"""Readable summaries for task logs and small ones for XCom (counts and totals, no payloads)."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from intacct_hook.intacct.text import fit
from intacct_hook.sync.ledger import Ledger
from intacct_hook.sync.states import LedgerState
from intacct_hook.sync.window import SyncWindow

#: What a real run would do with a transaction in each state, as the preview's table says it.
DRY_RUN_ACTIONS: Mapping[LedgerState, str] = {
    LedgerState.READY: "would create",
    LedgerState.HELD: "held",
    LedgerState.UNMAPPED: "held (unmapped)",
    LedgerState.SKIPPED: "skipped",
    LedgerState.FAILED: "would retry",
    LedgerState.POSTING: "unknown outcome: would look up",
}


# The record-specific parts of a posting decision's reason (translation.decide, stage):
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


#: The width a table in a task log keeps to (Airflow's log view shows about this much).
MAX_TABLE_WIDTH = 120
#: Lines one wrapped value may take before it is cut with "…".
MAX_WRAPPED_LINES = 8
_GAP = "  "
_DETAIL_INDENT = "    "
_MIN_COLUMN = 12


def format_table(
    rows: Sequence[Mapping[str, Any]], *, title: str = "", width: int = MAX_TABLE_WIDTH
) -> str:
    """A plain-text table (fixed-width columns) that reads well in the Airflow log view.

    At most ``width`` characters wide (unless a table has too many columns for any layout): when
    the columns do not fit, a last column of free text (a reason) goes on indented lines under
    its row, and any column still too wide is wrapped within its width. A value longer than
    :data:`MAX_WRAPPED_LINES` lines is cut with "…". Line breaks inside values become spaces.
    """
    if not rows:
        return f"{title}: (none)" if title else "(none)"
    columns = list(dict.fromkeys(k for row in rows for k in row))
    cells = [[_cell_text(row.get(c)) for c in columns] for row in rows]
    detail: str | None = None
    details: list[str] = []
    if (
        len(columns) > 1
        and _table_width(columns, cells) > width
        and any(" " in r[-1] for r in cells)
    ):
        detail, columns = columns[-1], columns[:-1]
        details = [r[-1] for r in cells]
        cells = [r[:-1] for r in cells]
    widths = _fit_widths(columns, cells, width)
    out = [*([title] if title else [])]
    out.append(_GAP.join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    out.append(_GAP.join("-" * w for w in widths))
    for n, row in enumerate(cells):
        wrapped = [_wrap(v, w) for v, w in zip(row, widths, strict=True)]
        for i in range(max(len(lines) for lines in wrapped)):
            parts = [
                (lines[i] if i < len(lines) else "").ljust(w)
                for lines, w in zip(wrapped, widths, strict=True)
            ]
            out.append(_GAP.join(parts).rstrip())
        if detail is not None and details[n]:
            prefix = f"{_DETAIL_INDENT}{detail}: "
            lines = _wrap(details[n], max(width - len(prefix), _MIN_COLUMN))
            out.append(prefix + lines[0])
            out.extend(" " * len(prefix) + line for line in lines[1:])
    return "\n".join(out)


def _cell_text(value: Any) -> str:
    return "" if value is None else " ".join(str(value).split())


def _table_width(columns: Sequence[str], cells: Sequence[Sequence[str]]) -> int:
    natural = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    return sum(natural) + len(_GAP) * (len(columns) - 1)


def _fit_widths(columns: Sequence[str], cells: Sequence[Sequence[str]], width: int) -> list[int]:
    """Natural column widths, the widest narrowed first until the table fits ``width``; never
    below the header or :data:`_MIN_COLUMN` characters (or the column's own width)."""
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    floor = [min(w, max(len(c), _MIN_COLUMN)) for w, c in zip(widths, columns, strict=True)]
    budget = width - len(_GAP) * (len(columns) - 1)
    excess = sum(widths) - budget
    while excess > 0:
        narrowable = [i for i, w in enumerate(widths) if w > floor[i]]
        if not narrowable:
            break
        widest = max(narrowable, key=lambda i: widths[i])
        widths[widest] -= 1
        excess -= 1
    return widths


def _wrap(text: str, width: int) -> list[str]:
    """``text`` in lines of at most ``width``, words kept whole where they fit; cut with "…"
    after :data:`MAX_WRAPPED_LINES` lines."""
    if len(text) <= width:
        return [text]
    lines = textwrap.wrap(text, width, break_long_words=True, break_on_hyphens=False) or [""]
    if len(lines) > MAX_WRAPPED_LINES:
        lines = lines[:MAX_WRAPPED_LINES]
        lines[-1] = lines[-1][: width - 1].rstrip() + "…"
    return lines


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


def would_post_rows(
    ledger: Ledger, window: SyncWindow, states: Iterable[LedgerState] = tuple(DRY_RUN_ACTIONS)
) -> list[dict[str, Any]]:
    """Every transaction of the window in ``states`` (by default every state a run acts on)
    with what a real run would do with it, and why."""
    days = window.days()
    rows = ledger.select_in_state(list(states), days[0], days[-1])
    return [
        {
            "date": r.posting_date.isoformat(),
            "uuid": r.uuid,
            "type": r.transaction_type,
            "amount": r.amount,
            "merchant": (r.merchant or "")[:30],
            "action": DRY_RUN_ACTIONS[LedgerState(r.state)],
            "why": r.state_reason or "",
        }
        for r in rows
    ]
