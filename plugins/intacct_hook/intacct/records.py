"""Typed records the hook writes, and the outcome of each write.

A ``CCTransaction`` is one Intacct credit card transaction (``record_cctransaction``) with its
lines. Amounts are Decimals and dates are dates from the start, so no float or string formatting
leaks into the wire format.

Both records make themselves sendable on construction: free text (payee, descriptions) is made
XML-safe and cut to Intacct's length (``intacct.text``); an identifier that cannot be sent as is
raises :class:`~intacct_hook.intacct.text.UnpostableRecord` naming the field, so one bad record
fails alone instead of breaking the request it would have been part of.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Literal, cast

from intacct_hook.intacct.errors import IntacctError
from intacct_hook.intacct.text import (
    FIELD_LIMITS,
    UnpostableRecord,
    check_identifier,
    clean_text,
    describe_illegal,
)

#: Prefix of every write control ID. Changing it would make re-runs post duplicates, because
#: Intacct's uniqueid check works on the exact control ID: treat it as frozen.
CONTROL_ID_PREFIX = "divvy-"
# Reference numbers made only of these characters (Divvy UUIDs are) are used verbatim, which
# keeps control IDs readable in Intacct's audit trail. Anything else is hashed, with a
# different separator so that the two forms can never collide.
_SAFE_REFERENCE = re.compile(r"^[A-Za-z0-9._:-]{1,200}$")
_HASHED_PREFIX = "divvy~"

OutcomeStatus = Literal["posted", "already_posted", "failed"]


def control_id_for(reference_no: str, attempt: int = 1) -> str:
    """The deterministic function control ID of the write for ``reference_no`` (≤ 256 chars).

    ``attempt`` counts writes after a definitive refusal (closed period, inactive account…):
    Intacct may remember the control ID of a failed function under ``uniqueid=true`` (the docs
    do not say), so a retry once the cause is fixed needs a new one. Retries of the same attempt
    after an ambiguous outcome reuse it; that is what keeps them idempotent.

    >>> control_id_for("6f1c7a52-2b1e-4f5e-9a0d-0c2c4b8c1d11")
    'divvy-6f1c7a52-2b1e-4f5e-9a0d-0c2c4b8c1d11'
    """
    if not reference_no:
        raise ValueError("reference_no is required to derive a control ID")
    if attempt < 1:
        raise ValueError(f"attempt must be 1 or more, not {attempt}")
    if _SAFE_REFERENCE.match(reference_no):
        base = CONTROL_ID_PREFIX + reference_no
    else:
        base = _HASHED_PREFIX + hashlib.sha256(reference_no.encode("utf-8")).hexdigest()
    # '#' is outside the safe reference alphabet, so no reference can imitate a retry suffix.
    return base if attempt == 1 else f"{base}#{attempt}"


def reversal_control_id(reference_no: str, seq: int) -> str:
    """The deterministic control ID of the reversal that link ``seq`` of ``reference_no``'s
    re-coding chain sends (``divvy-<uuid>#rev<seq>``, ≤ 256 chars). Sent with ``uniqueid=true``,
    Intacct refuses a second reversal for the same link instead of recording two; ``#`` keeps it
    apart from every posting's control ID (:func:`control_id_for`).

    >>> reversal_control_id("6f1c7a52-2b1e-4f5e-9a0d-0c2c4b8c1d11", 1)
    'divvy-6f1c7a52-2b1e-4f5e-9a0d-0c2c4b8c1d11#rev1'
    """
    if seq < 1:
        raise ValueError(f"seq must be 1 or more, not {seq}")
    return f"{control_id_for(reference_no)}#rev{seq}"


def _decimal(value: object, what: str) -> Decimal:
    if type(value) is Decimal and value.is_finite():
        return value
    if isinstance(value, float):
        # A float has already lost the cents; refuse instead of guessing.
        raise TypeError(f"{what} must be a Decimal, int or str, not float")
    try:
        result = Decimal(str(value)) if not isinstance(value, Decimal) else value
    except ArithmeticError:
        raise UnpostableRecord(what, "is not a number") from None
    if not result.is_finite():
        raise UnpostableRecord(what, "must be a finite number")
    return result


_LINE_IDS = (
    "location_id",
    "department_id",
    "class_id",
    "project_id",
    "customer_id",
    "vendor_id",
    "employee_id",
    "item_id",
)
_LINE_ID_LIMITS = tuple(FIELD_LIMITS[name] for name in ("gl_account_no", *_LINE_IDS))


def _ids_sendable(values: tuple[object, ...], limits: tuple[int, ...]) -> bool:
    """True when every value is None or a str that :func:`check_identifier` accepts as is
    (XML-legal, within its field's limit): one scan for a whole record instead of one per
    field (issue 10). False says only "check field by field", which finds and names the
    problem, or accepts what this fast test does not (a non-str value)."""
    for value, limit in zip(values, limits, strict=True):
        if value is not None and (type(value) is not str or len(value) > limit):
            return False
    texts = cast("list[str]", [v for v in values if v])  # every one a str, checked above
    return describe_illegal("\n".join(texts)) is None


@dataclass(frozen=True)
class CCLine:
    """One line (``ccpayitem``): an expense account, an amount and its dimensions."""

    gl_account_no: str
    amount: Decimal
    description: str | None = None
    location_id: str | None = None
    department_id: str | None = None
    class_id: str | None = None
    project_id: str | None = None
    customer_id: str | None = None
    vendor_id: str | None = None
    employee_id: str | None = None
    item_id: str | None = None

    def __post_init__(self) -> None:
        ids = (
            self.gl_account_no,
            self.location_id,
            self.department_id,
            self.class_id,
            self.project_id,
            self.customer_id,
            self.vendor_id,
            self.employee_id,
            self.item_id,
        )
        if not (self.gl_account_no and _ids_sendable(ids, _LINE_ID_LIMITS)):
            check_identifier("gl_account_no", self.gl_account_no, required=True)
            for name in _LINE_IDS:
                check_identifier(name, getattr(self, name))
        object.__setattr__(self, "amount", _decimal(self.amount, "amount"))
        object.__setattr__(
            self, "description", clean_text(self.description, FIELD_LIMITS["line_description"])
        )


_HEADER_IDS = ("reference_no", "card_id", "supdoc_id", "currency", "exchange_rate_type")
_HEADER_ID_LIMITS = tuple(FIELD_LIMITS[name] for name in _HEADER_IDS)


@dataclass(frozen=True)
class CCTransaction:
    """A credit card transaction recorded against ``card_id`` (Intacct CREDITCARD.CARDID).

    ``reference_no`` is the business key (the Divvy transaction ID): it becomes RECORDID in
    Intacct and derives the write's control ID, which is what makes posting idempotent.
    """

    card_id: str
    payment_date: date
    reference_no: str
    lines: tuple[CCLine, ...]
    payee: str | None = None
    description: str | None = None
    currency: str | None = None
    exchange_rate_type: str | None = None
    exchange_rate_date: date | None = None
    exchange_rate: Decimal | None = None
    supdoc_id: str | None = None
    attempt: int = 1

    def __post_init__(self) -> None:
        ids = (
            self.reference_no,
            self.card_id,
            self.supdoc_id,
            self.currency,
            self.exchange_rate_type,
        )
        checked = bool(self.reference_no and self.card_id) and _ids_sendable(ids, _HEADER_ID_LIMITS)
        if not checked:
            check_identifier("reference_no", self.reference_no, required=True)
        try:
            self._check(ids_checked=checked)
        except UnpostableRecord as exc:
            raise exc.for_record(self.reference_no) from None

    def _check(self, *, ids_checked: bool) -> None:
        if not ids_checked:
            check_identifier("card_id", self.card_id, required=True)
        if not isinstance(self.payment_date, date):
            raise TypeError("payment_date must be a date")
        if type(self.lines) is not tuple:
            object.__setattr__(self, "lines", tuple(self.lines))
        if not self.lines:
            raise UnpostableRecord("lines", "is empty: the transaction has no lines")
        if not ids_checked:
            for name in ("supdoc_id", "currency", "exchange_rate_type"):
                check_identifier(name, getattr(self, name))
        object.__setattr__(self, "payee", clean_text(self.payee, FIELD_LIMITS["payee"]))
        object.__setattr__(
            self, "description", clean_text(self.description, FIELD_LIMITS["description"])
        )
        if self.exchange_rate is not None:
            object.__setattr__(self, "exchange_rate", _decimal(self.exchange_rate, "exchange_rate"))
        if self.currency and self.exchange_rate is None and not self.exchange_rate_type:
            # The schema requires a rate type or a rate whenever a currency is given.
            object.__setattr__(self, "exchange_rate_type", "Intacct Daily Rate")

    @property
    def total(self) -> Decimal:
        """Sum of the line amounts (Intacct's TOTALENTERED)."""
        return sum((line.amount for line in self.lines), Decimal("0"))

    @property
    def control_id(self) -> str:
        # Kept in the instance's __dict__, outside the fields (the record is frozen): the
        # writer asks for it several times per record (issue 10).
        known: str | None = self.__dict__.get("_control_id")
        if known is None:
            known = control_id_for(self.reference_no, self.attempt)
            self.__dict__["_control_id"] = known
        return known


@dataclass(frozen=True)
class RecordOutcome:
    """What happened to one write: ``posted``, ``already_posted`` (found by reference number)
    or ``failed`` (with the typed error)."""

    reference_no: str
    control_id: str
    status: OutcomeStatus
    record_no: str | None = None
    error: IntacctError | None = field(default=None, compare=False)

    @property
    def ok(self) -> bool:
        return self.status != "failed"


def check_unique_references(txns: Iterable[CCTransaction]) -> None:
    """Refuse a batch that holds the same reference number twice (one would be lost)."""
    seen: set[str] = set()
    for txn in txns:
        if txn.reference_no in seen:
            raise ValueError(f"reference number {txn.reference_no!r} appears twice")
        seen.add(txn.reference_no)


@dataclass(frozen=True)
class Attachment:
    """One file of a supporting document: ``name`` without extension, ``type`` the extension
    (``pdf``, ``jpg``), ``data`` the bytes (sent base64-encoded)."""

    name: str
    type: str
    data: bytes = field(repr=False)

    def __post_init__(self) -> None:
        name = clean_text(self.name, FIELD_LIMITS["attachment_name"])
        if not name:
            raise UnpostableRecord("attachment_name", "is empty")
        object.__setattr__(self, "name", name)
        check_identifier("attachment_type", self.type, required=True)
        if not isinstance(self.data, bytes | bytearray):
            raise TypeError("attachment data must be bytes")


@dataclass(frozen=True)
class SupportingDocument:
    """An Intacct supporting document (``create_supdoc``): the receipts of one transaction.

    ``supdoc_id`` is the key a credit card transaction's ``supdocid`` names; ``folder`` must
    exist in Intacct (Company > Attachments folders).
    """

    supdoc_id: str
    folder: str
    attachments: tuple[Attachment, ...]
    name: str | None = None
    description: str | None = None

    def __post_init__(self) -> None:
        check_identifier("supdoc_id", self.supdoc_id, required=True)
        check_identifier("supdoc_folder", self.folder, required=True)
        object.__setattr__(self, "attachments", tuple(self.attachments))
        if not self.attachments:
            raise UnpostableRecord("attachments", "is empty: nothing to attach")
        object.__setattr__(self, "name", clean_text(self.name, FIELD_LIMITS["supdoc_name"]))
        object.__setattr__(
            self,
            "description",
            clean_text(self.description, FIELD_LIMITS["supdoc_description"]),
        )
