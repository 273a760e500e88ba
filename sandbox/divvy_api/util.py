"""Small shared helpers: BDC errors, timestamps, ids and money."""

from __future__ import annotations

import base64
import random
from datetime import UTC, datetime

# Codes not pinned by any public source are invented here and listed in README.md; clients must
# only rely on the HTTP status and the array shape, never on these codes (reference §4).
CODE_UNAUTHORIZED = "BDC_1109"  # invented
CODE_BAD_PARAM = "BDC_1107"  # invented: max/filters/sort/cursor errors
CODE_NOT_FOUND = "BDC_1121"  # documented text "API not supported" for wrong paths; reused for ids
CODE_RATE_LIMIT = "BDC_1144"  # documented for the v3 hourly limit; S&E's own code unverified
CODE_SERVER = "BDC_1000"  # invented
CODE_METHOD = "BDC_1120"  # invented

_B32 = "abcdefghijklmnopqrstuv0123456789"


class ApiError(Exception):
    """An error the server answers with a BDC error array."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str = CODE_BAD_PARAM,
        category: str = "REQUEST",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.category = category
        self.headers = headers or {}

    def body(self, now: datetime | None = None) -> list[dict[str, str]]:
        return bdc_error(self.code, self.message, category=self.category, now=now)


def bdc_error(
    code: str, message: str, *, category: str = "REQUEST", now: datetime | None = None
) -> list[dict[str, str]]:
    """The documented error body: a JSON array of BDC error objects (reference §4)."""
    return [
        {
            "timestamp": fmt_time(now or utcnow()),
            "code": code,
            "severity": "ERROR",
            "category": category,
            "message": message,
        }
    ]


def utcnow() -> datetime:
    return datetime.now(UTC)


def fmt_time(value: datetime) -> str:
    """ISO-8601 with milliseconds and a ``+00:00`` offset, as the live API returns (§2.5)."""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+00:00"


def parse_time(value: str) -> datetime:
    """Parse a timestamp this server emitted (or a seed wrote); naive values are taken as UTC."""
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def new_uuid(prefix: str, rng: random.Random) -> str:
    """A prefix plus 26 base32-ish characters, like ``bgt_uv3ogfaead47j90sf9v9k97ab8`` (§2.5)."""
    return prefix + "_" + "".join(rng.choice(_B32) for _ in range(26))


def relay_id(type_name: str, key: str) -> str:
    """The deprecated base64 Relay global id (``VHJhbnNhY3Rpb246…`` = ``Transaction:…``)."""
    # surrogatepass: a hostile key (an unpaired surrogate) must still get an id, as JSON can
    # carry one escaped, so the client's handling of it can be tested
    return base64.b64encode(f"{type_name}:{key}".encode("utf-8", "surrogatepass")).decode()


def money(cents: int) -> float:
    """Dollars as a JSON number with at most two decimals (amounts are dollars, not cents)."""
    return round(cents / 100, 2)


def cents(amount: float | int | str) -> int:
    return round(float(amount) * 100)
