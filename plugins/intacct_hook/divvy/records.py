"""Typed records for the Divvy (BILL Spend & Expense v3) API.

Every record is a frozen dataclass built with ``from_json`` from one decoded JSON object. Amounts
are :class:`~decimal.Decimal` (decode with ``json.loads(text, parse_float=Decimal)``; a float that
slips through is converted via ``str`` so ``53.03`` stays ``53.03``), times are timezone-aware
UTC datetimes, and the original JSON is kept in ``raw`` for anything not modelled here.

A malformed object raises :class:`DivvyRecordError`, which names the record's uuid and the field::

    txn = DivvyTransaction.from_json(json.loads(body, parse_float=Decimal))
    txn.transaction_type is TransactionType.CLEAR
    txn.custom_fields["GL Account"]  # ("6100 - Office Supplies",)
"""

from __future__ import annotations

import dataclasses
import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Context, Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any

__all__ = [
    "DivvyAccountingSync",
    "DivvyBudget",
    "DivvyCard",
    "DivvyCustomField",
    "DivvyReceipt",
    "DivvyRecordError",
    "DivvyTransaction",
    "DivvyUser",
    "TransactionType",
    "read_receipts",
]


CENT = Decimal("0.01")
#: Amounts are read up to this many digits before the decimal point. Far more than any real
#: amount (the posting rules hold anything from $100 billion up), so an absurd value is still
#: read, stored and held with a reason; only beyond it is the record unreadable. The bound keeps
#: "1e999999999" from becoming a billion-digit string.
MAX_AMOUNT_DIGITS = 50
# Decimal's default context has 28 digits: quantizing 1e26 to cents (29 digits) would raise
# InvalidOperation. This one holds every amount up to MAX_AMOUNT_DIGITS exactly.
_MONEY = Context(prec=MAX_AMOUNT_DIGITS + 2)


def _empty() -> Mapping[str, Any]:
    return MappingProxyType({})


class DivvyRecordError(ValueError):
    """A Divvy JSON object could not be turned into a record.

    :param kind: the record kind, e.g. ``"transaction"``.
    :param uuid: the object's uuid if it had one.
    :param field: the JSON field that was missing or malformed.
    :param problem: what is wrong with it.
    """

    def __init__(self, kind: str, uuid: str | None, field: str, problem: str) -> None:
        self.kind = kind
        self.uuid = uuid
        self.field = field
        self.problem = problem
        # repr() for a uuid holding controls or damage keeps the message safe to log and store.
        shown = uuid if uuid is None or uuid.isprintable() else repr(uuid)
        who = f"{kind} {shown}" if uuid else f"{kind} without a uuid"
        super().__init__(f"Divvy {who}: field {field!r} {problem}")


class TransactionType(enum.StrEnum):
    """Lifecycle type of a card transaction (``transactionType``).

    Values Divvy may add later map to ``OTHER``; the original text stays in
    :attr:`DivvyTransaction.raw_transaction_type`.
    """

    AUTHORIZATION = "AUTHORIZATION"
    CLEAR = "CLEAR"
    DECLINE = "DECLINE"
    OTHER = "OTHER"

    @classmethod
    def parse(cls, value: str) -> TransactionType:
        try:
            return cls(value.upper())
        except ValueError:
            return cls.OTHER


class _Reader:
    """Typed access to one JSON object, raising errors that name the record and field."""

    def __init__(self, kind: str, data: Any) -> None:
        if not isinstance(data, Mapping):
            raise DivvyRecordError(kind, None, "<root>", f"must be an object, got {_kind(data)}")
        self.kind = kind
        self.data = data
        uuid = data.get("uuid")
        self.uuid = uuid if isinstance(uuid, str) and uuid else None

    def fail(self, name: str, problem: str) -> DivvyRecordError:
        return DivvyRecordError(self.kind, self.uuid, name, problem)

    def uuid_required(self) -> str:
        if self.uuid is None:
            raise self.fail("uuid", "is missing or empty")
        return self.uuid

    def text(self, name: str, *, required: bool = False) -> str | None:
        value = self.data.get(name)
        if value is None or value == "":
            if required:
                raise self.fail(name, "is missing or empty")
            return None
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise self.fail(name, f"must be a string, got {_kind(value)}")
        return str(value)

    def flag(self, name: str, *, default: bool = False) -> bool:
        value = self.data.get(name)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.fail(name, f"must be true or false, got {value!r}")
        return value

    def number(self, name: str, *, required: bool = False) -> Decimal | None:
        value = self.data.get(name)
        if value is None:
            if required:
                raise self.fail(name, "is missing")
            return None
        if isinstance(value, bool):
            raise self.fail(name, f"must be a number, got {value!r}")
        try:
            # str() first: Decimal(53.03) would carry the binary float error into the ledger.
            result = value if isinstance(value, Decimal) else Decimal(str(value))
        except (InvalidOperation, ValueError):
            raise self.fail(name, f"must be a number, got {value!r}") from None
        if not result.is_finite():
            raise self.fail(name, f"must be a finite number, got {value!r}")
        return result

    def money(self, name: str, *, required: bool = False) -> Decimal | None:
        """A settlement amount in dollars, normalised to cents (JSON ``10.0`` → ``10.00``)."""
        value = self.number(name, required=required)
        if value is None:
            return None
        if value.adjusted() >= MAX_AMOUNT_DIGITS:
            raise self.fail(name, f"is too large to be an amount ({value:.3e})")
        cents = value.quantize(CENT, context=_MONEY)
        if cents != value:
            raise self.fail(name, f"has fractions of a cent ({value}); Divvy amounts are cents")
        return cents

    def moment(self, name: str, *, required: bool = False) -> datetime | None:
        value = self.data.get(name)
        if value is None or value == "":
            if required:
                raise self.fail(name, "is missing")
            return None
        if not isinstance(value, str):
            raise self.fail(name, f"must be an ISO-8601 date-time string, got {_kind(value)}")
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise self.fail(name, f"is not an ISO-8601 date-time: {value!r}") from None
        if parsed.tzinfo is None or parsed.utcoffset() is None:
            # A naive time would be silently read as local time and shift day buckets.
            raise self.fail(name, f"has no UTC offset: {value!r}")
        try:
            return parsed.astimezone(UTC)
        except OverflowError:
            raise self.fail(name, f"is outside the years 1..9999 in UTC: {value!r}") from None

    def str_tuple(self, name: str) -> tuple[str, ...]:
        value = self.data.get(name)
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(name, "must be a list of strings")
        return tuple(value)

    def objects(self, name: str) -> list[Mapping[str, Any]]:
        value = self.data.get(name)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
            raise self.fail(name, "must be a list of objects")
        return value


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _freeze(data: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(data))


@dataclass(frozen=True, slots=True)
class DivvyAccountingSync:
    """One entry of ``accountingIntegrationTransactions``: Divvy's own sync of the transaction.

    ``sync_status`` is lower-cased (the API sends ``"synced"``; the filter uses ``SYNCED``).
    """

    sync_status: str | None
    sync_message: str | None = None
    integration_type: str | None = None
    integration_id: str | None = None
    integration_tx_id: str | None = None
    raw: Mapping[str, Any] = field(default_factory=_empty, hash=False, compare=False, repr=False)

    @property
    def is_synced(self) -> bool:
        """True when Divvy reports the transaction as already in the accounting system."""
        return self.sync_status in {"synced", "manual_synced"}

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, owner: str | None = None) -> DivvyAccountingSync:
        r = _Reader("accounting sync of transaction", data)
        r.uuid = owner
        status = r.text("syncStatus")
        return cls(
            sync_status=status.lower() if status else None,
            sync_message=r.text("syncMessage"),
            integration_type=r.text("integrationType"),
            integration_id=r.text("integrationId"),
            integration_tx_id=r.text("integrationTxId"),
            raw=_freeze(data),
        )


@dataclass(frozen=True, slots=True)
class DivvyTransaction:
    """One card transaction (``GET /v3/spend/transactions``).

    Only ``uuid``, ``transactionType``, ``amount`` and ``occurredTime`` are required; everything
    else is optional because Divvy omits empty fields. ``amount`` is signed: positive is spend,
    negative a reversal (AUTHORIZATION) or refund (CLEAR).

    ``custom_fields`` maps a custom field's name to its selected values; a free-text (NOTE) field
    with no selected value maps to its note text. ``children`` is empty as listed by the API; the
    hook fills it for split parents when asked to expand splits.
    """

    uuid: str
    transaction_type: TransactionType
    raw_transaction_type: str
    amount: Decimal
    occurred_time: datetime
    updated_time: datetime | None = None
    authorized_time: datetime | None = None
    id: str | None = None
    status: str | None = None
    complete: bool = False
    transacted_amount: Decimal | None = None
    fees: Decimal | None = None
    currency_code: str | None = None
    original_amount: Decimal | None = None
    original_auth_uuid: str | None = None
    matched_clear_uuid: str | None = None
    is_parent: bool = False
    parent_uuid: str | None = None
    child_uuids: tuple[str, ...] = ()
    children: tuple[DivvyTransaction, ...] = ()
    budget_uuid: str | None = None
    budget_name: str | None = None
    card_uuid: str | None = None
    card_last_four: str | None = None
    user_uuid: str | None = None
    user_name: str | None = None
    merchant_name: str | None = None
    raw_merchant_name: str | None = None
    mcc: str | None = None
    custom_fields: Mapping[str, tuple[str, ...]] = field(default_factory=_empty, hash=False)
    note: str | None = None
    is_locked: bool = False
    accounting_sync: tuple[DivvyAccountingSync, ...] = ()
    decline_reason: str | None = None
    raw: Mapping[str, Any] = field(default_factory=_empty, hash=False, compare=False, repr=False)

    @property
    def is_split(self) -> bool:
        """True for a parent whose amount Divvy split into child transactions."""
        return bool(self.child_uuids)

    @property
    def is_foreign_currency(self) -> bool:
        """True when the purchase was made in a currency other than USD (``amount`` is still
        the USD settlement: Divvy cards settle in USD)."""
        return bool(self.currency_code and self.currency_code.strip().upper() != "USD")

    @property
    def synced_by_divvy(self) -> bool:
        """True when Divvy's own accounting integration reports this transaction as synced."""
        return any(s.is_synced for s in self.accounting_sync)

    def with_children(self, children: Iterable[DivvyTransaction]) -> DivvyTransaction:
        """A copy with the fetched split children attached."""
        return dataclasses.replace(self, children=tuple(children))

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DivvyTransaction:
        """Build a transaction from the API's JSON object.

        :raises DivvyRecordError: naming the uuid and the field when a field is missing or
            malformed.
        """
        r = _Reader("transaction", data)
        uuid = r.uuid_required()
        raw_type = r.text("transactionType", required=True)
        assert raw_type is not None
        currency_code, original_amount = _currency_data(data.get("currencyData"))
        note = r.text("note")
        if note is None:
            note = r.text("memo")
        return cls(
            uuid=uuid,
            id=r.text("id"),
            transaction_type=TransactionType.parse(raw_type),
            raw_transaction_type=raw_type,
            status=r.text("status"),
            complete=r.flag("complete"),
            amount=r.money("amount", required=True),  # type: ignore[arg-type]
            transacted_amount=r.number("transactedAmount"),
            fees=r.number("fees"),
            currency_code=currency_code,
            original_amount=original_amount,
            occurred_time=r.moment("occurredTime", required=True),  # type: ignore[arg-type]
            updated_time=r.moment("updatedTime"),
            authorized_time=r.moment("authorizedTime"),
            original_auth_uuid=r.text("originalAuthTransactionUuid"),
            matched_clear_uuid=r.text("matchedClearTransactionUuid"),
            is_parent=r.flag("isParent"),
            parent_uuid=r.text("parentTransactionUuid"),
            child_uuids=r.str_tuple("childTransactionUuids"),
            budget_uuid=r.text("budgetUuid"),
            budget_name=r.text("budgetName"),
            card_uuid=r.text("cardUuid"),
            card_last_four=r.text("cardLastFour"),
            user_uuid=r.text("userUuid"),
            user_name=r.text("userName"),
            merchant_name=r.text("merchantName"),
            raw_merchant_name=r.text("rawMerchantName"),
            mcc=r.text("merchantCategoryCode"),
            custom_fields=_custom_fields(r),
            note=note,
            is_locked=r.flag("isLocked"),
            accounting_sync=tuple(
                DivvyAccountingSync.from_json(item, owner=uuid)
                for item in r.objects("accountingIntegrationTransactions")
            ),
            decline_reason=r.text("declineReason"),
            raw=_freeze(data),
        )


_MINOR_UNITS = re.compile(r"^-?\d{1,30}$")


def _currency_data(value: Any) -> tuple[str | None, Decimal | None]:
    """``originalCurrencyCode`` and ``originalCurrencyAmount`` (minor units, as a string) in
    major units. Informational only, so a malformed part is read as unknown, not an error:
    ``amount`` (the USD settlement) is what posts."""
    if not isinstance(value, Mapping):
        return None, None
    code = value.get("originalCurrencyCode")
    minor = value.get("originalCurrencyAmount")
    exponent = value.get("exponent", 2)
    amount = None
    if (
        isinstance(minor, str)
        and _MINOR_UNITS.match(minor)
        and isinstance(exponent, int)
        and not isinstance(exponent, bool)
        and 0 <= exponent <= 6
    ):
        amount = Decimal(minor).scaleb(-exponent)
    return (code if isinstance(code, str) and code else None), amount


def _custom_fields(r: _Reader) -> Mapping[str, tuple[str, ...]]:
    result: dict[str, tuple[str, ...]] = {}
    for index, item in enumerate(r.objects("customFields")):
        name = item.get("name")
        if not isinstance(name, str) or not name:
            raise r.fail(f"customFields[{index}].name", "is missing or empty")
        values: list[str] = []
        selected = item.get("selectedValues") or []
        if not isinstance(selected, list):
            raise r.fail(f"customFields[{index}].selectedValues", "must be a list")
        for value in selected:
            text = value.get("value") if isinstance(value, Mapping) else value
            if not isinstance(text, str):
                raise r.fail(
                    f"customFields[{index}].selectedValues", f"has a non-text value {text!r}"
                )
            values.append(text)
        note = item.get("note")
        if not values and isinstance(note, str) and note:
            # Free-text (NOTE) custom fields carry their value in ``note``, not in a selection.
            values.append(note)
        result[name] = tuple(values)
    return MappingProxyType(result)


@dataclass(frozen=True, slots=True)
class DivvyBudget:
    """A budget (``GET /v3/spend/budgets``)."""

    uuid: str
    name: str | None
    id: str | None = None
    retired: bool = False
    parent_budget_uuid: str | None = None
    limit: Decimal | None = None
    recurring_interval: str | None = None
    raw: Mapping[str, Any] = field(default_factory=_empty, hash=False, compare=False, repr=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DivvyBudget:
        r = _Reader("budget", data)
        parent = r.text("parentBudgetUuid")
        if parent is None:
            parent = r.text("parentBudgetId")
        return cls(
            uuid=r.uuid_required(),
            id=r.text("id"),
            name=r.text("name"),
            retired=r.flag("retired"),
            parent_budget_uuid=parent,
            limit=r.number("limit"),
            recurring_interval=r.text("recurringInterval"),
            raw=_freeze(data),
        )


@dataclass(frozen=True, slots=True)
class DivvyUser:
    """A Spend & Expense user (``GET /v3/spend/users``)."""

    uuid: str
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    role: str | None = None
    id: str | None = None
    retired: bool = False
    raw: Mapping[str, Any] = field(default_factory=_empty, hash=False, compare=False, repr=False)

    @property
    def name(self) -> str:
        """Display name, "First Last", falling back to the e-mail or uuid."""
        full = " ".join(p for p in (self.first_name, self.last_name) if p)
        return full or self.email or self.uuid

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DivvyUser:
        r = _Reader("user", data)
        return cls(
            uuid=r.uuid_required(),
            id=r.text("id"),
            first_name=r.text("firstName"),
            last_name=r.text("lastName"),
            email=r.text("email"),
            role=r.text("role"),
            retired=r.flag("retired"),
            raw=_freeze(data),
        )


@dataclass(frozen=True, slots=True)
class DivvyCard:
    """A card (``GET /v3/spend/cards``)."""

    uuid: str
    name: str | None = None
    last_four: str | None = None
    status: str | None = None
    card_type: str | None = None
    user_uuid: str | None = None
    budget_uuid: str | None = None
    id: str | None = None
    raw: Mapping[str, Any] = field(default_factory=_empty, hash=False, compare=False, repr=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DivvyCard:
        r = _Reader("card", data)
        return cls(
            uuid=r.uuid_required(),
            id=r.text("id"),
            name=r.text("name"),
            last_four=r.text("lastFour"),
            status=r.text("status"),
            card_type=r.text("type") or r.text("cardType"),
            user_uuid=r.text("userUuid"),
            budget_uuid=r.text("budgetUuid"),
            raw=_freeze(data),
        )


@dataclass(frozen=True, slots=True)
class DivvyCustomField:
    """A custom field definition (``GET /v3/spend/custom-fields``), e.g. "GL Account"."""

    uuid: str
    name: str
    type: str | None = None
    required: bool = False
    multi_select: bool = False
    allow_custom_values: bool = False
    retired: bool = False
    id: str | None = None
    raw: Mapping[str, Any] = field(default_factory=_empty, hash=False, compare=False, repr=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DivvyCustomField:
        r = _Reader("custom field", data)
        return cls(
            uuid=r.uuid_required(),
            id=r.text("id"),
            name=r.text("name", required=True),  # type: ignore[arg-type]
            type=r.text("type"),
            required=r.flag("required"),
            multi_select=r.flag("multiSelect"),
            allow_custom_values=r.flag("allowCustomValues"),
            retired=r.flag("retired"),
            raw=_freeze(data),
        )


@dataclass(frozen=True)
class DivvyCustomFieldValue:
    """One selectable value of a custom field (``GET /v3/spend/custom-fields/{id}/values``)."""

    uuid: str
    value: str
    deleted: bool = False
    id: str | None = None
    raw: Mapping[str, Any] = field(default_factory=_empty, hash=False, compare=False, repr=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DivvyCustomFieldValue:
        r = _Reader("custom field value", data)
        return cls(
            uuid=r.uuid_required(),
            id=r.text("id"),
            value=r.text("value", required=True),  # type: ignore[arg-type]
            deleted=r.flag("deleted"),
            raw=_freeze(data),
        )


@dataclass(frozen=True)
class DivvyReceipt:
    """One receipt of a transaction, as ``GET /v3/spend/transactions/{id}`` lists it
    (``receipts: [{url, filename, uuid}]``; the list endpoint never carries them).

    ``url`` is where the file is downloaded: it may be a pre-signed address on another host,
    so it is fetched without the API credentials. ``filename`` may be missing.
    """

    uuid: str
    # Out of repr: a pre-signed URL's query is a credential (X-Amz-Signature and the like).
    url: str | None = field(repr=False)
    filename: str | None
    raw: Mapping[str, Any] = field(default_factory=_empty, repr=False, compare=False)

    @property
    def extension(self) -> str | None:
        """The file name's extension, lower case, without the dot (``jpg``), or None."""
        name = self.filename or ""
        stem, dot, ext = name.rpartition(".")
        ext = ext.strip().lower()
        return ext if dot and stem and ext and ext.isalnum() else None

    @property
    def stem(self) -> str:
        """The file name without its extension (the receipt's uuid when it has no name)."""
        name = (self.filename or "").strip()
        if self.extension:
            name = name.rpartition(".")[0]
        return name or self.uuid

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DivvyReceipt:
        r = _Reader("receipt", data)
        return cls(
            uuid=r.uuid_required(),
            url=r.text("url"),
            filename=r.text("filename"),
            raw=_freeze(r.data),
        )


def read_receipts(transaction: Any) -> tuple[list[DivvyReceipt], list[str]]:
    """The receipts of a transaction's JSON (from GET by id), read defensively: a missing or
    null ``receipts`` is none; an entry that cannot be read is left out and described in the
    second list (one text per problem), so one bad entry never hides the others."""
    if not isinstance(transaction, Mapping):
        return [], [f"the transaction is not an object ({_kind(transaction)})"]
    value = transaction.get("receipts")
    if value is None:
        return [], []
    if not isinstance(value, list):
        return [], [f"receipts must be a list, got {_kind(value)}"]
    receipts: list[DivvyReceipt] = []
    problems: list[str] = []
    seen: set[str] = set()
    for n, item in enumerate(value, 1):
        try:
            receipt = DivvyReceipt.from_json(item)
        except DivvyRecordError as exc:
            problems.append(f"receipt {n}: {exc}")
            continue
        if receipt.uuid in seen:
            continue  # listed twice: one file, attached once
        seen.add(receipt.uuid)
        receipts.append(receipt)
    return receipts, problems
