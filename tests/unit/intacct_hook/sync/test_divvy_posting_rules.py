"""Every posting rule, on typed records (no server needed)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from intacct_hook.sync.translation import PostingLine, PostingRules, decide
from tests.divvy_factories import coding, txn

SYNCED = [{"syncStatus": "synced", "integrationType": "Sage Intacct"}]


def test_clear_charge_posts_one_line_with_its_coding():
    t = txn(amount=53.03, note="Printer paper")
    d = decide(t, PostingRules())
    assert d.action == "post"
    assert d.reason == "Card charge of $53.03 at Amazon."
    assert d.lines == (
        PostingLine(
            source_uuid=t.uuid,
            amount=Decimal("53.03"),
            coding={"GL Account": ("6100 - Office Supplies",)},
            coding_uuid=t.uuid,
            note="Printer paper",
        ),
    )


def test_refund_posts_a_negative_line():
    t = txn(amount=-20.00, merchantName="Café & Bar <Zürich> 🍺")
    d = decide(t)
    assert d.action == "post"
    assert d.lines[0].amount == Decimal("-20")
    assert d.reason == "Refund of $20.00 from Café & Bar <Zürich> 🍺."


def test_authorization_is_never_posted():
    d = decide(txn(transactionType="AUTHORIZATION", originalAuthTransactionUuid=None))
    assert (d.action, d.lines) == ("skip", ())
    assert "not settled yet" in d.reason


def test_cleared_authorization_points_at_its_clear():
    d = decide(txn(transactionType="AUTHORIZATION", matchedClearTransactionUuid="txr_clear9"))
    assert d.action == "skip" and "txr_clear9" in d.reason


def test_negative_authorization_is_called_a_reversal():
    d = decide(txn(transactionType="AUTHORIZATION", amount=-75.5))
    assert d.action == "skip"
    assert d.reason.startswith("Reversal of a pending $75.50 authorization")


def test_decline_is_skipped_with_the_decline_reason():
    d = decide(txn(transactionType="DECLINE", declineReason="CVV is invalid.", complete=False))
    assert d.action == "skip"
    assert d.reason == "Declined card attempt (CVV is invalid); no money moved."


def test_other_type_is_skipped_for_review():
    d = decide(txn(transactionType="CASHBACK"))
    assert d.action == "skip" and "'CASHBACK'" in d.reason and "review" in d.reason


def test_incomplete_clear_is_held_unless_configured_otherwise():
    t = txn(complete=False, status="INCOMPLETE")
    held = decide(t, PostingRules(hold_incomplete=True))
    assert held.action == "hold" and held.lines == ()
    assert "Not marked complete in Divvy" in held.reason
    assert decide(t, PostingRules(hold_incomplete=False)).action == "post"


def test_already_synced_by_divvy_is_skipped_unless_configured_otherwise():
    t = txn(accountingIntegrationTransactions=SYNCED)
    d = decide(t, PostingRules(skip_already_synced=True))
    assert d.action == "skip"
    assert "Already sent to Sage Intacct by Divvy's own accounting sync" in d.reason
    assert decide(t, PostingRules(skip_already_synced=False)).action == "post"


def test_divvy_sync_pending_is_held_and_error_is_posted():
    pending = txn(accountingIntegrationTransactions=[{"syncStatus": "PENDING"}])
    assert decide(pending).action == "hold"
    failed = txn(accountingIntegrationTransactions=[{"syncStatus": "error"}])
    assert decide(failed).action == "post"


def test_already_synced_wins_over_incomplete():
    # Reported as skipped (done elsewhere), not as held (something to chase).
    d = decide(txn(complete=False, accountingIntegrationTransactions=SYNCED))
    assert d.action == "skip"


def test_zero_amount_clear_is_skipped():
    assert decide(txn(amount=0)).action == "skip"


def _split(parent_amount, child_amounts, *, child_coded=(True, True), complete=True):
    uuids = [f"txr_child{i}" for i in range(len(child_amounts))]
    parent = txn(
        amount=parent_amount,
        childTransactionUuids=uuids,
        note="Offsite",
        customFields=coding("6900 - Miscellaneous"),
    )
    children = [
        txn(
            uuid=u,
            amount=a,
            isParent=False,
            parentTransactionUuid=parent.uuid,
            note=None,
            complete=complete,
            customFields=coding(f"62{i}0 - Travel") if coded else [],
        )
        for i, (u, a, coded) in enumerate(zip(uuids, child_amounts, child_coded, strict=True))
    ]
    return parent, children


def test_split_posts_one_line_per_child_with_child_coding_else_parent():
    parent, children = _split(100, [60.25, 39.75], child_coded=(True, False))
    # Children arrive in any order; lines follow Divvy's child order.
    d = decide(parent.with_children(reversed(children)))
    assert d.action == "post"
    assert d.reason == "Card charge of $100.00 at Amazon, split into 2 lines."
    first, second = d.lines
    assert (first.source_uuid, first.amount) == ("txr_child0", Decimal("60.25"))
    assert first.coding == {"GL Account": ("6200 - Travel",)}
    assert first.coding_uuid == "txr_child0"
    assert (second.source_uuid, second.amount) == ("txr_child1", Decimal("39.75"))
    assert second.coding == {"GL Account": ("6900 - Miscellaneous",)}
    assert second.coding_uuid == parent.uuid
    assert second.note == "Offsite"
    assert sum(line.amount for line in d.lines) == parent.amount


def test_split_whose_children_do_not_add_up_is_held():
    parent, children = _split(100, [60, 30])
    d = decide(parent.with_children(children))
    assert d.action == "hold"
    assert d.reason == (
        "Split parts add up to $90.00 but the transaction is $100.00; "
        "held until the split is fixed in Divvy."
    )


def test_split_without_its_children_loaded_is_held():
    parent, children = _split(100, [60, 40])
    d = decide(parent.with_children(children[:1]))
    assert d.action == "hold" and "1 of them could not be loaded" in d.reason
    assert decide(parent).action == "hold"


def test_split_with_an_incomplete_child_is_held():
    parent, children = _split(100, [60, 40], complete=False)
    assert decide(parent.with_children(children)).action == "hold"


def test_split_refund_posts_negative_lines():
    parent, children = _split(-50, [-20, -30])
    d = decide(parent.with_children(children))
    assert d.action == "post" and d.reason.startswith("Refund of $50.00")
    assert [line.amount for line in d.lines] == [Decimal("-20"), Decimal("-30")]


def test_child_synced_by_divvy_skips_the_whole_split():
    parent, children = _split(100, [60, 40])
    children[1] = children[1].__class__.from_json(
        {**children[1].raw, "accountingIntegrationTransactions": SYNCED}
    )
    assert decide(parent.with_children(children)).action == "skip"


@pytest.mark.parametrize("kind", ["AUTHORIZATION", "DECLINE", "OTHER", "CLEAR"])
def test_lines_exist_exactly_when_posting(kind):
    d = decide(txn(transactionType=kind))
    assert (d.action == "post") == bool(d.lines)
    assert d.reason.endswith(".")


@pytest.mark.parametrize("amount", ["100000000000.00", "-1E+26", "1e26"])
def test_an_implausible_amount_is_held_naming_the_field(amount):
    d = decide(txn(amount=amount))
    assert (d.action, d.lines, d.bad_field) == ("hold", (), "amount")
    assert "'amount'" in d.reason and "Divvy" in d.reason


def test_the_largest_plausible_amount_posts():
    assert decide(txn(amount="99999999999.99")).action == "post"


def test_an_implausible_split_part_holds_the_split():
    parent, children = _split(100, ["1e26", "-99999999999999999999999900"])
    d = decide(parent.with_children(children))
    assert d.action == "hold" and children[0].uuid in d.reason


@pytest.mark.parametrize(
    "moment",
    [
        "0001-01-01T00:00:00+00:00",
        "1999-12-31T23:59:59+00:00",
        "2101-01-01T00:00:00+00:00",
        "9999-12-31T23:59:59+00:00",
    ],
)
def test_an_implausible_purchase_date_is_held_naming_the_field(moment):
    d = decide(txn(occurredTime=moment))
    assert (d.action, d.bad_field) == ("hold", "occurredTime")
    assert "'occurredTime'" in d.reason


@pytest.mark.parametrize("moment", ["2000-01-01T00:00:00+00:00", "2100-12-31T23:59:59+00:00"])
def test_dates_at_the_ends_of_the_plausible_range_post(moment):
    assert decide(txn(occurredTime=moment)).action == "post"


def test_implausible_data_on_a_decline_is_still_just_skipped():
    d = decide(txn(transactionType="DECLINE", amount="1e26", occurredTime="0001-01-01T00:00Z"))
    assert d.action == "skip"


def _eur(**overrides):
    data = {
        "amount": 53.03,
        "currencyData": {
            "exchangeRate": 1.1785,
            "exponent": 2,
            "originalCurrencyAmount": "4500",
            "originalCurrencyCode": "EUR",
            "symbol": "€",
        },
    }
    data.update(overrides)
    return txn(**data)


def test_a_foreign_currency_purchase_is_held_by_default_naming_the_setting():
    d = decide(_eur())
    assert (d.action, d.lines, d.bad_field) == ("hold", (), None)
    assert d.reason.startswith("Purchased in EUR (45.00 EUR, settled as $53.03)")
    assert "allow_foreign_currency" in d.reason


def test_a_foreign_currency_purchase_posts_its_usd_settlement_when_allowed():
    d = decide(_eur(), PostingRules(allow_foreign_currency=True))
    assert d.action == "post"
    assert [line.amount for line in d.lines] == [Decimal("53.03")]
    assert d.reason == "Card charge of $53.03 at Amazon (purchased as 45.00 EUR)."


def test_a_foreign_currency_split_part_holds_the_split():
    parent, children = _split(100, [60, 40])
    children[1] = _eur(uuid=children[1].uuid, amount=40, isParent=False)
    d = decide(parent.with_children(children))
    assert d.action == "hold" and "EUR" in d.reason
    allowed = decide(parent.with_children(children), PostingRules(allow_foreign_currency=True))
    assert allowed.action == "post"


@pytest.mark.parametrize("code", ["USD", "usd", None])
def test_usd_or_no_currency_data_posts(code):
    t = txn(currencyData={"originalCurrencyCode": code} if code else None)
    assert decide(t).action == "post"
