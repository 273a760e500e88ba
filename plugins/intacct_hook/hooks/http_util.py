"""The transport toolkit both hooks use: connection settings, the retry policy and its log
line, ``Retry-After``, the session (User-Agent, no redirects), bounded responses, secret
registration.

What differs between the APIs stays in each hook: which failures are retryable, and how an
answer maps to that API's errors (for an Intacct write, to an ambiguous outcome).
"""

from __future__ import annotations

import contextlib
import email.utils
import heapq
import ipaddress
import json
import math
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

import requests
import tenacity
import urllib3.exceptions

from intacct_hook import __version__

if TYPE_CHECKING:
    from requests.sessions import _Settings
from intacct_hook.logs import WarningLog
from intacct_hook.masking import secret_forms

MB = 1024 * 1024
USER_AGENT = f"divvy-intacct-airflow/{__version__}"

# The retry policy of both hooks. Five attempts with exponential backoff (1, 2, 4, 8 s plus up
# to 1 s of jitter, at most 30 s) ride out a short outage; a longer one is the task's own retry
# (with Airflow's retry delay), which does not hold a worker slot while it waits.
DEFAULT_ATTEMPTS = 5
# A server-requested wait is honoured up to two minutes: Divvy's rate-limit window is one
# minute, and a longer ask is better left to the task's retry than slept through.
DEFAULT_MAX_RETRY_AFTER = 120.0
# Error pages (4xx/5xx) are read only this far: their status decides, their text only explains.
ERROR_BODY_BYTES = 64 * 1024
_READ_CHUNK = 64 * 1024

# Plain http is refused except towards this machine, where the local sandboxes listen.
_LOOPBACK_NAMES = frozenset({"localhost"})


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date (RFC 9110).

    ``None`` when absent or unreadable, so the caller falls back to its own backoff. ``now``
    (default: the current time) is what an HTTP date is measured from.
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
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def connection_extras(conn: Any, conn_id: str) -> dict[str, Any]:
    """The connection's extras as a dict, parsed here rather than with ``extra_dejson``.

    ``extra_dejson`` hands every extra to Airflow's secrets masker, and a short non-secret
    one (an entity ID such as ``E100``) then logs "Skipping masking for a secret as it's too
    short". The hooks register their secrets themselves, in every form
    (:func:`register_secrets`).
    """
    raw = conn.extra
    if not raw:
        return {}
    if isinstance(raw, Mapping):
        return dict(raw)
    try:
        value = json.loads(raw)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise ValueError(
            f"Connection {conn_id!r}: its extra is not a JSON object. Fix: write the extras as "
            'JSON, e.g. {"timeout": 60}.'
        )
    return value


def register_secrets(*secrets: str | None) -> None:
    """Register each secret, in every form a server or library may print it, with Airflow's
    log masker (task logs)."""
    try:
        from airflow.sdk.log import mask_secret
    except ImportError:  # older SDKs: masking is then the connection's job alone
        return
    for secret in secrets:
        for form in secret_forms(secret or ""):
            mask_secret(form)


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


def argument_or_extra(
    argument: float | None,
    extras: Mapping[str, Any],
    name: str,
    *,
    conn_id: str,
    default: float,
) -> float:
    """A hook argument, else the extra of the same name, else ``default``; validated with
    :func:`positive_number` either way."""
    if argument is not None:
        return positive_number(
            argument, conn_id=conn_id, name=name, default=default, what="argument"
        )
    return positive_number(extras.get(name), conn_id=conn_id, name=name, default=default)


def field_text(value: object) -> str:
    """A connection field as text without surrounding whitespace ("" when empty).

    A pasted password or token often brings a line break along: the server would refuse it,
    and in a header requests raises an error that quotes it.
    """
    return str(value).strip() if value not in (None, "") else ""


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


def internal_address_problem(host: str, port: int, *, allow_loopback: bool) -> str | None:
    """Why ``host`` must not be fetched from on behalf of data we were sent, or None.

    ``host`` is judged by every address it resolves to: private, loopback (unless
    ``allow_loopback``), link-local, multicast, reserved or unspecified addresses are refused,
    so a URL from the data cannot reach this network's own services (cloud metadata, admin
    pages). The check is made before the request; a name whose DNS answer changes in between
    (rebinding) is not caught.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return f"its host {host} could not be resolved"
    for info in infos:
        text = str(info[4][0]).split("%", 1)[0]  # an IPv6 scope ("fe80::1%eth0")
        address = ipaddress.ip_address(text)
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        if address.is_loopback:
            if allow_loopback:
                continue
            return (
                f"its host {host} is a loopback address ({address}); allowed only when the "
                "connection's receipts_allow_loopback extra is true (local sandboxes)"
            )
        for kind, hit in (
            ("link-local", address.is_link_local),
            ("multicast", address.is_multicast),
            ("reserved", address.is_reserved or address.is_unspecified),
            ("private", address.is_private),
        ):
            if hit:
                return f"its host {host} is a {kind} address ({address})"
        if not address.is_global:  # e.g. shared (carrier-grade NAT) space, 100.64.0.0/10
            return f"its host {host} is not a public address ({address})"
    return None


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

    def merge_environment_settings(
        self, url: str | bytes | None, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> _Settings:
        """requests' own, remembered per host for the session's life: it reads every
        environment variable on each request (proxies, CA bundle), about a fifth of a Divvy
        call's CPU. A proxy set in the environment after a session's first request to a host is
        not seen by that session (a hook's session lives for one task)."""
        if proxies or stream is not True or verify is not None or cert is not None:
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        text = url.decode() if isinstance(url, bytes) else (url or "")
        parts = urlsplit(text)
        host = f"{parts.scheme}://{parts.netloc}"
        cache: dict[str, _Settings] = self.__dict__.setdefault("_environment_by_host", {})
        if host not in cache:
            cache[host] = super().merge_environment_settings(url, proxies, stream, verify, cert)
        # A copy: requests hands the dict's values to the adapter, and callers must not share it.
        settings = cache[host].copy()
        settings["proxies"] = dict(settings["proxies"])
        return settings

    def prepare_request(self, request: requests.Request) -> requests.PreparedRequest:
        """requests' own, with what does not depend on the body made once per method, URL,
        session headers and ``trust_env``: a request that is a body of bytes and nothing else
        (the Intacct hook's POSTs) is a copy of that, given its body. requests merges the
        session's headers, hooks and cookies, parses the URL and looks up ``.netrc`` on every
        request, a quarter of an Intacct POST's CPU (issue 10).

        Only while the session's cookie jar is empty: once a server has set a cookie, every
        request is prepared by requests itself, which picks the cookies to send. A ``.netrc``
        changed during a session's life is not seen, as with the environment above.
        """
        if not (_body_only(request) and self._template_able()):
            return super().prepare_request(request)
        key = (request.method, request.url, tuple(self.headers.items()), self.trust_env)
        cache: dict[tuple[Any, ...], requests.PreparedRequest] = self.__dict__.setdefault(
            "_prepared_by_target", {}
        )
        template = cache.get(key)
        if template is None:
            template = super().prepare_request(requests.Request(request.method, request.url))
            cache[key] = template
        prepared = template.copy()
        prepared.prepare_body(request.data, None)
        return prepared

    def _template_able(self) -> bool:
        # The session adds nothing per request beyond its headers (which are in the key).
        return (
            not self.cookies
            and not self.params
            and self.auth is None
            and not any(self.hooks.values())
        )


def _body_only(request: requests.Request) -> bool:
    """True for a request that carries only a method, a URL and a body of bytes."""
    return (
        isinstance(request.data, bytes)
        and not request.headers
        and not request.files
        and request.json is None
        and not request.params
        and request.auth is None
        and not request.cookies
        and not any(request.hooks.values())
    )


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


def limit_extras(
    extras: Mapping[str, Any], *, conn_id: str, timeout: float, default_mb: float
) -> tuple[float, int]:
    """``(max_request_seconds, max_response_bytes)`` from the extras of the same names.

    ``max_request_seconds`` defaults to twice ``timeout``: a per-read timeout alone lets a
    server that trickles bytes hold a request for ever. ``max_response_mb`` defaults to
    ``default_mb``.
    """
    seconds = positive_number(
        extras.get("max_request_seconds"),
        conn_id=conn_id,
        name="max_request_seconds",
        default=2 * timeout,
        example="120",
    )
    megabytes = positive_number(
        extras.get("max_response_mb"),
        conn_id=conn_id,
        name="max_response_mb",
        default=default_mb,
        unit="megabytes",
        example=f"{default_mb:g}",
    )
    return seconds, int(megabytes * MB)


@dataclass(frozen=True)
class Limits:
    """How long one request may wait per read and in all, and how much it may return."""

    timeout: float
    max_request_seconds: float
    max_response_bytes: int

    @property
    def requests_timeout(self) -> tuple[float, float]:
        """requests' ``(connect, read)`` timeout: no single read outlasts the whole request."""
        return self.timeout, min(self.timeout, self.max_request_seconds)

    def deadline(self) -> float:
        """The ``time.monotonic()`` by which a request started now must be fully read."""
        return time.monotonic() + self.max_request_seconds


class BodyError(Exception):
    """The body could not be read whole within the limits; each hook maps it to its API's
    error family (and, for an Intacct write, to an ambiguous outcome)."""


class BodyTooLarge(BodyError):
    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        super().__init__(f"the answer is larger than max_response_mb = {max_bytes / MB:g} MB")


class BodyTooSlow(BodyError):
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        super().__init__(f"the answer took longer than max_request_seconds = {seconds:g} s")


class BodyCut(BodyError):
    """The connection dropped, a read timed out or the content encoding broke mid-body."""


def read_body(
    response: requests.Response,
    limits: Limits,
    *,
    deadline: float,
    truncate_at: int | None = None,
) -> bytes:
    """The body of a ``stream=True`` response, read within ``limits``.

    Reads return as soon as any bytes arrive (``read1``), each waits at most until
    ``deadline`` (from :meth:`Limits.deadline`, taken before the request was sent), and at the
    deadline the socket is shut down, which ends a read still in progress (a chunk header or
    compressed data trickled a byte at a time is read within one call). Sizes count decoded
    bytes, so a small gzip body cannot expand without bound.

    :param truncate_at: return at most this many bytes instead of raising ``BodyTooLarge``
        (for error pages, whose status matters more than their text).
    :raises BodyTooLarge, BodyTooSlow, BodyCut: the response is then closed, never reused.
    """
    max_bytes = limits.max_response_bytes if truncate_at is None else truncate_at
    declared = response.headers.get("Content-Length", "")
    if truncate_at is None and declared.isdigit() and int(declared) > max_bytes:
        response.close()
        raise BodyTooLarge(max_bytes)
    raw = response.raw
    connection = getattr(raw, "connection", None)
    sock = getattr(connection, "sock", None)
    expired = threading.Event()
    watchdog = _Watchdog(sock, deadline, expired) if sock is not None else None
    chunks: list[bytes] = []
    size = 0
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or expired.is_set():
                raise BodyTooSlow(limits.max_request_seconds)
            if sock is not None:
                # urllib3 sets the socket's timeout afresh before the next request on it.
                sock.settimeout(min(limits.timeout, remaining))
            try:
                chunk = raw.read1(_READ_CHUNK, decode_content=True)
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                if expired.is_set() or time.monotonic() >= deadline:
                    raise BodyTooSlow(limits.max_request_seconds) from None
                raise BodyCut(f"the answer was cut off ({type(exc).__name__})") from None
            if not chunk:
                if expired.is_set():  # the end may be the watchdog's shutdown, not the body's
                    raise BodyTooSlow(limits.max_request_seconds)
                break
            size += len(chunk)
            if size > max_bytes:
                if truncate_at is None:
                    raise BodyTooLarge(max_bytes)
                chunks.append(chunk[: len(chunk) - (size - max_bytes)])
                response.close()  # the rest is unread: the connection cannot be reused
                return b"".join(chunks)
            chunks.append(chunk)
    except BodyError:
        response.close()
        raise
    finally:
        fired = watchdog is not None and watchdog.cancel()
    if fired:
        # The deadline came after the last read: the body is whole but the socket is shut down.
        # urllib3 may already have put the connection back in the pool when the body ended, so
        # close that connection itself: the pool then opens a new one for the next request.
        response.close()
        if connection is not None:
            connection.close()
    else:
        raw.release_conn()
    return b"".join(chunks)


class _Watchdog:
    """Shut a socket down at a deadline: the one way to end a blocking read in progress (a
    socket timeout applies to each receive, not to a whole read).

    Every watchdog of the process is kept by one timer thread (:class:`_Deadlines`): a thread
    started per request cost more CPU than the rest of the request's own work.

    :meth:`fire` (timer thread) and :meth:`cancel` (reading thread) exclude each other: a fire
    that comes after the cancel does nothing, because by then the connection may be back in the
    pool and carrying the next request; a cancel after a fire says so, and the reader then
    closes the connection instead of releasing it.
    """

    def __init__(self, sock: socket.socket, deadline: float, expired: threading.Event) -> None:
        self._sock = sock
        self._expired = expired
        self._lock = threading.Lock()
        self._fired = False
        self._stopped = False  # cancelled by the reader: never fire
        self.cancelled = False  # off the timer's heap (fired or cancelled); under its lock
        _DEADLINES.add(deadline, self)

    def fire(self) -> None:
        with self._lock:
            if self._stopped:
                return
            self._fired = True
            self._expired.set()
            # The base class method: an SSL socket's own would also drop its TLS state under
            # the reading thread's feet. Inside the lock, so cancel returns only after it.
            with contextlib.suppress(OSError):
                socket.socket.shutdown(self._sock, socket.SHUT_RDWR)

    def cancel(self) -> bool:
        """Stop the watchdog; true when it had already fired (the socket is shut down)."""
        with self._lock:
            self._stopped = True
            fired = self._fired
        _DEADLINES.cancel(self)
        return fired


class _Deadlines:
    """One daemon thread firing the watchdogs whose deadline (``time.monotonic()``) has come,
    in deadline order; started on first use."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, _Watchdog]] = []
        self._count = 0
        self._thread: threading.Thread | None = None

    def add(self, deadline: float, watchdog: _Watchdog) -> None:
        with self._cond:
            self._count += 1
            heapq.heappush(self._heap, (deadline, self._count, watchdog))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="http-deadlines", daemon=True
                )
                self._thread.start()
            elif self._heap[0][2] is watchdog:
                self._cond.notify()  # earlier than what the thread waits for

    def cancel(self, watchdog: _Watchdog) -> None:
        with self._cond:
            # Left in the heap (removing costs a scan); the thread drops it when it comes up.
            watchdog.cancelled = True
            while self._heap and self._heap[0][2].cancelled:
                heapq.heappop(self._heap)

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._heap and self._heap[0][2].cancelled:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._cond.wait()
                    continue
                wait = self._heap[0][0] - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                due = heapq.heappop(self._heap)[2]
                due.cancelled = True
            due.fire()


_DEADLINES = _Deadlines()


# --- retries ----------------------------------------------------------------------------------


def default_backoff() -> tenacity.wait.wait_base:
    """Exponential backoff with jitter: 1, 2, 4 … s (+ up to 1 s), at most 30 s."""
    return tenacity.wait_exponential_jitter(initial=1, max=30)


class RetryAfterWait(tenacity.wait.wait_base):
    """Wait what the server's ``Retry-After`` asked (the error's ``retry_after``), at most
    ``max_wait`` seconds; without one, wait what ``fallback`` says."""

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


def retrying(
    retry_args: Mapping[str, Any],
    *,
    retryable: Callable[[BaseException], bool],
    max_retry_after: float,
    before_sleep: Callable[[tenacity.RetryCallState], None],
) -> tenacity.Retrying:
    """The retry policy: ``retry_args`` (tenacity ``Retrying`` arguments) merged over the
    defaults (:data:`DEFAULT_ATTEMPTS`, :func:`default_backoff`, retry when ``retryable``,
    log with ``before_sleep``). A ``wait`` given is the backoff used when the server names
    no wait: ``Retry-After`` is always honoured, up to ``max_retry_after`` seconds.
    """
    args: dict[str, Any] = {
        "stop": tenacity.stop_after_attempt(DEFAULT_ATTEMPTS),
        "wait": default_backoff(),
        "retry": tenacity.retry_if_exception(retryable),
        "before_sleep": before_sleep,
        "reraise": True,
    }
    args.update(retry_args)
    args["wait"] = RetryAfterWait(args["wait"] or tenacity.wait_none(), max_retry_after)
    return tenacity.Retrying(**args)


def retry_logger(
    log: WarningLog, api: str, describe: Callable[[BaseException | None], str]
) -> Callable[[tenacity.RetryCallState], None]:
    """The ``before_sleep`` of :func:`retrying`: one warning per wait, saying how long, why
    (``Retry-After`` or backoff) and which attempt comes next.

    :param describe: the failure for the line (``" on /path"``, ``" (IntacctServerError)"``);
        it must not carry a secret.
    """

    def log_retry(retry_state: tenacity.RetryCallState) -> None:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        wait = retry_state.next_action.sleep if retry_state.next_action else 0.0
        limited = getattr(exc, "http_status", None) == 429
        if getattr(exc, "retry_after", None) is not None:
            why = "Retry-After"
        else:
            why = "no Retry-After, backoff" if limited else "backoff"
        log.warning(
            "%s %s%s: waiting %.2f s (%s) before attempt %d",
            api,
            "rate limit (HTTP 429)" if limited else "request failed",
            describe(exc),
            wait,
            why,
            retry_state.attempt_number + 1,
        )

    return log_retry


# --- sending ----------------------------------------------------------------------------------


def http_session(headers: Mapping[str, str]) -> NoRedirectSession:
    """A session that never follows a redirect and sends only ``headers``, the User-Agent and
    ``Accept-Encoding`` (credentials are added per request, never kept on the session)."""
    session = NoRedirectSession()
    session.headers.clear()
    session.headers.update(
        {"User-Agent": USER_AGENT, "Accept-Encoding": "gzip, deflate", **headers}
    )
    return session


def open_stream(
    session: requests.Session, method: str, url: str, limits: Limits, **kwargs: Any
) -> requests.Response:
    """Send one request and return its answer unread (``stream=True``), for :func:`read_body`.

    Never follows a redirect; connect and each read wait at most ``limits.requests_timeout``.
    """
    return session.request(
        method,
        url,
        timeout=limits.requests_timeout,
        allow_redirects=False,
        stream=True,
        **kwargs,
    )


def read_error_body(response: requests.Response, limits: Limits, *, deadline: float) -> bytes:
    """The start of an error answer (4xx/5xx): its status decides, its text only explains, so
    an unreadable body is empty rather than an error of its own."""
    try:
        return read_body(response, limits, deadline=deadline, truncate_at=ERROR_BODY_BYTES)
    except BodyError:
        return b""


def never_sent(exc: requests.ConnectionError) -> bool:
    """True when the TCP connection was never established, so nothing reached the server."""
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
