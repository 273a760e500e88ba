"""Every form in which a server may echo a secret, and a redactor that blanks them all.

Servers quote what they received in their error texts: as sent (``p&ss``), XML-escaped
(``p&amp;ss``, ``p&#38;ss``), URL-encoded (``p%26ss``, ``+`` for a space) or JSON-escaped
(``p\\u0026ss``). Blanking only the raw form lets the others through. Shared by the Intacct wire
format and both hooks, so it has no Airflow imports.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterable
from urllib.parse import quote, quote_plus
from xml.sax.saxutils import escape as xml_escape

REDACTED = "***"

_XML_NAMED = {"&": "amp", "<": "lt", ">": "gt", '"': "quot", "'": "apos"}
_JSON_SHORT = {
    '"': '\\"',
    "\\": "\\\\",
    "/": "\\/",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
}


def secret_forms(secret: str) -> tuple[str, ...]:
    """The distinct whole-string forms of ``secret``: raw, XML-escaped, URL-quoted (with and
    without ``/`` kept), ``quote_plus`` and JSON-escaped (ASCII-only and not).

    For registries that match literal strings (Airflow's log masker). :class:`Redactor` also
    matches mixtures and numeric character references, which cannot be listed.
    """
    if not secret:
        return ()
    forms = (
        secret,
        xml_escape(secret),
        xml_escape(secret, {'"': "&quot;", "'": "&apos;"}),
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
    )
    return tuple(dict.fromkeys(forms))


def _hex(value: int, width: int = 0) -> str:
    """``value`` in hex, each letter matching either case."""
    digits = f"{value:0{width}x}"
    return "".join(f"[{d}{d.upper()}]" if d.isalpha() else d for d in digits)


def _char_pattern(char: str) -> str:
    """A regex matching ``char`` as itself or in any escaped form a server may write it."""
    code = ord(char)
    alternatives = [
        re.escape(char),
        f"&#0*{code};",
        f"&#[xX]0*{_hex(code)};",
        "".join(f"%{_hex(byte, 2)}" for byte in char.encode("utf-8")),
    ]
    if char in _XML_NAMED:
        alternatives.append(f"&{_XML_NAMED[char]};")
    if char == " ":
        alternatives.append(r"\+")
    if char in _JSON_SHORT:
        alternatives.append(re.escape(_JSON_SHORT[char]))
    utf16 = char.encode("utf-16-be")
    alternatives.append(
        "".join(
            r"\\u" + _hex(int.from_bytes(utf16[i : i + 2], "big"), 4)
            for i in range(0, len(utf16), 2)
        )
    )
    return "(?:" + "|".join(dict.fromkeys(alternatives)) + ")"


class Redactor:
    """Replace every form of each secret in a text with ``***``.

    Each character of a secret may appear raw, as an XML entity (named, decimal or hex), as
    percent-encoded UTF-8 (either case), ``+`` for a space, or JSON-escaped; any mixture of
    those matches, so no form or combination a server writes can slip through.
    """

    def __init__(self, secrets: Iterable[str | None]) -> None:
        # Longest first, so a secret containing another is replaced whole.
        unique = sorted({s for s in secrets if s}, key=len, reverse=True)
        patterns = ["".join(_char_pattern(c) for c in secret) for secret in unique]
        self._pattern = re.compile("|".join(patterns)) if patterns else None

    def __call__(self, text: str) -> str:
        return self._pattern.sub(REDACTED, text) if self._pattern else text


@functools.lru_cache(maxsize=32)
def _cached(secrets: tuple[str, ...]) -> Redactor:
    return Redactor(secrets)


def redactor(secrets: Iterable[str | None]) -> Redactor:
    """A :class:`Redactor` for ``secrets``, compiled once per distinct set."""
    return _cached(tuple(sorted({s for s in secrets if s})))


def excerpt(text: str, redact: Callable[[str], str], limit: int = 300) -> str:
    """At most ``limit`` characters of ``text``, masked before it is cut (cut first, a secret
    straddling the cut would survive in part)."""
    return redact(text)[:limit]
