"""HTTP details both hooks share: connection settings, redirects, ``Retry-After``."""

from __future__ import annotations

import email.utils
import ipaddress
import math
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit

import requests

# Plain http is refused except towards this machine, where the local sandboxes listen.
_LOOPBACK_NAMES = frozenset({"localhost"})


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date (RFC 9110).

    ``None`` when absent or unreadable, so the caller falls back to its own backoff.
    """
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def positive_number(
    value: object,
    *,
    conn_id: str,
    name: str,
    default: float,
    unit: str = "seconds",
    example: str = "60",
    what: str = "extra",
) -> float:
    """A connection setting that must be a positive, finite number (or absent for ``default``).

    Numeric text (``"30"``) is accepted because URI-form connections and secrets backends carry
    extras as strings. ``0``, negatives, ``nan``, ``inf``, booleans and units (``"30s"``) are
    refused: each used to be taken silently as "no limit", "the default" or garbage.

    :param what: ``extra`` or ``argument``, for the message.
    :raises ValueError: naming the connection, the setting and the fix.
    """
    if value is None or value == "":
        return float(default)
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if number is None or not math.isfinite(number) or number <= 0:
        raise ValueError(
            f"Connection {conn_id!r}: {what} {name!r} must be a positive number of {unit}, got "
            f"{value!r}. Fix: set it to a plain number such as {example} (no unit), or remove "
            f"it to use the default {default:g}."
        )
    return number


def describe_url(url: str) -> str:
    """``scheme://host[:port]/path`` of ``url``: no user info, query or fragment.

    Safe to put in a message or a log line: credentials and query secrets are left out.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "(unreadable URL)"
    if ":" in host:
        host = f"[{host}]"
    where = f"{host}:{port}" if port else host
    return f"{parts.scheme}://{where}{parts.path}" if parts.scheme else f"{where}{parts.path}"


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def checked_url(url: str, *, conn_id: str, name: str) -> str:
    """``url`` if credentials may be sent to it: https, or plain http only to this machine.

    :param name: how the connection calls it (``host``, ``token_url``), for the message.
    :raises ValueError: naming the connection, the field and the fix; never echoing user info.
    """
    safe = describe_url(url)
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        _ = parts.port  # an unreadable port raises here rather than at the first request
    except ValueError:
        raise ValueError(
            f"Connection {conn_id!r}: {name} {safe} is not a valid URL. Fix: give a URL such as "
            "https://host/path."
        ) from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not host:
        raise ValueError(
            f"Connection {conn_id!r}: {name} {safe} is not an https URL with a host. Fix: give "
            "a URL such as https://host/path."
        )
    if parts.username is not None or parts.password is not None:
        raise ValueError(
            f"Connection {conn_id!r}: {name} {safe} contains a user name or password. Fix: "
            "remove them from the URL; credentials belong in the connection's own fields."
        )
    if scheme == "http" and not is_loopback(host):
        raise ValueError(
            f"Connection {conn_id!r}: {name} {safe} uses plain http, so credentials would "
            f"travel unencrypted. Fix: use https:// (plain http is accepted only for a local "
            "sandbox on 127.0.0.1, localhost or ::1)."
        )
    return url


class NoRedirectSession(requests.Session):
    """A ``requests.Session`` that never follows a redirect, whatever a call asks.

    Both APIs carry credentials in every request (passwords in the Intacct body, the Divvy
    token in a header, the OAuth client secret in a form): a 307/308 would re-send them to
    wherever the ``Location`` points. Callers also pass ``allow_redirects=False``; this makes
    it hold for any call, and stops requests from reading a redirect's whole body (it does, to
    prepare ``Response.next``) before the caller has looked at the status.
    """

    def get_redirect_target(self, resp: requests.Response) -> str | None:
        return None


def redirect_location(response: requests.Response) -> str | None:
    """Where a 3xx answer points (``scheme://host/path``, see :func:`describe_url`), else None.

    Any 3xx counts, with or without a ``Location``: neither API answers with one normally.
    """
    if not 300 <= response.status_code < 400:
        return None
    location = response.headers.get("Location")
    if not location:
        return "(no Location header)"
    return describe_url(urljoin(response.url or "", location))
