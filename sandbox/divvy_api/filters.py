"""Server-side parsing of the v3 ``filters`` and ``sort`` parameters (reference §2.2, §2.3, §3).

Syntax: one ``filters`` value of comma-joined ``field:op:value`` terms. Double quotes make
``:`` and ``,`` literal (``occurredTime:gte:"2026-11-16T00:00:00.000Z"``,
``type:in:"CLEAR,DECLINE"``). An unquoted value containing ``:`` splits into too many parts and is
rejected, which is how the live API "broke on the colons" of an unquoted date-time (§2.2 LIVE-3P).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from sandbox.divvy_api.util import ApiError

Predicate = Callable[[dict[str, Any]], bool]

ALL_OPS = frozenset({"eq", "ne", "gt", "gte", "lt", "lte", "in", "nin", "sw"})

# The generic v3 date formats (§2.2, DOC): a zone only after milliseconds; naive means UTC
# (the UTC reading of naive values is an emulator choice, see README).
_DATE_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})"
    r"(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{3})(Z|[+-]\d{2}(?::?\d{2})?)?)?)?)?$"
)


@dataclass(frozen=True)
class FieldSpec:
    """How one filterable field is typed, which operators it takes and how to read it."""

    kind: str  # time | enum | bool | ids | string | number
    ops: frozenset[str]
    getter: Callable[[dict[str, Any]], Any]
    choices: frozenset[str] = frozenset()


def spec(
    kind: str,
    ops: Iterable[str],
    getter: Callable[[dict[str, Any]], Any],
    choices: Iterable[str] = (),
) -> FieldSpec:
    return FieldSpec(kind, frozenset(ops), getter, frozenset(choices))


def parse_filter_date(text: str, field: str) -> datetime:
    match = _DATE_RE.match(text.strip())
    if not match:
        raise ApiError(400, f"filters: invalid date '{text}' for field '{field}'")
    year, month, day, hour, minute, second, millis, zone = match.groups()
    try:
        value = datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            int(millis or 0) * 1000,
            tzinfo=_zone(zone),
        )
    except ValueError as exc:
        raise ApiError(400, f"filters: invalid date '{text}' for field '{field}'") from exc
    return value.astimezone(UTC)


def _zone(text: str | None) -> timezone:
    if not text or text == "Z":
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def _split_terms(text: str) -> list[tuple[list[str], list[bool]]]:
    """Split into terms of parts; each part remembers whether it contained a quoted section."""
    terms: list[tuple[list[str], list[bool]]] = []
    parts: list[str] = []
    quoted_flags: list[bool] = []
    buf: list[str] = []
    quoted = False
    in_quotes = False
    for char in text:
        if in_quotes:
            if char == '"':
                in_quotes = False
            else:
                buf.append(char)
        elif char == '"':
            in_quotes = True
            quoted = True
        elif char == ":":
            parts.append("".join(buf))
            quoted_flags.append(quoted)
            buf, quoted = [], False
        elif char == ",":
            parts.append("".join(buf))
            quoted_flags.append(quoted)
            terms.append((parts, quoted_flags))
            parts, quoted_flags, buf, quoted = [], [], [], False
        elif char == ";":
            # ';'-joined terms are "accepted and silently ignored" live (§2.2 LIVE-3P): the
            # emulator honours what precedes the first unquoted ';' and drops the rest.
            break
        else:
            buf.append(char)
    if in_quotes:
        raise ApiError(400, "filters: unterminated quoted value")
    parts.append("".join(buf))
    quoted_flags.append(quoted)
    terms.append((parts, quoted_flags))
    return terms


def parse_filters(text: str | None, specs: Mapping[str, FieldSpec]) -> list[Predicate]:
    """Turn a ``filters`` value into row predicates, or raise a 400 ``ApiError``."""
    if text is None or not text.strip():
        return []
    predicates: list[Predicate] = []
    for parts, quoted_flags in _split_terms(text):
        if len(parts) == 1 and not parts[0].strip() and not quoted_flags[0]:
            continue  # a trailing or doubled comma adds no term
        if len(parts) != 3:
            raise ApiError(400, f"filters: invalid filter term '{':'.join(parts)}'")
        field, op, raw = parts[0].strip(), parts[1].strip(), parts[2]
        field_spec = specs.get(field)
        if field_spec is None:
            raise ApiError(400, f"filters: unknown field '{field}'")
        if op not in ALL_OPS:
            raise ApiError(400, f"filters: unknown operator '{op}'")
        if op not in field_spec.ops:
            raise ApiError(400, f"filters: operator '{op}' is not supported for field '{field}'")
        predicates.append(_predicate(field, op, raw, field_spec))
    return predicates


def _predicate(field: str, op: str, raw: str, field_spec: FieldSpec) -> Predicate:
    if op in ("in", "nin"):
        values = [_convert(v.strip(), field, field_spec) for v in raw.split(",") if v.strip()]
        if not values:
            raise ApiError(400, f"filters: empty value list for field '{field}'")
    else:
        values = [_convert(raw.strip(), field, field_spec)]
    getter = field_spec.getter
    kind = field_spec.kind
    target = values[0]

    def equals(row: dict[str, Any], value: Any) -> bool:
        actual = getter(row)
        if kind == "ids":
            return value in actual
        return actual == value

    def compare(row: dict[str, Any]) -> bool:
        actual = getter(row)
        if actual is None:
            return False  # a null time (e.g. authorizedTime) never satisfies a bound
        return {
            "gt": actual > target,
            "gte": actual >= target,
            "lt": actual < target,
            "lte": actual <= target,
        }[op]

    if op == "eq":
        return lambda row: equals(row, target)
    if op == "ne":
        return lambda row: not equals(row, target)
    if op == "in":
        return lambda row: any(equals(row, v) for v in values)
    if op == "nin":
        return lambda row: not any(equals(row, v) for v in values)
    if op == "sw":
        return lambda row: str(getter(row) or "").startswith(str(target))
    return compare


def _convert(text: str, field: str, field_spec: FieldSpec) -> Any:
    kind = field_spec.kind
    if kind == "time":
        return parse_filter_date(text, field)
    if kind == "bool":
        if text.lower() not in ("true", "false"):
            raise ApiError(400, f"filters: invalid boolean '{text}' for field '{field}'")
        return text.lower() == "true"
    if kind == "number":
        try:
            return float(text)
        except ValueError as exc:
            raise ApiError(400, f"filters: invalid number '{text}' for field '{field}'") from exc
    if kind == "enum":
        # Strict: an unknown enum value is rejected rather than matching nothing (unverified).
        if text not in field_spec.choices:
            allowed = ", ".join(sorted(field_spec.choices))
            raise ApiError(
                400, f"filters: invalid value '{text}' for field '{field}' (allowed: {allowed})"
            )
        return text
    return text


def parse_sort(
    text: str | None, allowed: Mapping[str, Callable[[dict[str, Any]], Any]]
) -> tuple[Callable[[dict[str, Any]], Any], bool] | None:
    """``field:asc|desc`` with exactly one field from ``allowed``; ``None`` when absent."""
    if text is None or text == "":
        return None
    pieces = text.split(":")
    if len(pieces) != 2 or pieces[1] not in ("asc", "desc"):
        raise ApiError(400, f"sort: invalid sort '{text}', expected one 'field:asc|desc'")
    key = allowed.get(pieces[0])
    if key is None:
        names = ", ".join(sorted(allowed)) or "none"
        raise ApiError(400, f"sort: field '{pieces[0]}' is not sortable (sortable: {names})")
    return key, pieces[1] == "desc"
