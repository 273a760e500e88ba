"""What to post to the ledger for one Divvy transaction: the single source of the posting rules.

:func:`decide` looks at one (split-expanded) :class:`DivvyTransaction` and answers post, hold or
skip, with a short reason a finance person can read in a report, and for ``post`` the lines::

    decision = decide(txn, PostingRules())
    if decision.action == "post":
        for line in decision.lines:
            ...  # line.amount is signed: positive charge, negative refund
    else:
        report(txn.uuid, decision.action, decision.reason)

The rules, in the order they are applied:

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

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from intacct_hook.divvy.records import DivvyTransaction, TransactionType

__all__ = [
    "BAD_DATA",
    "MAX_PLAUSIBLE_AMOUNT",
    "PLAUSIBLE_YEARS",
    "PostingDecision",
    "PostingLine",
    "PostingRules",
    "decide",
    "original_amount_text",
]

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
