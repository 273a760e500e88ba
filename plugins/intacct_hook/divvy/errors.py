"""The Divvy error family: one exception class per way a request can go wrong.

Like :mod:`intacct_hook.intacct.errors` for Intacct, it holds no transport and imports no
Airflow: the hook raises these, callers branch on the class and on ``status``. Messages carry
Divvy's BDC code and message (masked by the hook before it builds them), the method and the
path, never the token, which travels in a header.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "DivvyApiError",
    "DivvyPaginationError",
    "DivvyReceiptTooLarge",
    "DivvyRedirectError",
    "DivvyResponseTooDeep",
    "DivvyResponseTooLarge",
    "DivvyResponseTooSlow",
    "DivvyTransientError",
]


class DivvyApiError(Exception):
    """The Divvy API refused a request, or could not be read.

    :param message: Divvy's message (first entry of the BDC error array) or a description.
    :param status: HTTP status, if a response arrived.
    :param code: the ``BDC_…`` code, if Divvy sent one.
    :param method: HTTP method of the request.
    :param path: request path without host or query (never the token, which travels in a header).
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        self.message = message
        self.status = status
        self.code = code
        self.method = method
        self.path = path
        where = f"{method} {path}" if method and path else (path or "request")
        what = " ".join(str(p) for p in (f"HTTP {status}" if status else None, code) if p)
        super().__init__(f"Divvy API {where} failed: {what + ': ' if what else ''}{message}")

    @property
    def http_status(self) -> int | None:
        """The HTTP status under the name the Intacct errors use (the shared retry log reads
        it)."""
        return self.status


class DivvyTransientError(DivvyApiError):
    """A failure worth retrying: 429, 5xx, or a cut-off body. ``retry_after`` in seconds."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class DivvyRedirectError(DivvyApiError):
    """The API (or the OAuth token URL) answered with a redirect (3xx); never followed or retried.

    Every request carries the token (or the client secret), which following would hand to
    whatever host the ``Location`` names.
    """


class DivvyResponseTooLarge(DivvyApiError):
    """The answer exceeds the connection's ``max_response_mb``; not retried."""


class DivvyResponseTooSlow(DivvyTransientError):
    """The whole answer took longer than the connection's ``max_request_seconds`` (a server
    trickling bytes beats a per-read timeout); retried like a timeout."""


class DivvyResponseTooDeep(DivvyApiError):
    """The JSON answer nests deeper than any Divvy answer does; not retried."""


class DivvyPaginationError(DivvyApiError):
    """The page cursor misbehaved (e.g. repeated), so the walk cannot be trusted."""


class DivvyReceiptTooLarge(DivvyApiError):
    """A receipt file is larger than the size the caller accepts (``max_bytes``); its download
    stopped there. Not retried: the file will not get smaller."""

    def __init__(self, message: str, *, max_bytes: int, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.max_bytes = max_bytes
