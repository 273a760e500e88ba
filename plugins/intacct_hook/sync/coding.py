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
import json.scanner
from collections.abc import Hashable, Iterable, Mapping, Sequence, Set
from typing import Any, NamedTuple

from intacct_hook.intacct.text import describe_illegal
from intacct_hook.sync.dimensions import (
    BY_KEY,
    CARD_DEFAULT_LOCATION,
    DEFAULT_CUSTOM_FIELD_NAMES,
    DIMENSIONS,
    ID_COLUMNS,
    RULE_COLUMNS,
    SETTING_DEFAULT_LOCATION,
)
from intacct_hook.sync.ledger import MAPPED_LINE_PARAMS
from intacct_hook.sync.map_inputs import opt_text
from intacct_hook.sync.preflight import GL_ACCOUNTS_SCREEN, dimension_label
from intacct_hook.sync.rules import LineFacts, RuleSet, intacct_id
from intacct_hook.sync.states import LedgerState

DEFAULT_ACCOUNT = "default account"

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
        default_location_rule: str = CARD_DEFAULT_LOCATION,
    ) -> None:
        self._mapper = LineMapper(
            rules,
            field_names,
            default_gl_account,
            card_default_location,
            valid_ids,
            required_dimensions,
            default_location_rule=default_location_rule,
        )

    def verdicts(self, page: Sequence[tuple[str, Sequence[Sequence[Any]]]]) -> list[Verdict]:
        """:meth:`verdict` of each ``(uuid, lines)``."""
        mapper = self._mapper
        cache = mapper._cache
        ready = LedgerState.READY
        out: list[Verdict] = []
        for uuid, lines in page:
            if len(lines) != 1:
                out.append(self.verdict(uuid, lines))
                continue
            # One line, most transactions: the same as verdict(), without its loop.
            ((source_uuid, amount, description, key),) = lines
            coded = cache.get(key) or mapper.coded(key)
            line = (uuid, 1, source_uuid, amount, *coded.ids, description, *coded.rules)
            if coded.problem is None and not coded.required:
                out.append(Verdict(uuid, ready, None, [line]))
            else:
                reason = reason_text([(1, mapper.problem(coded, source_uuid) or "")], 1)
                out.append(Verdict(uuid, LedgerState.UNMAPPED, reason, [line]))
        return out

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


class _Coded(NamedTuple):
    """What mapping decides for one set of line facts (one facts key)."""

    values: dict[str, str | None]  # the ID and rule columns
    problem: str | None
    required: tuple[str, ...]  # dimensions the GL account requires and the coding lacks
    ids: tuple[str | None, ...]  # the ID columns' values, in ID_COLUMNS order
    rules: tuple[str | None, ...]  # the rule columns' values, in RULE_COLUMNS order


#: One dimension's coding: (ID, where it came from, problem), the problem including an ID that
#: Intacct does not hold active.
_DimCoding = tuple[str | None, str | None, str | None]
_NONE: _DimCoding = (None, None, None)
_MISSING: Any = object()


class _Fallback(NamedTuple):
    """For one set of facts rules look at: each dimension's coding when its custom field names
    no ID (the first matching rule, then the defaults), and the facts themselves."""

    codings: tuple[_DimCoding, ...]  # in DIMENSIONS order
    facts: LineFacts


class LineMapper:
    """Codes lines; each distinct set of facts (custom fields, budget, MCC, merchant) once.

    Everything but the required-dimension message depends on the facts alone, and a window
    holds far fewer distinct facts than lines: caching by facts key is the vectorisation.

    Coding a new set of facts is itself made of look-ups: a dimension's coding from its custom
    field's values (few distinct per window), the rules' and defaults' coding per set of facts
    the rules can look at (budget, MCC, merchant, the custom fields rules name; fewer still),
    and the line's coding per combination of the five (a transaction's checks and messages).
    Each is computed the first time it is met; the caches' keys are the raw facts, so a value
    is never mistaken for another.
    """

    def __init__(
        self,
        rules: RuleSet,
        field_names: Mapping[str, str | None],
        default_gl_account: str | None,
        card_default_location: str | None,
        valid_ids: Mapping[str, Set[str]] | None,
        required_dimensions: Mapping[str, Set[str]] | None = None,
        *,
        default_location_rule: str = CARD_DEFAULT_LOCATION,
    ) -> None:
        self.rules = rules
        self.field_names = field_names
        self.default_gl_account = default_gl_account
        self.card_default_location = card_default_location
        # Where the default location comes from, as a line's provenance and its fix name it.
        self.default_location_rule = default_location_rule
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
        self._valid = [self.valid_ids.get(dim) for dim in DIMENSIONS]
        # Per dimension, the case-folded name of its custom field (None: none is read).
        self._dim_fields = [
            name.casefold() if name else None for name in map(field_names.get, DIMENSIONS)
        ]
        self._rule_fields = sorted(
            {(r.field_name or "").casefold() for r in rules if r.match_field == "custom_field"}
        )
        self._folded_names: dict[str, str] = {}
        # The look-ups of the class docstring, by dimension index and raw values; by the facts
        # rules see; by the five dimensions' codings.
        self._from_field: dict[tuple[int, tuple[Any, ...]], _DimCoding | None] = {}
        self._fallbacks: dict[tuple[Any, ...], _Fallback] = {}
        self._by_codings: dict[Any, _Coded] = {}

    def coded_facts(self, key: Hashable, facts: LineFacts) -> _Coded:
        """The coding of ``facts``, cached under ``key`` (:func:`mapping.map_lines` keys by
        the facts' tuple, which never equals the map step's text keys: one cache serves
        both)."""
        coded = self._cache.get(key)
        if coded is None:
            coded = self._cache[key] = self._code(
                facts.custom_fields,
                facts.budget_name,
                facts.budget_uuid,
                facts.mcc,
                facts.merchant,
            )
        return coded

    def coded(self, key: str) -> _Coded:
        """The coding of a :func:`~intacct_hook.sync.map_inputs.facts_key` text."""
        coded = self._cache.get(key)
        if coded is None:
            fields, budget_name, budget_uuid, mcc, merchant = _decoded(key)
            coded = self._cache[key] = self._code(
                dict(fields), budget_name, budget_uuid, mcc, merchant
            )
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

    def _code(
        self,
        custom_fields: Mapping[str, Any],
        budget_name: Any,
        budget_uuid: Any,
        mcc: Any,
        merchant: Any,
    ) -> _Coded:
        """The coding of one set of facts, as stored (texts not yet stripped; the custom
        fields' values as Divvy selected them, empty ones included)."""
        # A name that appears twice in different case: the first in Divvy's order wins, as in
        # LineFacts.custom_values.
        folded: dict[str, Any] = {}
        names = self._folded_names
        for name, values in custom_fields.items():
            fold = names.get(name)
            if fold is None:
                fold = names[name] = name.casefold()
            if fold not in folded:
                folded[fold] = values
        codings: list[_DimCoding] = []
        fallback: _Fallback | None = None
        from_field = self._from_field
        for index, field in enumerate(self._dim_fields):
            coding = None
            if field is not None:
                values = folded.get(field)
                if values:
                    look = (index, tuple(values))
                    coding = from_field.get(look, _MISSING)
                    if coding is _MISSING:
                        coding = from_field[look] = self._field_coding(index, values)
            if coding is None:
                if fallback is None:
                    fallback = self._fallback(
                        custom_fields, folded, budget_name, budget_uuid, mcc, merchant
                    )
                coding = fallback.codings[index]
            codings.append(coding)
        combined: tuple[Any, ...] = tuple(codings)
        if codings[0][0] is None and fallback is not None:
            # The no-GL-account reason names what the rules looked at.
            facts = fallback.facts
            combined = (combined, facts.budget_name, facts.mcc, facts.merchant)
        coded = self._by_codings.get(combined)
        if coded is None:
            coded = self._by_codings[combined] = self._coded_from(codings, fallback)
        return coded

    def _coded_from(self, codings: Sequence[_DimCoding], fallback: _Fallback | None) -> _Coded:
        values: dict[str, str | None] = {}
        problems: list[str] = []
        for dim, (value, rule, problem) in zip(DIMENSIONS, codings, strict=True):
            if problem:
                problems.append(problem)
            values[ID_COLUMNS[dim]] = value
            values[RULE_COLUMNS[dim]] = rule
        ids = tuple([c[0] for c in codings])
        if ids[0] is None and not problems and fallback is not None:
            problems.append(self._no_gl_reason(fallback.facts))
        return _Coded(
            values,
            "; ".join(problems) or None,
            self._missing_required(values) if self.required_by_account else (),
            ids,
            tuple([c[1] for c in codings]),
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

    def _field_coding(self, index: int, values: Iterable[Any]) -> _DimCoding | None:
        """The dimension's coding from its custom field's values, or None when they name no
        ID (the rules and defaults decide then)."""
        selected = tuple([v for v in values if v and v.strip()])
        if not selected:
            return None
        dim = DIMENSIONS[index]
        found = self._from_custom_field(self.field_names.get(dim) or "", selected)
        return None if found is None else self._checked(index, *found)

    def _checked(
        self, index: int, value: str | None, rule: str | None, problem: str | None
    ) -> _DimCoding:
        """A dimension's coding with its ID checked against Intacct's active ones."""
        if problem is None and value is not None:
            active = self._valid[index]
            if active is not None and value not in active:
                problem = self._inactive(DIMENSIONS[index], value, rule)
        return value, rule, problem

    def _fallback(
        self,
        custom_fields: Mapping[str, Any],
        folded: Mapping[str, Any],
        budget_name: Any,
        budget_uuid: Any,
        mcc: Any,
        merchant: Any,
    ) -> _Fallback:
        """Per dimension, the first rule in file order that matches and sets it
        (:meth:`RuleSet.first_match` for every dimension at once), else the default; cached
        by the facts rules can look at, which far fewer lines differ in than in their whole
        coding."""
        key = (
            budget_name,
            budget_uuid,
            mcc,
            merchant,
            *[tuple(folded.get(name) or ()) for name in self._rule_fields],
        )
        found = self._fallbacks.get(key)
        if found is None:
            facts = LineFacts(
                custom_fields={name: tuple(values or ()) for name, values in custom_fields.items()},
                budget_name=opt_text(budget_name),
                budget_uuid=opt_text(budget_uuid),
                mcc=opt_text(mcc),
                merchant=opt_text(merchant),
            )
            first = self.rules.first_matches(facts)
            codings = []
            for index, dim in enumerate(DIMENSIONS):
                rule = first.get(dim)
                if rule is not None:
                    codings.append(self._checked(index, rule.values[dim], rule.provenance, None))
                elif dim == "gl_account" and self.default_gl_account:
                    codings.append(
                        self._checked(index, self.default_gl_account, DEFAULT_ACCOUNT, None)
                    )
                elif dim == "location" and self.card_default_location:
                    codings.append(
                        self._checked(
                            index, self.card_default_location, self.default_location_rule, None
                        )
                    )
                else:
                    codings.append(_NONE)
            found = self._fallbacks[key] = _Fallback(tuple(codings), facts)
        return found

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


# The scanner json.loads itself runs, with json.loads' own settings (the default decoder's).
_scan_json = json.scanner.make_scanner(json.JSONDecoder())  # type: ignore[arg-type]


def _decoded(text: str) -> Any:
    """``json.loads(text)``. A text that is one JSON value from its first character to its
    last (as every facts key stage writes) is read by the decoder's own scanner, without
    ``json.loads``' Python layers (half its time on a key); anything else goes through
    ``json.loads``, which reads it or raises as it always did."""
    if type(text) is str:
        try:
            value, end = _scan_json(text, 0)
        except StopIteration:
            pass
        else:
            if end == len(text):
                return value
    return json.loads(text)


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
    if rule == SETTING_DEFAULT_LOCATION:
        return "change the default_location setting or activate the location in Intacct"
    return f"fix {rule} or activate the {BY_KEY[dim].noun} in Intacct"


def reason_text(bad: Sequence[tuple[int, str]], line_count: int) -> str:
    """Why a transaction is unmapped: its line's problem, or each bad line's, numbered."""
    if line_count == 1:
        return bad[0][1]
    return "; ".join(f"line {line_no}: {problem}" for line_no, problem in bad)
