"""How a posting line is coded, without pandas: the map step's coder.

The decisions are those :mod:`intacct_hook.sync.mapping` documents (custom field, rules file,
defaults; IDs checked against Intacct's active ones; required dimensions). :class:`LineMapper`
makes them, once per distinct set of facts; :class:`StoredMapper` applies it to the lines stage
kept in the ledger (:mod:`intacct_hook.sync.map_inputs`), and ``mapping.map_lines`` to a
DataFrame. Kept apart from ``mapping`` so that the map step does not import pandas (a third
of a second of CPU per task: ~30 µs a transaction in a window of 10,000).
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Iterable, Mapping, Sequence, Set
from typing import Any, NamedTuple

from intacct_hook.intacct.text import describe_illegal
from intacct_hook.sync.dimensions import (
    BY_KEY,
    DEFAULT_CUSTOM_FIELD_NAMES,
    DIMENSIONS,
    ID_COLUMNS,
    RULE_COLUMNS,
)
from intacct_hook.sync.ledger import MAPPED_LINE_PARAMS
from intacct_hook.sync.map_inputs import opt_text
from intacct_hook.sync.preflight import GL_ACCOUNTS_SCREEN, dimension_label
from intacct_hook.sync.rules import LineFacts, Rule, RuleSet, intacct_id
from intacct_hook.sync.states import LedgerState

DEFAULT_ACCOUNT = "default account"
CARD_DEFAULT_LOCATION = "card default location"

# StoredMapper builds the ledger's line tuples in this order.
_LINE_ORDER = (
    "uuid", "line_no", "source_uuid", "amount", *ID_COLUMNS.values(),
    "description", *RULE_COLUMNS.values(),
)  # fmt: skip
if _LINE_ORDER != MAPPED_LINE_PARAMS:
    raise ImportError("StoredMapper builds lines in another order than the ledger's")


class Verdict(NamedTuple):
    """The map step's verdict on one transaction, ready for the ledger: ``lines`` are tuples
    of :data:`~intacct_hook.sync.ledger.MAPPED_LINE_PARAMS` (money as the ledger's text),
    which :meth:`Ledger.save_map_verdicts` inserts as they are."""

    uuid: str
    state: LedgerState  # READY | UNMAPPED
    reason: str | None
    lines: list[tuple[Any, ...]]


class StoredMapper:
    """``mapping.map_lines`` for the map step: the same decisions, over the lines the ledger
    keeps per transaction (:mod:`intacct_hook.sync.map_inputs`), without a DataFrame.

    Each distinct facts key is coded once per step; a line costs a dictionary look-up and
    one tuple.
    """

    def __init__(
        self,
        rules: RuleSet,
        *,
        field_names: Mapping[str, str | None] = DEFAULT_CUSTOM_FIELD_NAMES,
        default_gl_account: str | None = None,
        card_default_location: str | None = None,
        valid_ids: Mapping[str, Set[str]] | None = None,
        required_dimensions: Mapping[str, Set[str]] | None = None,
    ) -> None:
        self._mapper = LineMapper(
            rules,
            field_names,
            default_gl_account,
            card_default_location,
            valid_ids,
            required_dimensions,
        )

    def verdict(self, uuid: str, lines: Iterable[Sequence[Any]]) -> Verdict:
        """``lines``: ``(source_uuid, amount, description, facts_key)`` each, in line order
        (:class:`~intacct_hook.sync.map_inputs.StoredLine`, or the lists of
        :func:`~intacct_hook.sync.map_inputs.decode_page`)."""
        mapper = self._mapper
        cache = mapper._cache
        out: list[tuple[Any, ...]] = []
        bad: list[tuple[int, str]] = []
        for line_no, (source_uuid, amount, description, key) in enumerate(lines, 1):
            coded = cache.get(key) or mapper.coded(key)
            if coded.problem is not None or coded.required:
                bad.append((line_no, mapper.problem(coded, source_uuid) or ""))
            out.append((uuid, line_no, source_uuid, amount, *coded.ids, description, *coded.rules))
        if not bad:
            return Verdict(uuid, LedgerState.READY, None, out)
        return Verdict(uuid, LedgerState.UNMAPPED, reason_text(bad, len(out)), out)


class _Facts:
    """The facts of one facts key, decoded once, with custom fields found by folded name.

    The :class:`LineFacts` rules match against is built only when a rule is evaluated (once
    per distinct set of facts rules see, far fewer than keys)."""

    __slots__ = (
        "_custom",
        "_folded",
        "_line_facts",
        "budget_name",
        "budget_uuid",
        "mcc",
        "merchant",
        "rules",
    )

    def __init__(
        self,
        custom_fields: Mapping[str, tuple[str, ...]],
        budget_name: str | None,
        budget_uuid: str | None,
        mcc: str | None,
        merchant: str | None,
        line_facts: LineFacts | None = None,
    ) -> None:
        self._custom = custom_fields
        self.budget_name = budget_name
        self.budget_uuid = budget_uuid
        self.mcc = mcc
        self.merchant = merchant
        self._line_facts = line_facts
        folded: dict[str, tuple[str, ...]] = {}
        for name, values in custom_fields.items():
            # The first name in Divvy's order wins, as in LineFacts.custom_values.
            key = name.casefold()
            if key not in folded:
                folded[key] = tuple([v for v in values if v and v.strip()])
        self._folded = folded
        self.rules: dict[str, Rule] | None = None

    @classmethod
    def of(cls, facts: LineFacts) -> _Facts:
        return cls(
            facts.custom_fields,
            facts.budget_name,
            facts.budget_uuid,
            facts.mcc,
            facts.merchant,
            facts,
        )

    @classmethod
    def from_key(cls, key: str) -> _Facts:
        """The facts of a :func:`~intacct_hook.sync.map_inputs.facts_key` text, as
        :func:`~intacct_hook.sync.map_inputs.facts_of` reads them."""
        fields, budget_name, budget_uuid, mcc, merchant = json.loads(key)
        return cls(
            {name: tuple(values) for name, values in fields},
            opt_text(budget_name),
            opt_text(budget_uuid),
            opt_text(mcc),
            opt_text(merchant),
        )

    @property
    def line_facts(self) -> LineFacts:
        if self._line_facts is None:
            self._line_facts = LineFacts(
                custom_fields=self._custom,
                budget_name=self.budget_name,
                budget_uuid=self.budget_uuid,
                mcc=self.mcc,
                merchant=self.merchant,
            )
        return self._line_facts

    def custom_values(self, name: str) -> tuple[str, ...]:
        return self._folded.get(name.casefold(), ())

    def folded_values(self, folded_name: str) -> tuple[str, ...]:
        """:meth:`custom_values` of a name already case-folded."""
        return self._folded.get(folded_name, ())


class _Coded(NamedTuple):
    """What mapping decides for one set of line facts (one facts key)."""

    values: dict[str, str | None]  # the ID and rule columns
    problem: str | None
    required: tuple[str, ...]  # dimensions the GL account requires and the coding lacks
    ids: tuple[str | None, ...]  # the ID columns' values, in ID_COLUMNS order
    rules: tuple[str | None, ...]  # the rule columns' values, in RULE_COLUMNS order


class LineMapper:
    """Codes lines; each distinct set of facts (custom fields, budget, MCC, merchant) once.

    Everything but the required-dimension message depends on the facts alone, and a window
    holds far fewer distinct facts than lines: caching by facts key is the vectorisation.
    """

    def __init__(
        self,
        rules: RuleSet,
        field_names: Mapping[str, str | None],
        default_gl_account: str | None,
        card_default_location: str | None,
        valid_ids: Mapping[str, Set[str]] | None,
        required_dimensions: Mapping[str, Set[str]] | None = None,
    ) -> None:
        self.rules = rules
        self.field_names = field_names
        self.default_gl_account = default_gl_account
        self.card_default_location = card_default_location
        self.valid_ids = valid_ids or {}
        required = required_dimensions or {}
        self.required_by_account = {
            dim: frozenset(a for a, dims in required.items() if dim in dims)
            for dim in sorted({d for dims in required.values() for d in dims})
        }
        self.required_text = {
            dim: _required_dimension_text(dim, rules.source, field_names, card_default_location)
            for dim in self.required_by_account
        }
        self._cache: dict[Any, _Coded] = {}
        # Smaller caches below it: a dimension's custom field values, and the facts rules see.
        self._from_field: dict[tuple[str, tuple[str, ...]], Any] = {}
        self._rule_fields = sorted(
            {r.field_name or "" for r in rules if r.match_field == "custom_field"}
        )
        self._rule_fields_folded = [name.casefold() for name in self._rule_fields]
        # Per dimension, what coding it needs, looked up once rather than per facts key.
        self._dims = [
            (dim, name, name.casefold() if name else None, ID_COLUMNS[dim], RULE_COLUMNS[dim])
            for dim in DIMENSIONS
            for name in (field_names.get(dim),)
        ]
        self._valid = {dim: self.valid_ids.get(dim) for dim in DIMENSIONS}
        self._by_rule_facts: dict[tuple[Any, ...], dict[str, Rule]] = {}

    def coded_facts(self, key: Hashable, facts: LineFacts) -> _Coded:
        """The coding of ``facts``, cached under ``key`` (:func:`mapping.map_lines` keys by
        the facts' tuple, which never equals the map step's text keys: one cache serves
        both)."""
        coded = self._cache.get(key)
        if coded is None:
            coded = self._cache[key] = self._code(_Facts.of(facts))
        return coded

    def coded(self, key: str) -> _Coded:
        coded = self._cache.get(key)
        if coded is None:
            coded = self._cache[key] = self._code(_Facts.from_key(key))
        return coded

    def problem(self, coded: _Coded, source_uuid: Any) -> str | None:
        """The line's problems: its coding's, then each required dimension it lacks (the
        message names the Divvy record, so it is the one part made per line)."""
        if not coded.required:
            return coded.problem
        acct = coded.values["gl_account_no"]
        rule = coded.values["gl_account_rule"]
        texts = [
            f"Divvy record {source_uuid}: GL account '{acct}' (from {rule}) "
            f"{self.required_text[dim]} of {acct} in Intacct ({GL_ACCOUNTS_SCREEN})"
            for dim in coded.required
        ]
        return "; ".join([coded.problem, *texts] if coded.problem else texts)

    def _code(self, facts: _Facts) -> _Coded:
        values: dict[str, str | None] = {}
        ids: list[str | None] = []
        rules: list[str | None] = []
        problems: list[str] = []
        for dim, name, folded, id_column, rule_column in self._dims:
            value, rule, problem = self._dimension(dim, name, folded, facts)
            if problem is None and value is not None:
                active = self._valid[dim]
                if active is not None and value not in active:
                    problem = self._inactive(dim, value, rule)
            if problem:
                problems.append(problem)
            values[id_column] = value
            values[rule_column] = rule
            ids.append(value)
            rules.append(rule)
        if ids[0] is None and not problems:
            problems.append(self._no_gl_reason(facts.line_facts))
        return _Coded(
            values,
            "; ".join(problems) or None,
            self._missing_required(values) if self.required_by_account else (),
            tuple(ids),
            tuple(rules),
        )

    def _missing_required(self, values: Mapping[str, str | None]) -> tuple[str, ...]:
        """Intacct refuses a line lacking a dimension its account requires ("missing the
        Department dimension"), and preflight promised to hold it. A required name outside
        :data:`ID_COLUMNS` is one this sync never supplies."""
        account = values["gl_account_no"]
        return tuple(
            dim
            for dim, accounts in self.required_by_account.items()
            if account in accounts and (dim not in ID_COLUMNS or values[ID_COLUMNS[dim]] is None)
        )

    def _dimension(
        self, dim: str, name: str | None, folded: str | None, facts: _Facts
    ) -> tuple[str | None, str | None, str | None]:
        if name and folded:
            values = facts.folded_values(folded)
            if values:
                key = (dim, values)
                found = self._from_field.get(key, self)
                if found is self:
                    found = self._from_field[key] = self._from_custom_field(name, values)
                if found is not None:
                    return found
        rules = facts.rules if facts.rules is not None else self._rules_matching(facts)
        rule = rules.get(dim)
        if rule is not None:
            return rule.values[dim], rule.provenance, None
        if dim == "gl_account" and self.default_gl_account:
            return self.default_gl_account, DEFAULT_ACCOUNT, None
        if dim == "location" and self.card_default_location:
            return self.card_default_location, CARD_DEFAULT_LOCATION, None
        return None, None, None

    def _from_custom_field(
        self, name: str, values: tuple[str, ...]
    ) -> tuple[str | None, str | None, str | None] | None:
        """The dimension's value from its custom field, or a problem; None when it names no
        ID (the rules and defaults decide then)."""
        ids = list(dict.fromkeys(intacct_id(v) for v in values))
        ids = [i for i in ids if i]
        for value in ids:
            # Such an ID could be sent to neither Intacct nor the ledger (PostgreSQL refuses
            # NUL): the line waits, unmapped, for the value to be corrected in Divvy.
            problem = describe_illegal(value)
            if problem is not None:
                return (
                    None,
                    None,
                    f"custom field {name!r} value {value[:60]!r} {problem}; correct it in Divvy",
                )
        if len(ids) > 1:
            return (
                None,
                None,
                f"custom field {name!r} has several values ({', '.join(ids)}); keep one in Divvy",
            )
        if ids:
            return ids[0], f"custom field {name!r}", None
        return None

    def _rules_matching(self, facts: _Facts) -> dict[str, Rule]:
        """Per dimension, the first rule in file order that matches and sets it
        (:meth:`RuleSet.first_match` for every dimension at once). Cached by the facts rules
        can look at, which far fewer lines differ in than in their whole coding."""
        if facts.rules is not None:
            return facts.rules
        key = (
            facts.budget_name,
            facts.budget_uuid,
            facts.mcc,
            facts.merchant,
            tuple([facts.folded_values(name) for name in self._rule_fields_folded]),
        )
        found = self._by_rule_facts.get(key)
        if found is None:
            found = self._by_rule_facts[key] = {}
            line = facts.line_facts
            for rule in self.rules:
                if all(dim in found for dim in rule.values) or not rule.matches(line):
                    continue
                for dim in rule.values:
                    found.setdefault(dim, rule)
        facts.rules = found
        return found

    def _inactive(self, dim: str, value: str, rule: str | None) -> str:
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


def reason_text(bad: Sequence[tuple[int, str]], line_count: int) -> str:
    """Why a transaction is unmapped: its line's problem, or each bad line's, numbered."""
    if line_count == 1:
        return bad[0][1]
    return "; ".join(f"line {line_no}: {problem}" for line_no, problem in bad)
