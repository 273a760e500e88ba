"""Airflow hook for the Sage Intacct XML Web Services API.

The hook owns the connection, the API session, HTTP transport (with the toolkit of
:mod:`intacct_hook.hooks.http_util`), ``execute`` and paging. Everything else lives in
:mod:`intacct_hook.intacct`, which has no Airflow imports: the XML (builders, parser, error
taxonomy), the exactly-once writer (``writer``) and the setup records (``setup``); the hook's
methods for those are one-line delegates.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
import tenacity
from airflow.sdk import BaseHook

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
    field_text,
    http_session,
    limit_extras,
    never_sent,
    open_stream,
    parse_retry_after,
    read_body,
    read_error_body,
    redirect_location,
    register_secrets,
    retry_logger,
    retrying,
)
from intacct_hook.intacct import request as rq
from intacct_hook.intacct import setup
from intacct_hook.intacct.errors import (
    ENTITY_REJECTED,
    IntacctAmbiguousWrite,
    IntacctAuthenticationError,
    IntacctConnectionError,
    IntacctError,
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
from intacct_hook.intacct.records import CCTransaction, RecordOutcome, SupportingDocument
from intacct_hook.intacct.response import FunctionResult, Response, gateway_errors, parse_response
from intacct_hook.intacct.writer import (
    CCTRANSACTION_FIELDS,
    CCTransactionWriter,
    count_cctransactions,
    create_supdoc,
    find_cctransactions,
    iter_cctransactions,
    link_supdoc,
    reverse_cctransaction,
)
from intacct_hook.masking import redactor

if TYPE_CHECKING:
    from lxml import etree

DEFAULT_GATEWAY_URL = "https://api.intacct.com/ia/xml/xmlgw.phtml"
DEFAULT_SENDER_ID = "bill.com"
DEFAULT_TIMEOUT = 60.0
DEFAULT_MAX_RESPONSE_MB = 100  # a 1000-row page of wide records is a few MB

# Status codes after which the request certainly did not change anything or re-sending is
# safe even for a write, because uniqueid catches a duplicate.
_RETRY_ANY = frozenset({502, 503, 504})
# Status codes after which a write may have happened (the CDN gave up, Intacct kept going).
_AMBIGUOUS_FOR_WRITES = frozenset({500, 524})


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
    :param retry_args: tenacity ``Retrying`` arguments merged over the defaults of
        :func:`~intacct_hook.hooks.http_util.retrying` (5 attempts, exponential backoff with
        jitter), retrying 429 / 502-504 / connection errors, and 500 for reads. A ``wait`` given
        is the backoff; ``Retry-After`` is always honoured up to ``max_retry_after`` seconds.
    :param max_retry_after: upper bound for a server-requested wait (default 120).

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
        max_retry_after: float = DEFAULT_MAX_RETRY_AFTER,
        entity_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.intacct_conn_id = intacct_conn_id
        # Several Divvy accounts, one Intacct login, one entity each (sync/accounts.py): the
        # account's entity replaces the connection's ``entity_id`` extra.
        self._entity_override = entity_id
        self.batch_size = batch_size
        self._timeout_override = timeout
        self.retry_args = dict(retry_args or {})
        self.max_retry_after = max_retry_after
        self._session_id: str | None = None
        self._endpoint: str | None = None
        # A load may send several batches at once from threads: each thread gets its own HTTP
        # session (connection pool), and they share one API session, opened under this lock.
        self._lock = threading.RLock()
        self._local = threading.local()
        self._http_sessions: list[requests.Session] = []

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
            entity_id=self._entity_override or field_text(extra.get("entity_id")) or None,
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

    @property
    def session(self) -> requests.Session:
        """This thread's HTTP session: only a content type and a User-Agent, never
        credentials; it never follows a redirect (the login would re-send both passwords to
        the redirect's host). One per thread, since ``requests.Session`` is not thread-safe."""
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = http_session({"Content-Type": "application/xml; charset=utf-8"})
            self._local.session = session
            with self._lock:
                self._http_sessions.append(session)
        return session

    def get_conn(self) -> requests.Session:
        """The ``requests.Session`` used for every call of this thread."""
        return self.session

    def _secrets(self) -> tuple[str, ...]:
        p = self.conn_params
        return tuple(s for s in (p.password, p.sender_password, self._session_id) if s)

    # --- retry policy ---------------------------------------------------------------------------

    def _retrying(self) -> tenacity.Retrying:
        return retrying(
            self.retry_args,
            retryable=is_retryable,
            max_retry_after=self.max_retry_after,
            before_sleep=retry_logger(self.log, "Intacct", _describe),
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
            http = open_stream(self.session, "POST", url, limits, data=body)
        except requests.ConnectTimeout as exc:
            raise IntacctConnectionError(f"could not connect to {_host(url)}: timed out") from exc
        except requests.Timeout as exc:
            if write:
                raise IntacctAmbiguousWrite(
                    f"no answer from {_host(url)} within {limits.requests_timeout[1]:g}s"
                ) from exc
            raise IntacctConnectionError(f"read from {_host(url)} timed out") from exc
        except requests.ConnectionError as exc:
            if never_sent(exc):
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
            return http, read_error_body(http, limits, deadline=deadline)
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

    def _control(self, *, unique_id: bool = False) -> etree._Element:
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

    def _ensure_session(self) -> str:
        """The API session ID, signing in first when there is none (once, whatever the
        number of threads asking)."""
        with self._lock:
            if self._session_id is None:
                self._login()
            assert self._session_id is not None
            return self._session_id

    def _renew_session(self, rejected: str) -> str:
        """Sign in again after ``rejected`` was refused, unless another thread already has."""
        with self._lock:
            if self._session_id == rejected or self._session_id is None:
                self.log.info("Intacct session rejected; signing in again")
                self._session_id = None
                self._login()
            assert self._session_id is not None
            return self._session_id

    def close(self) -> None:
        """Forget the API session and close every thread's HTTP session."""
        with self._lock:
            self._session_id = None
            self._endpoint = None
            sessions, self._http_sessions = self._http_sessions, []
            self._local = threading.local()
        for session in sessions:
            session.close()

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
        session_id = self._ensure_session()
        for attempt in (1, 2):
            body = rq.build_request(
                control=self._control(unique_id=unique_id),
                auth=rq.session_auth(session_id),
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
                session_id = self._renew_session(session_id)
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

    def _read_many(
        self,
        builder: Callable[..., rq.Function],
        obj: str,
        keys: list[str],
        fields: Sequence[str],
    ) -> list[dict]:
        chunks = [keys[i : i + rq.MAX_READ_KEYS] for i in range(0, len(keys), rq.MAX_READ_KEYS)]
        results = self.execute([builder(obj, chunk, fields=fields) for chunk in chunks])
        # read returns empty rows for keys that do not exist; drop them.
        return [row for r in results for row in r.raise_for_status().data if row]

    # --- credit card transactions ---------------------------------------------------------------

    def find_cctransactions(
        self,
        card_id: str | None,
        start: date,
        end: date,
        reference_nos: Iterable[str] | None = None,
    ) -> list[dict]:
        """Credit card transactions on ``card_id`` (every card: None) dated ``start``..``end``
        (inclusive), optionally only those whose RECORDID is one of ``reference_nos``."""
        return find_cctransactions(self, card_id, start, end, reference_nos)

    def count_cctransactions(
        self, card_id: str, start: date, end: date, *, with_reference: bool = False
    ) -> int:
        """How many credit card transactions ``card_id`` holds dated ``start``..``end`` (only
        those with a reference number when ``with_reference``); one read."""
        return count_cctransactions(self, card_id, start, end, with_reference=with_reference)

    def iter_cctransactions(
        self,
        card_id: str,
        start: date,
        end: date,
        fields: Sequence[str] = CCTRANSACTION_FIELDS,
    ) -> Iterator[dict]:
        """Credit card transactions on ``card_id`` dated ``start``..``end`` (inclusive), streamed
        in pages of 2,000 (reconcile reads a window without holding it)."""
        return iter_cctransactions(self, card_id, start, end, fields)

    def reverse_cctransaction(
        self,
        record_no: str | int,
        date_reversed: date,
        memo: str | None = None,
        *,
        control_id: str | None = None,
    ) -> str:
        """Reverse a credit card transaction; return the key Intacct gives back (``control_id``:
        sent with ``uniqueid=true``, so Intacct refuses a second reversal with it)."""
        return reverse_cctransaction(
            self, record_no, date_reversed, memo=memo, control_id=control_id
        )

    def create_supdoc(self, doc: SupportingDocument, *, exist_ok: bool = False) -> str:
        """Create a supporting document with its attachments; return its ID (``exist_ok``: a
        document with the same ID already there counts as created)."""
        return create_supdoc(self, doc, exist_ok=exist_ok)

    def link_supdoc(self, record_no: str | int, supdoc_id: str) -> None:
        """Attach supporting document ``supdoc_id`` to credit card transaction ``record_no``."""
        link_supdoc(self, record_no, supdoc_id)

    def record_cctransactions(
        self,
        txns: Sequence[CCTransaction],
        *,
        batch_size: int | None = None,
        transaction: bool = False,
        check_first: bool = False,
    ) -> list[RecordOutcome]:
        """Post credit card transactions exactly once; one outcome per transaction, in order
        (:class:`~intacct_hook.intacct.writer.CCTransactionWriter`).

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
        return CCTransactionWriter(self, log=self.log).record(
            txns,
            batch_size=batch_size or self.batch_size,
            transaction=transaction,
            check_first=check_first,
        )

    # --- setup objects (records and their reading: intacct.setup) ---------------------------

    def get_gl_accounts(self, account_nos: Iterable[str] | None = None) -> list[setup.GLAccount]:
        """GL accounts (all, or only ``account_nos``)."""
        return setup.read_gl_accounts(self, account_nos)

    def get_credit_card(self, card_id: str) -> setup.CreditCard | None:
        """The CREDITCARD ``card_id`` or None."""
        return setup.read_credit_card(self, card_id)

    def get_locations(self) -> list[setup.DimensionValue]:
        return setup.read_dimension(self, "LOCATION")

    def get_departments(self) -> list[setup.DimensionValue]:
        return setup.read_dimension(self, "DEPARTMENT")

    def get_classes(self) -> list[setup.DimensionValue]:
        return setup.read_dimension(self, "CLASS")

    def get_projects(self) -> list[setup.DimensionValue]:
        return setup.read_dimension(self, "PROJECT")

    def get_entities(self) -> list[setup.Entity]:
        return setup.read_entities(self)

    def get_books_closed_through(self) -> date | None:
        """The last closed day, or None when Intacct cannot tell (object unknown, no rows)."""
        return setup.read_books_closed_through(self)

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
        """What failed, with the connection's facts, then the error's own fix."""
        p = self.conn_params
        # Not naming the connection ID: the UI's Test button checks a form under a made-up one.
        fix = exc.fix(sender_id=p.sender_id)
        if isinstance(exc, IntacctSenderNotAuthorized):
            return (
                f"The sender ID '{p.sender_id}' is not authorized for company "
                f"'{p.company_id}'. {fix}"
            )
        if isinstance(exc, IntacctSenderCredentialsError):
            return f"Intacct rejected the sender ID '{p.sender_id}' or its password. {fix}"
        if isinstance(exc, IntacctSignInError):
            if p.entity_id and exc.says(ENTITY_REJECTED):
                if self._entity_override:
                    # Set by the settings' account, not by this (maybe shared) connection.
                    return (
                        f"The entity ID '{p.entity_id}' of the settings' Divvy account (its "
                        "entity_id, used instead of this connection's extra) is not valid. In "
                        "Intacct, Company > Entities: copy the Entity ID into that account's "
                        "entity_id in the settings Variable."
                    )
                return f"The entity ID '{p.entity_id}' is not valid. {fix}"
            return (
                f"Sign-in failed for Web Services user '{p.user_id}' at company "
                f"'{p.company_id}'. {fix}"
            )
        if isinstance(exc, IntacctPermissionError):
            return (
                f"The Web Services user '{p.user_id}' lacks a permission. {fix} Intacct said: "
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


def _describe(exc: BaseException | None) -> str:
    # The class only: the message may quote Intacct's text, which the log does not need.
    return f" ({type(exc).__name__})"
