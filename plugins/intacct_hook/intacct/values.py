"""Intacct text values to Python values and back.

Everything in an Intacct response is text. Dates are ``MM/DD/YYYY``, timestamps
``MM/DD/YYYY HH:MM:SS``, booleans ``true``/``false`` (generic objects) or ``T``/``F`` (raw
readByQuery values), and empty elements mean "no value".
"""

from __future__ import annotations

import calendar
import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

_DATE = re.compile(r"^(\d{2})/(\d{2})/(\d{4})$")
_TIMESTAMP = re.compile(r"^(\d{2})/(\d{2})/(\d{4}) (\d{2}):(\d{2}):(\d{2})$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

_TRUE = frozenset({"true", "t"})
_FALSE = frozenset({"false", "f"})

# Fields whose values are money or rates. Converting by name, not by look, keeps IDs such as
# ACCOUNTNO "2150" or LOCATIONID "100" as the strings they are.
_DECIMAL_FIELD = re.compile(
    r"(^|_)(AMOUNT|TOTAL\w*|TRX_\w*AMOUNT|EXCHANGE_RATE|EXCH_RATE|BALANCE|PAYMENTAMOUNT)$"
    r"|^(TOTALENTERED|TRX_TOTALENTERED|TOTALPAID|TRX_TOTALPAID|TOTALDUE|TRX_TOTALDUE|"
    r"TOTALSELECTED|TRX_TOTALSELECTED|AMOUNT|TRX_AMOUNT)$",
    re.IGNORECASE,
)
# Identifier-like fields stay text even when they look like a date or a boolean.
_TEXT_FIELD = re.compile(r"(ID|NO|KEY|NAME|TITLE|DESCRIPTION\d*|MEMO|PAYEE|LABEL)$", re.IGNORECASE)


def empty_to_none(text: str | None) -> str | None:
    """``None`` for missing or blank text, the text otherwise."""
    if text is None:
        return None
    return text if text.strip() else None


def parse_date(text: str | None) -> date | None:
    """``MM/DD/YYYY`` (or ISO ``YYYY-MM-DD``) to a date; empty to None."""
    text = empty_to_none(text)
    if text is None:
        return None
    text = text.strip()
    m = _DATE.match(text)
    if m:
        return date(int(m.group(3)), int(m.group(1)), int(m.group(2)))
    if _ISO_DATE.match(text):
        return date.fromisoformat(text)
    raise ValueError(f"not an Intacct date: {text!r}")


def parse_timestamp(text: str | None) -> datetime | None:
    """``MM/DD/YYYY HH:MM:SS`` (or ISO 8601) to a naive/aware datetime; empty to None."""
    text = empty_to_none(text)
    if text is None:
        return None
    text = text.strip()
    m = _TIMESTAMP.match(text)
    if m:
        mo, d, y, hh, mm, ss = (int(g) for g in m.groups())
        return datetime(y, mo, d, hh, mm, ss)
    return datetime.fromisoformat(text)


def parse_decimal(text: str | None) -> Decimal | None:
    """Decimal text (``1,234.50`` tolerated) to Decimal; empty to None."""
    text = empty_to_none(text)
    if text is None:
        return None
    try:
        return Decimal(text.strip().replace(",", ""))
    except InvalidOperation:
        raise ValueError(f"not a decimal: {text!r}") from None


def parse_bool(text: str | None) -> bool | None:
    """``true``/``false``/``T``/``F`` (any case) to bool; empty to None."""
    text = empty_to_none(text)
    if text is None:
        return None
    low = text.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise ValueError(f"not an Intacct boolean: {text!r}")


def coerce(field: str, text: str | None) -> object:
    """Best plain Python value for ``field``'s text in a data row.

    Empty → None; money fields → Decimal; ``MM/DD/YYYY`` → date; timestamps → datetime;
    ``true``/``false`` → bool; everything else (including every ID) stays text.
    """
    text = empty_to_none(text)
    if text is None:
        return None
    if _DECIMAL_FIELD.search(field):
        try:
            return parse_decimal(text)
        except ValueError:
            return text
    if _TEXT_FIELD.search(field) and not field.upper().startswith("WHEN"):
        return text
    stripped = text.strip()
    if _DATE.match(stripped):
        return parse_date(stripped)
    if _TIMESTAMP.match(stripped):
        return parse_timestamp(stripped)
    if stripped in ("true", "false"):
        return stripped == "true"
    return text


def format_date(value: date) -> str:
    """A date as Intacct's ``MM/DD/YYYY`` (query values, readByQuery literals)."""
    return value.strftime("%m/%d/%Y")


def format_value(value: object) -> str:
    """Python value to the text Intacct expects in filters and fields."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.strftime("%m/%d/%Y %H:%M:%S")
    if isinstance(value, date):
        return format_date(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def quote_literal(value: object) -> str:
    """A readByQuery string literal: single quotes, ``\\`` and ``'`` escaped with a backslash."""
    text = format_value(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{text}'"


_MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
_MONTHS.update({name.lower(): i for i, name in enumerate(calendar.month_abbr) if name})


def month_number(text: str | None) -> int | None:
    """``January``/``Jan``/``1``/``01`` to 1..12; empty to None."""
    text = empty_to_none(text)
    if text is None:
        return None
    text = text.strip()
    if text.isdigit() and 1 <= int(text) <= 12:
        return int(text)
    try:
        return _MONTHS[text.lower()]
    except KeyError:
        raise ValueError(f"not a month: {text!r}") from None


def last_day_of_month(year: int, month: int) -> date:
    """The last calendar day of ``year``-``month``."""
    return date(year, month, calendar.monthrange(year, month)[1])
