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
3. A CLEAR that is not ``complete`` (coding, receipt or note missing) is ``hold``, to be picked
   up again once completed. Turn off with ``PostingRules(hold_incomplete=False)``.
4. A split parent posts one line per child with the child's coding (the parent's coding fills in
   for a child that has none); a parent whose children are missing or do not add up to its amount
   is ``hold``.
5. Otherwise one line for the whole amount. A zero amount is ``skip``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from intacct_hook.divvy.records import DivvyTransaction, TransactionType

__all__ = ["PostingDecision", "PostingLine", "PostingRules", "decide"]

Action = Literal["post", "hold", "skip"]


@dataclass(frozen=True)
class PostingRules:
    """Switches for the configurable rules.

    :param hold_incomplete: hold CLEARs that Divvy does not mark complete.
    :param skip_already_synced: skip CLEARs that Divvy's own accounting sync has synced.
    """

    hold_incomplete: bool = True
    skip_already_synced: bool = True


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
    """The outcome for one transaction: ``post`` (with lines), ``hold`` or ``skip`` (no lines)."""

    action: Action
    reason: str
    lines: tuple[PostingLine, ...] = ()


def _money(amount: Decimal) -> str:
    return f"${abs(amount):,.2f}"


def _merchant(txn: DivvyTransaction) -> str:
    return txn.merchant_name or txn.raw_merchant_name or "an unnamed merchant"


def _skip(reason: str) -> PostingDecision:
    return PostingDecision("skip", reason)


def _hold(reason: str) -> PostingDecision:
    return PostingDecision("hold", reason)


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
        reason = f"Refund of {_money(txn.amount)} from {_merchant(txn)}."
    else:
        reason = f"Card charge of {_money(txn.amount)} at {_merchant(txn)}."
    return PostingDecision("post", reason, (line,))


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
