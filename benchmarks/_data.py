"""Deterministic inputs: Divvy transactions as the API returns them, and Intacct writes.

Everything derives from fixed seeds, so two runs measure the same work.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

from benchmarks._servers import START_DAY, divvy_seed

CARD_ID = "Divvy CC Object"  # the Intacct seed's credit card account
DATA_SEED = 20261005

# Active IDs of the Intacct default seed (docs/architecture.md), so every write is accepted.
GL_ACCOUNTS = ("6100", "6200", "6300", "6400", "6500", "6600", "6900")
LOCATIONS = ("100", "200", "300")
DEPARTMENTS = ("10", "20", "30")
CLASSES = ("C1", "C2")
PROJECTS = ("P-100", "P-200")
PAYEES = (
    "Office Depot", "Delta Air Lines", "Marriott", "Hotel <Grand> & Spa", "Café Münster",
    "🍕 Pizza Place", "Joe's Diner", "Amazon Web Services", "Ads & <Banners> Co", '"Best" Signs',
)  # fmt: skip
CARDHOLDERS = ("Zoë Quiñones", "Liam O'Connor", "Priya Natarajan", "Marcus Lee")
BUDGETS = ("Operations", "Travel", "Marketing", "Engineering")


def cc_transactions(count: int, *, prefix: str, seed: int = DATA_SEED) -> list[Any]:
    """``count`` credit card writes as the load step builds them: mostly one line, some splits.

    Dates fall in October 2026, after the Intacct seed's closed period, so none is refused.
    """
    from intacct_hook.intacct.records import CCLine, CCTransaction

    rng = random.Random(seed)
    txns = []
    for i in range(count):
        parts = 1 if rng.random() < 0.85 else rng.choice((2, 3))
        lines = []
        for _ in range(parts):
            lines.append(
                CCLine(
                    gl_account_no=rng.choice(GL_ACCOUNTS),
                    amount=Decimal(rng.randrange(-5_000, 250_000)) / 100,
                    location_id=rng.choice(LOCATIONS),
                    department_id=rng.choice(DEPARTMENTS) if rng.random() < 0.6 else None,
                    class_id=rng.choice(CLASSES) if rng.random() < 0.3 else None,
                    project_id=rng.choice(PROJECTS) if rng.random() < 0.2 else None,
                    description=f"{rng.choice(CARDHOLDERS)} | {rng.choice(BUDGETS)}",
                )
            )
        txns.append(
            CCTransaction(
                card_id=CARD_ID,
                payment_date=START_DAY + timedelta(days=i % 25),
                reference_no=f"{prefix}{rng.getrandbits(96):024x}",
                payee=rng.choice(PAYEES),
                description=f"{rng.choice(CARDHOLDERS)} | {rng.choice(BUDGETS)} | Q4 <launch>",
                lines=tuple(lines),
            )
        )
    return txns


def divvy_api_rows(count: int) -> list[dict[str, Any]]:
    """``count`` listable Divvy transactions in the full API shape, decoded as the hook decodes
    them (``parse_float=Decimal``), each with its split children as ``_children``."""
    from sandbox.divvy_api.state import DivvyState

    state = DivvyState(divvy_seed(count))
    rows = []
    for txn in state.transactions.values():
        if txn["parentTransactionUuid"]:
            continue
        row = _as_received(txn)
        row["_children"] = [
            _as_received(state.transactions[u]) for u in txn["childTransactionUuids"]
        ]
        rows.append(row)
    return rows


def _as_received(txn: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(txn), parse_float=Decimal)


def divvy_transactions(lines: int) -> Iterator[Any]:
    """Divvy transactions (children attached) that make exactly ``lines`` posting lines."""
    from intacct_hook.divvy.records import DivvyTransaction

    # ~1.1 lines per transaction; the generator is asked for enough and the walk stops early.
    made = 0
    for row in divvy_api_rows(lines):
        children = [DivvyTransaction.from_json(c) for c in row.pop("_children")]
        txn = DivvyTransaction.from_json(row)
        if children:
            txn = txn.with_children(children)
        n = max(len(children), 1)
        if made + n > lines:
            continue  # a split that would overshoot; a later single-line row fits
        made += n
        yield txn
        if made == lines:
            return
    raise RuntimeError(f"generated only {made} lines, fewer than {lines}")
