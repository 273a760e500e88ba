"""Airflow hook for the Sage Intacct XML Web Services API.

The hook owns the connection, the API session, HTTP transport, retries and paging. The XML
itself (builders, parser, error taxonomy) lives in :mod:`intacct_hook.intacct`, which has no
Airflow imports.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit

import requests
import tenacity
from airflow.sdk import BaseHook

from intacct_hook import __version__
from intacct_hook.hooks.http_util import (
    ERROR_BODY_BYTES,
    MB,
    BodyError,
    BodyTooLarge,
    BodyTooSlow,
    Limits,
    NoRedirectSession,
    argument_or_extra,
    checked_url,
    connection_extras,
    field_text,
    limit_extras,
    parse_retry_after,
    read_body,
    redirect_location,
    register_secrets,
)
from intacct_hook.intacct import request as rq
from intacct_hook.intacct.errors import (
    IntacctAmbiguousWrite,
    IntacctAuthenticationError,
    IntacctConnectionError,
    IntacctDuplicateControlId,
    IntacctError,
    IntacctFunctionError,
    IntacctGatewayError,
    IntacctInvalidRequest,
    IntacctPermissionError,
    IntacctRateLimited,
    IntacctRedirectError,
    IntacctResponseTooLarge,
    IntacctResponseTooSlow,
    IntacctResultIncomplete,
    IntacctSenderCredentialsError,
    IntacctSenderNotAuthorized,
    IntacctServerError,
    IntacctSignInError,
    error_for,
)
from intacct_hook.intacct.fields import (
    BOOKS_CLOSED_FIELD,
    BOOKS_CLOSED_OBJECT,
    CARD_LOCATION_FIELDS,
    CARD_OFFSET_ACCOUNT_FIELDS,
)
from intacct_hook.intacct.records import (
    CCTransaction,
    RecordOutcome,
    check_unique_references,
)
from intacct_hook.intacct.response import FunctionResult, Response, gateway_errors, parse_response
from intacct_hook.intacct.values import (
    last_day_of_month,
    month_number,
    parse_bool,
    parse_date,
)
from intacct_hook.masking import redactor

DEFAULT_GATEWAY_URL = "https://api.intacct.com/ia/xml/xmlgw.phtml"
DEFAULT_SENDER_ID = "bill.com"
DEFAULT_TIMEOUT = 60.0
DEFAULT_MAX_RESPONSE_MB = 100  # a 1000-row page of wide records is a few MB

CCTRANSACTION_FIELDS = (
    "RECORDNO",
    "RECORDID",
    "FINANCIALENTITY",
    "WHENCREATED",
    "TOTALENTERED",
    "DESCRIPTION",
    "PAYEE",
    "STATE",
    "RECORD_URL",  # a link into Intacct's UI (field in public SDK field lists)
)

# Status codes after which the request certainly did not change anything or re-sending is
# safe even for a write, because uniqueid catches a duplicate.
_RETRY_ANY = frozenset({502, 503, 504})
# Status codes after which a write may have happened (the CDN gave up, Intacct kept going).
_AMBIGUOUS_FOR_WRITES = frozenset({500, 524})
_MAX_AMBIGUOUS_ROUNDS = 3


@dataclass(frozen=True)
class IntacctConnParams:
    """Everything the hook needs from the Connection. Secrets are left out of ``repr``."""

    url: str
    user_id: str
    company_id: str
    sender_id: str
    entity_id: str | None
    timeout: float
    password: str = field(repr=False)
    sender_password: str = field(repr=False)
    max_request_seconds: float = 2 * DEFAULT_TIMEOUT
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_MB * MB

    @property
    def limits(self) -> Limits:
        return Limits(self.timeout, self.max_request_seconds, self.max_response_bytes)


class _RetryAfterWait(tenacity.wait.wait_base):
    """Wait what ``Retry-After`` asks (bounded), else fall back to the configured strategy."""

    def __init__(self, fallback: tenacity.wait.wait_base, max_wait: float) -> None:
        self.fallback = fallback
        self.max_wait = max_wait

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None else None
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            return min(float(retry_after), self.max_wait)
        return self.fallback(retry_state)


def is_retryable(exc: BaseException) -> bool:
    """Transient failures where sending the same request again cannot double a write."""
    if isinstance(exc, IntacctAmbiguousWrite):
        return False
    return isinstance(exc, (IntacctRateLimited, IntacctServerError, IntacctConnectionError))


class IntacctHook(BaseHook):
    """Talk to the Sage Intacct XML gateway with a connection of type ``intacct``.

    Connection: host = gateway URL (default ``https://api.intacct.com/ia/xml/xmlgw.phtml``),
    login = Web Services user ID, password = its password; extras ``company_id``,
    ``sender_id`` (default ``bill.com``), ``sender_password``, ``entity_id`` (multi-entity
    companies), ``timeout`` (seconds per connect and per read, default 60),
    ``max_request_seconds`` (one whole request, default twice the timeout) and
    ``max_response_mb`` (default 100). Credentials are read only from the connection; they
    never appear in logs, headers or exception messages, and no redirect is ever followed.

    :param intacct_conn_id: the Airflow connection ID.
    :param batch_size: functions per request when a call sends many (default 100).
    :param timeout: HTTP timeout in seconds; overrides the connection's ``timeout`` extra.
    :param retry_args: tenacity ``Retrying`` arguments merged over the defaults (5 attempts,
        exponential backoff with jitter, retry on 429 / 502-504 / connection errors, and 500 for
        reads). ``Retry-After`` is always honoured up to ``max_retry_after`` seconds.
    :param max_retry_after: upper bound for a server-requested wait.

    Example::

        hook = IntacctHook(intacct_conn_id="intacct_default")
        for account in hook.iter_read_by_query("GLACCOUNT", "STATUS = 'T'"):
            print(account["ACCOUNTNO"], account["TITLE"])
        outcomes = hook.record_cctransactions(transactions)
        failed = [o for o in outcomes if o.status == "failed"]
    """

    conn_name_attr = "intacct_conn_id"
    default_conn_name = "intacct_default"
    conn_type = "intacct"
    hook_name = "Sage Intacct"

    def __init__(
        self,
        *,
        intacct_conn_id: str = default_conn_name,
        batch_size: int = 100,
        timeout: float | None = None,
        retry_args: dict[str, Any] | None = None,
        max_retry_after: float = 120.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.intacct_conn_id = intacct_conn_id
        self.batch_size = batch_size
        self._timeout_override = timeout
        self.retry_args = self._default_retry_args() | (retry_args or {})
        self.max_retry_after = max_retry_after
        self._session_id: str | None = None
        self._endpoint: str | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} intacct_conn_id={self.intacct_conn_id!r}>"

    # --- connection -----------------------------------------------------------------------------

    @cached_property
    def conn_params(self) -> IntacctConnParams:
        """The connection, read once."""
        return self._get_conn_params()

    def _get_conn_params(self) -> IntacctConnParams:
        """Turn the Airflow Connection into client parameters. Nothing else reads extras."""
        conn = self.get_connection(self.intacct_conn_id)
        cid = self.intacct_conn_id
        extra = connection_extras(conn, cid)
        url = (conn.host or "").strip() or DEFAULT_GATEWAY_URL
        if "://" not in url:
            url = f"https://{url}"
        timeout = argument_or_extra(
            self._timeout_override, extra, "timeout", conn_id=cid, default=DEFAULT_TIMEOUT
        )
        max_seconds, max_bytes = limit_extras(
            extra, conn_id=cid, timeout=timeout, default_mb=DEFAULT_MAX_RESPONSE_MB
        )
        params = IntacctConnParams(
            url=checked_url(url, conn_id=cid, name="host (gateway URL)"),
            user_id=field_text(conn.login),
            company_id=field_text(extra.get("company_id")),
            sender_id=field_text(extra.get("sender_id")) or DEFAULT_SENDER_ID,
            entity_id=field_text(extra.get("entity_id")) or None,
            timeout=timeout,
            password=field_text(conn.password),
            sender_password=field_text(extra.get("sender_password")),
            max_request_seconds=max_seconds,
            max_response_bytes=max_bytes,
        )
        missing = [
            name
            for name, value in (
                ("login (user ID)", params.user_id),
                ("password", params.password),
                ("company_id", params.company_id),
                ("sender_password", params.sender_password),
            )
            if not value
        ]
        if missing:
            raise ValueError(
                f"Connection {self.intacct_conn_id!r} is missing: {', '.join(missing)}"
            )
        register_secrets(params.password, params.sender_password)
        return params

    @cached_property
    def session(self) -> requests.Session:
        """The HTTP session: only a content type and a User-Agent, never credentials; it never
        follows a redirect (the login would re-send both passwords to the redirect's host)."""
        http = NoRedirectSession()
        http.headers.clear()
        http.headers.update(
            {
                "Content-Type": "application/xml; charset=utf-8",
                "Accept-Encoding": "gzip, deflate",
                "User-Agent": f"divvy-intacct-airflow/{__version__}",
            }
        )
        return http

    def get_conn(self) -> requests.Session:
        """The ``requests.Session`` used for every call."""
        return self.session

    def _secrets(self) -> tuple[str, ...]:
        p = self.conn_params
        return tuple(s for s in (p.password, p.sender_password, self._session_id) if s)

    # --- retry policy ---------------------------------------------------------------------------

    @staticmethod
    def _default_retry_args() -> dict[str, Any]:
        return {
            "stop": tenacity.stop_after_attempt(5),
            "wait": tenacity.wait_exponential_jitter(initial=1, max=30),
            "retry": tenacity.retry_if_exception(is_retryable),
            "reraise": True,
        }

    def _retrying(self) -> tenacity.Retrying:
        args = dict(self.retry_args)
        args["wait"] = _RetryAfterWait(
            args.get("wait") or tenacity.wait_none(), self.max_retry_after
        )
        args.setdefault("before_sleep", self._log_retry)
        return tenacity.Retrying(**args)

    def _log_retry(self, retry_state: tenacity.RetryCallState) -> None:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        wait = retry_state.next_action.sleep if retry_state.next_action else 0.0
        self.log.warning(
            "Intacct request failed (attempt %d: %s); retrying in %.1fs",
            retry_state.attempt_number,
            type(exc).__name__,
            wait,
        )

    # --- transport ------------------------------------------------------------------------------

    def _post(self, url: str, body: bytes, *, write: bool) -> tuple[requests.Response, bytes]:
        """POST one request and read its answer within the connection's limits; turn transport
        failures into typed errors.

        For a write, a failure after the body may have reached Intacct is ambiguous and must be
        resolved by a lookup, never by re-sending blindly: that includes an answer cut off,
        too slow or too large, since Intacct answered only after it had run the write.
        """
        limits = self.conn_params.limits
        deadline = limits.deadline()
        try:
            http = self.session.post(
                url,
                data=body,
                timeout=limits.requests_timeout,
                allow_redirects=False,
                stream=True,
            )
        except requests.ConnectTimeout as exc:
            raise IntacctConnectionError(f"could not connect to {_host(url)}: timed out") from exc
        except requests.Timeout as exc:
            if write:
                raise IntacctAmbiguousWrite(
                    f"no answer from {_host(url)} within {limits.requests_timeout[1]:g}s"
                ) from exc
            raise IntacctConnectionError(f"read from {_host(url)} timed out") from exc
        except requests.ConnectionError as exc:
            if _never_sent(exc):
                raise IntacctConnectionError(f"could not connect to {_host(url)}") from exc
            if write:
                raise IntacctAmbiguousWrite(
                    f"the connection to {_host(url)} dropped after the request was sent"
                ) from exc
            raise IntacctConnectionError(f"the connection to {_host(url)} dropped") from exc
        where = redirect_location(http)
        if where is not None:
            http.close()
            raise IntacctRedirectError(
                f"HTTP {http.status_code} redirect to {redactor(self._secrets())(where)} "
                "refused: requests carry credentials, so the hook never follows a redirect",
                http_status=http.status_code,
            )
        if http.status_code != 200:
            # The status decides; the body only adds details, so a bad one is not fatal.
            try:
                return http, read_body(
                    http, limits, deadline=deadline, truncate_at=ERROR_BODY_BYTES
                )
            except BodyError:
                return http, b""
        try:
            return http, read_body(http, limits, deadline=deadline)
        except BodyError as exc:
            raise self._unreadable(exc, url, write=write) from exc

    @staticmethod
    def _unreadable(exc: BodyError, url: str, *, write: bool) -> IntacctError:
        what = f"{exc} (from {_host(url)})"
        if write:
            return IntacctAmbiguousWrite(f"{what}; the write may have been recorded")
        if isinstance(exc, BodyTooLarge):
            return IntacctResponseTooLarge(what, http_status=200)
        if isinstance(exc, BodyTooSlow):
            return IntacctResponseTooSlow(what, http_status=200)
        return IntacctConnectionError(what, http_status=200)

    def check_response(
        self,
        http: requests.Response,
        body: bytes,
        *,
        write: bool,
        records: dict[str, str] | None = None,
    ) -> Response:
        """Map the HTTP status and the body read by :meth:`_post` to a parsed ``Response`` or a
        typed error."""
        status = http.status_code
        if status == 200:
            return parse_response(
                body, http_status=status, secrets=self._secrets(), records=records
            )
        details = gateway_errors(body, secrets=self._secrets())
        if status == 429:
            err = IntacctRateLimited("rate limited (HTTP 429)", errors=details, http_status=status)
            err.retry_after = parse_retry_after(http.headers.get("Retry-After"))
            raise err
        if write and status in _AMBIGUOUS_FOR_WRITES:
            raise IntacctAmbiguousWrite(
                f"HTTP {status} after the write was sent", errors=details, http_status=status
            )
        if status in _RETRY_ANY or status in _AMBIGUOUS_FOR_WRITES:
            raise IntacctServerError(f"HTTP {status}", errors=details, http_status=status)
        if status == 400:
            raise IntacctInvalidRequest("HTTP 400", errors=details, http_status=status)
        if details and status in (401, 403):
            raise error_for("control", details, http_status=status)
        if status >= 500:
            raise IntacctServerError(f"HTTP {status}", errors=details, http_status=status)
        raise IntacctGatewayError(f"HTTP {status}", errors=details, http_status=status)

    def _send(
        self, url: str, body: bytes, *, write: bool, records: dict[str, str] | None = None
    ) -> Response:
        """One request with the retry policy (each attempt is the very same body)."""
        for attempt in self._retrying():
            with attempt:
                http, answer = self._post(url, body, write=write)
                response = self.check_response(http, answer, write=write, records=records)
        return response

    # --- sessions -------------------------------------------------------------------------------

    def _control(self, *, unique_id: bool = False):
        p = self.conn_params
        return rq.control_block(
            sender_id=p.sender_id,
            sender_password=p.sender_password,
            control_id=uuid.uuid4().hex,
            unique_id=unique_id,
        )

    def _login(self) -> None:
        """``getAPISession`` with the login credentials at the original gateway URL."""
        p = self.conn_params
        auth = rq.login_auth(
            user_id=p.user_id, company_id=p.company_id, password=p.password, entity_id=p.entity_id
        )
        body = rq.build_request(
            control=self._control(), auth=auth, functions=[rq.get_api_session()]
        )
        self.log.debug("Opening an Intacct API session for company %s", p.company_id)
        response = self._send(p.url, body, write=False)
        result = response.results[0] if response.results else None
        if result is None:
            raise IntacctResultIncomplete("getAPISession returned no result")
        result.raise_for_status()
        api = result.data[0] if result.data else {}
        session_id = str(api.get("sessionid") or "")
        if not session_id:
            raise IntacctResultIncomplete("getAPISession returned no session ID")
        register_secrets(session_id)
        self._session_id = session_id
        self._endpoint = self._trusted_endpoint(str(api.get("endpoint") or ""))

    def _trusted_endpoint(self, endpoint: str) -> str:
        """Use the returned endpoint only on the gateway's host or an Intacct host.

        The session ID is sent there, so a response must not be able to redirect it elsewhere.
        """
        gateway = self.conn_params.url
        if not endpoint:
            return gateway
        new, old = urlsplit(endpoint), urlsplit(gateway)
        intacct = (new.hostname or "").endswith(".intacct.com") and new.scheme == "https"
        if intacct or (new.hostname == old.hostname and new.scheme == old.scheme):
            return endpoint
        self.log.warning("Ignoring session endpoint on unexpected host %s", new.hostname)
        return gateway

    def _ensure_session(self) -> None:
        if self._session_id is None:
            self._login()

    def close(self) -> None:
        """Forget the API session and close the HTTP session."""
        self._session_id = None
        self._endpoint = None
        if "session" in self.__dict__:
            self.session.close()
            del self.__dict__["session"]

    # --- execute --------------------------------------------------------------------------------

    def _execute_request(
        self,
        functions: Sequence[rq.Function],
        *,
        transaction: bool,
        unique_id: bool,
        records: dict[str, str] | None = None,
    ) -> Response:
        """One request of ``functions`` under the API session; re-authenticates once.

        An authentication failure means Intacct ran nothing, so re-sending is safe.
        """
        write = any(f.is_write for f in functions)
        self._ensure_session()
        for attempt in (1, 2):
            assert self._session_id is not None
            body = rq.build_request(
                control=self._control(unique_id=unique_id),
                auth=rq.session_auth(self._session_id),
                functions=functions,
                transaction=transaction,
            )
            try:
                return self._send(
                    self._endpoint or self.conn_params.url, body, write=write, records=records
                )
            except IntacctAuthenticationError:
                if attempt == 2:
                    raise
                self.log.info("Intacct session rejected; signing in again")
                self._session_id = None
                self._login()
        raise AssertionError("unreachable")

    def execute(
        self,
        functions: Sequence[rq.Function],
        *,
        transaction: bool = False,
        unique_id: bool = False,
        records: dict[str, str] | None = None,
    ) -> list[FunctionResult]:
        """Run functions and return one result per function, in the order given.

        Functions are sent ``batch_size`` per request (all in one request when
        ``transaction=True``, since a transaction cannot span requests). Results are matched by
        control ID; a function with no result gets status ``unknown``. Function failures do not
        raise: check ``result.ok`` or call ``result.raise_for_status()``. With
        ``transaction=True`` the other functions come back ``aborted`` when one fails.

        :param records: control ID → business key, so errors name the record.
        :raises IntacctControlError, IntacctAuthenticationError: the request was refused.
        :raises IntacctAmbiguousWrite: a write was sent and its outcome is unknown.

        Example::

            results = hook.execute([request.read_by_name("GLACCOUNT", ["2150"])])
            rows = results[0].raise_for_status().data
        """
        functions = list(functions)
        if not functions:
            return []
        size = len(functions) if transaction else self.batch_size
        out: list[FunctionResult] = []
        for start in range(0, len(functions), size):
            batch = functions[start : start + size]
            response = self._execute_request(
                batch, transaction=transaction, unique_id=unique_id, records=records
            )
            by_id = response.by_control_id()
            for fn in batch:
                result = by_id.get(fn.control_id)
                if result is None:
                    result = FunctionResult(
                        control_id=fn.control_id,
                        function=fn.name,
                        status="unknown",
                        error=IntacctResultIncomplete(
                            "no result came back for this function",
                            control_id=fn.control_id,
                            record=(records or {}).get(fn.control_id),
                        ),
                    )
                out.append(result)
        return out

    def _one(self, function: rq.Function) -> FunctionResult:
        return self.execute([function])[0].raise_for_status()

    # --- reads ----------------------------------------------------------------------------------

    def iter_read_by_query(
        self,
        obj: str,
        query: str = "",
        fields: Sequence[str] = ("*",),
        page_size: int = 1000,
    ) -> Iterator[dict]:
        """Every record matching ``query``: ``readByQuery``, then ``readMore`` to the end.

        Build literals with :func:`intacct_hook.intacct.values.quote_literal`.

        Example::

            for loc in hook.iter_read_by_query("LOCATION", "STATUS = 'T'"):
                ...
        """
        result = self._one(rq.read_by_query(obj, query, fields=fields, page_size=page_size))
        yield from result.data
        while result.num_remaining > 0:
            if not result.result_id or not result.data:
                raise IntacctResultIncomplete(
                    f"readByQuery on {obj} reports {result.num_remaining} more records but no "
                    "way to read them"
                )
            result = self._one(rq.read_more(result.result_id))
            yield from result.data

    def iter_query(
        self,
        obj: str,
        fields: Sequence[str],
        filter: rq.Filter | None = None,
        order_by: Sequence[tuple[str, str]] = (("RECORDNO", "asc"),),
        page_size: int = 1000,
    ) -> Iterator[dict]:
        """Every record of a ``query``, paging by offset (stable thanks to ``order_by``).

        Example::

            flt = request.and_(request.eq("FINANCIALENTITY", "Divvy CC Object"),
                               request.between("WHENCREATED", start, end))
            rows = list(hook.iter_query("CCTRANSACTION", ["RECORDNO", "RECORDID"], flt))
        """
        if not order_by:
            raise ValueError("offset paging needs an explicit order_by")
        offset = 0
        while True:
            result = self._one(
                rq.query(
                    obj,
                    fields,
                    filter=filter,
                    order_by=order_by,
                    page_size=page_size,
                    offset=offset,
                )
            )
            yield from result.data
            if result.num_remaining <= 0 or not result.data:
                return
            offset += len(result.data)

    def read(
        self, obj: str, keys: Iterable[str | int], fields: Sequence[str] = ("*",)
    ) -> list[dict]:
        """Records by RECORDNO (any number of keys; sent 100 per function)."""
        return self._read_many(rq.read, obj, [str(k) for k in keys], fields)

    def read_by_name(
        self, obj: str, names: Iterable[str], fields: Sequence[str] = ("*",)
    ) -> list[dict]:
        """Records by their ID field (ACCOUNTNO, CARDID, LOCATIONID...)."""
        return self._read_many(rq.read_by_name, obj, list(names), fields)

    def _read_many(self, builder, obj: str, keys: list[str], fields: Sequence[str]) -> list[dict]:
        chunks = [keys[i : i + rq.MAX_READ_KEYS] for i in range(0, len(keys), rq.MAX_READ_KEYS)]
        results = self.execute([builder(obj, chunk, fields=fields) for chunk in chunks])
        # read returns empty rows for keys that do not exist; drop them.
        return [row for r in results for row in r.raise_for_status().data if row]

    # --- credit card transactions ---------------------------------------------------------------

    def find_cctransactions(
        self,
        card_id: str,
        start: date,
        end: date,
        reference_nos: Iterable[str] | None = None,
    ) -> list[dict]:
        """Credit card transactions on ``card_id`` dated ``start``..``end`` (inclusive),
        optionally only those whose RECORDID is one of ``reference_nos``."""
        base = rq.and_(rq.eq("FINANCIALENTITY", card_id), rq.between("WHENCREATED", start, end))
        if reference_nos is None:
            return list(self.iter_query("CCTRANSACTION", CCTRANSACTION_FIELDS, base))
        refs = list(dict.fromkeys(reference_nos))
        rows: list[dict] = []
        for i in range(0, len(refs), rq.MAX_IN_VALUES):
            flt = rq.and_(base, rq.in_("RECORDID", refs[i : i + rq.MAX_IN_VALUES]))
            rows.extend(self.iter_query("CCTRANSACTION", CCTRANSACTION_FIELDS, flt))
        return rows

    def reverse_cctransaction(
        self, record_no: str | int, date_reversed: date, memo: str | None = None
    ) -> str:
        """Reverse a credit card transaction; return the key Intacct gives back."""
        result = self._one(rq.reverse_cctransaction(record_no, date_reversed, memo=memo))
        return result.key or str(record_no)

    def record_cctransactions(
        self,
        txns: Sequence[CCTransaction],
        *,
        batch_size: int | None = None,
        transaction: bool = False,
        check_first: bool = False,
    ) -> list[RecordOutcome]:
        """Post credit card transactions exactly once; one outcome per transaction, in order.

        Each write carries ``uniqueid=true`` and the control ID ``txn.control_id``, that is
        ``control_id_for(reference_no, attempt)``.
        After an ambiguous outcome (timeout, 524, dropped connection), and for any failed
        write, the record is looked up by reference number first: if it exists the outcome is
        ``already_posted`` with its RECORDNO; only records that are certainly absent are sent
        again. Business failures become ``failed`` outcomes and do not stop the others (unless
        ``transaction=True``, where one failure rolls back the whole batch).

        ``check_first=True`` also looks every batch up before sending it, which catches records
        posted outside this hook (by hand, or under another control ID); it costs one query per
        batch.

        Example::

            outcomes = hook.record_cctransactions(txns, batch_size=50)
            posted = {o.reference_no: o.record_no for o in outcomes if o.ok}
        """
        txns = list(txns)
        check_unique_references(txns)
        size = len(txns) if transaction else (batch_size or self.batch_size)
        outcomes: dict[str, RecordOutcome] = {}
        for start in range(0, len(txns), max(size, 1)):
            batch = txns[start : start + size]
            if check_first:
                found = self._lookup(batch)
                outcomes.update(
                    {
                        t.reference_no: _already(t, found[t.reference_no])
                        for t in batch
                        if t.reference_no in found
                    }
                )
                batch = [t for t in batch if t.reference_no not in found]
            if batch:
                outcomes.update(self._record_batch(batch, transaction))
        return [outcomes[t.reference_no] for t in txns]

    def _record_batch(
        self, batch: list[CCTransaction], transaction: bool
    ) -> dict[str, RecordOutcome]:
        outcomes: dict[str, RecordOutcome] = {}
        pending = batch
        last_error: IntacctError | None = None
        for _round in range(_MAX_AMBIGUOUS_ROUNDS):
            records = {t.control_id: t.reference_no for t in pending}
            functions = [rq.record_cctransaction(t) for t in pending]
            try:
                results = self.execute(
                    functions, transaction=transaction, unique_id=True, records=records
                )
            except IntacctAmbiguousWrite as exc:
                self.log.warning(
                    "Outcome of %d credit card transaction(s) unknown (%s); "
                    "looking them up before sending again",
                    len(pending),
                    exc.http_status or "no answer",
                )
                found = self._lookup(pending)
                for txn in pending:
                    if txn.reference_no in found:
                        outcomes[txn.reference_no] = _already(txn, found[txn.reference_no])
                pending = [t for t in pending if t.reference_no not in found]
                if not pending:
                    return outcomes
                last_error = exc
                continue
            outcomes.update(self._settle(pending, results))
            return outcomes
        assert last_error is not None  # only reached after ambiguous rounds
        for txn in pending:
            outcomes[txn.reference_no] = RecordOutcome(
                txn.reference_no,
                txn.control_id,
                "failed",
                error=last_error.with_context(record=txn.reference_no, control_id=txn.control_id),
            )
        return outcomes

    def _settle(
        self, txns: list[CCTransaction], results: list[FunctionResult]
    ) -> dict[str, RecordOutcome]:
        """Turn results into outcomes; failed writes are checked against Intacct first."""
        outcomes: dict[str, RecordOutcome] = {}
        doubtful: list[tuple[CCTransaction, FunctionResult]] = []
        for txn, result in zip(txns, results, strict=True):
            if result.ok:
                outcomes[txn.reference_no] = RecordOutcome(
                    txn.reference_no, txn.control_id, "posted", record_no=result.key
                )
            elif result.status == "aborted":
                # Rolled back: nothing was written, so no lookup is needed.
                outcomes[txn.reference_no] = _failed(txn, result)
            else:
                doubtful.append((txn, result))
        if doubtful:
            found = self._lookup([t for t, _ in doubtful])
            for txn, result in doubtful:
                if txn.reference_no in found:
                    outcomes[txn.reference_no] = _already(txn, found[txn.reference_no])
                else:
                    outcomes[txn.reference_no] = _failed(txn, result)
        return outcomes

    def _lookup(self, txns: list[CCTransaction]) -> dict[str, dict]:
        """Existing CCTRANSACTION rows by reference number, for the given transactions."""
        by_card: dict[str, list[CCTransaction]] = {}
        for txn in txns:
            by_card.setdefault(txn.card_id, []).append(txn)
        found: dict[str, dict] = {}
        for card_id, group in by_card.items():
            start = min(t.payment_date for t in group)
            end = max(t.payment_date for t in group)
            rows = self.find_cctransactions(card_id, start, end, [t.reference_no for t in group])
            for row in rows:
                ref = row.get("RECORDID")
                if ref and ref not in found:
                    found[str(ref)] = row
        for txn in txns:
            row = found.get(txn.reference_no)
            total = row.get("TOTALENTERED") if row else None
            if total is not None and total != txn.total:
                self.log.warning(
                    "Intacct record %s for reference %s totals %s, expected %s",
                    row.get("RECORDNO"),
                    txn.reference_no,
                    total,
                    txn.total,
                )
        return found

    # --- setup objects --------------------------------------------------------------------------

    def get_gl_accounts(self, account_nos: Iterable[str] | None = None) -> list[dict]:
        """GL accounts (all, or only ``account_nos``)."""
        if account_nos is not None:
            return self.read_by_name("GLACCOUNT", list(account_nos))
        return list(self.iter_read_by_query("GLACCOUNT"))

    def get_credit_card(self, card_id: str) -> dict | None:
        """The CREDITCARD ``card_id`` (its fields as Intacct names them) or None.

        Added lower-case keys: ``offset_account_no`` / ``default_location_id``, the first value
        found under :data:`CARD_OFFSET_ACCOUNT_FIELDS` / :data:`CARD_LOCATION_FIELDS`, and
        ``offset_account_field`` / ``default_location_field``, the field it was found in (None
        when none of the guessed names holds a value); ``expires`` (last day of the expiry
        month) and ``active``.
        """
        rows = [r for r in self.read_by_name("CREDITCARD", [card_id]) if r.get("CARDID")]
        if not rows:
            return None
        card = dict(rows[0])
        card["offset_account_field"] = _first_field(card, CARD_OFFSET_ACCOUNT_FIELDS)
        card["offset_account_no"] = card.get(card["offset_account_field"] or "")
        card["default_location_field"] = _first_field(card, CARD_LOCATION_FIELDS)
        card["default_location_id"] = card.get(card["default_location_field"] or "")
        card["expires"] = _expiry(card.get("EXP_MONTH"), card.get("EXP_YEAR"))
        card["active"] = _is_active(card.get("STATUS"))
        return card

    def get_locations(self) -> list[dict]:
        return list(self.iter_read_by_query("LOCATION"))

    def get_departments(self) -> list[dict]:
        return list(self.iter_read_by_query("DEPARTMENT"))

    def get_classes(self) -> list[dict]:
        return list(self.iter_read_by_query("CLASS"))

    def get_projects(self) -> list[dict]:
        return list(self.iter_read_by_query("PROJECT"))

    def get_entities(self) -> list[dict]:
        return list(self.iter_read_by_query("LOCATIONENTITY"))

    def get_books_closed_through(self) -> date | None:
        """The last closed day, or None when Intacct cannot tell (object unknown, no rows)."""
        try:
            rows = list(self.iter_read_by_query(BOOKS_CLOSED_OBJECT, fields=(BOOKS_CLOSED_FIELD,)))
        except IntacctPermissionError:
            raise
        except IntacctFunctionError as exc:
            if _object_unknown(exc):
                return None
            raise
        dates = [d for d in (_as_date(r.get(BOOKS_CLOSED_FIELD)) for r in rows) if d]
        return max(dates) if dates else None

    # --- UI -------------------------------------------------------------------------------------

    def test_connection(self) -> tuple[bool, str]:
        """Sign in and read one GL account; explain a failure in the customer's terms."""
        try:
            p = self.conn_params
        except Exception as exc:  # any connection problem is shown, not raised, in the UI
            return False, f"The connection is incomplete: {exc}"
        try:
            self._session_id = None
            self._login()
            self._one(rq.read_by_query("GLACCOUNT", "", fields=("ACCOUNTNO",), page_size=1))
        except IntacctError as exc:
            return False, self._explain(exc)
        except ValueError as exc:
            return False, str(exc)
        where = f"company '{p.company_id}'" + (f", entity '{p.entity_id}'" if p.entity_id else "")
        return True, f"Connected to Intacct {where} as Web Services user '{p.user_id}'."

    def _explain(self, exc: IntacctError) -> str:
        p = self.conn_params
        if isinstance(exc, IntacctSenderNotAuthorized):
            return (
                f"The sender ID '{p.sender_id}' is not authorized for company "
                f"'{p.company_id}': in Intacct go to Company > Setup > Company > Security > "
                "Web Services authorizations and add it (all lower case)."
            )
        if isinstance(exc, IntacctSenderCredentialsError):
            return (
                f"Intacct rejected the sender ID '{p.sender_id}' or its password: check the "
                "sender_id and sender_password extras of the connection."
            )
        if isinstance(exc, IntacctSignInError):
            if p.entity_id and "entity" in exc.all_text():
                return (
                    f"The entity ID '{p.entity_id}' is not valid: copy it from Company > "
                    "Entities in Intacct into the entity_id extra."
                )
            return (
                f"Sign-in failed for Web Services user '{p.user_id}' at company "
                f"'{p.company_id}': check the user ID, its password and the company ID."
            )
        if isinstance(exc, IntacctPermissionError):
            return (
                f"The Web Services user '{p.user_id}' lacks a permission: add the "
                "Administrator role on the user's Roles tab. Intacct said: "
                f"{exc.description or exc.description2}"
            )
        if isinstance(exc, IntacctResponseTooSlow):
            return f"The gateway at {p.url} answered too slowly: {exc}"
        if isinstance(exc, IntacctConnectionError):
            return f"Could not reach the Intacct gateway at {p.url}: check the host field."
        if isinstance(exc, IntacctGatewayError):
            return f"The gateway at {p.url} answered with an error: {exc}"
        return str(exc)


# --- helpers ----------------------------------------------------------------------------------


def _host(url: str) -> str:
    return urlsplit(url).netloc or url


def _never_sent(exc: requests.ConnectionError) -> bool:
    """True when the TCP connection was never established (so nothing reached Intacct)."""
    text = repr(exc.args[0]) if exc.args else ""
    return any(
        marker in text
        for marker in (
            "NewConnectionError",
            "NameResolutionError",
            "Connection refused",
            "Failed to establish",
        )
    )


def _already(txn: CCTransaction, row: dict) -> RecordOutcome:
    return RecordOutcome(
        txn.reference_no,
        txn.control_id,
        "already_posted",
        record_no=str(row.get("RECORDNO") or "") or None,
    )


def _failed(txn: CCTransaction, result: FunctionResult) -> RecordOutcome:
    error = result.error or IntacctResultIncomplete("no status")
    if isinstance(error, IntacctResultIncomplete | IntacctDuplicateControlId):
        # Already processed but not found by reference number: say so rather than guess.
        error = type(error)(
            "Intacct refused the write as already processed, but no record with this "
            "reference number exists on the card",
            errors=error.errors,
            control_id=txn.control_id,
            record=txn.reference_no,
        )
    return RecordOutcome(
        txn.reference_no,
        txn.control_id,
        "failed",
        error=error.with_context(record=txn.reference_no, control_id=txn.control_id),
    )


def _first_field(row: dict, names: Sequence[str]) -> str | None:
    """The first of ``names`` that holds a value in ``row``."""
    return next((name for name in names if row.get(name) not in (None, "")), None)


def _expiry(month: object, year: object) -> date | None:
    try:
        m = month_number(str(month)) if month not in (None, "") else None
        y = int(str(year)) if year not in (None, "") else None
    except ValueError:
        return None
    return last_day_of_month(y, m) if m and y else None


def _is_active(status: object) -> bool:
    if isinstance(status, bool):
        return status
    text = str(status or "").strip().lower()
    if text in ("active", "inactive"):
        return text == "active"
    try:
        return bool(parse_bool(text))
    except ValueError:
        return False


def _as_date(value: object) -> date | None:
    if isinstance(value, date):
        return value
    if value in (None, ""):
        return None
    return parse_date(str(value))


def _object_unknown(exc: IntacctError) -> bool:
    text = exc.all_text()
    return any(
        marker in text
        for marker in (
            "object definition",
            "not found",
            "does not exist",
            "unknown object",
            "cannot be performed on objects",
        )
    )
