"""Exactly once against what Intacct already holds: before a transaction is sent, its reference
number (the Divvy uuid) is looked up on every card the session sees.

A hit on this account's card is adopted (recorded as posted, not sent). A hit on another card
is held with that card and record named: the Divvy account moved to a new card with a new
ledger, or two accounts read one Divvy account. The load's up-front lookup and the closed-period
step's lookup of re-dated transactions both go through :func:`look_up` and :func:`settle`.

The lookup reads a date range, widened by a day either side: a deployment in another time zone
dates a transaction near midnight a day off. A re-dated transaction is looked up from its
purchase date to its new date (``closed_periods.adopt_redated``), which covers a copy another
deployment re-dated too (books-closed dates only move forward, so its first open day is not
later than ours).

What this cannot see: records in another entity, when the session signs in to one entity
(Intacct shows a session its own entity's records). Two accounts reading one Divvy account from
different entities are stopped by preflight instead (the same Divvy token, compared by hash).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Protocol

from intacct_hook.sync.ledger import Ledger

#: A day either side of the dates looked up (a time zone's difference at the window's edge).
MARGIN = timedelta(days=1)


class CardLookup(Protocol):
    def find_cctransactions(
        self,
        card_id: str | None,
        start: date,
        end: date,
        reference_nos: Iterable[str] | None = None,
    ) -> list[dict[str, Any]]: ...


@dataclass
class Found:
    """The references Intacct holds: on this card (``here``) or on another (``elsewhere``),
    each with the record found."""

    here: dict[str, dict[str, Any]] = field(default_factory=dict)
    elsewhere: dict[str, dict[str, Any]] = field(default_factory=dict)


def look_up(intacct: CardLookup, card_id: str, refs: Sequence[tuple[str, date, date]]) -> Found:
    """Where Intacct holds the references ``(uuid, earliest date, latest date)``, on any card.

    A hit whose answer does not name its card (``FINANCIALENTITY`` missing: its name in the
    query's answer is a reading, not documented) is asked again on this card, so a record on
    another card is never adopted as this card's."""
    found = Found()
    if not refs:
        return found
    start = min(r[1] for r in refs) - MARGIN
    end = max(r[2] for r in refs) + MARGIN
    uuids = [r[0] for r in refs]
    unnamed: list[str] = []
    for hit in intacct.find_cctransactions(None, start, end, reference_nos=uuids):
        ref = str(hit.get("RECORDID"))
        card = hit.get("FINANCIALENTITY")
        if card is None:
            unnamed.append(ref)
        elif str(card) == card_id:
            found.here.setdefault(ref, hit)
        else:
            found.elsewhere.setdefault(ref, hit)
    if unnamed:
        for hit in intacct.find_cctransactions(card_id, start, end, reference_nos=unnamed):
            found.here.setdefault(str(hit.get("RECORDID")), hit)
        for ref in unnamed:
            if ref not in found.here:
                found.elsewhere.setdefault(ref, {"RECORDID": ref})
    for ref in found.here:  # a copy on this card is the one kept
        found.elsewhere.pop(ref, None)
    return found


def elsewhere_reason(hit: dict[str, Any], card_id: str) -> str:
    """Why a transaction is held: where Intacct holds it, and what to do."""
    card = hit.get("FINANCIALENTITY")
    where = f"on the credit card account '{card}'" if card else "on another credit card account"
    record = hit.get("RECORDNO")
    return (
        f"already in Intacct{f' as record {record}' if record else ''} {where}, not on "
        f"'{card_id}': not posted again. Nothing to do if that is where it belongs (this "
        "Divvy account moved cards: to keep its history, point its ledger_path or "
        "ledger_schema at the old ledger); if two accounts read one Divvy account, remove one "
        "(README, 'Several Divvy accounts')"
    )


def settle(
    ledger: Ledger,
    found: Found,
    card_id: str,
    adopt_reason: Callable[[dict[str, Any]], str],
) -> tuple[int, int]:
    """Adopt what is on this card, hold what is on another; ``(adopted, held)``."""
    adopted = held = 0
    for uuid, hit in found.here.items():
        if ledger.adopt_posted(uuid, str(hit.get("RECORDNO") or ""), adopt_reason(hit)):
            adopted += 1
    for uuid, hit in found.elsewhere.items():
        if ledger.hold_posted_elsewhere(uuid, elsewhere_reason(hit, card_id)):
            held += 1
    return adopted, held
