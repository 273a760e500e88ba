"""The Intacct error taxonomy: one exception class per way a request can go wrong.

Intacct reports errors at three levels (control, authentication, function) inside an HTTP 200
body, and the gateway in front of it adds HTTP-level failures (429, 5xx, 524, timeouts). Callers
branch on the class, never on XML or on message text. Every exception carries the full error
list, the level, the control ID and the business key ("record") it concerns, and its ``str()``
says what to fix. Messages are built only from what Intacct returned (already redacted by the
parser) and from non-secret settings, so they never contain a password or a session ID.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Self

GATEWAY = "gateway"
CONTROL = "control"
AUTHENTICATION = "authentication"
FUNCTION = "function"

# Error numbers the hook branches on. Where the real number is unknown the emulator's choice is
# named as such (see docs/architecture.md); TEXT_MATCHES below backs them up for the real service.
SCHEMA_ERRORNO = "XL03000003"
CREDENTIALS_ERRORNO = "XL03000006"
ROLLED_BACK_ERRORNO = "XL03000009"
DUPLICATE_CONTROL_ID_ERRORNO = "XL03000004"  # emulator choice: the real number is unknown
PERMISSION_ERRORNO = "PL04000005"
BUSINESS_ERRORNO = "BL01001973"
RATE_LIMIT_ERRORNO = "GW-0010"
INVALID_REQUEST_ERRORNO = "GW-0011"
SIGN_IN_CONTROL_ERRORNOS = frozenset({"XMLGW_JPP0002", "UJPP0002"})
QUERY_ERRORNO = "DL02000001"  # emulator choice: query syntax, unknown object or field

# Intacct screens the fixes name.
WS_AUTHORIZATIONS_SCREEN = "Company > Setup > Company > Security > Web Services authorizations"
WS_USERS_SCREEN = "Company > Web Services Users"
ENTITIES_SCREEN = "Company > Entities"


# --- error texts ------------------------------------------------------------------------------
# The one place where Intacct's error texts are read. An error number alone does not always say
# what went wrong (XL03000006 is the answer to five different sign-in problems), and the real
# service's numbers for some cases are unknown. Each entry names the number it backs up; every
# other module asks ``IntacctError.says(meaning)``.

SIGN_IN_REJECTED = "sign-in rejected"
SENDER_REJECTED = "sender rejected"
SENDER_NOT_AUTHORIZED = "sender not authorized"
SESSION_INVALID = "session invalid"
ENTITY_REJECTED = "entity rejected"
NO_PERMISSION = "no permission"
ALREADY_PROCESSED = "already processed"
CLOSED_PERIOD = "closed period"
OBJECT_UNKNOWN = "object unknown"
SUPDOC_EXISTS = "supporting document exists"


@dataclass(frozen=True)
class TextMatch:
    """Lower-case phrases in Intacct's error texts that mean ``meaning``, backing up the error
    number ``errorno`` (at ``level``), which alone is ambiguous or not known for sure."""

    meaning: str
    errorno: str
    level: str
    phrases: tuple[str, ...]

    def found_in(self, text: str) -> bool:
        return any(phrase in text for phrase in self.phrases)


TEXT_MATCHES: dict[str, TextMatch] = {
    m.meaning: m
    for m in (
        TextMatch(SIGN_IN_REJECTED, "XMLGW_JPP0002", CONTROL, ("sign-in",)),
        TextMatch(SENDER_REJECTED, CREDENTIALS_ERRORNO, CONTROL, ("partner id", "sender")),
        TextMatch(
            SENDER_NOT_AUTHORIZED,
            CREDENTIALS_ERRORNO,
            AUTHENTICATION,
            ("web services authorization", "not authorized"),
        ),
        TextMatch(SESSION_INVALID, CREDENTIALS_ERRORNO, AUTHENTICATION, ("session",)),
        TextMatch(ENTITY_REJECTED, CREDENTIALS_ERRORNO, AUTHENTICATION, ("entity", "location")),
        TextMatch(NO_PERMISSION, PERMISSION_ERRORNO, FUNCTION, ("do not have permission",)),
        TextMatch(
            ALREADY_PROCESSED, DUPLICATE_CONTROL_ID_ERRORNO, FUNCTION, ("already been processed",)
        ),
        TextMatch(
            CLOSED_PERIOD, BUSINESS_ERRORNO, FUNCTION, ("closed period", "date must be on or after")
        ),
        # The real number and text of a duplicate supporting document ID are unknown: the
        # gateway's choice (its README) and the usual "already exists" wording.
        TextMatch(SUPDOC_EXISTS, BUSINESS_ERRORNO, FUNCTION, ("already exists",)),
        TextMatch(
            OBJECT_UNKNOWN,
            QUERY_ERRORNO,
            FUNCTION,
            (
                "object definition",
                "not found",
                "does not exist",
                "unknown object",
                "cannot be performed on objects",
            ),
        ),
    )
}


def _said(meaning: str, text: str) -> bool:
    return TEXT_MATCHES[meaning].found_in(text)


@dataclass(frozen=True)
class ErrorDetail:
    """One ``<error>`` element. Any field may be empty; Intacct lists specific errors first."""

    errorno: str = ""
    description: str = ""
    description2: str = ""
    correction: str = ""

    def text(self) -> str:
        """Description and description2 joined, without empty parts."""
        return " ".join(p for p in (self.description, self.description2) if p)


class IntacctError(Exception):
    """Base of every error the Intacct hook raises.

    :param message: a summary; defaults to the texts of ``errors``.
    :param errors: every ``<error>`` Intacct returned, most specific first.
    :param level: ``gateway``, ``control``, ``authentication`` or ``function``.
    :param control_id: the function (or request) control ID the error belongs to.
    :param record: the business key (e.g. a reference number) the error concerns.
    :param http_status: the HTTP status of the response, when known.
    """

    default_level = FUNCTION
    #: What the customer or operator should do about it; shown after "Fix:".
    hint = ""

    def __init__(
        self,
        message: str | None = None,
        *,
        errors: Sequence[ErrorDetail] = (),
        level: str | None = None,
        control_id: str | None = None,
        record: str | None = None,
        http_status: int | None = None,
    ) -> None:
        self.errors: tuple[ErrorDetail, ...] = tuple(errors)
        self.level = level or self.default_level
        self.control_id = control_id
        self.record = record
        self.http_status = http_status
        self._message = message
        super().__init__(self._render())

    # The first error is the most specific one; expose its fields like the SDKs do.
    @property
    def errorno(self) -> str:
        return self.errors[0].errorno if self.errors else ""

    @property
    def description(self) -> str:
        return self.errors[0].description if self.errors else ""

    @property
    def description2(self) -> str:
        return self.errors[0].description2 if self.errors else ""

    @property
    def correction(self) -> str:
        corrections = [e.correction for e in self.errors if e.correction]
        return corrections[0] if corrections else ""

    @property
    def errornos(self) -> tuple[str, ...]:
        return tuple(e.errorno for e in self.errors if e.errorno)

    def all_text(self) -> str:
        """Every description of every error, lower-cased, for classification."""
        parts = [e.text() for e in self.errors] + [self._message or ""]
        return " ".join(parts).lower()

    def says(self, meaning: str) -> bool:
        """Whether Intacct's texts say ``meaning`` (a key of :data:`TEXT_MATCHES`)."""
        return _said(meaning, self.all_text())

    @classmethod
    def fix_for(cls, *, conn_id: str | None = None, sender_id: str | None = None) -> str:
        """The class's :attr:`hint`, naming the connection or sender where it needs them."""
        return cls.hint

    def fix(self, *, conn_id: str | None = None, sender_id: str | None = None) -> str:
        """What to do about this error (see :meth:`fix_for`)."""
        return self.fix_for(conn_id=conn_id, sender_id=sender_id)

    def with_context(self, *, record: str | None = None, control_id: str | None = None) -> Self:
        """Return a copy that names the record (and control ID) it concerns."""
        return type(self)(
            self._message,
            errors=self.errors,
            level=self.level,
            control_id=control_id or self.control_id,
            record=record or self.record,
            http_status=self.http_status,
        )

    def _render(self) -> str:
        where = [f"Intacct {self.level} error"]
        if self.errornos:
            where.append(" ".join(dict.fromkeys(self.errornos)))
        if self.record:
            where.append(f"for record {self.record!r}")
        if self.control_id:
            where.append(f"(control ID {self.control_id})")
        texts = [self._message] if self._message else []
        texts += [e.text() for e in self.errors if e.text()]
        summary = " ".join(where)
        body = "; ".join(dict.fromkeys(texts)) or "no details returned"
        fix = self.correction or self.hint
        return f"{summary}: {body}" + (f" Fix: {fix}" if fix else "")

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only constructor: make the exception picklable (Airflow ships errors across
        # processes) by rebuilding it from its parts.
        return (
            _rebuild,
            (
                type(self),
                self._message,
                self.errors,
                self.level,
                self.control_id,
                self.record,
                self.http_status,
            ),
        )


def _connection(conn_id: str | None) -> str:
    return f"the Airflow connection '{conn_id}'" if conn_id else "the Airflow connection"


def _sender(sender_id: str | None) -> str:
    return f"the sender ID '{sender_id}'" if sender_id else "the sender ID"


def _rebuild(
    cls: type[IntacctError],
    message: str | None,
    errors: Sequence[ErrorDetail],
    level: str,
    control_id: str | None,
    record: str | None,
    http_status: int | None,
) -> IntacctError:
    return cls(
        message,
        errors=errors,
        level=level,
        control_id=control_id,
        record=record,
        http_status=http_status,
    )


# --- gateway / transport ----------------------------------------------------------------------


class IntacctGatewayError(IntacctError):
    """HTTP-level failure before Intacct produced a normal response."""

    default_level = GATEWAY


class IntacctInvalidRequest(IntacctGatewayError):
    """HTTP 400 / GW-0011: the gateway rejected the request (often an unknown company)."""

    hint = "Check the company ID and the gateway URL in the Airflow connection."


class IntacctRateLimited(IntacctGatewayError):
    """HTTP 429 / GW-0010. ``retry_after`` holds the Retry-After seconds when sent."""

    hint = "Intacct is throttling this company; the hook backs off and retries."

    retry_after: float | None = None


class IntacctServerError(IntacctGatewayError):
    """HTTP 5xx (or an unreadable body) where re-sending is safe."""

    hint = "Intacct or its CDN had a transient failure; the hook retries with backoff."


class IntacctConnectionError(IntacctGatewayError):
    """The gateway could not be reached, or a read lost its connection."""

    hint = "Check the gateway URL and network access to it."


class IntacctRedirectError(IntacctGatewayError):
    """The gateway answered with a redirect (3xx). The hook never follows one, nor retries.

    Every request carries credentials (the login both passwords, later requests the session
    ID), so following would hand them to whatever host the ``Location`` names. For a write
    the refusal does not prove that nothing was recorded (a 303 follows processing): the sync
    ledger keeps such a record "posting" and looks it up by reference number before sending it
    again.
    """

    hint = (
        "Check the gateway URL in the connection's host field; if the address the redirect "
        "names is the right gateway, put it there."
    )


class IntacctAmbiguousWrite(IntacctGatewayError):
    """A write was sent but its outcome is unknown (524, timeout, connection dropped)."""

    hint = (
        "The outcome is unknown; look the record up by its reference number before sending "
        "it again (record_cctransactions does this itself)."
    )


class IntacctResponseError(IntacctGatewayError):
    """The body is not an Intacct response (HTML error page, truncated XML, missing blocks)."""

    hint = "Check that the gateway URL points to Intacct's XML gateway."


class IntacctResponseTooLarge(IntacctResponseError):
    """The answer exceeds the connection's ``max_response_mb``; reading stopped there.

    Not retried: the same request would bring the same answer. (For a write the hook raises
    :class:`IntacctAmbiguousWrite` instead: the write may have been recorded.)
    """

    hint = (
        "Read fewer records per request (a smaller page size), or raise the connection's "
        "max_response_mb extra."
    )


class IntacctResponseTooDeep(IntacctResponseError):
    """The answer nests elements deeper than any Intacct response (or than the parser allows)."""


class IntacctResponseTooSlow(IntacctConnectionError):
    """The whole answer took longer than the connection's ``max_request_seconds``.

    A read timeout only bounds each read; a server trickling bytes is stopped by this. Retried
    like a timeout for reads. (For a write the hook raises :class:`IntacctAmbiguousWrite`.)
    """

    hint = (
        "Intacct or its CDN answered too slowly; the hook retries reads. If it persists, raise "
        "the connection's max_request_seconds extra."
    )


# --- control level ----------------------------------------------------------------------------


class IntacctControlError(IntacctError):
    """``control/status`` is failure: the request as a whole was refused."""

    default_level = CONTROL


class IntacctSchemaError(IntacctControlError):
    """XL03000003: the request failed Intacct's schema validation."""

    hint = "The request does not match Intacct's schema; this is a bug in the request builder."


class IntacctSenderCredentialsError(IntacctControlError):
    """Control-level XL03000006: the Web Services sender ID or sender password is wrong."""

    template = (
        "Check the extras 'sender_id' (normally bill.com, all lower case) and 'sender_password' "
        "of {conn}."
    )
    hint = template.format(conn=_connection(None))

    @classmethod
    def fix_for(cls, *, conn_id: str | None = None, sender_id: str | None = None) -> str:
        return cls.template.format(conn=_connection(conn_id))


# --- authentication level ---------------------------------------------------------------------


class IntacctAuthenticationError(IntacctError):
    """``operation/authentication/status`` is failure: no function was run."""

    default_level = AUTHENTICATION


class IntacctSenderNotAuthorized(IntacctAuthenticationError):
    """The sender ID is not in the company's Web Services authorizations."""

    template = f"In Intacct, {WS_AUTHORIZATIONS_SCREEN}: add {{sender}} exactly, all lower case."
    hint = template.format(sender=_sender(None))

    @classmethod
    def fix_for(cls, *, conn_id: str | None = None, sender_id: str | None = None) -> str:
        return cls.template.format(sender=_sender(sender_id))


class IntacctSignInError(IntacctAuthenticationError):
    """User ID, user password, company ID or entity ID rejected."""

    template = (
        f"In Intacct, {WS_USERS_SCREEN}: check the user ID and reset its password, then put "
        "both in {conn} (login and password); check its extra 'company_id' too."
    )
    entity_template = (
        f"In Intacct, {ENTITIES_SCREEN}: copy the Entity ID into the extra 'entity_id' of "
        "{conn} (leave it empty for a company without entities)."
    )
    hint = template.format(conn=_connection(None))

    @classmethod
    def fix_for(cls, *, conn_id: str | None = None, sender_id: str | None = None) -> str:
        return cls.template.format(conn=_connection(conn_id))

    @classmethod
    def entity_fix_for(cls, *, conn_id: str | None = None) -> str:
        """The fix when the entity ID was the rejected part."""
        return cls.entity_template.format(conn=_connection(conn_id))

    def fix(self, *, conn_id: str | None = None, sender_id: str | None = None) -> str:
        if self.says(ENTITY_REJECTED):
            return self.entity_fix_for(conn_id=conn_id)
        return self.fix_for(conn_id=conn_id)


class IntacctSessionExpired(IntacctAuthenticationError):
    """The API session is invalid or has timed out."""

    hint = "Sign in again (the hook does this once by itself)."


# --- function level ---------------------------------------------------------------------------


class IntacctFunctionError(IntacctError):
    """A single ``<function>`` failed; the other functions of the request are unaffected."""

    default_level = FUNCTION


class IntacctPermissionError(IntacctFunctionError):
    """PL04000005: the Web Services user lacks permission for the operation."""

    hint = (
        f"In Intacct, {WS_USERS_SCREEN} > the user > Roles tab: add the Administrator role (or "
        "another role with this permission)."
    )


class IntacctRecordError(IntacctFunctionError):
    """BL01001973 and other business-rule failures on a record (accounts, dimensions...)."""

    hint = "Correct the record's account, dimensions or card as the message says."


class IntacctClosedPeriod(IntacctRecordError):
    """The record's date is in a closed period."""

    hint = "Post into an open period, or ask the controller to reopen the period."


class IntacctTransactionAborted(IntacctFunctionError):
    """``aborted`` / XL03000009: rolled back because another function of the transaction failed.

    Nothing was written for this function; it can be sent again on its own.
    """

    hint = "Fix the function that failed in the same transaction, then send again."


class IntacctDuplicateControlId(IntacctFunctionError):
    """Under ``uniqueid=true`` the function control ID was already processed."""

    hint = "The record was probably posted before; look it up by its reference number."


class IntacctResultIncomplete(IntacctFunctionError):
    """A result came back without a status (seen on uniqueid duplicates, intacct-sdk-js #70),
    or no result came back for a function at all."""

    hint = "The outcome is unknown; look the record up before sending it again."


# --- classification ---------------------------------------------------------------------------


def error_for(
    level: str,
    errors: Iterable[ErrorDetail],
    *,
    status: str | None = None,
    control_id: str | None = None,
    record: str | None = None,
    http_status: int | None = None,
) -> IntacctError:
    """Build the most specific exception for an error list reported at ``level``.

    :param status: the function result status (``failure``/``aborted``) for function errors.
    """
    errors = tuple(errors)
    cls = _classify(level, errors, status)
    return cls(
        errors=errors, level=level, control_id=control_id, record=record, http_status=http_status
    )


def _classify(
    level: str, errors: tuple[ErrorDetail, ...], status: str | None
) -> type[IntacctError]:
    numbers = {e.errorno for e in errors}
    text = " ".join(e.text() for e in errors).lower()

    def said(meaning: str) -> bool:
        return _said(meaning, text)

    if level == GATEWAY:
        if RATE_LIMIT_ERRORNO in numbers:
            return IntacctRateLimited
        if INVALID_REQUEST_ERRORNO in numbers or "invalidrequest" in {n.lower() for n in numbers}:
            return IntacctInvalidRequest
        return IntacctGatewayError
    if level == CONTROL:
        if SCHEMA_ERRORNO in numbers:
            return IntacctSchemaError
        if numbers & SIGN_IN_CONTROL_ERRORNOS or said(SIGN_IN_REJECTED):
            return IntacctSignInError
        if said(SENDER_REJECTED):
            return IntacctSenderCredentialsError
        return IntacctControlError
    if level == AUTHENTICATION:
        if said(SENDER_NOT_AUTHORIZED):
            return IntacctSenderNotAuthorized
        if said(SESSION_INVALID):
            return IntacctSessionExpired
        return IntacctSignInError
    # Function level. The rollback marker XL03000009 accompanies the real cause on the failing
    # function, so the cause is classified first; only aborted results are "aborted".
    if status == "aborted":
        return IntacctTransactionAborted
    if PERMISSION_ERRORNO in numbers or said(NO_PERMISSION):
        return IntacctPermissionError
    if DUPLICATE_CONTROL_ID_ERRORNO in numbers or said(ALREADY_PROCESSED):
        return IntacctDuplicateControlId
    if said(CLOSED_PERIOD):
        return IntacctClosedPeriod
    if BUSINESS_ERRORNO in numbers:
        return IntacctRecordError
    if numbers == {ROLLED_BACK_ERRORNO}:
        return IntacctTransactionAborted
    return IntacctFunctionError
