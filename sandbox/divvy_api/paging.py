"""``max`` validation and Relay-style offset cursors (reference §2.2, §2.4)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Any

from sandbox.divvy_api.util import ApiError

CURSOR_PREFIX = "arrayconnection:"


def parse_max(raw: str | None, upper: int, default: int = 20) -> int:
    if raw is None:
        return default
    try:
        value = int(raw.strip())
    except ValueError as exc:
        raise ApiError(400, "max: must be a number") from exc  # text unverified
    if value > upper:
        raise ApiError(400, f"max: must be less than or equal to {upper}")  # live text (§2.2)
    if value < 1:
        raise ApiError(400, "max: must be greater than or equal to 1")  # mirrors the live text
    return value


def encode_cursor(offset: int) -> str:
    return base64.b64encode(f"{CURSOR_PREFIX}{offset}".encode()).decode()


def decode_cursor(cursor: str, name: str) -> int:
    try:
        text = base64.b64decode(cursor.encode(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise ApiError(400, f"{name}: invalid cursor") from exc
    if not text.startswith(CURSOR_PREFIX) or not text[len(CURSOR_PREFIX) :].lstrip("-").isdigit():
        raise ApiError(400, f"{name}: invalid cursor")
    return int(text[len(CURSOR_PREFIX) :])


def paginate(
    rows: Sequence[dict[str, Any]],
    size: int,
    next_page: str | None,
    prev_page: str | None,
) -> tuple[list[dict[str, Any]], str | None, str | None]:
    """Slice one page and build its cursors.

    A cursor names one row's offset, as Relay's ``arrayconnection:<n>`` does: ``nextPage`` is the
    last row of this page (the next page starts after it) and ``prevPage`` is the first row (the
    previous page ends before it). Because it is only an offset, rows inserted between fetches
    shift the walk, exactly the hazard the live API has (§2.4).
    """
    if next_page:
        start = decode_cursor(next_page, "nextPage") + 1
    elif prev_page:
        end = decode_cursor(prev_page, "prevPage")
        start = max(0, end - size)
        size = max(0, end - start)
    else:
        start = 0
    start = max(0, start)
    page = list(rows[start : start + size])
    if not page:
        return [], None, (encode_cursor(start) if start > 0 else None)
    last = start + len(page) - 1
    nxt = encode_cursor(last) if last + 1 < len(rows) else None
    prev = encode_cursor(start) if start > 0 else None
    return page, nxt, prev
