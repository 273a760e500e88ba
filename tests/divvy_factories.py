"""JSON shapes of Divvy transactions as the API returns them, for the pure tests."""

from __future__ import annotations

import itertools
from typing import Any

from intacct_hook.divvy.records import DivvyTransaction
from sandbox.divvy_api.state import load_seed

_counter = itertools.count(1)


def txn_json(**overrides: Any) -> dict[str, Any]:
    """A complete, settled $53.03 charge coded to GL 6100; override any field."""
    n = next(_counter)
    data: dict[str, Any] = {
        "id": f"VHJhbnNhY3Rpb246{n}",
        "uuid": f"txr_test{n:022d}",
        "transactionType": "CLEAR",
        "status": "COMPLETE",
        "complete": True,
        "amount": 53.03,
        "transactedAmount": 53.03,
        "fees": 0,
        "currencyData": {
            "exchangeRate": 1.0,
            "exponent": 2,
            "originalCurrencyAmount": "5303",
            "originalCurrencyCode": "USD",
            "symbol": "$",
        },
        "merchantName": "Amazon",
        "rawMerchantName": "AMZN Mktp US",
        "merchantCategoryCode": "5942",
        "occurredTime": "2026-08-01T12:00:00.000+00:00",
        "authorizedTime": "2026-08-01T12:00:01.000+00:00",
        "updatedTime": "2026-08-03T09:04:52.884+00:00",
        "userUuid": "usr_jane",
        "userName": "Jane Doe",
        "budgetUuid": "bgt_ops",
        "budgetName": "Operations",
        "cardUuid": "crd_4417",
        "cardLastFour": "4417",
        "originalAuthTransactionUuid": "txr_auth",
        "matchedClearTransactionUuid": None,
        "isParent": True,
        "childTransactionUuids": [],
        "isLocked": False,
        "customFields": [
            {
                "id": "Q3VzdG9tRmllbGQ6MQ==",
                "uuid": "tty_gl",
                "name": "GL Account",
                "isRequired": True,
                "note": None,
                "selectedValues": [
                    {"id": "x", "uuid": "tvl_6100", "value": "6100 - Office Supplies"}
                ],
            },
        ],
        "accountingIntegrationTransactions": None,
        "declineReason": None,
    }
    data.update(overrides)
    return data


def txn(**overrides: Any) -> DivvyTransaction:
    return DivvyTransaction.from_json(txn_json(**overrides))


def coding(gl: str) -> list[dict[str, Any]]:
    return [{"name": "GL Account", "selectedValues": [{"value": gl}]}]


def empty_seed() -> dict[str, Any]:
    """The default company (token, users, budgets, cards, custom fields) with no transactions."""
    seed = load_seed(None)
    seed["transactions"] = []
    seed.pop("scheduledClears", None)
    return seed
