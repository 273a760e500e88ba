"""The ``filters`` query parameter of the Spend & Expense list endpoints, and transaction windows.

The API takes ONE ``filters`` parameter holding comma-joined ``field:op:value`` terms. A repeated
parameter or ``;`` separators are accepted and silently ignored by the real API, so this module
only ever produces the comma-joined form. Date-times are sent double-quoted as
``"yyyy-MM-ddTHH:mm:ss.SSSZ"`` in UTC (unquoted colons break the parser), ``in``/``nin`` lists are
one quoted comma-joined string, and each field accepts only the operators listed in
:data:`TRANSACTION_FILTER_OPERATORS` (others are refused here rather than by an HTTP 400).

Windows are half-open, ``[start, end)``. The API has no ``lt`` for time fields, so a window is
sent as ``gte start`` and ``lte end`` and the row exactly at ``end`` is trimmed client-side by
:meth:`TransactionWindow.contains`::

    window = TransactionWindow(occurred_from=datetime(2026, 8, 1, tzinfo=UTC),
                               occurred_to=datetime(2026, 8, 2, tzinfo=UTC))
    window.to_filters()
    # 'occurredTime:gte:"2026-08-01T00:00:00.000Z",occurredTime:lte:"2026-08-02T00:00:00.000Z"'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from intacct_hook.divvy.records import DivvyTransaction

__all__ = [
    "OPERATORS",
    "TRANSACTION_FILTER_OPERATORS",
    "FilterError",
    "TransactionWindow",
    "build_filters",
    "filter_term",
    "format_datetime",
]

OPERATORS = frozenset({"eq", "ne", "gt", "gte", "lt", "lte", "in", "nin", "sw"})

_EQ_IN = frozenset({"eq", "in"})
_SET_OPS = frozenset({"eq", "ne", "in", "nin"})
_RANGE = frozenset({"gte", "lte"})

#: Operators each transaction filter field accepts (divvy-api.md §2.3). ``status`` is absent on
#: purpose: the API answers 400 to any filter on it.
TRANSACTION_FILTER_OPERATORS: Mapping[str, frozenset[str]] = {
    "occurredTime": _RANGE,
    "updatedTime": _RANGE,
    "authorizedTime": _RANGE,
    "syncStatus": _SET_OPS,
    "type": _SET_OPS,
    "complete": frozenset({"eq"}),
    "budgetId": _EQ_IN,
    "cardId": _EQ_IN,
    "userId": _EQ_IN,
    "merchantName": frozenset({"eq"}),
    "transactionIds": _EQ_IN,
    "customFieldIds": _EQ_IN,
    "customFieldValueIds": _EQ_IN,
    "receiptStatus": _SET_OPS,
    "amount": _RANGE,
    "fees": _RANGE,
    "isLocked": frozenset({"eq"}),
    "isReviewed": frozenset({"eq"}),
}

_ONE_MS = timedelta(milliseconds=1)


class FilterError(ValueError):
    """A filter term the API would reject (or, worse, silently misread)."""


def format_datetime(value: datetime, *, round_up: bool = False) -> str:
    """Format a timezone-aware datetime as the API's quoted UTC millisecond form.

    :param value: must carry a UTC offset; naive datetimes are refused because the API would
        read them as UTC and the caller probably meant local time.
    :param round_up: round sub-millisecond values up instead of down. Used for the ``lte`` end
        of a window so truncation never drops a row inside the window.
    """
    if not isinstance(value, datetime):
        raise FilterError(f"expected a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise FilterError(f"date-time {value.isoformat()} has no timezone; pass an aware datetime")
    utc = value.astimezone(UTC)
    floored = utc.replace(microsecond=utc.microsecond - utc.microsecond % 1000)
    if round_up and floored != utc:
        floored += _ONE_MS
    millis = f"{floored.microsecond // 1000:03d}"
    return '"' + floored.strftime("%Y-%m-%dT%H:%M:%S.") + millis + 'Z"'


def _quote(text: str) -> str:
    if '"' in text:
        # The API documents no escape for a quote inside a quoted value.
        raise FilterError(f"filter value {text!r} contains a double quote, which cannot be sent")
    return f'"{text}"'


def _format_value(field: str, op: str, value: Any) -> str:
    if op in {"in", "nin"}:
        if isinstance(value, str) or not isinstance(value, Iterable):
            raise FilterError(f"{field}:{op} needs a list of values, got {value!r}")
        items = [str(v.value if hasattr(v, "value") else v) for v in value]
        if not items:
            raise FilterError(f"{field}:{op} needs at least one value")
        if any("," in item for item in items):
            raise FilterError(f"{field}:{op} values cannot contain commas: {items!r}")
        return _quote(",".join(items))
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return format_datetime(value, round_up=op == "lte")
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, float):
        raise FilterError(f"{field}: pass amounts as Decimal or int, not float ({value!r})")
    if hasattr(value, "value") and isinstance(value.value, str):  # enums such as TransactionType
        value = value.value
    if isinstance(value, str):
        if not value:
            raise FilterError(f"{field}:{op} needs a non-empty value")
        return _quote(value)
    raise FilterError(f"{field}:{op}: cannot send a value of type {type(value).__name__}")


def filter_term(
    field: str,
    op: str,
    value: Any,
    *,
    allowed: Mapping[str, frozenset[str]] = TRANSACTION_FILTER_OPERATORS,
) -> str:
    """One ``field:op:value`` term, checked against the operators the field supports.

    :param field: API filter field name, e.g. ``occurredTime`` or ``type``.
    :param op: one of :data:`OPERATORS`.
    :param value: a datetime, bool, int/Decimal, string or enum; a list for ``in``/``nin``.
    :param allowed: field → operators table; defaults to the transaction list's.
    :raises FilterError: for an unknown field, an operator the field does not support, or a
        value that cannot be sent safely.

    >>> filter_term("type", "in", ["CLEAR", "DECLINE"])
    'type:in:"CLEAR,DECLINE"'
    """
    if op not in OPERATORS:
        raise FilterError(f"unknown filter operator {op!r}")
    if field not in allowed:
        known = ", ".join(sorted(allowed))
        raise FilterError(f"{field!r} cannot be filtered on (allowed: {known})")
    if op not in allowed[field]:
        ops = ", ".join(sorted(allowed[field]))
        raise FilterError(f"{field} does not support {op!r}; it supports {ops}")
    return f"{field}:{op}:{_format_value(field, op, value)}"


def build_filters(terms: Iterable[str]) -> str:
    """Join terms with commas: the only separator the API honours."""
    return ",".join(terms)


@dataclass(frozen=True)
class TransactionWindow:
    """Half-open time windows, ``[from, to)``, on ``occurredTime`` and/or ``updatedTime``.

    Use the occurred window for backfills by purchase date and the updated window for daily
    incremental runs (a purchase cleared days later keeps its old ``occurredTime`` but gets a
    new ``updatedTime``). Any bound may be ``None`` (open).
    """

    occurred_from: datetime | None = None
    occurred_to: datetime | None = None
    updated_from: datetime | None = None
    updated_to: datetime | None = None

    def __post_init__(self) -> None:
        for name in ("occurred_from", "occurred_to", "updated_from", "updated_to"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, datetime) or value.utcoffset() is None):
                raise FilterError(f"{name} must be a timezone-aware datetime, got {value!r}")
        for start, end in (("occurred_from", "occurred_to"), ("updated_from", "updated_to")):
            a, b = getattr(self, start), getattr(self, end)
            if a is not None and b is not None and a >= b:
                raise FilterError(f"empty window: {start} {a.isoformat()} is not before {end}")

    def to_filters(self, *, extra: Iterable[str] = (), updated_upper_bound: bool = True) -> str:
        """The ``filters`` value for this window, plus any ``extra`` terms.

        :param updated_upper_bound: send ``updatedTime:lte`` to the server. The hook turns this
            off while paging: a row updated mid-walk would leave a bounded result set and shift
            the offset cursor past an unread row; without the bound the set only grows (which
            dedupe handles) and :meth:`contains` still trims the end.
        """
        terms: list[str] = []
        if self.occurred_from is not None:
            terms.append(filter_term("occurredTime", "gte", self.occurred_from))
        if self.occurred_to is not None:
            terms.append(filter_term("occurredTime", "lte", self.occurred_to))
        if self.updated_from is not None:
            terms.append(filter_term("updatedTime", "gte", self.updated_from))
        if self.updated_to is not None and updated_upper_bound:
            terms.append(filter_term("updatedTime", "lte", self.updated_to))
        terms.extend(extra)
        return build_filters(terms)

    @property
    def is_open(self) -> bool:
        return all(
            b is None
            for b in (self.occurred_from, self.occurred_to, self.updated_from, self.updated_to)
        )

    def contains(self, txn: DivvyTransaction) -> bool:
        """Whether a returned row really lies in the window (the API may ignore a filter)."""
        return _within(txn.occurred_time, self.occurred_from, self.occurred_to) and (
            (self.updated_from is None and self.updated_to is None)
            or _within(txn.updated_time, self.updated_from, self.updated_to)
        )

    def describe(self) -> str:
        """Human-readable window for logs, e.g. ``occurred 2026-08-01T00:00:00Z → …``."""
        parts = []
        for label, a, b in (
            ("occurred", self.occurred_from, self.occurred_to),
            ("updated", self.updated_from, self.updated_to),
        ):
            if a is not None or b is not None:
                parts.append(f"{label} [{_iso(a)}, {_iso(b)})")
        return ", ".join(parts) or "all time"


def _within(value: datetime | None, start: datetime | None, end: datetime | None) -> bool:
    if value is None:
        return False
    return (start is None or value >= start) and (end is None or value < end)


def _iso(value: datetime | None) -> str:
    if value is None:
        return "…"
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
