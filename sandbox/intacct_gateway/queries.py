"""Record filtering: the readByQuery SQL-like grammar (reference §4.1) and ``query`` filters (§4.3).

readByQuery grammar (a subset of SQL WHERE)::

    expr    := term (OR term)*
    term    := factor (AND factor)*
    factor  := NOT factor | '(' expr ')' | predicate
    pred    := FIELD op literal | FIELD [NOT] LIKE str | FIELD [NOT] IN '(' lit (',' lit)* ')'
             | FIELD IS [NOT] NULL
    op      := = | < | > | <= | >=          (no != / <>: negate with NOT, reference §4.1)

String literals use single quotes with ``\\'`` for an apostrophe; comparisons are case
sensitive. readByQuery sees STATUS/ACCOUNTTYPE in raw form ('T'/'F', 'N'/'I'); ``query``
filters see display values.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from lxml import etree

from .state import RAW_FORMS

Record = Mapping[str, str]
Predicate = Callable[[Record], bool]


class QueryError(ValueError):
    """A query the gateway refuses; reported as a function failure."""


# --------------------------------------------------------------------------------------------
# value comparison
# --------------------------------------------------------------------------------------------

_DATE_RE = re.compile(r"^\d{1,2}/\d{1,2}/\d{4}( \d{1,2}:\d{2}(:\d{2})?)?$")


def _as_comparable(text: str) -> tuple[int, object]:
    """Dates compare as dates, numbers as numbers, everything else as case-sensitive text."""
    text = text.strip()
    if _DATE_RE.match(text):
        fmt = (
            "%m/%d/%Y %H:%M:%S"
            if text.count(":") == 2
            else ("%m/%d/%Y %H:%M" if ":" in text else "%m/%d/%Y")
        )
        try:
            return (0, dt.datetime.strptime(text, fmt))
        except ValueError:
            pass
    try:
        return (1, Decimal(text))
    except InvalidOperation:
        return (2, text)


def compare(left: str, right: str, *, fold_case: bool = False) -> int:
    """-1/0/1 like ``cmp``; mixed kinds fall back to text comparison."""
    a, b = _as_comparable(left), _as_comparable(right)
    if a[0] != b[0]:
        a, b = (2, left), (2, right)
    x, y = a[1], b[1]
    if fold_case and isinstance(x, str) and isinstance(y, str):
        x, y = x.lower(), y.lower()
    return (x > y) - (x < y)  # type: ignore[operator]


def like(value: str, pattern: str, *, fold_case: bool = False) -> bool:
    regex = "".join(".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern)
    return re.fullmatch(regex, value, re.DOTALL | (re.IGNORECASE if fold_case else 0)) is not None


# --------------------------------------------------------------------------------------------
# readByQuery
# --------------------------------------------------------------------------------------------

_TOKEN_RE = re.compile(
    r"""\s*(?:
        (?P<str>'(?:\\.|[^'\\])*')
      | (?P<num>-?\d+(?:\.\d+)?)
      | (?P<op><=|>=|<>|!=|=|<|>)
      | (?P<punct>[(),])
      | (?P<word>[A-Za-z_][A-Za-z0-9_.]*)
    )""",
    re.VERBOSE,
)


@dataclass
class _Tok:
    kind: str
    text: str


def _tokenize(query: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    pos = 0
    query = query.rstrip()
    while pos < len(query):
        m = _TOKEN_RE.match(query, pos)
        if m is None or m.end() == pos:
            raise QueryError(f"Query Failed: unexpected text at position {pos}: {query[pos:]!r}")
        kind = m.lastgroup or ""
        text = m.group(kind)
        if kind == "str":
            text = re.sub(r"\\(.)", r"\1", text[1:-1])
        tokens.append(_Tok(kind, text))
        pos = m.end()
    return tokens


class _Parser:
    def __init__(self, tokens: list[_Tok], fields: set[str]) -> None:
        self.toks = tokens
        self.i = 0
        self.fields = fields

    def peek_word(self, *words: str) -> bool:
        tok = self.toks[self.i] if self.i < len(self.toks) else None
        return tok is not None and tok.kind == "word" and tok.text.upper() in words

    def take(self) -> _Tok:
        if self.i >= len(self.toks):
            raise QueryError("Query Failed: unexpected end of query")
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def expect(self, kind: str, text: str | None = None) -> _Tok:
        tok = self.take()
        if tok.kind != kind or (text is not None and tok.text.upper() != text):
            raise QueryError(f"Query Failed: expected {text or kind}, got {tok.text!r}")
        return tok

    def parse(self) -> Predicate:
        pred = self.expr()
        if self.i != len(self.toks):
            raise QueryError(f"Query Failed: unexpected {self.toks[self.i].text!r}")
        return pred

    def expr(self) -> Predicate:
        parts = [self.term()]
        while self.peek_word("OR"):
            self.take()
            parts.append(self.term())
        return parts[0] if len(parts) == 1 else (lambda r, ps=parts: any(p(r) for p in ps))

    def term(self) -> Predicate:
        parts = [self.factor()]
        while self.peek_word("AND"):
            self.take()
            parts.append(self.factor())
        return parts[0] if len(parts) == 1 else (lambda r, ps=parts: all(p(r) for p in ps))

    def factor(self) -> Predicate:
        if self.peek_word("NOT"):
            self.take()
            inner = self.factor()
            return lambda r: not inner(r)
        tok = self.toks[self.i] if self.i < len(self.toks) else None
        if tok is not None and tok.kind == "punct" and tok.text == "(":
            self.take()
            inner = self.expr()
            self.expect("punct", ")")
            return inner
        return self.predicate()

    def literal(self) -> str:
        tok = self.take()
        if tok.kind not in ("str", "num"):
            raise QueryError(f"Query Failed: expected a literal, got {tok.text!r}")
        return tok.text

    def predicate(self) -> Predicate:
        tok = self.expect("word")
        name = tok.text.upper()
        if name not in self.fields:
            raise QueryError(f"Query Failed: invalid field {tok.text!r} in query")
        get = _raw_getter(name)
        if self.peek_word("IS"):
            self.take()
            negate = self.peek_word("NOT")
            if negate:
                self.take()
            self.expect("word", "NULL")
            return lambda r: (get(r) == "") != negate
        negate = self.peek_word("NOT")
        if negate:
            self.take()
        if self.peek_word("LIKE"):
            self.take()
            pattern = self.literal()
            return lambda r: like(get(r), pattern) != negate
        if self.peek_word("IN"):
            self.take()
            self.expect("punct", "(")
            values = [self.literal()]
            while self.i < len(self.toks) and self.toks[self.i].text == ",":
                self.take()
                values.append(self.literal())
            self.expect("punct", ")")
            return lambda r: any(compare(get(r), v) == 0 for v in values) != negate
        if negate:
            raise QueryError("Query Failed: NOT must be followed by LIKE or IN after a field")
        op_tok = self.take()
        if op_tok.kind != "op" or op_tok.text in ("<>", "!="):
            raise QueryError(f"Query Failed: unsupported operator {op_tok.text!r}")
        value = self.literal()
        test = _OPS[op_tok.text]
        return lambda r: get(r) != "" and test(compare(get(r), value))


_OPS: dict[str, Callable[[int], bool]] = {
    "=": lambda c: c == 0,
    "<": lambda c: c < 0,
    ">": lambda c: c > 0,
    "<=": lambda c: c <= 0,
    ">=": lambda c: c >= 0,
}


def _raw_getter(name: str) -> Callable[[Record], str]:
    forms = RAW_FORMS.get(name)
    if forms is None:
        return lambda r: r.get(name, "")
    return lambda r: forms.get(r.get(name, ""), r.get(name, ""))


def parse_read_by_query(query: str, fields: Iterable[str]) -> Predicate:
    """Compile a readByQuery ``<query>`` into a predicate; empty means every record."""
    if not query.strip():
        return lambda r: True
    return _Parser(_tokenize(query), set(fields)).parse()


# --------------------------------------------------------------------------------------------
# query <filter>
# --------------------------------------------------------------------------------------------

_CMP_OPS: dict[str, Callable[[int], bool]] = {
    "equalto": lambda c: c == 0,
    "notequalto": lambda c: c != 0,
    "lessthan": lambda c: c < 0,
    "lessthanorequalto": lambda c: c <= 0,
    "greaterthan": lambda c: c > 0,
    "greaterthanorequalto": lambda c: c >= 0,
}


def compile_filter(
    node: etree._Element, fields: Iterable[str], *, fold_case: bool = False
) -> Predicate:
    """Compile one ``query/filter`` operator element (already schema-checked) to a predicate."""
    known = set(fields)
    op = node.tag
    if op in ("and", "or"):
        parts = [
            compile_filter(c, known, fold_case=fold_case) for c in node if isinstance(c.tag, str)
        ]
        combine = all if op == "and" else any
        return lambda r: combine(p(r) for p in parts)
    name = (node.findtext("field") or "").strip().upper()
    if name not in known:
        raise QueryError(f"Query Failed: invalid field {name!r} in filter")
    values = [v.text or "" for v in node.findall("value")]

    def get(r: Record) -> str:
        return r.get(name, "")

    if op in _CMP_OPS:
        test, value = _CMP_OPS[op], values[0]
        if op == "notequalto":
            return lambda r: test(compare(get(r), value, fold_case=fold_case))
        return lambda r: get(r) != "" and test(compare(get(r), value, fold_case=fold_case))
    if op == "between":
        lo, hi = values
        return lambda r: (
            get(r) != ""
            and compare(get(r), lo, fold_case=fold_case) >= 0
            and compare(get(r), hi, fold_case=fold_case) <= 0
        )
    if op in ("in", "notin"):
        negate = op == "notin"
        if fold_case:
            return lambda r: any(compare(get(r), v, fold_case=True) == 0 for v in values) != negate
        # The same answer as comparing with each value (equal comparables of one kind, or
        # equal raw text across kinds), by set lookup: a list of 1,000 values over thousands
        # of records would otherwise take the emulator seconds.
        comparables = {_as_comparable(v) for v in values}
        raw = set(values)
        return lambda r: (get(r) in raw or _as_comparable(get(r)) in comparables) != negate
    if op in ("like", "notlike"):
        negate, pattern = op == "notlike", values[0]
        return lambda r: like(get(r), pattern, fold_case=fold_case) != negate
    if op in ("isnull", "isnotnull"):
        negate = op == "isnotnull"
        return lambda r: (get(r) == "") != negate
    raise QueryError(f"Query Failed: unsupported filter operator {op!r}")


def sort_key(value: str) -> tuple[int, object]:
    """Orderby key consistent with :func:`compare` (empty values sort first)."""
    if value == "":
        return (-1, "")
    return _as_comparable(value)
