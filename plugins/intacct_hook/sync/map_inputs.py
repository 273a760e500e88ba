"""What the map step reads of a Divvy transaction: its posting lines and the facts rules match.

Computed once, when a postable transaction is staged (:func:`encode_map_input`), and kept in
the ledger's narrow ``map_input`` table, so the map step reads a few hundred bytes per
transaction instead of decoding the whole Divvy JSON and rebuilding the transaction. A row
staged before the table existed has none: the map step computes the same lines from the
payload (:func:`line_inputs`, :func:`stored_lines`).

Each line carries its *facts key*: the custom fields, budget, MCC and merchant, as one JSON
text. Everything mapping decides except the line's own identity depends only on it, so the map
step codes each distinct key once, however many lines share it.

Light on purpose (no pandas): the stage step imports it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, NamedTuple

from intacct_hook.divvy.records import DivvyRecordError, DivvyTransaction
from intacct_hook.sync.rules import LineFacts
from intacct_hook.sync.translation import line_description, posting_lines

#: The first element of every stored text; a text of another version is ignored (recomputed
#: from the payload), so a change of the format never misreads an older ledger.
FORMAT_VERSION = 1


class LineInput(NamedTuple):
    """One posting line as mapping sees it (the columns of ``mapping.INPUT_COLUMNS``)."""

    source_uuid: str
    amount: Decimal
    description: str | None
    custom_fields: Mapping[str, tuple[str, ...]]
    budget_name: str | None
    budget_uuid: str | None
    mcc: str | None
    merchant: str | None


class StoredLine(NamedTuple):
    """A line as the map step reads it back: ``amount`` is the ledger's money text."""

    source_uuid: str
    amount: str
    description: str | None
    facts_key: str


def line_inputs(txn: DivvyTransaction) -> list[LineInput]:
    """The posting rules' own lines (:func:`posting_lines`), in line order, so a split child
    without coding is coded like its parent exactly as the rules decided; budget, MCC and
    merchant fall back to the parent's."""
    parts = {child.uuid: child for child in txn.children}
    out = []
    for line in posting_lines(txn):
        part = parts.get(line.source_uuid, txn)
        out.append(
            LineInput(
                source_uuid=line.source_uuid,
                amount=line.amount,
                description=line_description(txn, line),
                custom_fields=line.coding,
                budget_name=part.budget_name or txn.budget_name,
                budget_uuid=part.budget_uuid or txn.budget_uuid,
                mcc=part.mcc or txn.mcc,
                merchant=part.merchant_name or txn.merchant_name,
            )
        )
    return out


def facts_key(
    custom_fields: Mapping[str, Any],
    budget_name: str | None,
    budget_uuid: str | None,
    mcc: str | None,
    merchant: str | None,
) -> str:
    """One text per distinct set of facts. Custom fields keep Divvy's order: a name that
    appears twice in different case is resolved by order (``LineFacts.custom_values``)."""
    fields = [[name, list(values or ())] for name, values in custom_fields.items()]
    # ensure_ascii: NUL and lone surrogates stay escaped, so both databases can store the text.
    return json.dumps([fields, budget_name, budget_uuid, mcc, merchant], separators=(",", ":"))


def facts_of(key: str) -> LineFacts:
    """The :class:`LineFacts` a :func:`facts_key` text stands for (text cleaned as the
    mapping's DataFrame input is: stripped, empty means not given)."""
    fields, budget_name, budget_uuid, mcc, merchant = json.loads(key)
    return LineFacts(
        custom_fields={name: tuple(values) for name, values in fields},
        budget_name=opt_text(budget_name),
        budget_uuid=opt_text(budget_uuid),
        mcc=opt_text(mcc),
        merchant=opt_text(merchant),
    )


def opt_text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def money_text(amount: Decimal) -> str:
    """The ledger's money text (as ``ledger._money`` writes it)."""
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise ValueError(f"line amount {amount!r} is not a finite Decimal")
    return format(amount, "f")


def stored_lines(lines: list[LineInput]) -> list[StoredLine]:
    """The lines as the map step reads them (what :func:`encode_lines` keeps)."""
    return [
        StoredLine(
            ln.source_uuid,
            money_text(ln.amount),
            opt_text(ln.description),
            facts_key(ln.custom_fields, ln.budget_name, ln.budget_uuid, ln.mcc, ln.merchant),
        )
        for ln in lines
    ]


def encode_lines(lines: list[LineInput]) -> str:
    return json.dumps([FORMAT_VERSION, *map(list, stored_lines(lines))], separators=(",", ":"))


def encode_map_input(txn: DivvyTransaction) -> str:
    """The ``map_input`` text of a postable transaction."""
    return encode_lines(line_inputs(txn))


def staged_map_input(txn: DivvyTransaction) -> str | None:
    """What the stage step keeps for the map step, or None when the transaction's lines cannot
    be computed: the map step then computes them from the payload, and reports the problem
    there, as it did before the ledger kept them."""
    try:
        return encode_map_input(txn)
    except (DivvyRecordError, ValueError, TypeError, ArithmeticError, OverflowError):
        return None


def decode_lines(text: str) -> list[StoredLine] | None:
    """The lines of a stored text, or None when it is of another format version."""
    rows = json.loads(text)
    if not rows or rows[0] != FORMAT_VERSION:
        return None
    return [StoredLine(*row) for row in rows[1:]]


def decode_page(texts: Sequence[str | None]) -> list[list[list[Any]] | None]:
    """:func:`decode_lines` of many texts at once, each line a list ``[source_uuid, amount,
    description, facts_key]``; None for a missing text or one of another format version.

    One JSON document for the whole page: a ``json.loads`` per row cost more than the
    decoding itself. A page holding a text that is not JSON is decoded row by row, so the
    error names that row's text alone."""
    present = [t for t in texts if t is not None]
    try:
        decoded = json.loads("[" + ",".join(present) + "]") if present else []
    except ValueError:
        decoded = [json.loads(t) for t in present]
    if len(decoded) != len(present):  # a text holding several values ("[1],[1]")
        decoded = [json.loads(t) for t in present]
    out: list[list[list[Any]] | None] = []
    found = iter(decoded)
    for text in texts:
        if text is None:
            out.append(None)
            continue
        rows = next(found)
        out.append(
            rows[1:] if isinstance(rows, list) and rows and rows[0] == FORMAT_VERSION else None
        )
    return out
