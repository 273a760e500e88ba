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
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping, Set
from decimal import Decimal
from typing import Any, cast

import pandas as pd

from intacct_hook.divvy.records import DivvyTransaction
from intacct_hook.intacct.text import describe_illegal
from intacct_hook.sync.dimensions import (
    BY_KEY,
    DEFAULT_CUSTOM_FIELD_NAMES,
    DIMENSIONS,
    ID_COLUMNS,
    RULE_COLUMNS,
)
from intacct_hook.sync.ledger import MappedLine
from intacct_hook.sync.preflight import GL_ACCOUNTS_SCREEN, dimension_label
from intacct_hook.sync.rules import LineFacts, RuleSet, intacct_id
from intacct_hook.sync.states import LedgerState
from intacct_hook.sync.translation import line_description, posting_lines

#: Input columns of :func:`map_lines`; ``description`` is optional.
INPUT_COLUMNS = (
    "uuid", "line_no", "source_uuid", "amount", "custom_fields",
    "budget_name", "budget_uuid", "mcc", "merchant",
)  # fmt: skip

DEFAULT_ACCOUNT = "default account"
CARD_DEFAULT_LOCATION = "card default location"

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
    mapper = _LineMapper(rules, field_names, default_gl_account, card_default_location, valid_ids)
    mapped = [mapper.map(rec) for rec in _records(lines)]
    # object dtype keeps None as None (pandas 3 would infer str columns holding NaN).
    out = pd.DataFrame(mapped, columns=list(LINE_COLUMNS), dtype=object)
    if required_dimensions:
        _hold_missing_required(
            out,
            required_dimensions,
            rules_source=rules.source,
            field_names=field_names,
            card_default_location=card_default_location,
        )
    return MappingResult(out, _transactions(out))


def lines_frame(transactions: Iterable[DivvyTransaction]) -> pd.DataFrame:
    """Input rows for :func:`map_lines`: one per posting line of each Divvy transaction.

    The lines (amount and coding) are the posting rules' own (:func:`posting_lines`), so a
    split child without coding is coded like its parent here exactly as the rules decided;
    budget, MCC and merchant fall back to the parent's.
    """
    rows: list[dict[str, Any]] = []
    for txn in transactions:
        parts = {child.uuid: child for child in txn.children}
        for line_no, line in enumerate(posting_lines(txn), 1):
            part = parts.get(line.source_uuid, txn)
            rows.append(
                {
                    "uuid": txn.uuid,
                    "line_no": line_no,
                    "source_uuid": line.source_uuid,
                    "amount": line.amount,
                    "custom_fields": dict(line.coding),
                    "budget_name": part.budget_name or txn.budget_name,
                    "budget_uuid": part.budget_uuid or txn.budget_uuid,
                    "mcc": part.mcc or txn.mcc,
                    "merchant": part.merchant_name or txn.merchant_name,
                    "description": line_description(txn, line),
                }
            )
    return pd.DataFrame(rows, columns=[*INPUT_COLUMNS, "description"])


class _LineMapper:
    def __init__(
        self,
        rules: RuleSet,
        field_names: Mapping[str, str | None],
        default_gl_account: str | None,
        card_default_location: str | None,
        valid_ids: Mapping[str, Set[str]] | None,
    ) -> None:
        self.rules = rules
        self.field_names = field_names
        self.default_gl_account = default_gl_account
        self.card_default_location = card_default_location
        self.valid_ids = valid_ids or {}

    def map(self, rec: Mapping[str, Any]) -> dict[str, Any]:
        facts = LineFacts(
            custom_fields=rec["custom_fields"] or {},
            budget_name=_opt_text(rec["budget_name"]),
            budget_uuid=_opt_text(rec["budget_uuid"]),
            mcc=_opt_text(rec["mcc"]),
            merchant=_opt_text(rec["merchant"]),
        )
        out: dict[str, Any] = {
            "uuid": rec["uuid"],
            "line_no": int(rec["line_no"]),
            "source_uuid": rec["source_uuid"],
            "amount": _decimal(rec["amount"]),
            "description": _opt_text(rec.get("description")),
        }
        problems: list[str] = []
        for dim in DIMENSIONS:
            value, rule, problem = self._dimension(dim, facts)
            if problem is None and value is not None:
                problem = self._check_active(dim, value, rule)
            if problem:
                problems.append(problem)
            out[ID_COLUMNS[dim]] = value
            out[RULE_COLUMNS[dim]] = rule
        if out["gl_account_no"] is None and not problems:
            problems.append(self._no_gl_reason(facts))
        out["problem"] = "; ".join(problems) or None
        return out

    def _dimension(self, dim: str, facts: LineFacts) -> tuple[str | None, str | None, str | None]:
        name = self.field_names.get(dim)
        if name:
            ids = list(dict.fromkeys(intacct_id(v) for v in facts.custom_values(name)))
            ids = [i for i in ids if i]
            for value in ids:
                # Such an ID could be sent to neither Intacct nor the ledger (PostgreSQL refuses
                # NUL): the line waits, unmapped, for the value to be corrected in Divvy.
                problem = describe_illegal(value)
                if problem is not None:
                    return (
                        None,
                        None,
                        (
                            f"custom field {name!r} value {value[:60]!r} {problem}; correct it in "
                            "Divvy"
                        ),
                    )
            if len(ids) > 1:
                return (
                    None,
                    None,
                    (
                        f"custom field {name!r} has several values ({', '.join(ids)}); keep one "
                        "in Divvy"
                    ),
                )
            if ids:
                return ids[0], f"custom field {name!r}", None
        rule = self.rules.first_match(facts, dim)
        if rule is not None:
            return rule.values[dim], rule.provenance, None
        if dim == "gl_account" and self.default_gl_account:
            return self.default_gl_account, DEFAULT_ACCOUNT, None
        if dim == "location" and self.card_default_location:
            return self.card_default_location, CARD_DEFAULT_LOCATION, None
        return None, None, None

    def _check_active(self, dim: str, value: str, rule: str | None) -> str | None:
        active = self.valid_ids.get(dim)
        if active is None or value in active:
            return None
        return (
            f"{BY_KEY[dim].noun} {value!r} (from {rule}) does not exist in Intacct or is not "
            f"active; {_fix_for(dim, rule, self.field_names.get(dim))}"
        )

    def _no_gl_reason(self, facts: LineFacts) -> str:
        name = self.field_names.get("gl_account")
        source = f"custom field {name!r} is empty" if name else "no custom field is read for it"
        seen = [
            f"budget {facts.budget_name!r}" if facts.budget_name else "no budget",
            f"MCC {facts.mcc}" if facts.mcc else "no MCC",
            f"merchant {facts.merchant!r}" if facts.merchant else "no merchant",
        ]
        return (
            f"no GL account: {source} and no rule in {self.rules.source} matches "
            f"{' / '.join(seen)}; code it in Divvy, add a rule, or set default_gl_account"
        )


def _hold_missing_required(
    out: pd.DataFrame,
    required: Mapping[str, Set[str]],
    *,
    rules_source: str,
    field_names: Mapping[str, str | None],
    card_default_location: str | None,
) -> None:
    """Add a problem to every line whose GL account requires a dimension the line lacks.

    One vectorised pass per required dimension (a handful), never per line: Intacct refuses such
    a line ("missing the Department dimension"), and preflight promised to hold it.
    """
    account = out["gl_account_no"]
    for dim in sorted({d for dims in required.values() for d in dims}):
        missing = account.isin([a for a, dims in required.items() if dim in dims])
        if dim in ID_COLUMNS:
            missing &= out[ID_COLUMNS[dim]].isna()
        if not missing.any():
            continue
        rows = out.loc[missing]
        acct = rows["gl_account_no"].astype(str)
        text = (
            "Divvy record " + rows["source_uuid"].astype(str)
            + ": GL account '" + acct + "' (from " + rows["gl_account_rule"].astype(str) + ") "
            + _required_dimension_text(dim, rules_source, field_names, card_default_location)
            + " of " + acct + f" in Intacct ({GL_ACCOUNTS_SCREEN})"
        )  # fmt: skip
        before = rows["problem"]
        out.loc[missing, "problem"] = (before.fillna("") + "; " + text).where(before.notna(), text)


def _required_dimension_text(
    dim: str,
    rules_source: str,
    field_names: Mapping[str, str | None],
    card_default_location: str | None,
) -> str:
    """What is missing and how to fix it, up to the account number that ends the sentence."""
    label = dimension_label(dim)
    if dim not in ID_COLUMNS:
        return (
            f"requires the {label} dimension in Intacct, which this sync cannot supply; code "
            f"the line to another account, or uncheck the required {label} dimension"
        )
    name = field_names.get(dim)
    fixes = [f"choose a value for {name!r} in Divvy"] if name else []
    fixes.append(f"add a {BY_KEY[dim].noun} to a rule in {rules_source} that matches it")
    if dim == "location" and card_default_location is None:
        fixes.append("set the credit card account's default location")
    fixes.append(f"or uncheck the required {label} dimension")
    return f"requires a {BY_KEY[dim].noun} in Intacct and the line has none; " + ", ".join(fixes)


def _fix_for(dim: str, rule: str | None, field_name: str | None) -> str:
    if rule and rule.startswith("custom field"):
        return f"choose another value for {field_name!r} in Divvy or activate it in Intacct"
    if rule == DEFAULT_ACCOUNT:
        return "change the default_gl_account setting or activate the account in Intacct"
    if rule == CARD_DEFAULT_LOCATION:
        return "fix the credit card account's default location in Intacct"
    return f"fix {rule} or activate the {BY_KEY[dim].noun} in Intacct"


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
        bad = [r for r in group if r["problem"] is not None]
        if not bad:
            reason = None
        elif len(group) == 1:
            reason = bad[0]["problem"]
        else:
            reason = "; ".join(f"line {r['line_no']}: {r['problem']}" for r in bad)
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
