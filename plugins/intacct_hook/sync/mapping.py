"""The map step: Intacct coding for every posting line, and which rule produced each value.

Precedence per dimension (GL account, location, department, class, project), as Divvy's own
Intacct integration does it:

1. the Divvy custom field named for the dimension (``GL Account``, ``Location``, … configurable);
   its value begins with the Intacct ID (``6100 - Office Supplies`` → ``6100``, a bare ID works);
2. the first rule of the rules CSV, in file order, that matches the line and sets the dimension;
3. the ``default_gl_account`` setting (GL account only);
4. the credit card account's default location (location only).

A line without a GL account, with a custom field holding several different IDs, with an ID
that is not among the active Intacct IDs given in ``valid_ids``, or without a dimension its GL
account requires (``required_dimensions``, read from Intacct once per run) makes its whole
transaction ``unmapped``, with a reason that says what to fix: Intacct would refuse it. Other
dimensions may stay empty.

Example::

    frame = lines_frame(divvy_transactions)
    result = map_lines(frame, load_rules(settings.mapping_path()),
                       field_names=settings.custom_field_names,
                       default_gl_account=settings.default_gl_account,
                       card_default_location="100", valid_ids={"gl_account": {"6100", "6300"}})
    for outcome in result.outcomes():
        ledger.save_mapping(outcome.uuid, outcome.lines, outcome.state, outcome.reason)

The coder itself is :mod:`intacct_hook.sync.coding` (plain Python); the map step uses its
:class:`StoredMapper` (the same decisions, without a DataFrame, and without importing pandas)
over the lines stage kept in the ledger (:mod:`intacct_hook.sync.map_inputs`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping, Set
from decimal import Decimal
from typing import Any, cast

import pandas as pd

from intacct_hook.divvy.records import DivvyTransaction
from intacct_hook.sync.coding import (
    CARD_DEFAULT_LOCATION,
    DEFAULT_ACCOUNT,
    LineMapper,
    StoredMapper,
    Verdict,
    reason_text,
)
from intacct_hook.sync.dimensions import DEFAULT_CUSTOM_FIELD_NAMES, ID_COLUMNS, RULE_COLUMNS
from intacct_hook.sync.ledger import MappedLine
from intacct_hook.sync.map_inputs import line_inputs
from intacct_hook.sync.rules import LineFacts, RuleSet
from intacct_hook.sync.states import LedgerState

__all__ = [
    "CARD_DEFAULT_LOCATION",
    "DEFAULT_ACCOUNT",
    "INPUT_COLUMNS",
    "LINE_COLUMNS",
    "TRANSACTION_COLUMNS",
    "MappingOutcome",
    "MappingResult",
    "StoredMapper",
    "Verdict",
    "lines_frame",
    "map_lines",
]

#: Input columns of :func:`map_lines`; ``description`` is optional.
INPUT_COLUMNS = (
    "uuid", "line_no", "source_uuid", "amount", "custom_fields",
    "budget_name", "budget_uuid", "mcc", "merchant",
)  # fmt: skip

LINE_COLUMNS = (
    "uuid", "line_no", "source_uuid", "amount", "description",
    *ID_COLUMNS.values(), *RULE_COLUMNS.values(), "problem",
)  # fmt: skip
TRANSACTION_COLUMNS = ("uuid", "state", "reason", "line_count", "amount")


@dataclasses.dataclass(frozen=True)
class MappingOutcome:
    """What to save for one transaction (see :meth:`Ledger.save_mapping`)."""

    uuid: str
    state: LedgerState  # READY | UNMAPPED
    reason: str | None
    lines: tuple[MappedLine, ...]


@dataclasses.dataclass(frozen=True)
class MappingResult:
    """``lines``: one row per input line (IDs, rules, problem); ``transactions``: one per uuid."""

    lines: pd.DataFrame
    transactions: pd.DataFrame

    def outcomes(self) -> Iterator[MappingOutcome]:
        groups = _groups(self.lines)
        frame = self.transactions[["uuid", "state", "reason"]]
        for uuid, state, reason in frame.itertuples(index=False, name=None):
            yield MappingOutcome(
                uuid=uuid,
                state=state,
                reason=reason,
                lines=tuple(_mapped_line(r) for r in groups[uuid]),
            )

    def unmapped(self) -> pd.DataFrame:
        """The transactions that cannot be posted yet, with their reasons."""
        return self.transactions[self.transactions["state"] == LedgerState.UNMAPPED]


def map_lines(
    lines: pd.DataFrame,
    rules: RuleSet,
    *,
    field_names: Mapping[str, str | None] = DEFAULT_CUSTOM_FIELD_NAMES,
    default_gl_account: str | None = None,
    card_default_location: str | None = None,
    valid_ids: Mapping[str, Set[str]] | None = None,
    required_dimensions: Mapping[str, Set[str]] | None = None,
) -> MappingResult:
    """Map posting lines (columns :data:`INPUT_COLUMNS`) to Intacct coding with provenance.

    ``required_dimensions``: GL account → the dimensions it requires, as
    :func:`~intacct_hook.sync.preflight.required_dimensions` names them; a name outside
    :data:`ID_COLUMNS` is one this sync never supplies, so every line on that account is held.
    """
    missing = [c for c in INPUT_COLUMNS if c not in lines.columns]
    if missing:
        raise ValueError(f"mapping input lacks column(s) {missing}")
    if lines.empty:
        empty = pd.DataFrame(columns=list(LINE_COLUMNS), dtype=object)
        return MappingResult(empty, _transactions(empty))
    mapper = LineMapper(
        rules,
        field_names,
        default_gl_account,
        card_default_location,
        valid_ids,
        required_dimensions,
    )
    mapped = [_map_record(mapper, rec) for rec in _records(lines)]
    # object dtype keeps None as None (pandas 3 would infer str columns holding NaN).
    out = pd.DataFrame(mapped, columns=list(LINE_COLUMNS), dtype=object)
    return MappingResult(out, _transactions(out))


def lines_frame(transactions: Iterable[DivvyTransaction]) -> pd.DataFrame:
    """Input rows for :func:`map_lines`: one per posting line of each Divvy transaction.

    The lines (amount and coding) are the posting rules' own (:func:`posting_lines`), so a
    split child without coding is coded like its parent here exactly as the rules decided;
    budget, MCC and merchant fall back to the parent's.
    """
    rows: list[dict[str, Any]] = []
    for txn in transactions:
        for line_no, line in enumerate(line_inputs(txn), 1):
            rows.append(
                {
                    "uuid": txn.uuid,
                    "line_no": line_no,
                    "source_uuid": line.source_uuid,
                    "amount": line.amount,
                    "custom_fields": dict(line.custom_fields),
                    "budget_name": line.budget_name,
                    "budget_uuid": line.budget_uuid,
                    "mcc": line.mcc,
                    "merchant": line.merchant,
                    "description": line.description,
                }
            )
    return pd.DataFrame(rows, columns=[*INPUT_COLUMNS, "description"])


def _map_record(mapper: LineMapper, rec: Mapping[str, Any]) -> dict[str, Any]:
    """One line of :func:`map_lines`' output from one row of its input."""
    facts = LineFacts(
        custom_fields={
            name: tuple(values or ()) for name, values in (rec["custom_fields"] or {}).items()
        },
        budget_name=_opt_text(rec["budget_name"]),
        budget_uuid=_opt_text(rec["budget_uuid"]),
        mcc=_opt_text(rec["mcc"]),
        merchant=_opt_text(rec["merchant"]),
    )
    key = (
        tuple(facts.custom_fields.items()),
        facts.budget_name,
        facts.budget_uuid,
        facts.mcc,
        facts.merchant,
    )
    coded = mapper.coded_facts(key, facts)
    return {
        "uuid": rec["uuid"],
        "line_no": int(rec["line_no"]),
        "source_uuid": rec["source_uuid"],
        "amount": _decimal(rec["amount"]),
        "description": _opt_text(rec.get("description")),
        **coded.values,
        "problem": mapper.problem(coded, rec["source_uuid"]),
    }


def _groups(lines: pd.DataFrame) -> dict[str, list[dict[str, Any]]]:
    """Line records per transaction uuid, in line order, uuids in order of appearance.

    One stable sort and one pass: per-group pandas calls (sort, filter) cost a Python-level
    round trip per transaction and dominated the map step.
    """
    groups: dict[str, list[dict[str, Any]]] = {}
    for rec in _records(lines.sort_values("line_no", kind="stable")):
        groups.setdefault(rec["uuid"], []).append(rec)
    return groups


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    # Every frame here has str column labels; the stubs can only promise Hashable ones.
    return cast("list[dict[str, Any]]", frame.to_dict("records"))


def _transactions(lines: pd.DataFrame) -> pd.DataFrame:
    if lines.empty:
        return pd.DataFrame(columns=list(TRANSACTION_COLUMNS), dtype=object)
    rows = []
    for uuid, group in _groups(lines).items():
        bad = [(r["line_no"], r["problem"]) for r in group if r["problem"] is not None]
        reason = reason_text(bad, len(group)) if bad else None
        rows.append(
            {
                "uuid": uuid,
                "state": LedgerState.UNMAPPED if bad else LedgerState.READY,
                "reason": reason,
                "line_count": len(group),
                "amount": sum((r["amount"] for r in group), Decimal("0")),
            }
        )
    return pd.DataFrame(rows, columns=list(TRANSACTION_COLUMNS), dtype=object)


def _mapped_line(rec: Mapping[str, Any]) -> MappedLine:
    return MappedLine(
        line_no=int(rec["line_no"]),
        source_uuid=rec["source_uuid"],
        amount=rec["amount"],
        description=rec["description"],
        **{col: rec[col] for col in (*ID_COLUMNS.values(), *RULE_COLUMNS.values())},
    )


def _opt_text(value: Any) -> str | None:
    # DataFrames turn missing cells into NaN/None/pd.NA; all mean "not given".
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    text = str(value).strip()
    return text or None


def _decimal(value: Any) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int | str):
        return Decimal(value)
    raise TypeError(f"line amounts must be Decimal (or int/str), got {type(value).__name__}")
