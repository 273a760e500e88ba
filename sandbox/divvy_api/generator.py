"""A deterministic generator of realistic Divvy weeks (same ``seed`` → byte-identical output).

Lifecycles follow reference §2.5/§7: an AUTHORIZATION clears as a *new* CLEAR record with a new
uuid (linked both ways), usually the next day, sometimes days later and sometimes after the
generated window (those are left pending and listed under ``scheduledClears`` so a test or the
demo can settle them later with ``DivvyState.apply_scheduled_clears``). Also: declines,
reversals (negative AUTHORIZATION), refunds (negative CLEAR), splits, incomplete coding, rows
already synced by Divvy's own integration, uncoded rows a mapping rule could cover, unknown GL
values, and merchant names that break naive XML/CSV/JSON handling.
"""

from __future__ import annotations

import copy
import hashlib
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sandbox.divvy_api.state import DEFAULT_SEED, load_seed
from sandbox.divvy_api.util import fmt_time, money, new_uuid

GL_OFFICE = "6100 - Office Supplies"
GL_TRAVEL = "6200 - Travel"
GL_TRAVEL_CLIENT = "6250 - Travel - Client"
GL_MEALS = "6300 - Meals"
GL_SOFTWARE = "6400 - Software"
GL_ADS = "6500 - Advertising"
GL_FUEL = "6600 - Fuel & Auto"
GL_MISC = "6900 - Miscellaneous"
GL_UNKNOWN = "7777 - Unknown"  # exists in Divvy's pick list, not in Intacct: held as unmapped
LOCATIONS = ("100 - Headquarters", "200 - Remote", "300 - Field Office")
DEPARTMENTS = ("10 - Sales", "20 - Engineering", "30 - Operations")
DECLINE_REASONS = (
    "CVV is invalid.",
    "Insufficient budget funds.",
    "Merchant category is blocked.",
    "Card is frozen.",
)


@dataclass(frozen=True)
class Merchant:
    name: str
    raw: str
    mcc: str
    gl: str
    budget: str
    low: int  # cents
    high: int
    settles_differently: bool = False  # tips, hotel incidentals, fuel pre-auths


MERCHANTS = (
    Merchant("Office Depot", "OFFICE DEPOT #1123", "5943", GL_OFFICE, "Operations", 1200, 25000),
    Merchant("Staples", "STAPLES 00112", "5943", GL_OFFICE, "Operations", 800, 18000),
    Merchant("Amazon", "AMZN Mktp US", "5942", GL_OFFICE, "Operations", 999, 35000),
    Merchant("Delta Air Lines", "DELTA AIR 0062", "3058", GL_TRAVEL, "Travel", 18000, 90000),
    Merchant("Marriott", "MARRIOTT DOWNTOWN", "7011", GL_TRAVEL, "Travel", 15000, 60000, True),
    Merchant(
        "Hotel <Grand> & Spa", "HOTEL GRAND SPA", "7011", GL_TRAVEL, "Travel", 20000, 80000, True
    ),
    Merchant("Uber", "UBER *TRIP", "4121", GL_TRAVEL, "Travel", 900, 7500, True),
    Merchant("Café Münster", "CAFE MUENSTER", "5812", GL_MEALS, "Travel", 1500, 12000, True),
    Merchant("🍕 Pizza Place", "PIZZA PLACE", "5812", GL_MEALS, "Marketing", 2500, 30000, True),
    Merchant("Joe's Diner", "JOES DINER", "5812", GL_MEALS, "Operations", 1200, 9000, True),
    Merchant("GitHub", "GITHUB INC", "5734", GL_SOFTWARE, "Engineering", 400, 250000),
    Merchant("Amazon Web Services", "AWS EMEA", "7372", GL_SOFTWARE, "Engineering", 5000, 400000),
    Merchant("Google Ads", "GOOGLE *ADS", "7311", GL_ADS, "Marketing", 10000, 300000),
    Merchant("Ads & <Banners> Co", "ADS BANNERS CO", "7311", GL_ADS, "Marketing", 8000, 90000),
    Merchant("Shell", "SHELL OIL 5744", "5541", GL_FUEL, "Travel", 3000, 11000, True),
    Merchant("Chevron", "CHEVRON 0099", "5542", GL_FUEL, "Operations", 2500, 9000, True),
    Merchant('"Best" Signs', "BEST SIGNS LLC", "7399", GL_MISC, "Marketing", 5000, 40000),
    Merchant("FedEx", "FEDEX 7781", "4215", GL_MISC, "Operations", 900, 15000),
)
REFUNDABLE = tuple(m for m in MERCHANTS if m.mcc in ("5943", "5942", "3058", "7011"))

EXTRA_USERS = (
    ("Zoë", "Quiñones", "zoe.quinones"),
    ("Liam", "O'Connor", "liam.oconnor"),
    ("Priya", "Natarajan", "priya.natarajan"),
    ("Marcus", "Lee", "marcus.lee"),
)


class _Week:
    def __init__(self, start: date, days: int, seed: int, per_day: int) -> None:
        self.rng = random.Random(seed)
        self.start = datetime(start.year, start.month, start.day, tzinfo=UTC)
        self.days = days
        self.per_day = per_day
        self.as_of = self.start + timedelta(days=days)
        base = load_seed(DEFAULT_SEED)
        base.pop("transactions", None)
        base.pop("_comment", None)
        self.seed: dict[str, Any] = base
        self._add_people()
        self.rows: list[dict[str, Any]] = []
        self.scheduled: list[dict[str, Any]] = []

    def _add_people(self) -> None:
        budgets = [b for b in self.seed["budgets"] if not b.get("retired")]
        for index, (first, last, handle) in enumerate(EXTRA_USERS):
            user_uuid = new_uuid("usr", self.rng)
            self.seed["users"].append(
                {
                    "uuid": user_uuid,
                    "firstName": first,
                    "lastName": last,
                    "email": f"{handle}@acme.example",
                    "role": "MEMBER",
                }
            )
            budget = budgets[index % len(budgets)]
            self.seed["cards"].append(
                {
                    "uuid": new_uuid("crd", self.rng),
                    "name": f"{first} {budget['name'].lower()}",
                    "lastFour": f"{self.rng.randrange(1000, 10000)}",
                    "userUuid": user_uuid,
                    "budgetUuid": budget["uuid"],
                    "type": "VIRTUAL_MEMBER",
                }
            )
        self.budget_by_name = {b["name"]: b for b in budgets}
        self.cards_by_budget: dict[str, list[dict[str, Any]]] = {}
        for card in self.seed["cards"]:
            self.cards_by_budget.setdefault(card["budgetUuid"], []).append(card)
        self.admin_uuid = self.seed["tokens"][0]["userUuid"]

    # ------------------------------------------------------------------ helpers

    def _time_in_day(self, day: datetime) -> datetime:
        roll = self.rng.random()
        if roll < 0.06:  # just before midnight UTC: day-boundary tests must matter
            offset = 86400 - self.rng.randrange(1, 600)
        elif roll < 0.10:  # just after midnight
            offset = self.rng.randrange(0, 600)
        else:  # business-ish hours in US time zones, i.e. 13:00-03:00 UTC, plus some spread
            offset = int(self.rng.triangular(6 * 3600, 86399, 18 * 3600))
        return day + timedelta(seconds=offset, milliseconds=self.rng.randrange(1000))

    def _coding(self, merchant: Merchant) -> dict[str, Any]:
        gl = merchant.gl
        if gl == GL_TRAVEL and self.rng.random() < 0.25:
            gl = GL_TRAVEL_CLIENT  # needs a Department in Intacct
        coding: dict[str, Any] = {"GL Account": gl}
        # Empty location: the loader falls back to the card's default location.
        coding["Location"] = None if self.rng.random() < 0.15 else self.rng.choice(LOCATIONS)
        if gl == GL_TRAVEL_CLIENT or self.rng.random() < 0.6:
            coding["Department"] = self.rng.choice(DEPARTMENTS)
        if self.rng.random() < 0.3:
            coding["Class"] = "C1 - Core"
        if self.rng.random() < 0.2:
            coding["Project"] = "P-100 - Website"
        if self.rng.random() < 0.1:
            coding["Memo"] = self.rng.choice(("Team lunch", 'Client "kickoff"', "Q4 <launch>"))
        return coding

    def _base(self, merchant: Merchant, occurred: datetime) -> dict[str, Any]:
        budget = self.budget_by_name[merchant.budget]
        card = self.rng.choice(self.cards_by_budget.get(budget["uuid"], self.seed["cards"]))
        return {
            "merchantName": merchant.name,
            "rawMerchantName": merchant.raw,
            "merchantCategoryCode": merchant.mcc,
            "occurredTime": fmt_time(occurred),
            "authorizedTime": fmt_time(occurred + timedelta(milliseconds=700)),
            "userUuid": card["userUuid"],
            "budgetUuid": budget["uuid"],
            "cardUuid": card["uuid"],
            "cardPresent": merchant.mcc in ("5812", "5541", "5542", "5943"),
            "cardType": "PHYSICAL" if merchant.mcc in ("5541", "5542") else "VIRTUAL",
        }

    def _add(self, row: dict[str, Any]) -> dict[str, Any]:
        row.setdefault("uuid", new_uuid("txr", self.rng))
        self.rows.append(row)
        return row

    def _clear_time(self, occurred: datetime) -> datetime:
        roll = self.rng.random()
        if roll < 0.15:
            delay = timedelta(hours=self.rng.uniform(2, 6))
        elif roll < 0.85:  # most settle overnight
            next_day = datetime.combine(occurred.date() + timedelta(days=1), datetime.min.time())
            delay = (
                next_day.replace(tzinfo=UTC) - occurred + timedelta(hours=self.rng.uniform(2, 12))
            )
        elif roll < 0.97:  # late clears: hotels, rentals
            delay = timedelta(days=self.rng.randint(2, 5), hours=self.rng.uniform(0, 12))
        else:  # beyond the generated week
            delay = timedelta(days=self.rng.randint(8, 14), hours=self.rng.uniform(0, 12))
        return occurred + delay + timedelta(milliseconds=self.rng.randrange(1000))

    # ------------------------------------------------------------------ lifecycles

    def purchase(self, occurred: datetime) -> None:
        roll = self.rng.random()
        if roll < 0.06:
            self.decline(occurred)
        elif roll < 0.10:
            self.reversal(occurred)
        elif roll < 0.14:
            self.refund(occurred)
        elif roll < 0.15:
            self.other(occurred)
        else:
            self.settled(occurred, split=roll < 0.21)

    def decline(self, occurred: datetime) -> None:
        merchant = self.rng.choice(MERCHANTS)
        row = self._base(merchant, occurred)
        row.update(
            transactionType="DECLINE",
            amount=money(self.rng.randrange(merchant.low, merchant.high)),
            authorizedTime=None,
            updatedTime=fmt_time(occurred),
            declineReason=self.rng.choice(DECLINE_REASONS),
            complete=True,
            receiptRequired=False,
            receiptStatus="NOT_REQUIRED",
            customFields={},
        )
        self._add(row)

    def reversal(self, occurred: datetime) -> None:
        merchant = self.rng.choice([m for m in MERCHANTS if m.settles_differently])
        amount = self.rng.randrange(merchant.low, merchant.high)
        auth = self._base(merchant, occurred)
        auth.update(
            transactionType="AUTHORIZATION",
            amount=money(amount),
            updatedTime=fmt_time(occurred + timedelta(seconds=1)),
            customFields=self._coding(merchant),
        )
        self._add(auth)
        later = occurred + timedelta(hours=self.rng.uniform(1, 20))
        back = self._base(merchant, later)
        back.update(
            userUuid=auth["userUuid"],
            budgetUuid=auth["budgetUuid"],
            cardUuid=auth["cardUuid"],
            transactionType="AUTHORIZATION",
            amount=money(-amount),
            updatedTime=fmt_time(later + timedelta(seconds=1)),
            receiptRequired=False,
            receiptStatus="NOT_REQUIRED",
            customFields=dict(auth["customFields"]),
        )
        if later < self.as_of:
            self._add(back)

    def refund(self, occurred: datetime) -> None:
        merchant = self.rng.choice(REFUNDABLE)
        row = self._base(merchant, occurred)
        row.update(
            transactionType="CLEAR",
            amount=money(-self.rng.randrange(merchant.low, merchant.high // 2)),
            authorizedTime=None,
            updatedTime=fmt_time(min(occurred + timedelta(hours=6), self.as_of - _MS)),
            customFields=self._coding(merchant),
            receiptRequired=False,
            receiptStatus="NOT_REQUIRED",
            reviewers=[self._approved()],
        )
        self._add(row)

    def other(self, occurred: datetime) -> None:
        row = self._base(MERCHANTS[0], occurred)
        row.update(
            merchantName="Divvy Card Fee",
            rawMerchantName="DIVVY FEE",
            merchantCategoryCode="6012",
            transactionType="OTHER",
            amount=money(self.rng.choice((500, 1000, 2500))),
            updatedTime=fmt_time(occurred),
            customFields={},
        )
        self._add(row)

    def settled(self, occurred: datetime, *, split: bool) -> None:
        merchant = self.rng.choice(MERCHANTS)
        auth_cents = self.rng.randrange(merchant.low, merchant.high)
        clear_cents = auth_cents
        if merchant.settles_differently and self.rng.random() < 0.7:
            clear_cents = auth_cents + round(auth_cents * self.rng.uniform(0.05, 0.25))
        base = self._base(merchant, occurred)
        coding = self._coding(merchant)
        auth = self._add(
            dict(
                base,
                transactionType="AUTHORIZATION",
                amount=money(auth_cents),
                updatedTime=fmt_time(occurred + timedelta(seconds=1)),
                customFields=coding,
                complete=True,
            )
        )
        cleared = self._clear_time(occurred)
        clear: dict[str, Any] = dict(
            base,
            uuid=new_uuid("txr", self.rng),
            transactionType="CLEAR",
            amount=money(clear_cents),
            originalAuthTransactionUuid=auth["uuid"],
            updatedTime=fmt_time(cleared),
            customFields=copy.deepcopy(coding),
            complete=True,
            reviewers=[self._approved()],
        )
        self._vary_clear(clear, merchant)
        if cleared >= self.as_of:
            # Not settled yet as of the end of the window: left pending, scheduled for later.
            self.scheduled.append(
                {
                    "authUuid": auth["uuid"],
                    "clearUuid": clear["uuid"],
                    "clearAt": fmt_time(cleared),
                    "amount": clear["amount"],
                }
            )
            return
        auth["matchedClearTransactionUuid"] = clear["uuid"]
        auth["updatedTime"] = clear["updatedTime"]
        if split and clear["complete"]:
            self._split(clear, clear_cents, merchant)
        self._add(clear)

    def _vary_clear(self, clear: dict[str, Any], merchant: Merchant) -> None:
        roll = self.rng.random()
        fields = clear["customFields"]
        if roll < 0.10:  # incomplete: the cardholder has not coded it yet
            fields.pop("GL Account", None)
            clear.update(complete=False, receiptStatus="MISSING", reviewers=[])
        elif roll < 0.14 and (merchant.budget == "Marketing" or merchant.mcc == "5812"):
            # No GL at all, but a budget/MCC mapping rule can cover it (GL not required here).
            fields.pop("GL Account", None)
        elif roll < 0.16:
            fields["GL Account"] = GL_UNKNOWN
        elif roll < 0.20:
            clear["accountingIntegrationTransactions"] = [
                {
                    "id": new_uuid("ait", self.rng),
                    "billable": False,
                    "integrationTxId": f"CCT-{self.rng.randrange(10000, 99999)}",
                    "syncStatus": "synced",  # lower-case inside the record (§2.5 LIVE-3P)
                    "syncMessage": None,
                    "integrationType": "SAGE_INTACCT",
                    "integrationId": "int_0001",
                    "transactionRecordId": str(self.rng.randrange(1000, 9999)),
                    "syncRequestId": new_uuid("srq", self.rng),
                }
            ]

    def _split(self, parent: dict[str, Any], total: int, merchant: Merchant) -> None:
        parts = self.rng.choice((2, 2, 3))
        cuts = sorted(self.rng.sample(range(1, total), parts - 1)) if total > parts else []
        amounts = [b - a for a, b in zip([0, *cuts], [*cuts, total], strict=True)]
        children = []
        for amount in amounts:
            child_merchant = self.rng.choice([m for m in MERCHANTS if m.mcc == merchant.mcc])
            child = dict(
                parent,
                uuid=new_uuid("txr", self.rng),
                amount=money(amount),
                parentTransactionUuid=parent["uuid"],
                originalAuthTransactionUuid=None,
                customFields=self._coding(child_merchant),
            )
            children.append(child)
        parent["childTransactionUuids"] = [c["uuid"] for c in children]
        parent["customFields"] = {}  # the coding lives on the children
        for child in children:
            self._add(child)

    def _approved(self) -> dict[str, Any]:
        return {"approverType": "ADMIN", "status": "APPROVED", "userUuid": self.admin_uuid}

    def add_receipts(self, share: float) -> None:
        """Give about ``share`` of the settled purchases a receipt (a third of those two),
        chosen from each uuid's hash, not the week's random stream: the rest of the week is
        the same with or without receipts."""
        for row in self.rows:
            if row.get("transactionType") != "CLEAR" or row.get("parentTransactionUuid"):
                continue
            digest = hashlib.sha256(row["uuid"].encode()).digest()
            if digest[0] >= share * 256:
                continue
            count = 2 if digest[1] < 85 else 1
            stem = "".join(c for c in row.get("merchantName", "receipt") if c.isalnum())
            row["receipts"] = [
                {
                    "uuid": f"rct_{digest[2:14].hex()}{n}",
                    "filename": f"{stem or 'receipt'}-{n}.{'pdf' if digest[3] < 64 else 'jpg'}",
                    "size": 1024 + digest[4 + n] * 64,
                }
                for n in range(1, count + 1)
            ]

    def build(self, receipt_share: float = 0.0) -> dict[str, Any]:
        for offset in range(self.days):
            day = self.start + timedelta(days=offset)
            for _ in range(self.per_day):
                self.purchase(self._time_in_day(day))
        if receipt_share:
            self.add_receipts(receipt_share)
        self.seed["asOf"] = fmt_time(self.as_of)
        self.seed["transactions"] = self.rows
        self.seed["scheduledClears"] = sorted(self.scheduled, key=lambda s: s["clearAt"])
        return self.seed


_MS = timedelta(milliseconds=1)


def generate_week(
    start: date,
    days: int = 7,
    *,
    seed: int = 7,
    per_day: int = 40,
    receipt_share: float = 0.0,
) -> dict:
    """A seed dict for ``days`` days from ``start`` (UTC), ``per_day`` purchases a day;
    ``receipt_share`` (0..1) of the settled purchases get one or two receipt files.

    Deterministic: the same arguments always give the same dict (uuids included), and the
    receipts change nothing else in it.
    """
    return _Week(start, days, seed, per_day).build(receipt_share)
