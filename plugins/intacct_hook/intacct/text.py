"""Text Intacct can be sent: XML 1.0 characters only, and no longer than the field holds.

Divvy's JSON can carry any Unicode code point (``\\u0000``, a lone ``\\ud800``), but an XML 1.0
document cannot, and lxml refuses to build one with them. One such character in one merchant
name must not stop a whole batch, so:

- free text (payee, descriptions, memo) is cleaned with :func:`clean_text`: characters XML cannot
  carry are replaced (:func:`xml_safe`) and the text is cut to the field's limit (:func:`fit`);
- identifiers (card, reference number, GL account, dimension IDs) are never altered, because a
  changed ID posts to another account or breaks the exactly-once key: :func:`check_identifier`
  refuses them with :class:`UnpostableRecord`, which names the field and the fix.

No Airflow imports: this is wire format, used by the records and the request builders.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

__all__ = [
    "ELLIPSIS",
    "FIELD_LIMITS",
    "UnpostableRecord",
    "check_identifier",
    "clean_text",
    "describe_illegal",
    "fit",
    "xml_safe",
]

ELLIPSIS = "\u2026"
REPLACEMENT = "\ufffd"

#: Longest text, in characters, sent in each field; longer free text is cut (ending in "…"),
#: a longer identifier is refused. UNVERIFIED: neither the XML API reference nor api.xsd gives
#: these limits (``inspect detail="1"`` on CCTRANSACTION reports a ``maxLength`` per field; run
#: it against the real company to replace these numbers). They are chosen low enough to be
#: safe: 80 for the payee (a card merchant name is rarely over 40), 1000 for descriptions and
#: memos (what the mapping already cut line descriptions to), 100 for IDs (Divvy uuids are 36,
#: the setup guide's IDs under 20). Whether Intacct counts characters or bytes is also unknown.
FIELD_LIMITS: Mapping[str, int] = MappingProxyType(
    {
        # free text: cleaned and cut
        "payee": 80,
        "description": 1000,  # transaction header
        "line_description": 1000,  # ccpayitem
        "memo": 1000,  # reverse_cctransaction
        "supdoc_name": 100,  # create_supdoc
        "supdoc_description": 1000,
        "attachment_name": 100,  # a receipt's file name, without its extension
        # identifiers: refused when longer
        "card_id": 100,
        "reference_no": 100,
        "supdoc_id": 100,
        "supdoc_folder": 100,
        "attachment_type": 10,  # a file extension: pdf, jpg
        "currency": 10,
        "exchange_rate_type": 100,
        "gl_account_no": 100,
        "location_id": 100,
        "department_id": 100,
        "class_id": 100,
        "project_id": 100,
        "customer_id": 100,
        "vendor_id": 100,
        "employee_id": 100,
        "item_id": 100,
    }
)

# XML 1.0 ``Char`` excludes C0 controls other than tab, LF and CR; they are layout characters in
# practice (Excel exports write a line break inside a cell as \x0b), so they become a space and
# the words on either side stay apart.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")
# Surrogate code points (a str only holds them unpaired) and U+FFFE/U+FFFF are not characters
# at all but encoding damage; U+FFFD is what a decoder puts in their place, and it shows the
# reader that something was lost rather than silently joining the neighbours.
_DAMAGE = re.compile("[\ud800-\udfff\ufffe\uffff]")
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

# Characters that belong to the one before them: cutting in front of them would separate an
# accent from its letter or break an emoji sequence.
_ZWJ = "\u200d"


class UnpostableRecord(ValueError):
    """A record cannot be turned into a request; the message names record, field and fix.

    :param field: the field at fault, e.g. ``gl_account_no`` or ``lines[2].location_id``.
    :param problem: what is wrong, never containing the offending character itself.
    :param record: the record's business key (the reference number) when known.
    :param fix: what a person should change, when the caller knows where the value comes from.
    """

    def __init__(
        self, field: str, problem: str, *, record: str | None = None, fix: str | None = None
    ) -> None:
        self.field = field
        self.problem = problem
        self.record = record
        self.fix = fix
        who = f"record {_shown(record)}" if record is not None else "a record"
        fix_text = fix or "correct the value where it comes from, then run again"
        super().__init__(f"{who} cannot be posted: {field} {problem}; fix: {fix_text}")

    def for_record(
        self, record: str, *, field_prefix: str = "", fix: str | None = None
    ) -> UnpostableRecord:
        """A copy naming ``record``, with ``field_prefix`` (``"lines[2]."``) and a better fix."""
        return UnpostableRecord(
            field_prefix + self.field, self.problem, record=record, fix=fix or self.fix
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only arguments: rebuild from the parts so Airflow can ship it across processes.
        return (_rebuild, (self.field, self.problem, self.record, self.fix))


def _rebuild(field: str, problem: str, record: str | None, fix: str | None) -> UnpostableRecord:
    return UnpostableRecord(field, problem, record=record, fix=fix)


def _shown(value: str, limit: int = 60) -> str:
    # repr() escapes every control, surrogate and noncharacter, so the result is safe for logs,
    # for the ledger (PostgreSQL refuses NUL) and for XML.
    text = repr(value[:limit])
    return text + (f" (+{len(value) - limit} more characters)" if len(value) > limit else "")


def xml_safe(text: str) -> str:
    """``text`` with every character XML 1.0 cannot carry replaced.

    C0 controls except tab, LF and CR become a space; lone surrogates and U+FFFE/U+FFFF become
    U+FFFD. Everything else, including tab, newlines and emoji, is kept.
    """
    if not _ILLEGAL.search(text):
        return text
    return _DAMAGE.sub(REPLACEMENT, _CONTROL.sub(" ", text))


def describe_illegal(text: str) -> str | None:
    """Why ``text`` cannot go into XML (the first bad character and where), or None."""
    match = _ILLEGAL.search(text)
    if match is None:
        return None
    char = match.group()
    kind = "a control character" if _CONTROL.match(char) else "not a valid character"
    return (
        f"holds U+{ord(char):04X} ({kind}) at position {match.start() + 1}, which Intacct's "
        "XML cannot carry"
    )


def fit(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, ending in "…" when it was cut.

    The cut never separates a combining mark or a zero-width-joined sequence from the
    character before it.
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    if len(text) <= limit:
        return text
    cut = limit - 1
    while cut > 0 and _belongs_to_previous(text, cut):
        cut -= 1
    return text[:cut].rstrip() + ELLIPSIS


def _belongs_to_previous(text: str, index: int) -> bool:
    char = text[index]
    return (
        unicodedata.category(char) in ("Mn", "Mc", "Me")  # combining marks
        or "\ufe00" <= char <= "\ufe0f"  # variation selectors
        or char == _ZWJ
        or text[index - 1] == _ZWJ
    )


def clean_text(text: str | None, limit: int) -> str | None:
    """Free text ready to send: XML-safe, trimmed, cut to ``limit``; None when nothing is left."""
    if text is None:
        return None
    cleaned = fit(xml_safe(str(text)).strip(), limit)
    return cleaned or None


def check_identifier(field: str, value: str | None, *, required: bool = False) -> str | None:
    """``value`` unchanged if it can be sent as the identifier ``field``; else
    :class:`UnpostableRecord`. Empty values are None (or refused when ``required``)."""
    if value is None or value == "":
        if required:
            raise UnpostableRecord(field, "is empty")
        return None
    value = str(value)
    problem = describe_illegal(value)
    if problem is not None:
        raise UnpostableRecord(field, f"{_shown(value)} {problem}")
    limit = FIELD_LIMITS[field]
    if len(value) > limit:
        raise UnpostableRecord(
            field,
            f"{_shown(value)} is {len(value)} characters long; an Intacct ID is at most "
            f"{limit} here, and an ID cannot be shortened without changing what it names",
        )
    return value
