"""How one Divvy transaction becomes one Intacct credit card transaction, in one place.

Read top to bottom, this module is the translation; the steps call it (extract and stage
decide, map describes the lines, load builds the record) rather than restating any of it:

1. **Whether** it is posted (:func:`decide`): post, hold or skip, with the reason a finance
   person reads in reports ("Refund of $12.00 from …"). Stage stores the decision.
2. **Its lines** (:func:`posting_lines`): one line, or one per split part, each with its signed
   amount (positive charge, negative refund), the Divvy coding it is coded from, and its note.
3. **Its date** (:func:`posting_date`): the purchase time's date in the company's time zone.
4. **Each line's description** (:func:`line_description`): cardholder | budget | memo, plus the
   amount paid for a purchase in another currency. The memo is Divvy's note, else a free-text
   custom field named like a memo (:data:`MEMO_FIELD_NAMES`).
5. **The header** (:func:`payee`, :func:`header_description`): payee = merchant; description =
   the first line's description.
6. **The record** (:func:`build_cctransaction`): the ready ledger row's columns and its coded
   lines become the :class:`~intacct_hook.intacct.records.CCTransaction` that
   :mod:`intacct_hook.intacct.request` writes as XML: card account from the settings, reference
   number = Divvy uuid, attempt number for the control ID, payee = the merchant column stage
   wrote (step 5's :func:`payee`), description = line 1's description as map stored it (step
   5's :func:`header_description`). The raw payload is not read again: stage and map did.

Not here, because they are their own subjects: which GL account and dimensions each line gets
(:mod:`intacct_hook.sync.mapping`, precedence custom field → rules file → default, with the
dimensions defined in :mod:`intacct_hook.sync.dimensions`), and the XML itself
(:mod:`intacct_hook.intacct.request`).

Plain Python (no Airflow, no pandas): the DAG file imports it through the steps.

The posting rules of step 1, in the order they are applied:

1. Only settled card activity is posted: ``CLEAR`` records. A ``DECLINE`` never moved money; an
   ``AUTHORIZATION`` is pending (it settles as a *new* CLEAR record, posted in its own right) and
   a negative one is a reversal of a hold; ``OTHER`` (a type this code does not know) is skipped
   and should be looked at. All of these are ``skip``.
2. A CLEAR that Divvy's own accounting integration already synced is ``skip`` (so running both
   never posts twice); one whose Divvy sync is still pending is ``hold``. Turn this off with
   ``PostingRules(skip_already_synced=False)`` when the native sync is not in use.
3. A CLEAR whose data cannot be a real card transaction is ``hold``, naming the Divvy field: an
   amount (of it or of a split part) of :data:`MAX_PLAUSIBLE_AMOUNT` or more, or a purchase
   date outside the years :data:`PLAUSIBLE_YEARS`. Posting it would put a wrong figure in the
   books, or Intacct would refuse it and the record would fail on every run.
4. A CLEAR purchased in another currency than USD (``currencyData.originalCurrencyCode``) is
   ``hold`` unless ``PostingRules(allow_foreign_currency=True)``; then it posts like any other,
   at the USD amount Divvy settled (``amount``), its reason naming the original amount.
5. A CLEAR that is not ``complete`` (coding, receipt or note missing) is ``hold``, to be picked
   up again once completed. Turn off with ``PostingRules(hold_incomplete=False)``.
6. A split parent posts one line per child with the child's coding (the parent's coding fills in
   for a child that has none); a parent whose children are missing or do not add up to its amount
   is ``hold``.
7. Otherwise one line for the whole amount. A zero amount is ``skip``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Literal, Protocol

from intacct_hook.divvy.records import DivvyTransaction, TransactionType
from intacct_hook.intacct.records import CCLine, CCTransaction
from intacct_hook.intacct.text import FIELD_LIMITS, UnpostableRecord, clean_text, fit, xml_safe
from intacct_hook.sync.dimensions import RULE_OF_ID_COLUMN
from intacct_hook.sync.ledger import MappedLine
from intacct_hook.sync.settings import SyncSettings
from intacct_hook.sync.window import local_date

__all__ = [
    "BAD_DATA",
    "MAX_PLAUSIBLE_AMOUNT",
    "MEMO_FIELD_NAMES",
    "PLAUSIBLE_YEARS",
    "PostingDecision",
    "PostingLine",
    "PostingRules",
    "build_cctransaction",
    "decide",
    "header_description",
    "line_description",
    "memo_of",
    "original_amount_text",
    "payee",
    "posting_date",
    "posting_lines",
    "rules_from_settings",
    "transaction_from_payload",
]

# --- 1. whether: the posting rules -------------------------------------------------------------

Action = Literal["post", "hold", "skip"]

#: A card amount of this many dollars or more is bad data, not spend: far above any card limit,
#: and Intacct's amount field size is not documented, so it could be refused or truncated.
MAX_PLAUSIBLE_AMOUNT = Decimal("100000000000")  # $100 billion
#: Purchase years (UTC) that can be real; outside them the date is bad data (year 1, 9999…).
PLAUSIBLE_YEARS = (2000, 2100)


@dataclass(frozen=True)
class PostingRules:
    """Switches for the configurable rules.

    :param hold_incomplete: hold CLEARs that Divvy does not mark complete.
    :param skip_already_synced: skip CLEARs that Divvy's own accounting sync has synced.
    :param allow_foreign_currency: post CLEARs purchased in another currency (at the USD
        amount Divvy settled) instead of holding them.
    """

    hold_incomplete: bool = True
    skip_already_synced: bool = True
    allow_foreign_currency: bool = False


@dataclass(frozen=True)
class PostingLine:
    """One ledger line.

    :param source_uuid: the Divvy record the money comes from (the child's uuid for splits);
        use it as the idempotency key of the line.
    :param amount: signed: positive charge, negative refund.
    :param coding: custom field name → selected values used to code the line.
    :param coding_uuid: the uuid whose custom fields ``coding`` came from (the child's, or the
        parent's when the child has none).
    :param note: the child's note, else the parent's.
    """

    source_uuid: str
    amount: Decimal
    coding: Mapping[str, tuple[str, ...]] = field(hash=False)
    coding_uuid: str
    note: str | None = None


@dataclass(frozen=True)
class PostingDecision:
    """The outcome for one transaction: ``post`` (with lines), ``hold`` or ``skip`` (no lines).

    ``bad_field`` names the Divvy field when the hold is for bad data (rule 3), so a report can
    count those apart from holds that resolve themselves in Divvy.
    """

    action: Action
    reason: str
    lines: tuple[PostingLine, ...] = ()
    bad_field: str | None = None


def rules_from_settings(settings: SyncSettings) -> PostingRules:
    """The posting rules as the settings configure them (stage decides with them, reconcile
    re-decides with them what extract read)."""
    return PostingRules(
        hold_incomplete=settings.hold_incomplete,
        skip_already_synced=settings.skip_already_synced,
        allow_foreign_currency=settings.allow_foreign_currency,
    )


def _money(amount: Decimal) -> str:
    return f"${abs(amount):,.2f}"


def _merchant(txn: DivvyTransaction) -> str:
    return txn.merchant_name or txn.raw_merchant_name or "an unnamed merchant"


def _skip(reason: str) -> PostingDecision:
    return PostingDecision("skip", reason)


def _hold(reason: str, bad_field: str | None = None) -> PostingDecision:
    return PostingDecision("hold", reason, bad_field=bad_field)


def decide(txn: DivvyTransaction, rules: PostingRules | None = None) -> PostingDecision:
    """Decide whether and how ``txn`` is posted. Pure: no I/O, same input → same answer.

    :param txn: a listed transaction; for a split parent, with ``children`` attached (the hook
        does this when ``expand_splits=True``).
    :param rules: the configurable switches; defaults to :class:`PostingRules()`.
    :return: the decision; ``lines`` is non-empty exactly when ``action == "post"``.
    """
    rules = rules or PostingRules()
    kind = txn.transaction_type

    if kind is TransactionType.DECLINE:
        why = (txn.decline_reason or "no reason given").rstrip(".")
        return _skip(f"Declined card attempt ({why}); no money moved.")
    if kind is TransactionType.AUTHORIZATION:
        if txn.amount < 0:
            return _skip(
                f"Reversal of a pending {_money(txn.amount)} authorization (cancelled before it "
                "settled); nothing to post."
            )
        if txn.matched_clear_uuid:
            return _skip(
                f"Pending authorization; it settled as transaction {txn.matched_clear_uuid}, "
                "which is posted instead."
            )
        return _skip("Pending authorization, not settled yet; it is posted once it clears.")
    if kind is not TransactionType.CLEAR:
        return _skip(
            f"Unrecognised transaction type {txn.raw_transaction_type!r}; not posted. "
            "Please review it in Divvy."
        )

    if rules.skip_already_synced:
        decision = _divvy_sync_decision(txn)
        if decision is not None:
            return decision

    decision = _implausible_data(txn)
    if decision is not None:
        return decision

    if not rules.allow_foreign_currency:
        decision = _foreign_currency_hold(txn)
        if decision is not None:
            return decision

    if rules.hold_incomplete:
        incomplete = [t for t in (txn, *txn.children) if not t.complete]
        if incomplete:
            return _hold(
                "Not marked complete in Divvy (coding, receipt or note missing); held until "
                "it is completed."
            )

    if txn.amount == 0 and not txn.child_uuids:
        return _skip("Zero amount; nothing to post.")

    if txn.child_uuids:
        return _decide_split(txn)

    (line,) = posting_lines(txn)
    if txn.amount < 0:
        reason = f"Refund of {_money(txn.amount)} from {_merchant(txn)}"
    else:
        reason = f"Card charge of {_money(txn.amount)} at {_merchant(txn)}"
    if txn.is_foreign_currency:
        reason += f" (purchased as {original_amount_text(txn)})"
    return PostingDecision("post", reason + ".", (line,))


def _divvy_sync_decision(txn: DivvyTransaction) -> PostingDecision | None:
    records = [s for t in (txn, *txn.children) for s in t.accounting_sync]
    synced = [s for s in records if s.is_synced]
    if synced:
        where = synced[0].integration_type or "the accounting system"
        return _skip(
            f"Already sent to {where} by Divvy's own accounting sync; skipped so it is not "
            "posted twice."
        )
    if any(s.sync_status == "pending" for s in records):
        return _hold("Divvy's own accounting sync is still working on it; held until it finishes.")
    return None


#: Every hold for bad data starts so, which keeps them one bucket in counts and easy to find.
BAD_DATA = "Bad data in Divvy"


def _implausible_data(txn: DivvyTransaction) -> PostingDecision | None:
    for part in (txn, *txn.children):
        if abs(part.amount) >= MAX_PLAUSIBLE_AMOUNT:
            which = "" if part is txn else f" of split part {part.uuid}"
            return _hold(
                f"{BAD_DATA}: field 'amount'{which} is {part.amount:,.2f}, which cannot be a card "
                f"transaction (the limit is {MAX_PLAUSIBLE_AMOUNT:,.0f}); held until it is "
                "corrected in Divvy (report it to Divvy support).",
                bad_field="amount",
            )
    first, last = PLAUSIBLE_YEARS
    if not first <= txn.occurred_time.year <= last:
        return _hold(
            f"{BAD_DATA}: field 'occurredTime' is {txn.occurred_time.isoformat()}, outside the "
            f"years {first}-{last} a purchase can have; held until it is corrected in Divvy "
            "(report it to Divvy support).",
            bad_field="occurredTime",
        )
    return None


def original_amount_text(txn: DivvyTransaction) -> str:
    """What was paid in the purchase currency, e.g. ``45.00 EUR`` (the code alone if the
    amount is unknown)."""
    code = (txn.currency_code or "").strip().upper()
    return f"{txn.original_amount} {code}" if txn.original_amount is not None else code


def _foreign_currency_hold(txn: DivvyTransaction) -> PostingDecision | None:
    part = next((p for p in (txn, *txn.children) if p.is_foreign_currency), None)
    if part is None:
        return None
    code = (part.currency_code or "").strip().upper()
    which = "" if part is txn else f" (split part {part.uuid})"
    return _hold(
        f"Purchased in {code}{which} ({original_amount_text(part)}, settled as "
        f"{_money(part.amount)}): foreign-currency purchases are held. Set allow_foreign_currency "
        "to true in the settings to post them at the USD amount Divvy settled."
    )


def _decide_split(txn: DivvyTransaction) -> PostingDecision:
    expected = set(txn.child_uuids)
    have = {c.uuid for c in txn.children}
    if have != expected:
        missing = len(expected - have)
        return _hold(
            f"Split into {len(expected)} parts but {missing or 'some'} of them could not be "
            "loaded from Divvy; held until they are."
        )
    total = sum((c.amount for c in txn.children), Decimal(0))
    if total != txn.amount:
        return _hold(
            f"Split parts add up to {_money(total)} but the transaction is "
            f"{_money(txn.amount)}; held until the split is fixed in Divvy."
        )
    lines = posting_lines(txn)
    what = "Refund" if txn.amount < 0 else "Card charge"
    return PostingDecision(
        "post",
        f"{what} of {_money(txn.amount)} at {_merchant(txn)}, split into {len(lines)} lines.",
        lines,
    )


# --- 2. the lines ------------------------------------------------------------------------------


def posting_lines(txn: DivvyTransaction) -> tuple[PostingLine, ...]:
    """The lines ``txn`` posts as, whatever the decision: one line, or one per split child.

    The single place that says which amount and which coding each line carries; the mapping
    codes exactly these lines.
    """
    if not txn.child_uuids:
        return (
            PostingLine(
                source_uuid=txn.uuid,
                amount=txn.amount,
                coding=txn.custom_fields,
                coding_uuid=txn.uuid,
                note=txn.note,
            ),
        )
    # Keep Divvy's order so line numbers are stable across reruns.
    order = {uuid: n for n, uuid in enumerate(txn.child_uuids)}
    children = sorted(txn.children, key=lambda c: order.get(c.uuid, len(order)))
    return tuple(_split_line(txn, child) for child in children)


def _split_line(parent: DivvyTransaction, child: DivvyTransaction) -> PostingLine:
    # A child is coded on its own as soon as any of its custom fields has a value; mixing
    # field by field would make it impossible to say where a line's coding came from.
    coded = child if any(child.custom_fields.values()) else parent
    return PostingLine(
        source_uuid=child.uuid,
        amount=child.amount,
        coding=coded.custom_fields,
        coding_uuid=coded.uuid,
        note=child.note or parent.note,
    )


# --- 3. the date -------------------------------------------------------------------------------


def posting_date(txn: DivvyTransaction, timezone: str) -> date:
    """Intacct's transaction date: the purchase time's date in the company's time zone.

    :raises OverflowError: the local date does not exist in Python (year 1 west of UTC, 9999
        east of it); stage holds such a record as bad data.
    """
    return local_date(txn.occurred_time, timezone)


# --- 4. line descriptions -----------------------------------------------------------------------

# Divvy keeps the cardholder's memo in a free-text (NOTE) custom field on many tenants.
MEMO_FIELD_NAMES = ("Memo", "Notes", "Note")


def memo_of(coding: Mapping[str, tuple[str, ...]], note: str | None) -> str | None:
    """The cardholder's memo: Divvy's note, else a free-text custom field named like a memo."""
    if note:
        return note
    for name in MEMO_FIELD_NAMES:
        values = coding.get(name) or ()
        if values and values[0]:
            return values[0]
    return None


def line_description(txn: DivvyTransaction, line: PostingLine) -> str | None:
    """Cardholder, budget and memo, as Divvy's own integration writes them; for a purchase in
    another currency also the amount paid in it (the line's amount is the USD settlement)."""
    limit = FIELD_LIMITS["line_description"]
    bits = [txn.user_name, txn.budget_name, memo_of(line.coding, line.note)]
    text = xml_safe(" | ".join(b for b in bits if b))
    original = _original_amount(txn, line)
    if original is None:
        return clean_text(text, limit)
    # Cut the memo, never the original amount: the accountant needs it to check the rate.
    tail = f" | {original}" if text.strip() else original
    return clean_text(fit(text, limit - len(tail)) + tail, limit)


def _original_amount(txn: DivvyTransaction, line: PostingLine) -> str | None:
    part = next((c for c in txn.children if c.uuid == line.source_uuid), txn)
    if part.is_foreign_currency:
        return xml_safe(original_amount_text(part))
    if txn.is_foreign_currency:  # a split part without currency data: the whole purchase's
        suffix = " for the whole purchase" if txn.children else ""
        return xml_safe(original_amount_text(txn)) + suffix
    return None


# --- 5. the header ------------------------------------------------------------------------------


def payee(txn: DivvyTransaction) -> str | None:
    """The merchant as Divvy cleaned it, else as the card network sent it."""
    return txn.merchant_name or txn.raw_merchant_name or None


def header_description(txn: DivvyTransaction) -> str | None:
    """Cardholder, budget and memo for the transaction header (the first line's memo)."""
    lines = posting_lines(txn)
    return line_description(txn, lines[0]) if lines else None


# --- 6. the Intacct record ----------------------------------------------------------------------


def transaction_from_payload(payload: Mapping[str, Any]) -> DivvyTransaction:
    """The Divvy transaction as the ledger keeps it (its JSON plus its split children's)."""
    txn = DivvyTransaction.from_json(payload["transaction"])
    children = payload.get("children") or ()
    return txn.with_children(DivvyTransaction.from_json(c) for c in children) if children else txn


class PostingRow(Protocol):
    """The ledger columns a record is built from (a ``LedgerRow`` or a ``ClaimedRecord``)."""

    @property
    def uuid(self) -> str: ...
    @property
    def posting_date(self) -> date: ...
    @property
    def merchant(self) -> str | None: ...
    @property
    def failed_attempts(self) -> int: ...


def build_cctransaction(
    row: PostingRow, lines: Sequence[MappedLine], settings: SyncSettings
) -> CCTransaction:
    """The Intacct transaction for a ready ledger row and its mapped lines.

    Built from columns alone: payee is the merchant stage stored (:func:`payee`, cleaned for
    XML), the header description is line 1's description, which map stored as
    :func:`header_description` would compute it (:func:`line_description` of the first posting
    line). Both are cleaned and cut again by ``CCTransaction``.

    :raises UnpostableRecord: the only error for bad data; it names the Divvy uuid, the field
        (``lines[2].gl_account_no``, ``card_id``…) and where to fix the value.
        Free text never raises: it is cleaned and cut (``intacct.text``).
    """
    ordered = sorted(lines, key=lambda ln: ln.line_no)
    description = ordered[0].description if ordered else None
    cc_lines = []
    for n, line in enumerate(ordered, 1):
        try:
            cc_lines.append(
                CCLine(
                    gl_account_no=line.gl_account_no or "",
                    amount=line.amount,
                    description=line.description,
                    location_id=line.location_id,
                    department_id=line.department_id,
                    class_id=line.class_id,
                    project_id=line.project_id,
                )
            )
        except UnpostableRecord as exc:
            raise exc.for_record(
                row.uuid, field_prefix=f"lines[{n}].", fix=_line_fix(line, exc.field)
            ) from None
    try:
        return CCTransaction(
            card_id=settings.card_account_id,
            payment_date=row.posting_date,
            reference_no=row.uuid,
            attempt=row.failed_attempts + 1,
            payee=row.merchant,
            description=description,
            lines=tuple(cc_lines),
        )
    except UnpostableRecord as exc:
        raise exc.for_record(row.uuid, fix=_TRANSACTION_FIXES.get(exc.field)) from None


_TRANSACTION_FIXES = {
    "card_id": "set card_account_id in the Variable divvy_intacct_settings to the card's ID "
    "in Intacct",
    "reference_no": "the Divvy uuid cannot be an Intacct reference number; report the "
    "transaction to Divvy support",
    "lines": "run the map step again so the transaction gets its lines",
}


def _line_fix(line: MappedLine, field: str) -> str:
    rule_column = RULE_OF_ID_COLUMN.get(field)
    if rule_column is None:
        return "run the map step again; report it if the line stays unpostable"
    source = getattr(line, rule_column, None)
    if not source:
        return f"no custom field or mapping rule gives {field}; add a mapping rule for it"
    return f"the value came from {source}; correct it there, then run again"
