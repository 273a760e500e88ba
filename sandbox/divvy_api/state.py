"""The live, thread-safe state of the emulator: seed data, tokens, rate limits, faults, a log.

Tests hold this object through ``DivvyHandle.state`` and mutate it between page fetches (inserts,
late clears, re-coding); every mutation takes the lock, so a request never sees half an update.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import math
import os
import pathlib
import random
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sandbox.divvy_api.util import (
    CODE_RATE_LIMIT,
    CODE_UNAUTHORIZED,
    ApiError,
    cents,
    fmt_time,
    money,
    new_uuid,
    parse_time,
    relay_id,
    utcnow,
)

SEEDS_DIR = pathlib.Path(__file__).resolve().parent / "seeds"
DEFAULT_SEED = SEEDS_DIR / "default.json"

FAULT_KINDS = ("rate_limit", "server_error", "slow", "truncated")
TRANSACTION_TYPES = ("AUTHORIZATION", "CLEAR", "DECLINE", "OTHER")
SYNC_STATUSES = ("PENDING", "SYNCED", "ERROR", "MANUAL_SYNCED", "NOT_SYNCED")
RECEIPT_STATUSES = (
    "VALIDATED",
    "NOT_VALIDATED",
    "ATTACHED",
    "MISSING",
    "NOT_REQUIRED",
    "NOT_ATTACHED",
)
_LINK_FIELDS = (
    ("originalAuthTransactionUuid", "originalAuthTransactionId"),
    ("matchedClearTransactionUuid", "matchedClearTransactionId"),
    ("parentTransactionUuid", "parentTransactionId"),
)


@dataclass
class Fault:
    kind: str
    params: dict[str, Any]


@dataclass
class RecordedRequest:
    """One request as the server saw it, with secrets masked.

    Iterates as ``(method, path, query, headers)``. ``query`` maps each parameter to its first
    value (what the server honours); ``query_multi`` keeps every value of repeated parameters.
    """

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    query_multi: dict[str, list[str]] = field(default_factory=dict)
    status: int | None = None

    def __iter__(self) -> Iterator[Any]:
        return iter((self.method, self.path, self.query, self.headers))


def load_seed(seed: str | os.PathLike[str] | Mapping[str, Any] | None) -> dict[str, Any]:
    """A seed dict from a path, a dict (deep-copied) or ``None`` (the bundled default)."""
    if seed is None:
        seed = DEFAULT_SEED
    if isinstance(seed, Mapping):
        return copy.deepcopy(dict(seed))
    return json.loads(pathlib.Path(seed).read_text(encoding="utf-8"))


class DivvyState:
    """All data and run-time behaviour of one emulator instance."""

    def __init__(
        self,
        seed: str | os.PathLike[str] | Mapping[str, Any] | None = None,
        *,
        calls_per_minute: int = 60,
        window_seconds: float = 60.0,
        retry_after: bool = True,
        bearer_ttl_seconds: int = 3600,
        allow_updated_time_sort: bool = False,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.lock = threading.RLock()
        self.calls_per_minute = calls_per_minute
        self.window_seconds = window_seconds
        self.retry_after = retry_after
        self.bearer_ttl_seconds = bearer_ttl_seconds
        # `sort=updatedTime` is undocumented (§2.2); off by default so clients cannot lean on it.
        self.allow_updated_time_sort = allow_updated_time_sort
        # Budgets list returning only retired budgets, as seen on one live tenant (§3 LIVE-3P).
        self.budgets_list_incomplete = False
        # Custom-field value writes whose live behaviour is unverified (README): whether
        # `PATCH …/values/{id}` renames a value (off: 405, as for any undocumented method), and
        # whether `DELETE` of a value past transactions use retires it ("retire", the documented
        # "deleted values remain on past transactions") or is refused with 409 ("refuse").
        self.value_patch = False
        self.value_delete_in_use = "retire"
        self.clock = clock
        self.rng = random.Random(20261116)
        self.users: dict[str, dict[str, Any]] = {}
        self.budgets: dict[str, dict[str, Any]] = {}
        self.cards: dict[str, dict[str, Any]] = {}
        self.custom_fields: dict[str, dict[str, Any]] = {}
        self.custom_field_values: dict[str, list[dict[str, Any]]] = {}
        self.transactions: dict[str, dict[str, Any]] = {}
        self.tokens: dict[str, str] = {}
        self.oauth_clients: dict[str, tuple[str, str]] = {}
        self.bearer_tokens: dict[str, tuple[str, str, float]] = {}
        self.requests: list[RecordedRequest] = []
        self._faults: deque[Fault] = deque()
        self._calls: dict[str, deque[float]] = {}
        self._ids: dict[str, str] = {}
        self._latest_updated: datetime | None = None
        # Clears the generator placed after its window: settle them with apply_scheduled_clears.
        self.scheduled_clears: list[dict[str, Any]] = []
        # Receipt files by receipt uuid: (bytes, Content-Type). Served at RECEIPT_PATH on
        # ``receipt_origin`` (set by the server), a host name other than the API's, as a
        # pre-signed file-store URL would be: no API token is needed or expected there.
        self.receipt_files: dict[str, tuple[bytes, str]] = {}
        self.receipt_origin = "http://localhost"
        self._receipt_key = secrets.token_bytes(16)
        self.load(load_seed(seed))

    # ------------------------------------------------------------------ loading

    def load(self, seed: Mapping[str, Any]) -> None:
        with self.lock:
            for user in seed.get("users", []):
                self._put(self.users, "User", self._normal_user(user))
            for budget in seed.get("budgets", []):
                self._put(self.budgets, "Budget", self._normal_budget(budget))
            for card in seed.get("cards", []):
                self._put(self.cards, "Card", self._normal_card(card))
            for cfield in seed.get("customFields", []):
                self._add_custom_field(cfield)
            for token in seed.get("tokens", []):
                self.tokens[token["token"]] = token["userUuid"]
            for client in seed.get("oauthClients", []):
                self.oauth_clients[client["clientId"]] = (
                    client["clientSecret"],
                    client["userUuid"],
                )
            self.scheduled_clears.extend(copy.deepcopy(seed.get("scheduledClears", [])))
            # Parents first so children can attach themselves to an existing parent.
            rows = list(seed.get("transactions", []))
            rows.sort(key=lambda row: row.get("parentTransactionUuid") is not None)
            for row in rows:
                self.add_transaction(row, bump=False)

    def _put(self, table: dict[str, dict[str, Any]], type_name: str, row: dict[str, Any]) -> None:
        table[row["uuid"]] = row
        self._ids[row["id"]] = row["uuid"]

    def _normal_user(self, user: Mapping[str, Any]) -> dict[str, Any]:
        uuid = user.get("uuid") or new_uuid("usr", self.rng)
        return {
            "id": relay_id("User", uuid),
            "uuid": uuid,
            "firstName": user.get("firstName", ""),
            "lastName": user.get("lastName", ""),
            "email": user.get("email", ""),
            "role": user.get("role", "MEMBER"),
            "retired": bool(user.get("retired", False)),
            "createdTime": user.get("createdTime", "2026-01-05T15:00:00.000+00:00"),
        }

    def _normal_budget(self, budget: Mapping[str, Any]) -> dict[str, Any]:
        uuid = budget.get("uuid") or new_uuid("bgt", self.rng)
        parent = budget.get("parentBudgetUuid")
        limit = budget.get("limit", 10000.0)
        return {
            "id": relay_id("Budget", uuid),
            "uuid": uuid,
            "name": budget["name"],
            "description": budget.get("description", ""),
            "limit": limit,
            "recurringLimit": budget.get("recurringLimit", limit),
            "recurringInterval": budget.get("recurringInterval", "MONTHLY"),
            "retired": bool(budget.get("retired", False)),
            "isBudgetGroup": bool(budget.get("isBudgetGroup", False)),
            "parentBudgetId": relay_id("Budget", parent) if parent else None,
            "parentBudgetUuid": parent,
            "currentPeriod": budget.get(
                "currentPeriod",
                {
                    "startDate": "2026-11-01",
                    "endDate": "2026-11-30",
                    "spent": 0.0,
                    "assigned": 0.0,
                    "limit": limit,
                },
            ),
            "owners": list(budget.get("owners", [])),
            "members": list(budget.get("members", [])),
            "createdTime": budget.get("createdTime", "2026-01-05T15:00:00.000+00:00"),
        }

    def _normal_card(self, card: Mapping[str, Any]) -> dict[str, Any]:
        uuid = card.get("uuid") or new_uuid("crd", self.rng)
        user_uuid = card.get("userUuid")
        budget_uuid = card.get("budgetUuid")
        return {
            "id": relay_id("Card", uuid),
            "uuid": uuid,
            "name": card.get("name", ""),
            "lastFour": card["lastFour"],
            "status": card.get("status", "ACTIVATED"),
            "type": card.get("type", "VIRTUAL_MEMBER"),
            "userId": relay_id("User", user_uuid) if user_uuid else None,
            "userUuid": user_uuid,
            "budgetId": relay_id("Budget", budget_uuid) if budget_uuid else None,
            "budgetUuid": budget_uuid,
            "validThru": card.get("validThru", "2029-12"),
            "createdTime": card.get("createdTime", "2026-01-05T15:00:00.000+00:00"),
        }

    def _add_custom_field(self, cfield: Mapping[str, Any]) -> None:
        uuid = cfield.get("uuid") or new_uuid("tty", self.rng)
        row = {
            "id": relay_id("CustomField", uuid),
            "uuid": uuid,
            "name": cfield["name"],
            "description": cfield.get("description", ""),
            "type": cfield.get("type", "CUSTOM_SELECTOR"),
            "multiSelect": bool(cfield.get("multiSelect", False)),
            "allowCustomValues": bool(cfield.get("allowCustomValues", False)),
            "minimumAmountForRequirement": cfield.get("minimumAmountForRequirement"),
            "required": bool(cfield.get("required", False)),
            "global": bool(cfield.get("global", True)),
            "retired": bool(cfield.get("retired", False)),
            "createdTime": cfield.get("createdTime", "2026-01-05T15:00:00.000+00:00"),
        }
        self._put(self.custom_fields, "CustomField", row)
        self.custom_field_values[uuid] = []
        for value in cfield.get("values", []):
            if isinstance(value, str):
                value = {"value": value}
            self._add_value(uuid, value)

    def _add_value(self, field_uuid: str, value: Mapping[str, Any]) -> dict[str, Any]:
        uuid = value.get("uuid") or new_uuid("tvl", self.rng)
        row = {
            "id": relay_id("CustomFieldValue", uuid),
            "uuid": uuid,
            "value": value["value"],
            "deleted": bool(value.get("deleted", False)),
        }
        self.custom_field_values[field_uuid].append(row)
        self._ids[row["id"]] = uuid
        return row

    # ------------------------------------------------------------------ transactions

    def add_transaction(self, row: Mapping[str, Any], *, bump: bool = True) -> dict[str, Any]:
        """Insert a transaction given in (a subset of) the §2.5 shape; returns a copy as stored.

        Missing fields get realistic defaults. ``customFields`` may be the API list shape or a
        shorthand mapping ``{"GL Account": "6100 - Office Supplies", "Location": None}``.
        ``bump`` (default) stamps a fresh ``updatedTime`` unless the row carries one.
        """
        with self.lock:
            txn = self._normal_transaction(row, bump=bump)
            if txn["uuid"] in self.transactions:
                raise ValueError(f"transaction {txn['uuid']} already exists")
            self.transactions[txn["uuid"]] = txn
            self._ids[txn["id"]] = txn["uuid"]
            parent_uuid = txn["parentTransactionUuid"]
            if parent_uuid:
                parent = self.transactions.get(parent_uuid)
                if parent is None:
                    raise ValueError(f"parent transaction {parent_uuid} does not exist")
                if txn["uuid"] not in parent["childTransactionUuids"]:
                    parent["childTransactionUuids"].append(txn["uuid"])
                    self._refresh_ids(parent)
            self._note_updated(txn["updatedTime"])
            return copy.deepcopy(txn)

    def update_transaction(self, uuid: str, **fields: Any) -> dict[str, Any]:
        """Change fields of a stored transaction and bump its ``updatedTime`` (unless given)."""
        with self.lock:
            txn = self._require(uuid)
            if "customFields" in fields:
                fields["customFields"] = self._custom_fields(fields["customFields"])
            for name, value in fields.items():
                if name in ("uuid", "id"):
                    raise ValueError("uuid and id are immutable")
                txn[name] = _time_text(value) if name.endswith("Time") else value
            if "updatedTime" not in fields:
                txn["updatedTime"] = fmt_time(self._bump())
            self._note_updated(txn["updatedTime"])
            self._refresh_ids(txn)
            return copy.deepcopy(txn)

    def delete_transaction(self, uuid: str) -> None:
        """Delete a transaction as Divvy does, without any event: the list no longer returns it
        and ``GET /v3/spend/transactions/{id}`` answers 404. Its split children go with it."""
        with self.lock:
            txn = self._require(uuid)
            for key in [txn["uuid"], *txn["childTransactionUuids"]]:
                gone = self.transactions.pop(key, None)
                if gone is not None:
                    self._ids.pop(gone["id"], None)
            parent = self.transactions.get(txn["parentTransactionUuid"] or "")
            if parent is not None and txn["uuid"] in parent["childTransactionUuids"]:
                parent["childTransactionUuids"].remove(txn["uuid"])
                self._refresh_ids(parent)

    # ------------------------------------------------------------------ receipts

    def add_receipt(
        self,
        transaction_uuid: str,
        filename: str,
        data: bytes | None = None,
        *,
        size: int | None = None,
        content_type: str | None = None,
        uuid: str | None = None,
    ) -> dict[str, Any]:
        """Attach a receipt file to a stored transaction (as a cardholder's upload would);
        ``data``, or ``size`` bytes made up for the file's type. Returns ``{uuid, filename}``.
        ``updatedTime`` is left alone: whether Divvy bumps it for a receipt is unverified."""
        with self.lock:
            txn = self._require(transaction_uuid)
            receipt = self._store_receipt(
                {
                    "uuid": uuid,
                    "filename": filename,
                    "data": data,
                    "size": size,
                    "contentType": content_type,
                }
            )
            txn["receipts"].append(receipt)
            return dict(receipt)

    def _store_receipt(self, given: Any) -> Any:
        """A seed or added receipt: ``uuid``, ``filename``, and ``data`` (bytes) or ``size``
        (made-up bytes, 2 KB by default), ``contentType`` (from the extension by default).
        Entries already in the stored shape (no file) are kept as given (malformed on
        purpose, for tests)."""
        if not isinstance(given, Mapping) or "url" in given or not given.get("filename"):
            return copy.deepcopy(given)
        uuid = given.get("uuid") or new_uuid("rct", self.rng)
        filename = str(given["filename"])
        data = given.get("data")
        if data is None:
            data = fake_file(filename, int(given.get("size") or 2048))
        kind = given.get("contentType") or content_type_for(filename)
        self.receipt_files[uuid] = (bytes(data), kind)
        return {"uuid": uuid, "filename": filename}

    def receipt_signature(self, uuid: str) -> str:
        return hmac.new(self._receipt_key, uuid.encode(), hashlib.sha256).hexdigest()[:32]

    def receipt_url(self, uuid: str) -> str:
        return f"{self.receipt_origin}{RECEIPT_PATH}{uuid}?signature={self.receipt_signature(uuid)}"

    def receipt_file(self, uuid: str, signature: str) -> tuple[bytes, str] | None:
        """The file, when ``signature`` is the one its URL carries."""
        if not hmac.compare_digest(signature, self.receipt_signature(uuid)):
            return None
        with self.lock:
            return self.receipt_files.get(uuid)

    def render_receipts(self, txn: dict[str, Any]) -> dict[str, Any]:
        """``txn`` (a copy) with each receipt as GET by id shows it: ``{url, filename, uuid}``.
        A receipt whose file is gone keeps its URL, which then answers 403 (an expired
        pre-signed URL)."""
        txn["receipts"] = [
            {"url": self.receipt_url(r["uuid"]), "filename": r["filename"], "uuid": r["uuid"]}
            if isinstance(r, dict) and r.get("uuid") and r.get("filename") and "url" not in r
            else r
            for r in txn.get("receipts") or []
        ]
        return txn

    def clear_authorization(
        self,
        auth_uuid: str,
        amount: float | None = None,
        occurred: datetime | str | None = None,
        *,
        updated: datetime | str | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """Settle an AUTHORIZATION: a new CLEAR record with a new uuid, linked both ways (§2.5).

        The clear keeps the purchase's ``occurredTime`` (that is why late clears escape an
        occurred-time window) and gets a fresh ``updatedTime``, as does the authorization.
        """
        with self.lock:
            auth = self._require(auth_uuid)
            if auth["transactionType"] != "AUTHORIZATION":
                raise ValueError(f"{auth_uuid} is a {auth['transactionType']}, not AUTHORIZATION")
            if auth["matchedClearTransactionUuid"]:
                raise ValueError(f"{auth_uuid} is already cleared")
            clear_amount = auth["amount"] if amount is None else amount
            keep = (
                "merchantName",
                "rawMerchantName",
                "merchantCategoryCode",
                "authorizedTime",
                "userUuid",
                "budgetUuid",
                "cardUuid",
                "customFields",
                "complete",
                "receiptStatus",
                "receiptRequired",
                "reviewRequired",
                "reviewers",
                "network",
                "cardType",
                "cardPresent",
            )
            new_row: dict[str, Any] = {name: copy.deepcopy(auth[name]) for name in keep}
            new_row.update(
                transactionType="CLEAR",
                amount=clear_amount,
                occurredTime=occurred or auth["occurredTime"],
                originalAuthTransactionUuid=auth_uuid,
            )
            new_row["status"] = None  # derive from the (new) completeness
            new_row.update(fields)
            stamp = {"updatedTime": updated} if updated is not None else {}
            clear = self.add_transaction({**new_row, **stamp})
            self.update_transaction(auth_uuid, matchedClearTransactionUuid=clear["uuid"], **stamp)
            return clear

    def apply_scheduled_clears(self, until: datetime | str) -> list[dict[str, Any]]:
        """Settle every scheduled clear due at or before ``until``; returns the new CLEARs.

        Each keeps the uuid, amount and clear time the generator chose, so runs are repeatable.
        """
        limit = parse_time(until) if isinstance(until, str) else until
        made: list[dict[str, Any]] = []
        with self.lock:
            due = [s for s in self.scheduled_clears if parse_time(s["clearAt"]) <= limit]
            for item in due:
                self.scheduled_clears.remove(item)
                made.append(
                    self.clear_authorization(
                        item["authUuid"],
                        amount=item["amount"],
                        updated=item["clearAt"],
                        uuid=item["clearUuid"],
                    )
                )
        return made

    def get_transaction(self, key: str) -> dict[str, Any] | None:
        """By uuid or by the deprecated base64 id; a deep copy, or ``None``."""
        with self.lock:
            uuid = key if key in self.transactions else self._ids.get(key)
            txn = self.transactions.get(uuid) if uuid else None
            return copy.deepcopy(txn) if txn else None

    def parent_transactions(self) -> list[dict[str, Any]]:
        """Copies of every listable (non-child) transaction, in insertion order."""
        with self.lock:
            return [
                copy.deepcopy(t)
                for t in self.transactions.values()
                if not t["parentTransactionUuid"]
            ]

    def _require(self, key: str) -> dict[str, Any]:
        uuid = key if key in self.transactions else self._ids.get(key, "")
        txn = self.transactions.get(uuid)
        if txn is None:
            raise KeyError(f"no transaction {key}")
        return txn

    def _bump(self) -> datetime:
        """A fresh updatedTime: now, but never at or before any updatedTime already stored."""
        now = self.clock()
        now = now.replace(microsecond=now.microsecond // 1000 * 1000)
        if self._latest_updated is not None and now <= self._latest_updated:
            now = self._latest_updated + timedelta(milliseconds=1)
        self._latest_updated = now
        return now

    def _note_updated(self, text: str) -> None:
        value = parse_time(text)
        if self._latest_updated is None or value > self._latest_updated:
            self._latest_updated = value

    def _normal_transaction(self, row: Mapping[str, Any], *, bump: bool) -> dict[str, Any]:
        row = dict(row)
        uuid = row.get("uuid") or new_uuid("txr", self.rng)
        ttype = row.get("transactionType", "CLEAR")
        if ttype not in TRANSACTION_TYPES:
            raise ValueError(f"unknown transactionType {ttype!r}")
        amount_cents = cents(row.get("amount", 0))
        occurred = _time_text(row.get("occurredTime")) or fmt_time(self.clock())
        authorized = (
            _time_text(row["authorizedTime"])
            if "authorizedTime" in row
            else (None if ttype == "DECLINE" else occurred)
        )
        updated = _time_text(row.get("updatedTime")) or (
            fmt_time(self._bump()) if bump else occurred
        )
        user = self.users.get(row.get("userUuid") or "")
        budget = self.budgets.get(row.get("budgetUuid") or "")
        card = self.cards.get(row.get("cardUuid") or "")
        complete = bool(row.get("complete", True))
        status = row.get("status") or _default_status(ttype, complete)
        fees = row.get("fees", 0.0)
        txn: dict[str, Any] = {
            "id": relay_id("Transaction", uuid),
            "uuid": uuid,
            "transactionType": ttype,
            "status": status,
            "complete": complete,
            "amount": money(amount_cents),
            "transactedAmount": row.get("transactedAmount", money(amount_cents)),
            "fees": fees,
            "foreignExchangeFee": row.get("foreignExchangeFee", 0.0),
            "currencyData": row.get("currencyData")
            or {
                "exchangeRate": 1.0,
                "exponent": 2,
                "originalCurrencyAmount": str(amount_cents),
                "originalCurrencyCode": "USD",
                "symbol": "$",
            },
            "merchantName": row.get("merchantName", "Unknown Merchant"),
            "rawMerchantName": row.get("rawMerchantName")
            or str(row.get("merchantName", "UNKNOWN")).upper()[:22],
            "merchantCategoryCode": str(row.get("merchantCategoryCode", "5999")),
            "occurredTime": occurred,
            "authorizedTime": authorized,
            "updatedTime": updated,
            "userId": None,
            "userUuid": row.get("userUuid"),
            "userName": row.get("userName")
            or (f"{user['firstName']} {user['lastName']}" if user else None),
            "budgetId": None,
            "budgetUuid": row.get("budgetUuid"),
            "budgetName": row.get("budgetName") or (budget["name"] if budget else None),
            "parentBudgetUuid": row.get("parentBudgetUuid")
            or (budget["parentBudgetUuid"] if budget else None),
            "cardId": None,
            "cardUuid": row.get("cardUuid"),
            "cardLastFour": row.get("cardLastFour") or (card["lastFour"] if card else None),
            "cardType": row.get("cardType", "VIRTUAL"),
            "cardPresent": bool(row.get("cardPresent", False)),
            "network": row.get("network", "VISA"),
            "originalAuthTransactionId": None,
            "originalAuthTransactionUuid": row.get("originalAuthTransactionUuid"),
            "matchedClearTransactionId": None,
            "matchedClearTransactionUuid": row.get("matchedClearTransactionUuid"),
            "isParent": row.get("parentTransactionUuid") is None,
            "parentTransactionId": None,
            "parentTransactionUuid": row.get("parentTransactionUuid"),
            "childTransactionIds": [],
            "childTransactionUuids": list(row.get("childTransactionUuids", [])),
            "isLocked": bool(row.get("isLocked", False)),
            "isReconciled": bool(row.get("isReconciled", False)),
            "isCredit": amount_cents < 0,
            "pointsAwarded": row.get("pointsAwarded", 0),
            "receiptRequired": bool(row.get("receiptRequired", True)),
            "receiptStatus": row.get("receiptStatus", "ATTACHED" if complete else "MISSING"),
            "receiptSyncStatus": row.get("receiptSyncStatus", "NOT_SYNCED"),
            "reviewRequired": bool(row.get("reviewRequired", False)),
            "customFields": self._custom_fields(row.get("customFields", [])),
            "reviews": list(row.get("reviews", [])),
            "reviewers": list(row.get("reviewers", [])),
            # Omitted (null) when nothing synced, lower-case statuses inside (§2.5 LIVE-3P).
            "accountingIntegrationTransactions": row.get("accountingIntegrationTransactions")
            or None,
            "declineReason": row.get("declineReason"),
            "receipts": [self._store_receipt(r) for r in row.get("receipts") or []],
        }
        if "merchantLocation" in row:
            txn["merchantLocation"] = row["merchantLocation"]
        self._refresh_ids(txn)
        return txn

    def _refresh_ids(self, txn: dict[str, Any]) -> None:
        """Keep the deprecated ``…Id`` companions in step with the ``…Uuid`` fields."""
        for uuid_field, id_field in _LINK_FIELDS:
            value = txn.get(uuid_field)
            txn[id_field] = relay_id("Transaction", value) if value else None
        for type_name, stem in (("User", "user"), ("Budget", "budget"), ("Card", "card")):
            value = txn.get(f"{stem}Uuid")
            txn[f"{stem}Id"] = relay_id(type_name, value) if value else None
        txn["childTransactionIds"] = [
            relay_id("Transaction", u) for u in txn.get("childTransactionUuids", [])
        ]

    def _custom_fields(self, given: Any) -> list[dict[str, Any]]:
        if isinstance(given, Mapping):
            return [self._coded_field(name, value) for name, value in given.items()]
        return copy.deepcopy(list(given or []))

    def _coded_field(self, name: str, value: Any) -> dict[str, Any]:
        cfield = next((f for f in self.custom_fields.values() if f["name"] == name), None)
        if cfield is None:
            raise ValueError(f"unknown custom field {name!r}")
        values = [] if value is None else [value] if isinstance(value, str) else list(value)
        selected = []
        note = None
        if cfield["type"] == "NOTE":
            note = values[0] if values else None
        else:
            for text in values:
                known = self.custom_field_values[cfield["uuid"]]
                match = next((v for v in known if v["value"] == text), None)
                if match is None:
                    match = self._add_value(cfield["uuid"], {"value": text})
                selected.append({"id": match["id"], "uuid": match["uuid"], "value": text})
        return {
            "id": cfield["id"],
            "uuid": cfield["uuid"],
            "name": cfield["name"],
            "note": note,
            "isRequired": cfield["required"],
            "selectedValues": selected,
        }

    # ------------------------------------------------------------------ lookups

    def lookup(self, table: dict[str, dict[str, Any]], key: str) -> dict[str, Any] | None:
        with self.lock:
            uuid = key if key in table else self._ids.get(key, "")
            row = table.get(uuid)
            return copy.deepcopy(row) if row else None

    def lookup_all(self, table: str) -> list[dict[str, Any]]:
        """Copies of every row of ``users``/``budgets``/``cards``/``custom_fields``."""
        with self.lock:
            return copy.deepcopy(list(getattr(self, table).values()))

    def custom_field_value_rows(self, field_key: str) -> list[dict[str, Any]] | None:
        with self.lock:
            cfield = self.lookup(self.custom_fields, field_key)
            if cfield is None:
                return None
            return copy.deepcopy(self.custom_field_values[cfield["uuid"]])

    # ------------------------------------------------------------------ custom-field writes

    def create_custom_field(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        with self.lock:
            self._add_custom_field({**fields, "createdTime": fmt_time(self.clock())})
            uuid = next(reversed(self.custom_fields))
            return copy.deepcopy(self.custom_fields[uuid])

    def create_value(self, field_uuid: str, text: str) -> dict[str, Any]:
        with self.lock:
            return copy.deepcopy(self._add_value(field_uuid, {"value": text}))

    def find_value(self, field_uuid: str, key: str) -> dict[str, Any] | None:
        """The live row of a field's value by uuid or id (not a copy: callers hold the lock)."""
        uuid = self._ids.get(key, key)
        return next((v for v in self.custom_field_values[field_uuid] if v["uuid"] == uuid), None)

    def value_in_use(self, value_uuid: str) -> bool:
        """Whether any transaction has the value selected."""
        return any(
            sel.get("uuid") == value_uuid
            for txn in self.transactions.values()
            for cf in txn.get("customFields") or []
            for sel in cf.get("selectedValues") or []
        )

    # ------------------------------------------------------------------ auth and limits

    def authenticate(self, headers: Mapping[str, str]) -> tuple[str, str]:
        """Return ``(rate-limit key, user uuid)`` or raise 401; ``apiToken`` or a Bearer token."""
        token = headers.get("apiToken")
        with self.lock:
            if token is not None:
                user = self.tokens.get(token)
                if user is None:
                    raise _unauthorized("Invalid apiToken")
                return f"token:{token}", user
            auth = headers.get("Authorization") or ""
            if auth.startswith("Bearer "):
                entry = self.bearer_tokens.get(auth[len("Bearer ") :].strip())
                if entry is None or entry[2] < time.monotonic():
                    raise _unauthorized("Invalid or expired access token")
                # Limit per OAuth client, so fetching new tokens cannot dodge it (emulator choice).
                return f"client:{entry[0]}", entry[1]
        raise _unauthorized("apiToken is missing")

    def issue_token(self, client_id: str, client_secret: str) -> tuple[str, int] | None:
        with self.lock:
            entry = self.oauth_clients.get(client_id)
            if entry is None or entry[0] != client_secret:
                return None
            token = "bat_" + "".join(self.rng.choice("0123456789abcdef") for _ in range(40))
            expires = time.monotonic() + self.bearer_ttl_seconds
            self.bearer_tokens[token] = (client_id, entry[1], expires)
            return token, self.bearer_ttl_seconds

    def check_rate(self, key: str) -> None:
        """Count one call in the rolling window, or raise 429 when the window is full."""
        now = time.monotonic()
        with self.lock:
            calls = self._calls.setdefault(key, deque())
            while calls and calls[0] <= now - self.window_seconds:
                calls.popleft()
            if len(calls) >= self.calls_per_minute:
                wait = max(1, math.ceil(calls[0] + self.window_seconds - now))
                raise rate_limited(wait if self.retry_after else None)
            calls.append(now)

    def reset_rate_limits(self) -> None:
        with self.lock:
            self._calls.clear()

    # ------------------------------------------------------------------ faults and log

    def queue_fault(self, kind: str, count: int = 1, **params: Any) -> None:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {FAULT_KINDS}")
        if kind == "rate_limit":
            params.setdefault("retry_after", 1)
        elif kind == "server_error":
            params.setdefault("status", 500)
            if params["status"] not in (500, 502, 503, 504):
                raise ValueError("server_error status must be 500, 502, 503 or 504")
        elif kind == "slow":
            params.setdefault("seconds", 1.0)
        with self.lock:
            for _ in range(count):
                self._faults.append(Fault(kind, dict(params)))

    def take_fault(self) -> Fault | None:
        with self.lock:
            return self._faults.popleft() if self._faults else None

    def clear_faults(self) -> int:
        """Drop the queued faults; returns how many there were (faults that never fired)."""
        with self.lock:
            left = len(self._faults)
            self._faults.clear()
            return left

    def clear_transactions(self) -> None:
        """Forget every transaction, pending scheduled clear, recorded request, queued fault
        and rate-limit count; users, budgets, cards, custom fields and tokens stay."""
        with self.lock:
            self._ids = {k: v for k, v in self._ids.items() if v not in self.transactions}
            self.transactions.clear()
            self.receipt_files.clear()
            self.scheduled_clears.clear()
            self.requests.clear()
            self._faults.clear()
            self._calls.clear()
            self._latest_updated = None

    def record(self, entry: RecordedRequest) -> None:
        with self.lock:
            self.requests.append(entry)


RECEIPT_PATH = "/files/receipts/"
_CONTENT_TYPES = {
    "pdf": "application/pdf",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "gif": "image/gif",
}
_MAGIC = {
    "pdf": b"%PDF-1.4\n",
    "jpg": b"\xff\xd8\xff\xe0",
    "jpeg": b"\xff\xd8\xff\xe0",
    "png": b"\x89PNG\r\n\x1a\n",
    "gif": b"GIF89a",
}


def content_type_for(filename: str) -> str:
    ext = filename.rpartition(".")[2].lower()
    return _CONTENT_TYPES.get(ext, "application/octet-stream")


def fake_file(filename: str, size: int) -> bytes:
    """``size`` bytes starting like a file of ``filename``'s type (deterministic)."""
    head = _MAGIC.get(filename.rpartition(".")[2].lower(), b"")
    body = hashlib.sha256(filename.encode()).digest() * (size // 32 + 1)
    return (head + body)[:size]


def rate_limited(retry_after: int | None) -> ApiError:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    return ApiError(
        429,
        "Rate limit exceeded, retry later",  # text unverified (§4)
        code=CODE_RATE_LIMIT,
        category="REQUEST",
        headers=headers,
    )


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, message, code=CODE_UNAUTHORIZED, category="REQUEST")


def _default_status(ttype: str, complete: bool) -> str:
    # `status` is an open enum (§2.5, 2026-04-17); these are the documented/observed values.
    if ttype == "DECLINE":
        return "DECLINED"
    if ttype == "AUTHORIZATION":
        return "PENDING"
    return "COMPLETE" if complete else "INCOMPLETE"


def _time_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return fmt_time(value)
    return fmt_time(parse_time(str(value)))


def sync_status(txn: Mapping[str, Any]) -> str:
    """The filterable ``syncStatus`` derived from the nested integration records (§2.5)."""
    items = txn.get("accountingIntegrationTransactions") or []
    if not items:
        return "NOT_SYNCED"
    return str(items[0].get("syncStatus") or "pending").upper()
