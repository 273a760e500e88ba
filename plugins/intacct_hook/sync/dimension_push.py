"""Intacct dimensions into Divvy custom fields: what to change so Divvy offers what Intacct has.

Cardholders code their spend with Divvy custom-field values; the map step reads the Intacct ID
from the start of each value (:func:`intacct_hook.sync.rules.intacct_id`: ``"6100 - Office
Supplies"`` → ``6100``). This module makes each configured field's values match the active
Intacct records, as ``"<ID> - <Name>"``:

- :func:`plan_field` (pure) compares the records Intacct wants offered with the field's current
  values and returns a :class:`FieldDiff`: create the field, create a value, rename a value
  whose name changed, retire a value whose record became inactive (or left the GL account
  filter), and what stays as it is;
- :func:`push_dimension` reads both sides through the hooks (duck-typed, no Airflow) and, unless
  it is a dry run, applies the diff with the Divvy hook.

Retiring is Divvy's ``DELETE …/values/{id}``: a deleted value stays on the transactions that
used it (divvy-api.md §3, [DOC]), so nothing a past transaction shows is lost. A value whose ID
Intacct does not know at all (typed by hand in Divvy) is left alone and reported, never retired.
Running the push twice changes nothing the second time: every change is decided from the current
state of both sides, never from a memory of the last run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from intacct_hook.divvy.errors import DivvyApiError, DivvyTransientError
from intacct_hook.sync.dimensions import BY_KEY
from intacct_hook.sync.rules import intacct_id

#: What :func:`plan_field` can decide, in the order :func:`push_dimension` applies them.
ACTIONS = ("create_field", "create", "rename", "retire")

#: The Intacct object behind each coding key, and the field holding a record's display name.
SOURCES: Mapping[str, tuple[str, str]] = {
    "gl_account": ("GLACCOUNT", "TITLE"),
    "location": ("LOCATION", "NAME"),
    "department": ("DEPARTMENT", "TITLE"),
    "class": ("CLASS", "NAME"),
    "project": ("PROJECT", "NAME"),
}

SEPARATOR = " - "


def value_text(record_id: str, name: str) -> str:
    """The Divvy value for an Intacct record: ``"6100 - Office Supplies"``; the bare ID when the
    record has no name (the map step reads a bare ID as well)."""
    name = " ".join(name.split())  # a line break in a name would not survive a selector
    return f"{record_id}{SEPARATOR}{name}" if name else record_id


@dataclasses.dataclass(frozen=True)
class Record:
    """One Intacct record as the push sees it.

    :param wanted: whether Divvy should offer it: active and, for GL accounts, selected by the
        settings' filter. ``reason`` says why not.
    """

    id: str
    name: str
    wanted: bool
    reason: str = ""

    @property
    def text(self) -> str:
        return value_text(self.id, self.name)


@dataclasses.dataclass(frozen=True)
class CurrentValue:
    """One value the Divvy field offers now (retired values are not listed)."""

    uuid: str
    text: str


@dataclasses.dataclass(frozen=True)
class Change:
    """One change to Divvy. ``old`` is the text a rename or retire replaces or removes."""

    action: str
    text: str
    old: str | None = None
    value_uuid: str | None = None
    reason: str = ""

    def line(self) -> str:
        if self.action == "rename":
            return f"rename  {self.old!r} → {self.text!r}"
        if self.action == "retire":
            return f"retire  {self.text!r} ({self.reason})"
        if self.action == "create_field":
            return f"create custom field {self.text!r}"
        return f"create  {self.text!r}"

    def to_public_dict(self) -> dict[str, Any]:
        out = {"action": self.action, "value": self.text}
        if self.old is not None:
            out["old"] = self.old
        if self.reason:
            out["reason"] = self.reason
        return out


@dataclasses.dataclass
class FieldDiff:
    """What the push decided (and, after applying, did) for one dimension's custom field.

    ``unchanged``: values already right. ``unmatched``: values whose ID Intacct does not know
    (left alone). ``problems``: records that cannot be offered. ``blocked``: why the field
    cannot be pushed at all (nothing planned). ``failed`` / ``refused``: changes Divvy refused
    while applying (a refused retire of a value in use is ``refused``, not a failure).
    """

    dimension: str
    field_name: str
    changes: list[Change] = dataclasses.field(default_factory=list)
    unchanged: int = 0
    unmatched: list[str] = dataclasses.field(default_factory=list)
    problems: list[str] = dataclasses.field(default_factory=list)
    applied: bool = False
    blocked: str | None = None
    failed: list[str] = dataclasses.field(default_factory=list)
    refused: list[str] = dataclasses.field(default_factory=list)

    def counts(self) -> dict[str, int]:
        out = {action: 0 for action in ACTIONS}
        for change in self.changes:
            out[change.action] += 1
        out["unchanged"] = self.unchanged
        return out

    @property
    def changed(self) -> bool:
        return bool(self.changes)

    def lines(self) -> list[str]:
        """The diff as log lines, one per change, then what was left alone and why."""
        verb = "applied" if self.applied else "planned (dry run)"
        head = (
            f"{self.dimension} → Divvy custom field {self.field_name!r}: "
            + ", ".join(f"{k} {v}" for k, v in self.counts().items())
            + ("" if not self.changes else f" ({verb})")
        )
        out = [head]
        out += [f"  {c.line()}" for c in self.changes]
        out += [f"  left alone (no such Intacct ID): {t!r}" for t in self.unmatched]
        out += [f"  BLOCKED: {self.blocked}"] if self.blocked else []
        out += [f"  problem: {p}" for p in self.problems]
        out += [f"  refused by Divvy (kept): {r}" for r in self.refused]
        out += [f"  FAILED: {f}" for f in self.failed]
        return out

    def to_public_dict(self) -> dict[str, Any]:
        """JSON-able summary for XCom: names and counts only (no secrets exist here)."""
        return {
            "dimension": self.dimension,
            "field": self.field_name,
            "applied": self.applied,
            "counts": self.counts(),
            "changes": [c.to_public_dict() for c in self.changes],
            "unmatched": list(self.unmatched),
            "problems": list(self.problems),
            "blocked": self.blocked,
            "refused": list(self.refused),
            "failed": list(self.failed),
        }


def plan_field(
    dimension: str,
    field_name: str,
    records: Iterable[Record],
    current: Sequence[CurrentValue] | None,
) -> FieldDiff:
    """The changes that make a field's values match ``records``.

    :param current: the field's active values, or None when Divvy has no such field (it is
        created, then every wanted record is a new value).

    Per Intacct ID: a wanted record whose text Divvy offers is unchanged; one whose ID Divvy
    offers under another text is renamed (the first such value; further ones are retired as
    replaced); one Divvy lacks is created. Every value of an unwanted record is retired.
    """
    diff = FieldDiff(dimension, field_name)
    by_id: dict[str, Record] = {}
    for record in records:
        problem = _unofferable(record)
        if problem:
            diff.problems.append(problem)
            continue
        if record.id in by_id:
            diff.problems.append(f"Intacct returned ID {record.id!r} twice; the first is used")
            continue
        by_id[record.id] = record
    if current is None:
        diff.changes.append(Change("create_field", field_name))
        current = ()
    held: dict[str, list[CurrentValue]] = {}
    for value in current:
        held.setdefault(intacct_id(value.text), []).append(value)
    for record_id, record in by_id.items():
        values = held.get(record_id, [])
        if not record.wanted:
            diff.changes += [
                Change("retire", v.text, value_uuid=v.uuid, reason=record.reason) for v in values
            ]
            continue
        exact = [v for v in values if v.text == record.text]
        others = [v for v in values if v.text != record.text]
        if exact:
            diff.unchanged += 1
        elif others:
            first = others.pop(0)
            diff.changes.append(
                Change("rename", record.text, old=first.text, value_uuid=first.uuid)
            )
        else:
            diff.changes.append(Change("create", record.text))
        # A second value coding the same ID (say a half-done rename) would offer it twice.
        replaced = f"replaced by {record.text!r}"
        diff.changes += [
            Change("retire", v.text, value_uuid=v.uuid, reason=replaced) for v in others
        ]
    diff.unmatched = sorted(
        v.text for key, values in held.items() if key not in by_id for v in values
    )
    diff.changes.sort(key=lambda c: (ACTIONS.index(c.action), c.text))
    return diff


def _unofferable(record: Record) -> str | None:
    """Why a record cannot become a value the map step reads back as its ID, or None."""
    if not record.id:
        return f"an Intacct record without an ID ({record.name!r}) is skipped"
    if intacct_id(record.text) != record.id:
        # The map step takes the first word, minus trailing separators, as the ID.
        return (
            f"Intacct ID {record.id!r} cannot be offered: the map step would read "
            f"{intacct_id(record.text)!r} from {record.text!r}; rename the ID in Intacct "
            "(no spaces, no trailing '-' or ':')"
        )
    return None


# --- reading both sides ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class GLAccountFilter:
    """Which active GL accounts Divvy offers: an explicit list, or by type and category.

    Empty ``account_types`` / ``categories`` mean any. The card's own offset account (the
    settings' ``divvy_gl_account_no``, else the account titled ``divvy_gl_account_title``) is
    never offered: a charge coded to it would cancel itself.
    """

    accounts: tuple[str, ...] = ()
    account_types: tuple[str, ...] = ("incomestatement",)
    categories: tuple[str, ...] = ()
    card_account_no: str | None = None
    card_account_title: str | None = None

    def why_not(
        self, account_no: str, account_type: str, category: str, title: str = ""
    ) -> str | None:
        """None when the account is selected, else the reason it is not."""
        card = (
            account_no == self.card_account_no
            if self.card_account_no
            else bool(self.card_account_title)
            and title.casefold() == (self.card_account_title or "").casefold()
        )
        if card:
            return "the Divvy GL Account (the card's offset account) is never offered"
        if self.accounts:
            return None if account_no in self.accounts else "not in gl_accounts.accounts"
        if self.account_types and account_type.lower() not in self.account_types:
            return f"account type {account_type or 'unknown'!r} not in gl_accounts.account_types"
        folded = {c.casefold() for c in self.categories}
        if folded and category.casefold() not in folded:
            return f"category {category or 'none'!r} not in gl_accounts.categories"
        return None


class IntacctReads(Protocol):
    def get_gl_accounts(self, account_nos: Iterable[str] | None = None) -> list[Any]: ...
    def get_locations(self) -> list[Any]: ...
    def get_departments(self) -> list[Any]: ...
    def get_classes(self) -> list[Any]: ...
    def get_projects(self) -> list[Any]: ...


def intacct_records(
    intacct: IntacctReads, dimension: str, gl_filter: GLAccountFilter
) -> list[Record]:
    """Every record of the dimension's Intacct object, with whether Divvy should offer it."""
    _, name_field = SOURCES[dimension]
    if dimension == "gl_account":
        out = []
        for account in intacct.get_gl_accounts():
            why = (
                "inactive in Intacct"
                if not account.active
                else gl_filter.why_not(
                    account.account_no,
                    _text(account.fields.get("ACCOUNTTYPE")),
                    _text(account.fields.get("CATEGORY")),
                    account.title,
                )
            )
            out.append(Record(account.account_no, account.title, why is None, why or ""))
        return out
    read = {
        "location": intacct.get_locations,
        "department": intacct.get_departments,
        "class": intacct.get_classes,
        "project": intacct.get_projects,
    }[dimension]
    return [
        Record(
            v.id,
            _text(v.fields.get(name_field)),
            v.active,
            "" if v.active else "inactive in Intacct",
        )
        for v in read()
    ]


def _text(value: object) -> str:
    return str(value if value is not None else "").strip()


class DivvyFields(Protocol):
    def iter_custom_fields(self) -> Iterable[Any]: ...
    def iter_custom_field_values(self, field: Any) -> Iterable[Any]: ...
    def create_custom_field(self, name: str) -> Any: ...
    def create_custom_field_value(self, field: Any, text: str) -> Any: ...
    def rename_custom_field_value(self, field: Any, value_uuid: str, text: str) -> Any: ...
    def retire_custom_field_value(self, field: Any, value_uuid: str) -> bool: ...


class FieldUnusable(ValueError):
    """The Divvy field exists but cannot take values (retired, or free text)."""


def find_field(divvy: DivvyFields, name: str) -> Any | None:
    """The Divvy field called ``name`` (case-insensitively, as the map step reads it)."""
    matches = [f for f in divvy.iter_custom_fields() if f.name.casefold() == name.casefold()]
    live = [f for f in matches if not f.retired]
    if not live and matches:
        raise FieldUnusable(
            f"the Divvy custom field {name!r} is retired; un-retire it in Divvy (Settings → "
            "Custom fields), or name another field in custom_field_names"
        )
    field = live[0] if live else None
    if field is not None and (field.type or "CUSTOM_SELECTOR") != "CUSTOM_SELECTOR":
        raise FieldUnusable(
            f"the Divvy custom field {name!r} is of type {field.type}, which offers no values; "
            "name a selector field in custom_field_names"
        )
    return field


def push_dimension(
    intacct: IntacctReads,
    divvy: DivvyFields,
    dimension: str,
    field_name: str,
    gl_filter: GLAccountFilter,
    *,
    dry_run: bool,
) -> FieldDiff:
    """Read both sides, plan, and (unless ``dry_run``) apply the plan for one dimension.

    A change Divvy refuses with a 4xx is recorded in ``failed`` and the others still go ahead;
    a retire refused because the value is in use (HTTP 409) goes to ``refused``. Transient
    errors (after the hook's retries) propagate: a rerun plans again from the new state.
    """
    if dimension not in BY_KEY:
        raise ValueError(f"unknown dimension {dimension!r}")
    records = intacct_records(intacct, dimension, gl_filter)
    try:
        field = find_field(divvy, field_name)
    except FieldUnusable as exc:
        return FieldDiff(dimension, field_name, blocked=str(exc))
    current = None
    if field is not None:
        current = [
            CurrentValue(v.uuid, v.value)
            for v in divvy.iter_custom_field_values(field)
            if not v.deleted
        ]
    diff = plan_field(dimension, field_name, records, current)
    if dry_run or not diff.changes:
        return diff
    _apply(divvy, diff, field)
    diff.applied = True
    return diff


def _apply(divvy: DivvyFields, diff: FieldDiff, field: Any | None) -> None:
    for change in diff.changes:
        try:
            if change.action == "create_field":
                field = divvy.create_custom_field(change.text)
            elif change.action == "create":
                divvy.create_custom_field_value(field, change.text)
            elif change.action == "rename":
                divvy.rename_custom_field_value(field, change.value_uuid or "", change.text)
            elif change.action == "retire":
                divvy.retire_custom_field_value(field, change.value_uuid or "")
        except DivvyTransientError:
            raise
        except DivvyApiError as exc:
            text = f"{change.line()}: Divvy answered HTTP {exc.status}: {exc.message}"
            # A delete refused because the value is in use (a retire, or the delete half of a
            # rename by create + delete): kept, reported, not a failure.
            if exc.status == 409 and (change.action == "retire" or exc.method == "DELETE"):
                diff.refused.append(text)
                continue
            diff.failed.append(text)
            if change.action == "create_field":
                return  # without the field no value can be written
