"""Airflow hook for the Divvy (BILL Spend & Expense v3) REST API.

Reads card transactions (with split children), budgets, users, cards and custom fields, within
the API's rate limit, and returns the typed records of :mod:`intacct_hook.divvy.records`. The
hook owns the connection, OAuth, transport (with the toolkit of
:mod:`intacct_hook.hooks.http_util`) and paging; the errors (:mod:`intacct_hook.divvy.errors`)
and the rate limiter (:mod:`intacct_hook.divvy.rate_limit`) live beside the wire format.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import cached_property
from typing import Any, ClassVar, TypeVar
from urllib.parse import quote, urlsplit

import requests
import tenacity
from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowException

from intacct_hook.divvy.errors import (
    DivvyApiError,
    DivvyPaginationError,
    DivvyReceiptTooLarge,
    DivvyRedirectError,
    DivvyResponseTooDeep,
    DivvyResponseTooLarge,
    DivvyResponseTooSlow,
    DivvyTransientError,
)
from intacct_hook.divvy.filters import TransactionWindow
from intacct_hook.divvy.rate_limit import (
    MAX_CALLS_PER_MINUTE,
    RollingWindowLimiter,
    shared_limiter,
)
from intacct_hook.divvy.records import (
    DivvyBudget,
    DivvyCard,
    DivvyCustomField,
    DivvyCustomFieldValue,
    DivvyReceipt,
    DivvyRecordError,
    DivvyTransaction,
    DivvyUser,
    read_receipts,
)
from intacct_hook.hooks.http_util import (
    DEFAULT_MAX_RETRY_AFTER,
    MB,
    BodyError,
    BodyTooLarge,
    BodyTooSlow,
    Limits,
    argument_or_extra,
    checked_url,
    connection_extras,
    describe_url,
    field_text,
    http_session,
    internal_address_problem,
    limit_extras,
    open_stream,
    parse_retry_after,
    read_body,
    read_error_body,
    redirect_location,
    register_secrets,
    retry_logger,
    retrying,
)
from intacct_hook.masking import excerpt, redactor

# The errors and the limiter are imported from here by callers written before they moved.
__all__ = [
    "DEFAULT_BASE_URL",
    "DivvyApiError",
    "DivvyConnParams",
    "DivvyHook",
    "DivvyPaginationError",
    "DivvyRedirectError",
    "DivvyResponseTooDeep",
    "DivvyResponseTooLarge",
    "DivvyResponseTooSlow",
    "DivvyTransientError",
    "RollingWindowLimiter",
]

DEFAULT_BASE_URL = "https://gateway.prod.bill.com/connect"
DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_RESPONSE_MB = 10  # a page of 50 transactions is a few hundred KB
# Real answers nest about five deep (results / transaction / customFields / selectedValues);
# the ledger later serializes payloads recursively, so absurd depth is refused here.
MAX_JSON_DEPTH = 64
ERROR_TEXT_CHARS = 300  # of an error body quoted in an exception
TRANSACTIONS_MAX_PAGE = 50  # the API answers 400 above 50 for transactions
REFERENCE_MAX_PAGE = 100  # budgets, users, cards, custom fields
AUTH_TYPES = ("api_token", "oauth_client_credentials")

_R = TypeVar("_R")


@dataclass(frozen=True)
class DivvyConnParams:
    """Everything the hook needs from the Connection, validated. Secrets are left out of repr."""

    base_url: str
    auth_type: str
    timeout: float
    calls_per_minute: int
    rate_limit_window: float = 60.0
    api_token: str | None = field(default=None, repr=False)
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    token_url: str | None = None
    max_request_seconds: float = 2 * DEFAULT_TIMEOUT
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_MB * MB
    # Receipt files may be fetched from loopback (http or https): local sandboxes only.
    receipts_allow_loopback: bool = False

    @property
    def limits(self) -> Limits:
        return Limits(self.timeout, self.max_request_seconds, self.max_response_bytes)

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self.api_token, self.client_secret) if s)


def is_retryable(exc: BaseException) -> bool:
    """Transient failures: 429, 5xx, a cut-off or too slow body, connection errors (Divvy is
    only read, so any request may be sent again)."""
    return isinstance(
        exc,
        DivvyTransientError
        | requests.ConnectionError
        | requests.Timeout
        | requests.exceptions.ChunkedEncodingError
        | requests.exceptions.ContentDecodingError,
    )


def _flag(value: Any, *, conn_id: str, name: str) -> bool:
    """A yes/no extra: a JSON boolean or true/false text; absent is False."""
    if value in (None, "", False):
        return False
    if value is True or str(value).strip().lower() in ("true", "1", "yes"):
        return True
    if str(value).strip().lower() in ("false", "0", "no"):
        return False
    raise ValueError(f"Divvy connection {conn_id!r}: {name} must be true or false, got {value!r}")


def _describe_download(where: str, exc: BaseException | None) -> str:
    """A receipt download's failure for the retry line: where (no query) and what kind."""
    if isinstance(exc, DivvyApiError):
        return f" on {where} (HTTP {exc.status})" if exc.status else f" on {where}"
    return f" on {where} ({type(exc).__name__})"


@dataclass(frozen=True)
class _Answer:
    """One HTTP answer, its body already read within the connection's limits."""

    status: int
    reason: str
    headers: Mapping[str, str]
    body: bytes = field(repr=False)


@dataclass(frozen=True)
class ReceiptFile:
    """A downloaded receipt: its bytes and the ``Content-Type`` the server gave, if any."""

    data: bytes = field(repr=False)
    content_type: str | None = None


def _header_safe(value: str) -> bool:
    """Only visible ASCII: what an API or access token is made of, and a header can carry."""
    return bool(value) and all("!" <= c <= "~" for c in value)


def _nested_deeper_than(value: Any, limit: int) -> bool:
    """True if lists/objects nest more than ``limit`` levels (iterative: no recursion).

    Walks one level at a time, keeping only containers (``json.loads`` makes nothing but dicts
    and lists of them): scalars are most of a page, and visiting each one cost more than
    decoding the page; a comprehension per container costs about half a generator of pairs.
    """
    if type(value) is not dict and type(value) is not list:
        return False
    level: list[Any] = [value]
    depth = 1
    while level:
        if depth > limit:
            return True
        deeper: list[Any] = []
        for item in level:
            children = item.values() if type(item) is dict else item
            deeper += [c for c in children if type(c) is dict or type(c) is list]
        level = deeper
        depth += 1
    return False


class DivvyHook(BaseHook):
    """Read card transactions and reference data from Divvy (BILL Spend & Expense, API v3).

    The Connection (conn type ``divvy``) holds everything, secrets included:

    * **host**: API base URL, default ``https://gateway.prod.bill.com/connect``
      (sandbox: ``https://gateway.stage.bill.com/connect``).
    * **password**: the API token (Divvy: Settings → API tokens), sent as the ``apiToken``
      header.
    * extras: ``auth_type`` (``api_token`` default, or ``oauth_client_credentials`` with
      ``client_id``, ``client_secret`` and ``token_url``: a Bearer token is fetched and
      renewed), ``timeout`` seconds per connect and per read (default 30),
      ``max_request_seconds`` for one whole request (default twice the timeout),
      ``max_response_mb`` (default 10), ``calls_per_minute`` (default and maximum 60, the
      API's limit per token).

    Every call passes a client-side rolling-window limiter shared by all hooks in the process
    that use the same token. A 429 waits what ``Retry-After`` asks (else exponential backoff
    with jitter); 5xx, connection errors, cut-off and too slow bodies are retried a bounded
    number of times; any other 4xx, a redirect (never followed), a too large or too deeply
    nested answer raises :class:`DivvyApiError` (or a subclass) with Divvy's BDC code and
    message. The token never appears in logs, exceptions or ``repr``.

    :param divvy_conn_id: the Connection id.
    :param timeout: overrides the ``timeout`` extra.
    :param calls_per_minute: overrides the ``calls_per_minute`` extra (at most 60).
    :param rate_limit_window: seconds the ``calls_per_minute`` budget applies to; overrides the
        ``rate_limit_window`` extra (default 60, the API's window). Shorten it only for a local
        API whose own window is shorter (the sandbox, the demo, tests).
    :param dedupe_pages: how many recent pages of uuids a transaction walk remembers to drop rows
        the offset cursor repeats (memory stays flat; the ledger dedupes by uuid anyway).
    :param retry_args: tenacity ``Retrying`` arguments merged over the defaults of
        :func:`~intacct_hook.hooks.http_util.retrying` (5 attempts, exponential backoff with
        jitter, one log line per wait). A ``wait`` given is the backoff; ``Retry-After`` is always
        honoured up to ``max_retry_after`` seconds.
    :param max_retry_after: upper bound for a server-requested wait (default 120).

    Example::

        hook = DivvyHook(divvy_conn_id="divvy_default")
        start = datetime(2026, 8, 1, tzinfo=UTC)
        for txn in hook.iter_transactions(updated_from=start, updated_to=start + timedelta(days=1)):
            decision = decide(txn, PostingRules())
    """

    conn_name_attr = "divvy_conn_id"
    default_conn_name = "divvy_default"
    conn_type = "divvy"
    hook_name = "Divvy (BILL Spend & Expense)"

    _OAUTH_REFRESH_EARLY: ClassVar[float] = 60.0

    def __init__(
        self,
        *,
        divvy_conn_id: str = default_conn_name,
        timeout: float | None = None,
        calls_per_minute: int | None = None,
        rate_limit_window: float | None = None,
        dedupe_pages: int = 20,
        retry_args: Mapping[str, Any] | None = None,
        max_retry_after: float = DEFAULT_MAX_RETRY_AFTER,
        logger_name: str | None = None,
    ) -> None:
        super().__init__(logger_name=logger_name)
        self.divvy_conn_id = divvy_conn_id
        self._timeout = timeout
        self._calls_per_minute = calls_per_minute
        if dedupe_pages < 1:
            raise ValueError(f"dedupe_pages must be 1 or more, got {dedupe_pages}")
        self.dedupe_pages = dedupe_pages
        self._rate_limit_window = rate_limit_window
        self.retry_args = dict(retry_args or {})
        self.max_retry_after = max_retry_after
        self._oauth_lock = threading.Lock()
        self._bearer: tuple[str, float] | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(divvy_conn_id={self.divvy_conn_id!r})"

    # -- connection -----------------------------------------------------------------------------

    def _get_conn_params(self) -> DivvyConnParams:
        """Read and validate the Connection; the only place that looks at it."""
        conn = self.get_connection(self.divvy_conn_id)
        cid = self.divvy_conn_id
        extras = connection_extras(conn, cid)

        host = (conn.host or "").strip() or DEFAULT_BASE_URL
        if "://" not in host:
            host = f"{conn.schema or 'https'}://{host}" + (f":{conn.port}" if conn.port else "")
        auth_type = str(extras.get("auth_type") or "api_token").strip().lower()
        if auth_type not in AUTH_TYPES:
            raise ValueError(
                f"Divvy connection {cid!r}: auth_type {auth_type!r} is not one of "
                f"{', '.join(AUTH_TYPES)}"
            )
        timeout = argument_or_extra(
            self._timeout, extras, "timeout", conn_id=cid, default=DEFAULT_TIMEOUT
        )
        calls = int(
            self._calls_per_minute or extras.get("calls_per_minute") or MAX_CALLS_PER_MINUTE
        )
        if not 1 <= calls <= MAX_CALLS_PER_MINUTE:
            raise ValueError(
                f"Divvy connection {cid!r}: calls_per_minute must be 1..{MAX_CALLS_PER_MINUTE}"
                f" (the API allows {MAX_CALLS_PER_MINUTE} a minute per token), got {calls}"
            )

        window = argument_or_extra(
            self._rate_limit_window, extras, "rate_limit_window", conn_id=cid, default=60.0
        )
        max_seconds, max_bytes = limit_extras(
            extras, conn_id=cid, timeout=timeout, default_mb=DEFAULT_MAX_RESPONSE_MB
        )

        params = DivvyConnParams(
            base_url=checked_url(host, conn_id=cid, name="host (API base URL)").rstrip("/"),
            auth_type=auth_type,
            timeout=timeout,
            calls_per_minute=calls,
            rate_limit_window=window,
            api_token=(field_text(conn.password) or None) if auth_type == "api_token" else None,
            client_id=field_text(extras.get("client_id")) or None,
            client_secret=field_text(extras.get("client_secret")) or None,
            token_url=(
                checked_url(str(extras["token_url"]).strip(), conn_id=cid, name="token_url")
                if extras.get("token_url")
                else None
            ),
            max_request_seconds=max_seconds,
            max_response_bytes=max_bytes,
            receipts_allow_loopback=_flag(
                extras.get("receipts_allow_loopback"), conn_id=cid, name="receipts_allow_loopback"
            ),
        )
        register_secrets(*params.secrets)
        if auth_type == "api_token" and not params.api_token:
            raise ValueError(
                f"Divvy connection {cid!r} has no API token: put it in the Password field"
            )
        if params.api_token and not _header_safe(params.api_token):
            raise ValueError(
                f"Divvy connection {cid!r}: the API token contains a character that cannot be "
                "sent in an HTTP header (a space, line break or non-ASCII character inside it). "
                "Fix: copy the token again from Divvy and paste it into the Password field."
            )
        if auth_type == "oauth_client_credentials":
            missing = [
                n for n in ("client_id", "client_secret", "token_url") if not getattr(params, n)
            ]
            if missing:
                raise ValueError(
                    f"Divvy connection {cid!r} uses OAuth client credentials but lacks "
                    f"{', '.join(missing)} in its extras"
                )
        return params

    @cached_property
    def conn_params(self) -> DivvyConnParams:
        """The validated Connection settings (read once per hook)."""
        return self._get_conn_params()

    @cached_property
    def session(self) -> requests.Session:
        """The HTTP session; auth headers are added per request so a Bearer token can renew.

        It never follows a redirect: the token header would go to the redirect's host.
        """
        return http_session({"Accept": "application/json"})

    def get_conn(self) -> requests.Session:
        """The underlying :class:`requests.Session`."""
        return self.session

    @cached_property
    def limiter(self) -> RollingWindowLimiter:
        params = self.conn_params
        key = params.api_token or f"{params.client_id}@{params.token_url}"
        return shared_limiter(
            params.base_url, key, params.calls_per_minute, params.rate_limit_window
        )

    def _redact(self, text: str) -> str:
        """``text`` with every form of the token, client secret and access token masked."""
        bearer = self._bearer[0] if self._bearer else None
        return redactor((*self.conn_params.secrets, bearer))(text)

    def _auth_headers(self) -> dict[str, str]:
        params = self.conn_params
        if params.auth_type == "api_token":
            return {"apiToken": params.api_token or ""}
        return {"Authorization": f"Bearer {self._bearer_token()}"}

    def _bearer_token(self) -> str:
        with self._oauth_lock:
            if self._bearer and time.monotonic() < self._bearer[1]:
                return self._bearer[0]
            params = self.conn_params
            try:
                with self.limiter.call(self._log_limiter_wait):
                    answer = self._exchange(
                        "POST",
                        params.token_url or "",
                        "token_url",
                        fix="the token_url extra",
                        data={
                            "grant_type": "client_credentials",
                            "client_id": params.client_id,
                            "client_secret": params.client_secret,
                        },
                    )
            except requests.RequestException as exc:
                raise DivvyTransientError(
                    f"could not reach the OAuth token URL ({type(exc).__name__})",
                    method="POST",
                    path="token_url",
                ) from None
            if answer.status != 200:
                raise self._error_from(answer, "POST", "token_url")
            grant = self._decode(answer, "POST", "token_url")
            token = grant.get("access_token") if isinstance(grant, Mapping) else None
            if not token:
                raise DivvyApiError(
                    "OAuth token response had no access_token",
                    status=200,
                    method="POST",
                    path="token_url",
                )
            if isinstance(token, str):
                register_secrets(token)
            if not isinstance(token, str) or not _header_safe(token):
                raise DivvyApiError(
                    "the OAuth access token contains a character that cannot be sent in an "
                    "HTTP header; check that token_url is the BILL OAuth token endpoint",
                    status=200,
                    method="POST",
                    path="token_url",
                )
            ttl = float(grant.get("expires_in") or 300)
            self._bearer = (token, time.monotonic() + max(1.0, ttl - self._OAUTH_REFRESH_EARLY))
            self.log.info("Divvy: obtained an OAuth access token valid for %.0f s", ttl)
            return token

    # -- transport ------------------------------------------------------------------------------

    def _log_limiter_wait(self, seconds: float) -> None:
        self.log.info(
            "Divvy rate limit: waiting %.2f s to stay within %d calls per %g s",
            seconds,
            self.conn_params.calls_per_minute,
            self.conn_params.rate_limit_window,
        )

    def _describe(self, exc: BaseException | None) -> str:
        if isinstance(exc, DivvyApiError) and exc.status == 429:
            return f" on {exc.path}"
        return f" ({self._redact(str(exc))})"

    def _retrying(self, **overrides: Any) -> tenacity.Retrying:
        return retrying(
            {**self.retry_args, **overrides},
            retryable=is_retryable,
            max_retry_after=self.max_retry_after,
            before_sleep=retry_logger(self.log, "Divvy", self._describe),
        )

    def _request(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        method: str = "GET",
        retrying: tenacity.Retrying | None = None,
    ) -> Any:
        """One API call with rate limiting and retries; returns the decoded JSON.

        :param path: path under the base URL, e.g. ``/v3/spend/transactions``.
        """
        return (retrying or self._retrying())(self._request_once, method, path, params)

    def _request_once(self, method: str, path: str, params: Mapping[str, Any] | None) -> Any:
        with self.limiter.call(self._log_limiter_wait):
            self.log.debug("Divvy %s %s %s", method, path, dict(params or {}))
            answer = self._exchange(
                method,
                self.conn_params.base_url + path,
                path,
                fix="the connection's host field",
                params=params,
                headers=self._auth_headers(),
            )
        status = answer.status
        if status == 429 or status >= 500:
            error = self._error_from(answer, method, path)
            raise DivvyTransientError(
                error.message,
                status=status,
                code=error.code,
                method=method,
                path=path,
                retry_after=parse_retry_after(answer.headers.get("Retry-After")),
            )
        if (
            status == 401
            and self.conn_params.auth_type == "oauth_client_credentials"
            and (self._bearer is not None)
        ):
            # The Bearer token may have expired early; drop it and let the retry fetch a new one.
            self._bearer = None
            raise DivvyTransientError(
                "access token rejected", status=401, method=method, path=path, retry_after=0.0
            )
        if status >= 400:
            raise self._error_from(answer, method, path)
        return self._decode(answer, method, path)

    def _exchange(self, method: str, url: str, path: str, *, fix: str, **kwargs: Any) -> _Answer:
        """Send one request and read its answer within the connection's limits.

        Redirects are refused (``fix`` names where the address would go).
        """
        limits = self.conn_params.limits
        deadline = limits.deadline()
        try:
            response = open_stream(self.session, method, url, limits, **kwargs)
        except requests.exceptions.InvalidHeader:
            # Its message quotes the header value, which may be a credential.
            raise DivvyApiError(
                "a request header value cannot be sent in an HTTP header",
                method=method,
                path=path,
            ) from None
        self._refuse_redirect(response, method, path, fix=fix)
        status = response.status_code
        if status >= 400:
            body = read_error_body(response, limits, deadline=deadline)
            return _Answer(status, response.reason or "", response.headers, body)
        try:
            body = read_body(response, limits, deadline=deadline)
        except BodyTooLarge as exc:
            raise DivvyResponseTooLarge(str(exc), status=status, method=method, path=path) from None
        except BodyTooSlow as exc:
            raise DivvyResponseTooSlow(str(exc), status=status, method=method, path=path) from None
        except BodyError as exc:
            raise DivvyTransientError(str(exc), status=status, method=method, path=path) from None
        return _Answer(status, response.reason or "", response.headers, body)

    def _decode(self, answer: _Answer, method: str, path: str) -> Any:
        """The JSON of a successful answer, numbers as ``Decimal``."""
        status = answer.status
        too_deep = f"the answer is nested deeper than {MAX_JSON_DEPTH} levels"
        try:
            value = json.loads(answer.body, parse_float=Decimal)
        except RecursionError:
            raise DivvyResponseTooDeep(too_deep, status=status, method=method, path=path) from None
        except ValueError:
            # A body cut short arrives as invalid JSON; it is a transport fault, so retry.
            raise DivvyTransientError(
                f"response body is not valid JSON ({len(answer.body)} bytes), probably cut off",
                status=status,
                method=method,
                path=path,
            ) from None
        if _nested_deeper_than(value, MAX_JSON_DEPTH):
            raise DivvyResponseTooDeep(too_deep, status=status, method=method, path=path)
        return value

    def _refuse_redirect(
        self, response: requests.Response, method: str, path: str, *, fix: str
    ) -> None:
        where = redirect_location(response)
        if where is None:
            return
        response.close()
        raise DivvyRedirectError(
            f"redirect to {self._redact(where)} refused: requests carry the API credentials, "
            f"so the hook never follows a redirect. Fix: if that is the right address, put it "
            f"in {fix}",
            status=response.status_code,
            method=method,
            path=path,
        )

    def _error_from(self, answer: _Answer, method: str, path: str) -> DivvyApiError:
        code = None
        message = (answer.body.decode("utf-8", "replace") or answer.reason).strip()
        try:
            parsed = json.loads(answer.body)
        except (ValueError, RecursionError):
            parsed = None
        first = parsed[0] if isinstance(parsed, list) and parsed else parsed
        if isinstance(first, Mapping):
            code = first.get("code") if isinstance(first.get("code"), str) else None
            text = first.get("message") or first.get("error_description") or first.get("error")
            if isinstance(text, str) and text:
                message = text
        return DivvyApiError(
            excerpt(message, self._redact, ERROR_TEXT_CHARS) or "no message",
            status=answer.status,
            code=code,
            method=method,
            path=path,
        )

    # -- paging ---------------------------------------------------------------------------------

    def _iter_pages(
        self, path: str, params: Mapping[str, Any], page_size: int
    ) -> Iterator[tuple[int, list[Any]]]:
        """Yield ``(page_number, rows)``, resending identical parameters with each cursor."""
        seen: set[str] = set()
        cursor: str | None = None
        page = 0
        while True:
            page += 1
            query = {**params, "max": page_size}
            if cursor:
                query["nextPage"] = cursor
            body = self._request(path, query)
            rows = body.get("results") if isinstance(body, Mapping) else None
            if not isinstance(rows, list):
                raise DivvyApiError("list response has no 'results' array", method="GET", path=path)
            yield page, rows
            cursor = body.get("nextPage") or None
            if cursor is None:
                return
            if not rows:
                # A cursor past the end returns nothing; following more cursors cannot help.
                self.log.warning(
                    "Divvy %s: empty page %d still had a next cursor; stopping", path, page
                )
                return
            if cursor in seen:
                raise DivvyPaginationError(
                    f"the API returned the page cursor {cursor!r} twice (page {page}); "
                    "stopping rather than reading the same rows forever",
                    method="GET",
                    path=path,
                )
            seen.add(cursor)

    def _iter_records(
        self, path: str, factory: Callable[[Mapping[str, Any]], _R], what: str
    ) -> Iterator[_R]:
        seen: set[str] = set()
        for page, rows in self._iter_pages(path, {}, REFERENCE_MAX_PAGE):
            records = [factory(row) for row in rows]
            fresh = [r for r in records if r.uuid not in seen]  # type: ignore[attr-defined]
            seen.update(r.uuid for r in fresh)  # type: ignore[attr-defined]
            self.log.info(
                "Divvy %s page %d: %d rows, %d duplicates dropped",
                what,
                page,
                len(rows),
                len(records) - len(fresh),
            )
            yield from fresh

    # -- public API -----------------------------------------------------------------------------

    def iter_transactions(
        self,
        *,
        occurred_from: datetime | None = None,
        occurred_to: datetime | None = None,
        updated_from: datetime | None = None,
        updated_to: datetime | None = None,
        page_size: int = TRANSACTIONS_MAX_PAGE,
        expand_splits: bool = True,
        on_invalid_row: Callable[[Mapping[str, Any], DivvyRecordError], None] | None = None,
    ) -> Iterator[DivvyTransaction]:
        """Yield every transaction in the half-open windows ``[from, to)``, each once.

        Windows are on ``occurredTime`` (purchase date, for backfills) and/or ``updatedTime``
        (last change, for daily runs: it catches authorizations that cleared days later). Each
        row is checked client-side against the window, because the API silently ignores what it
        does not understand; rows outside are dropped and counted in the log. Rows repeated by
        the offset cursor (rows inserted between pages shift it) are dropped by uuid. The
        ``updatedTime`` end is applied only client-side: a row updated mid-walk would otherwise
        leave the server's result set and shift the cursor past a row never read.

        :param page_size: rows per request, 1..50.
        :param expand_splits: fetch the children of split parents by uuid and attach them as
            ``children`` (one extra call per child).
        :param on_invalid_row: called with a row that is not a valid transaction (and the error
            naming its uuid and field) instead of raising, so one bad row does not stop the walk.
        :raises DivvyPaginationError: if the API repeats a cursor.

        Example::

            for txn in hook.iter_transactions(occurred_from=day, occurred_to=day + ONE_DAY):
                print(txn.uuid, txn.transaction_type, txn.amount)
        """
        if not 1 <= page_size <= TRANSACTIONS_MAX_PAGE:
            raise ValueError(f"page_size must be 1..{TRANSACTIONS_MAX_PAGE}, got {page_size}")
        window = TransactionWindow(
            occurred_from=occurred_from,
            occurred_to=occurred_to,
            updated_from=updated_from,
            updated_to=updated_to,
        )
        params: dict[str, Any] = {"sort": "occurredTime:asc"}
        filters = window.to_filters(updated_upper_bound=False)
        if filters:
            params["filters"] = filters
        self.log.info("Divvy transactions: listing %s", window.describe())

        # Repeats come from rows inserted behind the offset cursor, so they sit at the start of
        # the next page or two. Remembering only recent pages keeps memory flat however long
        # the walk; a repeat from further back still reaches the caller, which keys on uuid.
        recent: deque[set[str]] = deque(maxlen=self.dedupe_pages)
        yielded = outside_total = duplicates_total = pages = 0
        for page, rows in self._iter_pages("/v3/spend/transactions", params, page_size):
            pages = page
            keep: list[DivvyTransaction] = []
            duplicates = outside = 0
            page_uuids: set[str] = set()
            recent.append(page_uuids)
            for row in rows:
                try:
                    txn = DivvyTransaction.from_json(row)
                except DivvyRecordError as exc:
                    if on_invalid_row is None:
                        raise
                    # The caller keeps it for a person to fix; the walk goes on for the rest.
                    self.log.error("Divvy transactions page %d: unreadable row: %s", page, exc)
                    on_invalid_row(row, exc)
                    continue
                if any(txn.uuid in earlier for earlier in recent):
                    duplicates += 1
                    continue
                page_uuids.add(txn.uuid)
                if window.contains(txn):
                    keep.append(txn)
                else:
                    outside += 1
            duplicates_total += duplicates
            outside_total += outside
            self.log.info(
                "Divvy transactions page %d: %d rows, %d duplicates dropped, "
                "%d outside the window dropped",
                page,
                len(rows),
                duplicates,
                outside,
            )
            for txn in keep:
                if expand_splits and txn.child_uuids:
                    txn = txn.with_children(self._fetch_children(txn))
                yielded += 1
                yield txn
        self.log.info(
            "Divvy transactions: %d yielded from %d pages (%d duplicates, %d outside the window "
            "dropped)",
            yielded,
            pages,
            duplicates_total,
            outside_total,
        )

    def _fetch_children(self, parent: DivvyTransaction) -> list[DivvyTransaction]:
        children = []
        for uuid in parent.child_uuids:
            try:
                children.append(self.get_transaction(uuid))
            except DivvyApiError as exc:
                if exc.status != 404:
                    raise
                # Left out on purpose: the posting rules hold a split whose parts are missing.
                self.log.warning("Divvy split %s: child %s not found", parent.uuid, uuid)
        return children

    def get_transaction(self, uuid: str) -> DivvyTransaction:
        """One transaction by uuid (or legacy id), e.g. a split child.

        :raises DivvyApiError: with status 404 if Divvy does not know it.
        """
        if not uuid:
            raise ValueError("a transaction uuid is required")
        path = f"/v3/spend/transactions/{quote(uuid, safe='')}"
        return DivvyTransaction.from_json(self._request(path))

    def find_transaction(self, uuid: str) -> DivvyTransaction | None:
        """One transaction by uuid, or None when Divvy answers 404: a deleted transaction (Divvy
        sends no deletion event; it stops being listed and GET by id answers 404).

        :raises DivvyApiError: for any other error answer.
        """
        try:
            return self.get_transaction(uuid)
        except DivvyApiError as exc:
            # Divvy also answers 404 "API not supported" to a wrong path (a base URL that
            # changed): that says nothing about the transaction.
            if exc.status == 404 and "api not supported" not in str(exc).lower():
                return None
            raise

    def get_receipts(self, uuid: str) -> tuple[list[DivvyReceipt], list[str]]:
        """The receipts of transaction ``uuid`` (only GET by id lists them), and a text for
        each entry that could not be read (:func:`~intacct_hook.divvy.records.read_receipts`).

        :raises DivvyApiError: with status 404 if Divvy does not know the transaction.
        """
        if not uuid:
            raise ValueError("a transaction uuid is required")
        path = f"/v3/spend/transactions/{quote(uuid, safe='')}"
        return read_receipts(self._request(path))

    @cached_property
    def download_session(self) -> requests.Session:
        """The session receipts on the API's own origin are downloaded with: no redirects, no
        default credentials (the API token is added per request)."""
        return http_session({})

    @cached_property
    def foreign_download_session(self) -> requests.Session:
        """The session for receipts on any other host: nothing from the environment
        (``trust_env`` off), so no ~/.netrc credentials, proxies or CA bundle from environment
        variables are used for a host named by Divvy's data."""
        session = http_session({})
        session.trust_env = False
        return session

    def download_receipt(self, receipt: DivvyReceipt, *, max_bytes: int) -> ReceiptFile:
        """The bytes of ``receipt``, read as they stream and stopped past ``max_bytes``.

        The URL may be a pre-signed address on another host (a file store): the API
        credentials are sent only to the API's own origin (scheme, host and port of the
        connection's host), never elsewhere, and no redirect is followed. Another host must be
        https and resolve to no private, loopback, link-local, multicast or reserved address
        (loopback, http or https, only with the connection's ``receipts_allow_loopback``
        extra: local sandboxes); it is fetched without anything from the environment
        (:attr:`foreign_download_session`). Messages and retry lines name the URL without its
        query (a pre-signed URL's signature). Transient failures are retried like API calls.

        :raises DivvyReceiptTooLarge: the file is larger than ``max_bytes`` (not retried).
        :raises DivvyApiError: no URL, a refused address, a redirect, or the server refused.
        """
        url = receipt.url
        if not url:
            raise DivvyApiError(f"receipt {receipt.uuid} has no download URL", method="GET")
        where = describe_url(url)
        problem = self._receipt_url_problem(url)
        if problem:
            raise DivvyApiError(
                f"receipt {receipt.uuid}: its URL {where} was not fetched: {problem}",
                method="GET",
                path=urlsplit(url).path if "://" in url else None,
            )
        # A pre-signed URL's query is a credential, and requests' connection errors quote the
        # whole URL: retries and failures name only scheme://host/path and the error's type.
        retry = retrying(
            self.retry_args,
            retryable=is_retryable,
            max_retry_after=self.max_retry_after,
            before_sleep=retry_logger(
                self.log, "Divvy", lambda exc: _describe_download(where, exc)
            ),
        )
        try:
            return retry(self._download_once, url, max_bytes)
        except requests.RequestException as exc:
            kind = type(exc).__name__
        # Raised outside the except block so the original (URL and all) is not its __context__.
        raise DivvyTransientError(
            f"receipt {receipt.uuid}: could not download it from {where} ({kind})",
            method="GET",
            path=urlsplit(url).path,
        )

    def _receipt_url_problem(self, url: str) -> str | None:
        """Why a receipt URL is not fetched, or None (see :meth:`download_receipt`)."""
        try:
            checked_url(url, conn_id=self.divvy_conn_id, name="receipt URL")
            parts = urlsplit(url)
            host, scheme = parts.hostname or "", parts.scheme.lower()
            port = parts.port or (443 if scheme == "https" else 80)
        except ValueError:
            return "it is not https (plain http only to this machine) or carries a user name"
        if self._same_origin(url):
            return None  # the connection's own host, already accepted
        allow_loopback = self.conn_params.receipts_allow_loopback
        if scheme != "https" and not allow_loopback:
            return (
                "it is not https (plain http to this machine only with the connection's "
                "receipts_allow_loopback extra: local sandboxes)"
            )
        return internal_address_problem(host, port, allow_loopback=allow_loopback)

    def _same_origin(self, url: str) -> bool:
        mine, theirs = urlsplit(self.conn_params.base_url), urlsplit(url)
        return (mine.scheme.lower(), mine.hostname, mine.port) == (
            theirs.scheme.lower(),
            theirs.hostname,
            theirs.port,
        )

    def _download_once(self, url: str, max_bytes: int) -> ReceiptFile:
        path = urlsplit(url).path
        params = self.conn_params
        limits = Limits(params.timeout, params.max_request_seconds, max_bytes)
        own = self._same_origin(url)
        # Only the API's own origin gets the credentials (and counts against its limit).
        headers = self._auth_headers() if own else {}
        gate = self.limiter.call(self._log_limiter_wait) if own else contextlib.nullcontext()
        with gate:
            deadline = limits.deadline()
            session = self.download_session if own else self.foreign_download_session
            response = open_stream(session, "GET", url, limits, headers=headers)
            self._refuse_redirect(response, "GET", path, fix="Divvy (the receipt's URL)")
            status = response.status_code
            if status >= 400:
                body = read_error_body(response, limits, deadline=deadline)
                answer = _Answer(status, response.reason or "", response.headers, body)
                if own:
                    error = self._error_from(answer, "GET", path)
                else:
                    # A file store's error text may repeat the request's signature (S3's
                    # <SignatureProvided>): only its status is told.
                    error = DivvyApiError(
                        f"the file host answered HTTP {status} {answer.reason}".strip(),
                        status=status,
                        method="GET",
                        path=path,
                    )
                if status == 429 or status >= 500:
                    raise DivvyTransientError(
                        error.message,
                        status=status,
                        method="GET",
                        path=path,
                        retry_after=parse_retry_after(response.headers.get("Retry-After")),
                    )
                raise error
            try:
                data = read_body(response, limits, deadline=deadline)
            except BodyTooLarge:
                raise DivvyReceiptTooLarge(
                    f"the file is larger than {max_bytes:,} bytes",
                    max_bytes=max_bytes,
                    status=status,
                    method="GET",
                    path=path,
                ) from None
            except BodyTooSlow as exc:
                raise DivvyResponseTooSlow(
                    str(exc), status=status, method="GET", path=path
                ) from None
            except BodyError as exc:
                raise DivvyTransientError(
                    str(exc), status=status, method="GET", path=path
                ) from None
        content_type = response.headers.get("Content-Type") or None
        return ReceiptFile(data=data, content_type=content_type)

    def iter_budgets(self) -> Iterator[DivvyBudget]:
        """All budgets. Some tenants list only part of them; prefer names on transactions."""
        return self._iter_records("/v3/spend/budgets", DivvyBudget.from_json, "budgets")

    def iter_users(self) -> Iterator[DivvyUser]:
        """All Spend & Expense users."""
        return self._iter_records("/v3/spend/users", DivvyUser.from_json, "users")

    def iter_cards(self) -> Iterator[DivvyCard]:
        """All cards."""
        return self._iter_records("/v3/spend/cards", DivvyCard.from_json, "cards")

    def iter_custom_fields(self) -> Iterator[DivvyCustomField]:
        """All custom field definitions (e.g. "GL Account", "Location")."""
        return self._iter_records(
            "/v3/spend/custom-fields", DivvyCustomField.from_json, "custom fields"
        )

    def iter_custom_field_values(self, field: DivvyCustomField) -> Iterator[DivvyCustomFieldValue]:
        """The values one custom field offers, e.g. every "GL Account" option."""
        path = f"/v3/spend/custom-fields/{quote(field.uuid, safe='')}/values"
        return self._iter_records(path, DivvyCustomFieldValue.from_json, f"'{field.name}' values")

    # -- custom-field writes (the dimension push) ----------------------------------------------
    # Only the push writes to Divvy. A create is not idempotent: it is retried only on 429 (the
    # server counted but refused it); any other failure propagates and the task's rerun plans
    # again from what Divvy then holds. A rename (same text again) and a retire are idempotent.

    _VALUE_PATCH_UNSUPPORTED = (404, 405)

    def _write_once(self, method: str, path: str, body: Mapping[str, Any] | None) -> Any:
        with self.limiter.call(self._log_limiter_wait):
            self.log.debug("Divvy %s %s", method, path)
            answer = self._exchange(
                method,
                self.conn_params.base_url + path,
                path,
                fix="the connection's host field",
                json=body,
                headers=self._auth_headers(),
            )
        if answer.status == 429 or answer.status >= 500:
            error = self._error_from(answer, method, path)
            raise DivvyTransientError(
                error.message,
                status=answer.status,
                code=error.code,
                method=method,
                path=path,
                retry_after=parse_retry_after(answer.headers.get("Retry-After")),
            )
        if answer.status >= 400:
            raise self._error_from(answer, method, path)
        if not answer.body.strip():
            return None  # 204 No Content (a DELETE)
        return self._decode(answer, method, path)

    def _write(
        self, method: str, path: str, body: Mapping[str, Any] | None, *, idempotent: bool
    ) -> Any:
        def retry_write(exc: BaseException) -> bool:
            if idempotent:
                return is_retryable(exc)
            return isinstance(exc, DivvyTransientError) and exc.status == 429

        retry = retrying(
            self.retry_args,
            retryable=retry_write,
            max_retry_after=self.max_retry_after,
            before_sleep=retry_logger(self.log, "Divvy", self._describe),
        )
        return retry(self._write_once, method, path, body)

    def _values_path(self, field: DivvyCustomField) -> str:
        return f"/v3/spend/custom-fields/{quote(field.uuid, safe='')}/values"

    def create_custom_field(
        self, name: str, *, description: str = "", required: bool = False
    ) -> DivvyCustomField:
        """``POST /v3/spend/custom-fields``: a single-select field (``CUSTOM_SELECTOR``)."""
        body = {
            "name": name,
            "description": description,
            "type": "CUSTOM_SELECTOR",
            "multiSelect": False,
            "allowCustomValues": False,
            "required": required,
        }
        answer = self._write("POST", "/v3/spend/custom-fields", body, idempotent=False)
        record = _created(answer, "name", name)
        if record is None:
            # Divvy's answer to a create is not documented; find the field by name instead.
            listed = next((f for f in self.iter_custom_fields() if f.name == name), None)
            if listed is None:
                raise DivvyApiError(
                    f"custom field {name!r} was created but is not listed",
                    method="POST",
                    path="/v3/spend/custom-fields",
                )
            return listed
        return DivvyCustomField.from_json(record)

    def create_custom_field_value(
        self, field: DivvyCustomField, text: str
    ) -> DivvyCustomFieldValue | None:
        """``POST …/custom-fields/{id}/values`` with ``{"value": text}``.

        The answer's shape is undocumented: the value, a list holding it, or nothing (None).
        """
        answer = self._write("POST", self._values_path(field), {"value": text}, idempotent=False)
        record = _created(answer, "value", text)
        return DivvyCustomFieldValue.from_json(record) if record is not None else None

    def retire_custom_field_value(self, field: DivvyCustomField, value_uuid: str) -> bool:
        """``DELETE …/values/{valueId}``: the value leaves the list and stays on past
        transactions (divvy-api.md §3). False when it was already gone (404)."""
        path = f"{self._values_path(field)}/{quote(value_uuid, safe='')}"
        try:
            self._write("DELETE", path, None, idempotent=True)
        except DivvyApiError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def rename_custom_field_value(
        self, field: DivvyCustomField, value_uuid: str, text: str
    ) -> DivvyCustomFieldValue | None:
        """Give a value a new text.

        No ``PATCH`` of a value is documented (only ``GET/DELETE …/values/{valueId}``), so it is
        tried once per hook: if Divvy answers 404/405, this and every later rename creates the
        new text and retires the old value instead (past transactions keep the old text either
        way).
        """
        path = f"{self._values_path(field)}/{quote(value_uuid, safe='')}"
        if not self._value_patch_unsupported:
            try:
                answer = self._write("PATCH", path, {"value": text}, idempotent=True)
            except DivvyApiError as exc:
                if exc.status not in self._VALUE_PATCH_UNSUPPORTED or isinstance(
                    exc, DivvyTransientError
                ):
                    raise
                self.log.info(
                    "Divvy does not rename custom field values (PATCH answered HTTP %s): "
                    "renaming by creating the new value and retiring the old one",
                    exc.status,
                )
                self._value_patch_unsupported = True
            else:
                record = _created(answer, "value", text)
                return DivvyCustomFieldValue.from_json(record) if record is not None else None
        created = self.create_custom_field_value(field, text)
        self.retire_custom_field_value(field, value_uuid)
        return created

    _value_patch_unsupported = False

    def get_current_user(self) -> dict[str, Any]:
        """The user whose API token the Connection holds (a cheap read-only probe)."""
        body = self._request("/v3/spend/users/current")
        if not isinstance(body, dict):
            raise DivvyApiError(
                "current-user response is not an object",
                method="GET",
                path="/v3/spend/users/current",
            )
        return body

    def test_connection(self) -> tuple[bool, str]:
        """Check the Connection by reading the token's user; the message is for the UI."""
        try:
            base_url = self.conn_params.base_url
            user = self._request(
                "/v3/spend/users/current",
                retrying=self._retrying(stop=tenacity.stop_after_attempt(2)),
            )
        except ValueError as exc:  # connection settings
            return False, str(exc)
        except DivvyApiError as exc:
            if exc.status == 401:
                return False, (
                    "Divvy did not accept the API token (HTTP 401). Generate a new one in "
                    "Divvy under Settings → API tokens (admins only) and paste it into the "
                    "connection's API token field."
                )
            if exc.status == 403:
                return False, "Divvy refused access (HTTP 403): the token's user lacks rights."
            return False, f"Divvy answered with an error: {exc}"
        except requests.RequestException as exc:
            return False, f"Could not reach Divvy at {base_url} ({type(exc).__name__})."
        except AirflowException as exc:  # e.g. the connection id does not exist
            return False, str(exc)
        first = (user.get("firstName") or "") if isinstance(user, Mapping) else ""
        last = (user.get("lastName") or "") if isinstance(user, Mapping) else ""
        role = user.get("role") if isinstance(user, Mapping) else None
        who = f"{first} {last}".strip() or "the token's user"
        return True, f"Connected to Divvy as {who}" + (f" ({role})." if role else ".")


def _created(answer: Any, key: str, expected: str) -> Mapping[str, Any] | None:
    """The created record in a write's answer: the object itself, or the one in a list (or in
    ``results``) whose ``key`` is ``expected``; None when the answer holds none."""
    if isinstance(answer, Mapping) and isinstance(answer.get("results"), list):
        answer = answer["results"]
    if isinstance(answer, Mapping) and answer.get("uuid"):
        return answer
    if isinstance(answer, list):
        return next(
            (
                r
                for r in answer
                if isinstance(r, Mapping) and r.get(key) == expected and r.get("uuid")
            ),
            None,
        )
    return None
