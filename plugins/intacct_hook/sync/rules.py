"""Mapping rules: an accountant-editable CSV that fills the coding Divvy custom fields leave empty.

File format (UTF-8, Excel's BOM tolerated; one header row, then one rule per row)::

    match_field,match_value,gl_account,location,department,class,project,note
    budget,Marketing,6500,,,,,All marketing spend is advertising
    mcc,5811-5814,6300,,,,,Restaurants and fast food
    merchant,Shell*,6600,,,,,Fuel
    custom_field:Trip,Client visit,6250,,10,,,Client travel needs a department

Columns:

``match_field``
    What the rule looks at: ``budget`` (the Divvy budget name, or its ``bgt_…`` uuid),
    ``mcc`` (merchant category code), ``merchant`` (the cleaned merchant name), or
    ``custom_field:<name>`` (any selected value of the Divvy custom field ``<name>``).
``match_value``
    Exact and case-insensitive. A trailing ``*`` matches by prefix (``Shell*``). For ``mcc`` a
    4-digit code (``5812``), a range (``5811-5814``, both ends included) or a prefix (``58*``).
    For a custom field the value matches the whole selected value or its leading Intacct ID
    (``6100 - Office Supplies`` is matched by ``6100`` and by ``6100 - office supplies``).
``gl_account``, ``location``, ``department``, ``class``, ``project``
    The Intacct IDs the rule supplies (the ID alone, e.g. ``6500``, not ``6500 - Advertising``).
    Leave a cell empty to let other rules or the defaults decide. A rule must set at least one.
``note``
    Free text for the people editing the file; ignored by the sync.

A value containing a comma must be quoted (``"Acme, Inc"``): a row with more cells than the
header is an error, as is a cell over the csv module's field limit (131,072 characters).
Rows whose first cell starts with ``#`` and empty rows are ignored. For each dimension the first
matching rule in file order that sets it wins, and only for what the Divvy custom fields left
empty. Errors are reported all at once, each with its line number and the fix.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import io
import pathlib
import re
from collections.abc import Callable, Iterator, Mapping, Sequence

from intacct_hook.sync.dimensions import DIMENSIONS

COLUMNS: tuple[str, ...] = ("match_field", "match_value", *DIMENSIONS, "note")
MATCH_FIELDS = ("custom_field:<name>", "budget", "mcc", "merchant")

_MCC = re.compile(r"\d{4}")
_MCC_RANGE = re.compile(r"(\d{4})\s*-\s*(\d{4})")
_MCC_PREFIX = re.compile(r"\d{1,3}\*")


class RulesError(ValueError):
    """The rules file is invalid. ``problems`` holds one message per error, with line numbers."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        body = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"mapping rules have {len(self.problems)} problem(s):\n{body}")


def intacct_id(value: str) -> str:
    """The Intacct ID a Divvy value begins with: ``'6100 - Office Supplies'`` → ``'6100'``.

    IDs may contain dashes (``P-100 - Website`` → ``P-100``), so the ID is the first
    whitespace-delimited token, minus separator punctuation stuck to it (``100: HQ`` → ``100``).
    """
    token = value.strip().split(maxsplit=1)[0] if value.strip() else ""
    return token.rstrip("-:–—,;")  # noqa: RUF001 - en/em dashes are real separators here


@dataclasses.dataclass(frozen=True)
class LineFacts:
    """What rules can look at on one posting line."""

    custom_fields: Mapping[str, tuple[str, ...]]
    budget_name: str | None = None
    budget_uuid: str | None = None
    mcc: str | None = None
    merchant: str | None = None

    def custom_values(self, name: str) -> tuple[str, ...]:
        """Selected values of custom field ``name``; names compare case-insensitively."""
        wanted = name.casefold()
        for key, values in self.custom_fields.items():
            if key.casefold() == wanted:
                return tuple(v for v in values if v and v.strip())
        return ()


@dataclasses.dataclass(frozen=True)
class Rule:
    """One validated row of the rules file."""

    line_no: int
    match_field: str  # budget | mcc | merchant | custom_field
    field_name: str | None  # the custom field's name when match_field == "custom_field"
    match_value: str
    values: Mapping[str, str]  # dimension -> Intacct ID, only the cells that were filled
    note: str = ""
    source: str = "mapping_rules.csv"

    @property
    def provenance(self) -> str:
        return f"{self.source} line {self.line_no}"

    @property
    def describe(self) -> str:
        what = f"custom field {self.field_name!r}" if self.field_name else self.match_field
        return f"{what} {self.match_value!r}"

    def matches(self, facts: LineFacts) -> bool:
        if self.match_field == "budget":
            return _text_matches(self.match_value, facts.budget_name) or (
                facts.budget_uuid is not None and self.match_value == facts.budget_uuid
            )
        if self.match_field == "merchant":
            return _text_matches(self.match_value, facts.merchant)
        if self.match_field == "mcc":
            return _mcc_matches(self.match_value, facts.mcc)
        values = facts.custom_values(self.field_name or "")
        return any(
            _text_matches(self.match_value, v) or _text_matches(self.match_value, intacct_id(v))
            for v in values
        )


@dataclasses.dataclass(frozen=True)
class RuleSet:
    """Rules in file order."""

    rules: tuple[Rule, ...] = ()
    source: str = "mapping_rules.csv"

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.rules)

    def __len__(self) -> int:
        return len(self.rules)

    def first_match(self, facts: LineFacts, dimension: str) -> Rule | None:
        """The first rule in file order that matches ``facts`` and sets ``dimension``."""
        for rule in self.rules:
            if dimension in rule.values and rule.matches(facts):
                return rule
        return None

    def first_matches(self, facts: LineFacts) -> dict[str, Rule]:
        """:meth:`first_match` for every dimension at once: dimension → rule, for the
        dimensions some rule sets. The rules are compiled once per set (patterns case-folded,
        each rule a test of the facts normalised once per call), and the rules setting only
        dimensions already decided are not evaluated."""
        return self._compiled.first_matches(facts)

    @functools.cached_property
    def _compiled(self) -> _CompiledRules:
        return _CompiledRules(self.rules)


class _Normalised:
    """The facts of one :meth:`RuleSet.first_matches` call as the rules compare them:
    stripped and case-folded once (:func:`_text_matches` and :func:`_mcc_matches` do it per
    rule)."""

    __slots__ = ("_custom", "_facts", "budget", "budget_uuid", "mcc", "merchant")

    def __init__(self, facts: LineFacts) -> None:
        self._facts = facts
        self.budget = _folded(facts.budget_name)
        self.budget_uuid = facts.budget_uuid
        self.merchant = _folded(facts.merchant)
        code = facts.mcc.strip() if facts.mcc else ""
        self.mcc = code if code.isdigit() else None
        self._custom: dict[str, list[tuple[str, str]]] = {}

    def custom(self, name: str) -> list[tuple[str, str]]:
        """Each selected value of custom field ``name``, folded, with its folded Intacct ID."""
        found = self._custom.get(name)
        if found is None:
            found = self._custom[name] = [
                (_folded(v) or "", _folded(intacct_id(v)) or "")
                for v in self._facts.custom_values(name)
            ]
        return found


class _CompiledRules:
    """A rule set as tests of :class:`_Normalised` facts, in file order (see
    :meth:`RuleSet.first_matches`); each test decides exactly what :meth:`Rule.matches`
    does."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        self._rules = [(rule, tuple(rule.values), _compile(rule)) for rule in rules]

    def first_matches(self, facts: LineFacts) -> dict[str, Rule]:
        seen = _Normalised(facts)
        found: dict[str, Rule] = {}
        for rule, dims, test in self._rules:
            for dim in dims:
                if dim not in found:
                    break
            else:
                continue  # every dimension it sets is decided already
            if test(seen):
                for dim in dims:
                    if dim not in found:
                        found[dim] = rule
        return found


def _compile(rule: Rule) -> Callable[[_Normalised], bool]:
    """:meth:`Rule.matches` of ``rule``, its pattern prepared once."""
    value = rule.match_value
    pattern = value.casefold()
    prefix = pattern[:-1] if pattern.endswith("*") else None
    if rule.match_field == "budget":
        if prefix is not None:
            return lambda f: (
                (f.budget is not None and f.budget.startswith(prefix))
                or (f.budget_uuid is not None and value == f.budget_uuid)
            )
        return lambda f: (
            f.budget == pattern or (f.budget_uuid is not None and value == f.budget_uuid)
        )
    if rule.match_field == "merchant":
        if prefix is not None:
            return lambda f: f.merchant is not None and f.merchant.startswith(prefix)
        return lambda f: f.merchant == pattern
    if rule.match_field == "mcc":
        span = _MCC_RANGE.fullmatch(value)
        if span is not None:
            low, high = int(span.group(1)), int(span.group(2))
            return lambda f: f.mcc is not None and low <= int(f.mcc) <= high
        if value.endswith("*"):
            start = value[:-1]
            return lambda f: f.mcc is not None and f.mcc.startswith(start)
        return lambda f: f.mcc == value
    name = rule.field_name or ""
    if prefix is not None:
        return lambda f: any(
            text.startswith(prefix) or ident.startswith(prefix) for text, ident in f.custom(name)
        )
    return lambda f: any(text == pattern or ident == pattern for text, ident in f.custom(name))


def _folded(value: str | None) -> str | None:
    return None if value is None else value.strip().casefold()


def load_rules(path: str | pathlib.Path) -> RuleSet:
    """Read and validate the rules file at ``path``. Raises :class:`RulesError`."""
    p = pathlib.Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise RulesError(
            [
                f"mapping file {str(p)!r} not found; create it (see "
                "include/mapping_rules.example.csv) or point the 'mapping_file' setting at it"
            ]
        ) from exc
    except UnicodeDecodeError as exc:
        raise RulesError(
            [f"{p.name}: not UTF-8 text ({exc}); save it as 'CSV UTF-8' and try again"]
        ) from exc
    return parse_rules(text, source=p.name)


def parse_rules(text: str, source: str = "mapping_rules.csv") -> RuleSet:
    """Validate rules given as CSV text; ``source`` names the file in messages."""
    text = text.removeprefix("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""))
    problems: list[str] = []
    rules: list[Rule] = []
    header: list[str] | None = None
    line_no = 1  # physical line where the next row starts (quoted cells may span lines)
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            # Untyped, it would be retried as if Intacct were down; after it the reader's
            # position is unreliable, so the rows that follow are not read.
            problems.append(_csv_problem(exc, source, line_no))
            break
        start, line_no = line_no, reader.line_num + 1
        if not any(cell.strip() for cell in row) or row[0].lstrip().startswith("#"):
            continue
        if header is None:
            header = _check_header(row, start, source, problems)
            if header is None:
                break  # without a usable header no row can be read reliably
            continue
        rule = _parse_row(row, header, start, source, problems)
        if rule is not None:
            _check_shadowing(rule, rules, source, problems)
            rules.append(rule)
    if header is None and not problems:
        problems.append(f"{source}: no header row; the first row must be {','.join(COLUMNS)}")
    if problems:
        raise RulesError(problems)
    return RuleSet(tuple(rules), source)


def _csv_problem(exc: csv.Error, source: str, line: int) -> str:
    where = f"{source} line {line}"
    if "field larger than field limit" in str(exc):
        return (
            f"{where}: a cell is longer than {csv.field_size_limit():,} characters; usually a "
            "double quote that is never closed (everything after it becomes one cell) or "
            "pasted data; close the quote or shorten the cell"
        )
    return f"{where}: not readable as CSV ({exc}); save the file as 'CSV UTF-8' and check the line"


def _check_header(
    row: Sequence[str], line: int, source: str, problems: list[str]
) -> list[str] | None:
    names = [c.strip().lower() for c in row]
    unknown = [n for n in names if n and n not in COLUMNS]
    missing = [c for c in COLUMNS if c not in names and c != "note"]
    dupes = sorted({n for n in names if n and names.count(n) > 1})
    for n in unknown:
        close = [c for c in COLUMNS if c.startswith(n[:3])] or list(COLUMNS)
        problems.append(
            f"{source} line {line}: column {n!r} is not known; rename it to one of "
            f"{', '.join(close)} or delete the column"
        )
    if missing:
        problems.append(
            f"{source} line {line}: missing column(s) {', '.join(missing)}; the header must be "
            f"{','.join(COLUMNS)}"
        )
    for n in dupes:
        problems.append(f"{source} line {line}: column {n!r} appears twice; keep one")
    return None if unknown or missing or dupes else names


def _parse_row(
    row: Sequence[str], header: list[str], line: int, source: str, problems: list[str]
) -> Rule | None:
    where = f"{source} line {line}"
    # Even an empty extra cell is refused: "Acme, Inc" unquoted in a row with an empty note
    # spills into that empty cell and shifts every value after it one column to the right.
    if len(row) > len(header):
        problems.append(
            f"{where}: {len(row)} cells but the header has {len(header)} columns, so values "
            "would shift into the wrong columns; put a value that contains a comma in double "
            'quotes (e.g. "Acme, Inc"), or remove the comma after the last column'
        )
        return None
    cells = {name: (row[i].strip() if i < len(row) else "") for i, name in enumerate(header)}
    before = len(problems)
    match_field, field_name = _parse_match_field(cells["match_field"], where, problems)
    value = cells["match_value"]
    if not value:
        problems.append(f"{where}: match_value is empty; fill it in or remove the line")
    elif match_field == "mcc" and not _valid_mcc_pattern(value):
        problems.append(
            f"{where}: mcc {value!r} is not a 4-digit code, a range like 5811-5814 or a "
            "prefix like 58*; fix the value"
        )
    values: dict[str, str] = {}
    for dim in DIMENSIONS:
        cell = cells[dim]
        if not cell:
            continue
        if any(ch.isspace() for ch in cell):
            problems.append(
                f"{where}: {dim} {cell!r} must be the Intacct ID alone (e.g. "
                f"{intacct_id(cell)!r}); remove the name after it"
            )
        values[dim] = cell
    if not values and len(problems) == before:
        problems.append(
            f"{where}: the rule sets nothing; fill in at least one of {', '.join(DIMENSIONS)} "
            "or remove the line"
        )
    if len(problems) > before or match_field is None:
        return None
    return Rule(line, match_field, field_name, value, values, cells.get("note", ""), source)


def _parse_match_field(cell: str, where: str, problems: list[str]) -> tuple[str | None, str | None]:
    kind, sep, name = cell.partition(":")
    kind = kind.strip().lower()
    if kind in ("budget", "mcc", "merchant") and not sep:
        return kind, None
    if kind == "custom_field" and name.strip():
        return "custom_field", name.strip()
    if kind == "custom_field":
        problems.append(
            f"{where}: match_field {cell!r} needs the custom field's name, e.g. "
            "'custom_field:GL Account'; fix the column or remove the line"
        )
    else:
        problems.append(
            f"{where}: match_field {cell!r} is not one of {', '.join(MATCH_FIELDS)}; fix the "
            "column or remove the line"
        )
    return None, None


def _check_shadowing(rule: Rule, earlier: list[Rule], source: str, problems: list[str]) -> None:
    # An identical match earlier in the file wins for every dimension it sets, so a later row
    # that adds nothing new can never apply: almost always an editing mistake.
    for prev in earlier:
        same = (prev.match_field, prev.field_name and prev.field_name.casefold()) == (
            rule.match_field,
            rule.field_name and rule.field_name.casefold(),
        ) and prev.match_value.casefold() == rule.match_value.casefold()
        if same and set(rule.values) <= set(prev.values):
            problems.append(
                f"{source} line {rule.line_no}: repeats the match of line {prev.line_no} "
                f"({rule.describe}); the first matching line wins, so this one never applies; "
                "merge the two lines or remove one"
            )
            return


def _text_matches(pattern: str, value: str | None) -> bool:
    if value is None:
        return False
    value = value.strip().casefold()
    pat = pattern.casefold()
    if pat.endswith("*"):
        return value.startswith(pat[:-1])
    return value == pat


def _valid_mcc_pattern(value: str) -> bool:
    if _MCC.fullmatch(value) or _MCC_PREFIX.fullmatch(value):
        return True
    m = _MCC_RANGE.fullmatch(value)
    return bool(m and int(m.group(1)) <= int(m.group(2)))


def _mcc_matches(pattern: str, mcc: str | None) -> bool:
    if not mcc or not mcc.strip().isdigit():
        return False
    code = mcc.strip()
    m = _MCC_RANGE.fullmatch(pattern)
    if m:
        return int(m.group(1)) <= int(code) <= int(m.group(2))
    if pattern.endswith("*"):
        return code.startswith(pattern[:-1])
    return code == pattern
