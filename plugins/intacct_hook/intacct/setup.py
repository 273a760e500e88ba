"""The Intacct setup objects the sync reads, as typed records, and the normalisers behind them.

Intacct answers every field as text, or as a bool for generic objects, and some names are
guesses (:mod:`intacct_hook.intacct.fields`). Each value is read once, here: preflight and the
map step work with dates, booleans and IDs, never with the rows themselves. A record keeps its
row as ``fields`` for checks that must say which field was missing or what it held.

The ``read_*`` functions take any client with ``read_by_name`` and ``iter_read_by_query`` (the
hook); nothing here imports Airflow.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType
from typing import Any, Protocol

from intacct_hook.intacct import errors as ierr
from intacct_hook.intacct.fields import (
    ACCOUNT_LIKE_FIELD,
    BOOKS_CLOSED_FIELD,
    BOOKS_CLOSED_OBJECT,
    CARD_LOCATION_FIELDS,
    CARD_OFFSET_ACCOUNT_FIELDS,
)
from intacct_hook.intacct.values import last_day_of_month, month_number, parse_date

_TRUE_FLAGS = frozenset({"true", "t", "1", "yes"})

#: Dimension objects and the field holding each value's ID.
DIMENSION_ID_FIELDS: Mapping[str, str] = MappingProxyType(
    {
        "LOCATION": "LOCATIONID",
        "DEPARTMENT": "DEPARTMENTID",
        "CLASS": "CLASSID",
        "PROJECT": "PROJECTID",
    }
)


# --- normalisers ------------------------------------------------------------------------------


def text(value: object) -> str:
    """A field as stripped text; empty for None."""
    return str(value if value is not None else "").strip()


def flag(value: object) -> bool:
    """A checkbox field: generic objects answer a bool, readByQuery ``T``/``F`` or ``true``.

    Anything not clearly set counts as unset, so an unexpected spelling never invents a
    requirement.
    """
    if isinstance(value, bool):
        return value
    return text(value).lower() in _TRUE_FLAGS


def is_active(status: object) -> bool:
    """A STATUS field: ``active``/``inactive`` on most objects, a flag on a few."""
    if isinstance(status, bool):
        return status
    word = text(status).lower()
    if word in ("active", "inactive"):
        return word == "active"
    return flag(word)


def card_expiry(month: object, year: object) -> date | None:
    """Last day of a card's expiry month; Intacct stores the month as a name (``December``).

    None when either part is missing or unreadable: the caller reports it as unverifiable.
    """
    try:
        m = month_number(str(month)) if month not in (None, "") else None
        y = int(str(year)) if year not in (None, "") else None
    except ValueError:
        return None
    return last_day_of_month(y, m) if m and y else None


def as_date(value: object) -> date | None:
    """A date field that may already be a date (generic objects) or ``MM/DD/YYYY`` text."""
    if isinstance(value, date):
        return value
    if value in (None, ""):
        return None
    return parse_date(str(value))


def first_field(row: Mapping[str, Any], names: Sequence[str]) -> str | None:
    """The first of ``names`` that holds a value in ``row``."""
    return next((name for name in names if row.get(name) not in (None, "")), None)


def _frozen(row: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(row))


# --- records ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class GLAccount:
    """A GLACCOUNT. ``active`` is True when Intacct returned no STATUS (nothing to refuse)."""

    account_no: str
    title: str
    active: bool
    fields: Mapping[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> GLAccount:
        return cls(
            account_no=text(row.get("ACCOUNTNO")),
            title=text(row.get("TITLE")),
            active=is_active(row["STATUS"]) if row.get("STATUS") not in (None, "") else True,
            fields=_frozen(row),
        )

    @property
    def required_flags(self) -> tuple[str, ...]:
        """The ``REQUIRE…`` flags that are set: dimensions every line on the account needs."""
        return tuple(
            name
            for name, value in self.fields.items()
            if name.startswith("REQUIRE") and flag(value)
        )

    @property
    def disallows_direct_posting(self) -> bool | None:
        """'Disallow direct posting' (SUBLEDGERCONTROLON); None when Intacct did not say."""
        if "SUBLEDGERCONTROLON" not in self.fields:
            return None
        return flag(self.fields["SUBLEDGERCONTROLON"])


@dataclass(frozen=True)
class CreditCard:
    """A CREDITCARD (credit card account), with its guessed fields resolved.

    ``offset_account_no`` / ``default_location_id`` is the first value found under
    :data:`CARD_OFFSET_ACCOUNT_FIELDS` / :data:`CARD_LOCATION_FIELDS`, and ``…_field`` the
    field it was found in (None when none of the guessed names holds a value). ``active`` is
    None when Intacct returned no STATUS; ``expires`` is the last day of the expiry month.
    """

    card_id: str
    status: str | None
    active: bool | None
    expires: date | None
    offset_account_no: str | None
    offset_account_field: str | None
    default_location_id: str | None
    default_location_field: str | None
    fields: Mapping[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> CreditCard:
        offset_field = first_field(row, CARD_OFFSET_ACCOUNT_FIELDS)
        location_field = first_field(row, CARD_LOCATION_FIELDS)
        has_status = "STATUS" in row
        return cls(
            card_id=text(row.get("CARDID")),
            status=text(row.get("STATUS")) or None,
            active=is_active(row.get("STATUS")) if has_status else None,
            expires=card_expiry(row.get("EXP_MONTH"), row.get("EXP_YEAR")),
            offset_account_no=text(row.get(offset_field)) or None if offset_field else None,
            offset_account_field=offset_field,
            default_location_id=text(row.get(location_field)) or None if location_field else None,
            default_location_field=location_field,
            fields=_frozen(row),
        )

    def account_like_fields(self) -> dict[str, str]:
        """The card's own fields (Intacct's are upper case) named like a GL account, with a
        value: the offset account's real field name is not documented."""
        return {
            name: text(value)
            for name, value in self.fields.items()
            if name.isupper() and ACCOUNT_LIKE_FIELD.search(name) and text(value)
        }


@dataclass(frozen=True)
class DimensionValue:
    """One value of a dimension object (a LOCATION, DEPARTMENT, CLASS or PROJECT).

    ``active`` is True when Intacct returned no STATUS.
    """

    object: str
    id: str
    active: bool
    fields: Mapping[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_row(cls, obj: str, row: Mapping[str, Any]) -> DimensionValue:
        status = row.get("STATUS")
        return cls(
            object=obj,
            id=text(row.get(DIMENSION_ID_FIELDS[obj])),
            active=is_active(status) if status not in (None, "") else True,
            fields=_frozen(row),
        )


@dataclass(frozen=True)
class Entity:
    """A LOCATIONENTITY: an entity of a multi-entity company (its ID is a LOCATIONID)."""

    entity_id: str
    active: bool
    fields: Mapping[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Entity:
        status = row.get("STATUS")
        return cls(
            entity_id=text(row.get("LOCATIONID")),
            active=is_active(status) if status not in (None, "") else True,
            fields=_frozen(row),
        )


# --- reads ------------------------------------------------------------------------------------


class SetupClient(Protocol):
    """The reads the setup needs (the Intacct hook has them)."""

    def read_by_name(
        self, obj: str, names: Iterable[str], fields: Sequence[str] = ("*",)
    ) -> list[dict]: ...

    def iter_read_by_query(
        self, obj: str, query: str = "", fields: Sequence[str] = ("*",), page_size: int = 1000
    ) -> Iterator[dict]: ...


def read_gl_accounts(
    client: SetupClient, account_nos: Iterable[str] | None = None
) -> list[GLAccount]:
    """GL accounts (all, or only ``account_nos``)."""
    if account_nos is not None:
        rows = client.read_by_name("GLACCOUNT", list(account_nos))
    else:
        rows = list(client.iter_read_by_query("GLACCOUNT"))
    return [GLAccount.from_row(r) for r in rows]


def read_credit_card(client: SetupClient, card_id: str) -> CreditCard | None:
    """The CREDITCARD ``card_id``, or None when Intacct has none."""
    rows = [r for r in client.read_by_name("CREDITCARD", [card_id]) if r.get("CARDID")]
    return CreditCard.from_row(rows[0]) if rows else None


def read_dimension(client: SetupClient, obj: str) -> list[DimensionValue]:
    """Every value of the dimension object ``obj`` (a key of :data:`DIMENSION_ID_FIELDS`)."""
    return [DimensionValue.from_row(obj, r) for r in client.iter_read_by_query(obj)]


def read_entities(client: SetupClient) -> list[Entity]:
    return [Entity.from_row(r) for r in client.iter_read_by_query("LOCATIONENTITY")]


def read_books_closed_through(client: SetupClient) -> date | None:
    """The last closed day, or None when Intacct cannot tell (object unknown, no rows).

    The object and field are a guess (:mod:`intacct_hook.intacct.fields`), so an Intacct that
    does not know the object is an answer, not a failure; a missing permission still is one.
    """
    try:
        rows = list(client.iter_read_by_query(BOOKS_CLOSED_OBJECT, fields=(BOOKS_CLOSED_FIELD,)))
    except ierr.IntacctPermissionError:
        raise
    except ierr.IntacctFunctionError as exc:
        if exc.says(ierr.OBJECT_UNKNOWN):
            return None
        raise
    dates = [d for d in (as_date(r.get(BOOKS_CLOSED_FIELD)) for r in rows) if d]
    return max(dates) if dates else None
