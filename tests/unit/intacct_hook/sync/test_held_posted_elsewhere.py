"""Exactly once across cards (``sync/already_posted.py``): a transaction Intacct already holds
on another card is held, never posted again, whichever lookup meets it; one on this card is
adopted; a hit whose card the answer does not name is asked again on this card."""

from __future__ import annotations

import dataclasses
import datetime as dt

from intacct_hook.sync import steps
from intacct_hook.sync.closed_periods import plan_before_load
from intacct_hook.sync.ledger import Ledger
from tests.unit.intacct_hook.sync.test_closed_periods import (
    CLOSED_DAY,
    NOW,
    ready,
    settings,
)

OLD_CARD = "Divvy CC Object"
NEW_CARD = "Divvy CC East"


def _new_card(gw) -> None:
    with gw.state.lock:
        cards = gw.state.companies["ACME-DEMO"].records("CREDITCARD")
        cards.append(dict(cards[0], CARDID=NEW_CARD))


def _refs(gw) -> list[tuple[str, str]]:
    return sorted((r["RECORDID"], r["FINANCIALENTITY"]) for r in gw.cctransactions())


def test_a_redated_transaction_already_on_the_old_card_is_not_posted_again(
    ledger: Ledger, gw, hook
):
    # The Divvy account moved to a new card with a new ledger; the old card holds the
    # transaction, posted while its period was open. Its period is now closed.
    ledger.clock = lambda: NOW
    _new_card(gw)
    gw.add_cctransaction(
        card_id=OLD_CARD,
        date=CLOSED_DAY,
        reference_no="txr-moved",
        lines=[{"ACCOUNTNO": "6100", "AMOUNT": "12.50"}],
    )
    ready(ledger, CLOSED_DAY, "txr-moved")
    s = dataclasses.replace(settings("post_to_first_open_day"), card_account_id=NEW_CARD)

    plan_before_load(hook, ledger, s)
    report = steps.load(hook, ledger, s, "run-1")

    assert report.posted == 0, _refs(gw)
    assert _refs(gw) == [("txr-moved", OLD_CARD)]


def test_a_transaction_on_another_card_is_held_naming_it_and_one_here_adopted(
    ledger: Ledger, gw, hook
):
    ledger.clock = lambda: NOW
    _new_card(gw)
    day = dt.date(2026, 10, 5)
    for ref, card in (("txr-old", OLD_CARD), ("txr-here", NEW_CARD)):
        gw.add_cctransaction(
            card_id=card, date=day, reference_no=ref, lines=[{"ACCOUNTNO": "6100", "AMOUNT": "1"}]
        )
    # A deployment in another time zone dated this one a day later than this ledger does.
    gw.add_cctransaction(
        card_id=OLD_CARD,
        date=day + dt.timedelta(days=1),
        reference_no="txr-zone",
        lines=[{"ACCOUNTNO": "6100", "AMOUNT": "1"}],
    )
    for ref in ("txr-old", "txr-here", "txr-zone", "txr-new"):
        ready(ledger, day, ref)
    s = dataclasses.replace(settings("fail"), card_account_id=NEW_CARD)

    report = steps.load(hook, ledger, s, "run-1")

    assert (report.adopted, report.held_elsewhere, report.posted) == (1, 2, 1)
    held = {r.uuid: r.state_reason for r in ledger.select_in_state(["held"])}
    assert set(held) == {"txr-old", "txr-zone"}
    assert "on the credit card account 'Divvy CC Object', not on 'Divvy CC East'" in held["txr-old"]
    assert [r.uuid for r in ledger.select_in_state(["posted"])].count("txr-here") == 1
    assert _refs(gw).count(("txr-new", NEW_CARD)) == 1


def test_a_hit_whose_card_is_not_named_is_asked_again_on_this_card():
    from intacct_hook.sync.already_posted import look_up

    day = dt.date(2026, 10, 5)

    class Answers:
        def __init__(self):
            self.asked = []

        def find_cctransactions(self, card_id, start, end, reference_nos=None):
            self.asked.append((card_id, start, end, tuple(reference_nos or ())))
            if card_id is None:  # the every-card answer names no card
                return [{"RECORDID": "a", "RECORDNO": "1"}, {"RECORDID": "b", "RECORDNO": "2"}]
            return [{"RECORDID": "a", "RECORDNO": "1", "FINANCIALENTITY": card_id}]

    intacct = Answers()
    found = look_up(intacct, "CC", [("a", day, day), ("b", day, day)])

    assert set(found.here) == {"a"} and set(found.elsewhere) == {"b"}
    # The dates looked up are widened by a day either side.
    assert intacct.asked[0][:3] == (None, day - dt.timedelta(days=1), day + dt.timedelta(days=1))
    assert intacct.asked[1][0] == "CC" and intacct.asked[1][3] == ("a", "b")
