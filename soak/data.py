"""One schedule's Divvy data, and what Intacct must end up holding, worked out independently.

The expected records come from the generated rows and a plain reading of the posting rules
(settled ``CLEAR``, complete, not synced by Divvy's own integration, non-zero), never from the
ledger or the product's code: if both were wrong the same way the soak would not see it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

TIMEZONE = "America/Chicago"
CARD = "Divvy CC Object"
# Open period: the gateway's seed closes the books through 2026-09-30.
FIRST_DAY = date(2026, 11, 2)
SPREAD_DAYS = 28

USER = "usr_member000000000000000000002"
BUDGET = "bgt_operations00000000000000001"
CARD_UUID = "crd_jane000000000000000000000001"
GL_VALUES = (
    "6100 - Office Supplies",
    "6200 - Travel",
    "6300 - Meals",
    "6400 - Software",
    "6500 - Advertising",
    "6600 - Fuel & Auto",
    "6900 - Miscellaneous",
)
LOCATIONS = ("100 - Headquarters", "200 - Remote", "300 - Field Office", None)
MERCHANTS = ("Staples", "Office Depot", "Delta Air Lines", "Café Münster", "Hotel <Grand> & Spa")


@dataclass(frozen=True)
class Expected:
    """A Divvy CLEAR that must be in Intacct exactly once: reference number = uuid."""

    uuid: str
    posting_date: date
    total: Decimal


@dataclass
class ScheduleData:
    days: list[date]
    rows: list[dict[str, Any]]  # Divvy rows, split parents before their children
    expected: dict[str, Expected] = field(default_factory=dict)
    not_posted: int = 0  # rows the posting rules must leave alone (skip or hold)


def _money(cents: int) -> float:
    return round(cents / 100, 2)


def _stamp(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _Maker:
    def __init__(self, rng: random.Random, days: list[date]) -> None:
        self.rng = rng
        self.days = days
        self.zone = ZoneInfo(TIMEZONE)
        self.data = ScheduleData(days=days, rows=[])

    def uuid(self, kind: str) -> str:
        return f"txr_soak{kind}{self.rng.getrandbits(64):016x}"

    def occurred(self) -> tuple[datetime, date]:
        """A purchase time well inside one of the days, in the company's time zone."""
        day = self.rng.choice(self.days)
        minutes = self.rng.randrange(30, 23 * 60 + 30)
        local = datetime.combine(day, time(), tzinfo=self.zone) + timedelta(minutes=minutes)
        return local, day

    def coding(self) -> dict[str, Any]:
        return {"GL Account": self.rng.choice(GL_VALUES), "Location": self.rng.choice(LOCATIONS)}

    def row(self, kind: str, cents: int, **fields: Any) -> dict[str, Any]:
        occurred, day = fields.pop("_when", None) or self.occurred()
        updated = occurred + timedelta(minutes=self.rng.randrange(1, 30 * 60))
        row = {
            "uuid": fields.pop("uuid", None) or self.uuid(kind.lower()[:4]),
            "transactionType": kind,
            "amount": _money(cents),
            "complete": True,
            "merchantName": self.rng.choice(MERCHANTS),
            "merchantCategoryCode": "5943",
            "occurredTime": _stamp(occurred),
            "updatedTime": _stamp(updated),
            "userUuid": USER,
            "budgetUuid": BUDGET,
            "cardUuid": CARD_UUID,
            "customFields": self.coding(),
            **fields,
        }
        row["_day"] = day
        return row

    def add(self, row: dict[str, Any], *, posts: bool) -> dict[str, Any]:
        day = row.pop("_day")
        self.data.rows.append(row)
        if posts:
            total = Decimal(str(row["amount"])).quantize(Decimal("0.01"))
            self.data.expected[row["uuid"]] = Expected(row["uuid"], day, total)
        else:
            self.data.not_posted += 1
        return row

    def charge(self, *, refund: bool = False) -> None:
        cents = self.rng.randrange(100, 80_000)
        self.add(self.row("CLEAR", -cents if refund else cents), posts=True)

    def split(self) -> None:
        parts = [self.rng.randrange(100, 30_000) for _ in range(self.rng.choice((2, 3)))]
        parent = self.row("CLEAR", sum(parts), customFields={})
        children = [
            self.row(
                "CLEAR",
                cents,
                uuid=self.uuid("chld"),
                parentTransactionUuid=parent["uuid"],
                _when=(datetime.fromisoformat(parent["occurredTime"]), parent["_day"]),
            )
            for cents in parts
        ]
        parent["childTransactionUuids"] = [c["uuid"] for c in children]
        self.add(parent, posts=True)
        for child in children:
            child.pop("_day")
            self.data.rows.append(child)  # fetched by uuid with its parent, never listed

    def not_postable(self) -> None:
        cents = self.rng.randrange(100, 20_000)
        kind = self.rng.choice(("authorization", "decline", "incomplete", "synced"))
        if kind == "authorization":
            row = self.row("AUTHORIZATION", cents)
        elif kind == "decline":
            row = self.row("DECLINE", cents, declineReason="Card is frozen.", customFields={})
        elif kind == "incomplete":
            row = self.row("CLEAR", cents, complete=False, customFields={})
        else:
            row = self.row(
                "CLEAR",
                cents,
                accountingIntegrationTransactions=[
                    {
                        "id": f"ait_{self.rng.getrandbits(32):08x}",
                        "syncStatus": "synced",
                        "integrationType": "SAGE_INTACCT",
                    }
                ],
            )
        self.add(row, posts=False)


def generate(rng: random.Random) -> ScheduleData:
    """3 to 12 CLEARs over 1 to 3 consecutive days: at least one refund and one split (when
    there are three or more), charges otherwise, plus up to three records that must not post."""
    start = FIRST_DAY + timedelta(days=rng.randrange(SPREAD_DAYS))
    days = [start + timedelta(days=n) for n in range(rng.randint(1, 3))]
    maker = _Maker(rng, days)
    clears = rng.randint(3, 12)
    maker.charge(refund=True)
    maker.split()
    for _ in range(clears - 2):
        if rng.random() < 0.15:
            maker.charge(refund=True)
        elif rng.random() < 0.1:
            maker.split()
        else:
            maker.charge()
    for _ in range(rng.randint(0, 3)):
        maker.not_postable()
    return maker.data
