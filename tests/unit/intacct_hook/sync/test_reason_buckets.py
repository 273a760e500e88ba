"""Stage's count of what is not posted, by kind of reason: real reasons from the posting rules,
grouped without cutting an amount at its decimal point."""

from __future__ import annotations

import itertools
import re
from datetime import date
from typing import Any

import pytest

from intacct_hook.divvy.records import DivvyTransaction
from intacct_hook.sync import steps
from intacct_hook.sync.ledger import Ledger
from intacct_hook.sync.report import reason_kind
from intacct_hook.sync.settings import SyncSettings
from intacct_hook.sync.translation import PostingRules, decide
from intacct_hook.sync.window import SyncWindow

DAY = date(2026, 11, 17)
WINDOW = SyncWindow(DAY, DAY, 0, "America/Chicago", "params")
_n = itertools.count(1)


def divvy(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "uuid": f"txr_bucket{next(_n):018d}",
        "transactionType": "CLEAR",
        "complete": True,
        "amount": "29.99",
        "merchantName": "Staples",
        "occurredTime": "2026-11-17T15:00:00.000+00:00",
        "customFields": [
            {"name": "GL Account", "selectedValues": [{"value": "6100 - Office Supplies"}]}
        ],
    }
    return data | overrides


def reason_of(data: dict[str, Any]) -> str:
    return decide(DivvyTransaction.from_json(data), PostingRules()).reason


def _eur(amount: str, minor: str) -> dict[str, Any]:
    return {
        "amount": amount,
        "currencyData": {"exponent": 2, "originalCurrencyAmount": minor,
                         "originalCurrencyCode": "EUR"},
    }  # fmt: skip


# Real reasons, two records of each kind that differ only in their record-specific parts.
KINDS = {
    "reversal": [
        divvy(transactionType="AUTHORIZATION", amount="-29.99"),
        divvy(transactionType="AUTHORIZATION", amount="-1234.50"),
    ],
    "declined": [
        divvy(transactionType="DECLINE", declineReason="CVV is invalid."),
        divvy(transactionType="DECLINE", declineReason="Insufficient funds. Call 555.0100"),
    ],
    "settled authorization": [
        divvy(transactionType="AUTHORIZATION", matchedClearTransactionUuid="txr_a1.b2"),
        divvy(transactionType="AUTHORIZATION", matchedClearTransactionUuid="txr_zz9"),
    ],
    "foreign currency": [divvy(**_eur("32.55", "2999")), divvy(**_eur("10.86", "1000"))],
    "bad amount": [divvy(amount="1e26"), divvy(amount="2.5e11")],
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_records_of_one_kind_share_one_bucket_that_cuts_no_amount(kind):
    reasons = [reason_of(d) for d in KINDS[kind]]
    assert reasons[0] != reasons[1]  # the record-specific parts really differ
    buckets = {reason_kind(r) for r in reasons}
    assert len(buckets) == 1, buckets
    [bucket] = buckets
    # Never an amount cut at its decimal point ("a pending $29"), never a bare number tail.
    assert not re.search(r"\$[\d,]+(?![\d.,])(?!…)", bucket.replace("$…", "")), bucket
    assert not re.search(r"\d\.$|\$\d+$", bucket), bucket
    assert 0 < len(bucket) <= 80


def test_the_buckets_read_as_the_reasons_do():
    assert reason_kind(reason_of(KINDS["reversal"][0])) == (
        "Reversal of a pending $… authorization (…)"
    )
    assert reason_kind(reason_of(KINDS["bad amount"][0])) == "Bad data in Divvy"
    assert reason_kind(reason_of(KINDS["declined"][0])) == "Declined card attempt (…)"
    assert reason_kind(reason_of(divvy(complete=False))) == "Not marked complete in Divvy (…)"
    assert reason_kind("") == "(no reason recorded)"
    # A name with a dot in it is not a sentence end either.
    synced = divvy(
        accountingIntegrationTransactions=[{"syncStatus": "synced", "integrationType": "Sage 50.2"}]
    )
    assert reason_kind(reason_of(synced)) == (
        "Already sent to Sage 50.2 by Divvy's own accounting sync"
    )


def test_kinds_stay_apart():
    buckets = {kind: reason_kind(reason_of(data[0])) for kind, data in KINDS.items()}
    assert len(set(buckets.values())) == len(buckets), buckets


def test_stage_counts_not_postable_records_by_bucket(tmp_path):
    ledger = Ledger.sqlite(tmp_path / "ledger.db")
    ledger.ensure_schema()
    records = [*KINDS["reversal"], *KINDS["bad amount"], divvy(amount="10.00")]
    ledger.land("run-1", [{"transaction": r, "children": []} for r in records])

    summary = steps.stage(ledger, SyncSettings(), WINDOW, "run-1")

    assert summary["not_postable"] == {
        "skipped: Reversal of a pending $… authorization (…)": 2,
        "held: Bad data in Divvy": 2,
    }
