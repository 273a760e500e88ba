"""The one parser of Intacct responses.

``parse_response`` raises a typed error when the request as a whole failed (control or
authentication level) and otherwise returns every function result, each with its own status and
typed error. It is deliberately tolerant where real responses are known to be incomplete:
failure responses that leave out control children (intacct-sdk-net #215, js #13) and results
that lack ``<status>`` (js #70) are parsed, not rejected.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote

from lxml import etree

from intacct_hook.intacct.errors import (
    AUTHENTICATION,
    CONTROL,
    FUNCTION,
    GATEWAY,
    ErrorDetail,
    IntacctError,
    IntacctResponseError,
    IntacctResponseTooDeep,
    IntacctResultIncomplete,
    error_for,
)
from intacct_hook.intacct.values import coerce
from intacct_hook.masking import redactor

# Responses come from the network: no DTD is loaded, no entity resolved, nothing fetched, and
# libxml2's own limits stay on (no huge_tree: it lifts the depth and text-size caps).
_PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    dtd_validation=False,
    huge_tree=False,
    remove_blank_text=True,
)
# Real responses nest about eight deep (response/operation/result/data/OBJECT/field...); the
# data conversion recurses per level, so a hostile depth must stop at the parser.
MAX_DEPTH = 64
_DEEPER_THAN_MAX = "boolean(" + "/*" * (MAX_DEPTH + 1) + ")"  # evaluated in C, no recursion


@dataclass
class FunctionResult:
    """One ``<result>``: status ``success``/``failure``/``aborted``, or ``unknown`` when the
    result had no status or never came back."""

    control_id: str | None
    function: str | None
    status: str
    key: str | None = None
    data: list[dict] = field(default_factory=list, repr=False)
    attributes: dict[str, str] = field(default_factory=dict)
    error: IntacctError | None = None

    @property
    def ok(self) -> bool:
        return self.status == "success"

    @property
    def result_id(self) -> str | None:
        return self.attributes.get("resultId") or None

    @property
    def num_remaining(self) -> int:
        return _int(self.attributes.get("numremaining"))

    @property
    def total_count(self) -> int:
        return _int(self.attributes.get("totalcount"))

    @property
    def count(self) -> int:
        return _int(self.attributes.get("count"), default=len(self.data))

    def raise_for_status(self) -> FunctionResult:
        """Raise the typed error unless the function succeeded; return self otherwise."""
        if self.ok:
            return self
        raise self.error or IntacctResultIncomplete(
            f"result status {self.status!r}", control_id=self.control_id
        )


@dataclass
class Response:
    """A parsed response whose control and authentication blocks succeeded."""

    control_id: str | None
    unique_id: str | None
    results: list[FunctionResult]
    authentication: dict[str, str] = field(default_factory=dict)

    def by_control_id(self) -> dict[str, FunctionResult]:
        return {r.control_id: r for r in self.results if r.control_id is not None}


def _int(text: str | None, default: int = 0) -> int:
    try:
        return int(text) if text not in (None, "") else default
    except ValueError:
        return default


def _text(el: etree._Element | None, tag: str) -> str | None:
    if el is None:
        return None
    child = el.find(tag)
    if child is None:
        return None
    return (child.text or "").strip()


def parse_errors(
    container: etree._Element | None, *, secrets: Iterable[str | None] = ()
) -> list[ErrorDetail]:
    """Every ``error`` under ``container`` (an ``errormessage`` or a parent of one)."""
    if container is None:
        return []
    redact = redactor(secrets)
    errors = (
        container.findall("error")
        if container.tag == "errormessage"
        else container.findall(".//errormessage/error")
    )
    if not errors and container.tag != "errormessage":
        errors = container.findall(".//error")
    details = []
    for err in errors:

        def field_(tag: str, err: etree._Element = err) -> str:
            # Support IDs sometimes arrive URL-encoded (%7E for ~); decode for readability.
            # Masked before decoding too: decoding changes a secret that contains "%41".
            return redact(unquote(redact(_text(err, tag) or "")))

        details.append(
            ErrorDetail(
                field_("errorno"),
                field_("description"),
                field_("description2"),
                field_("correction"),
            )
        )
    return details


def element_to_value(el: etree._Element) -> object:
    """A data element to plain Python: leaves through ``values.coerce``, repeated children
    as lists, nested elements as dicts."""
    if len(el) == 0:
        return coerce(el.tag, el.text)
    return row_to_dict(el)


def row_to_dict(row: etree._Element) -> dict:
    """One data row (``<GLACCOUNT>...</GLACCOUNT>``) to a dict of plain values."""
    grouped: dict[str, list] = {}
    for child in row:
        if isinstance(child.tag, str):  # skip comments and processing instructions
            grouped.setdefault(child.tag, []).append(element_to_value(child))
    return {tag: values[0] if len(values) == 1 else values for tag, values in grouped.items()}


def load_xml(body: bytes, *, http_status: int | None = None) -> etree._Element:
    """Parse a body as XML or raise ``IntacctResponseError`` (HTML error pages, truncation).

    :raises IntacctResponseTooDeep: elements nested deeper than ``MAX_DEPTH``.
    """
    try:
        root = etree.fromstring(body, _PARSER)
    except etree.XMLSyntaxError as exc:
        code = exc.code  # type: ignore[attr-defined]  # lxml-stubs 0.5.1 leave out ParseError.code
        if code == etree.ErrorTypes.ERR_RESOURCE_LIMIT and "depth" in str(exc).lower():
            raise _too_deep(http_status) from None
        raise IntacctResponseError(
            "the gateway answered with a body that is not XML", http_status=http_status
        ) from None
    except ValueError:
        raise IntacctResponseError(
            "the gateway answered with a body that is not XML", http_status=http_status
        ) from None
    if root is None:
        raise IntacctResponseError("empty response body", http_status=http_status)
    if root.xpath(_DEEPER_THAN_MAX):
        raise _too_deep(http_status)
    return root


def _too_deep(http_status: int | None) -> IntacctResponseTooDeep:
    return IntacctResponseTooDeep(
        f"the answer is nested deeper than {MAX_DEPTH} levels", http_status=http_status
    )


def gateway_errors(body: bytes, *, secrets: Iterable[str | None] = ()) -> list[ErrorDetail]:
    """Errors in a non-200 body, if it is readable XML at all (429 GW-0010, 400 GW-0011...)."""
    try:
        root = load_xml(body)
    except IntacctError:
        return []
    return parse_errors(root, secrets=secrets)


def parse_result(
    el: etree._Element,
    *,
    secrets: Iterable[str | None] = (),
    records: Mapping[str, str] | None = None,
) -> FunctionResult:
    """One ``<result>`` element."""
    # One pass over the children: a find() per field cost more than the rest of the result.
    texts: dict[str, str] = {}
    data_el = errors_el = None
    for child in el:
        tag = child.tag
        if tag == "data":
            data_el = data_el if data_el is not None else child
        elif tag == "errormessage":
            errors_el = errors_el if errors_el is not None else child
        elif isinstance(tag, str) and tag not in texts:
            texts[tag] = (child.text or "").strip()
    control_id = texts.get("controlid")
    function = texts.get("function")
    status = (texts.get("status") or "").lower() or "unknown"
    record = (records or {}).get(control_id or "")
    rows: list[dict] = []
    attributes: dict[str, str] = {}
    if data_el is not None:
        attributes = {str(k): str(v) for k, v in data_el.attrib.items()}
        rows = [
            row_to_dict(r) if len(r) else {r.tag: coerce(r.tag, r.text)}
            for r in data_el
            if isinstance(r.tag, str)
        ]
    error: IntacctError | None = None
    if status != "success":
        details = parse_errors(errors_el, secrets=secrets)
        if status == "unknown":
            error = IntacctResultIncomplete(
                "the result came back without a status",
                errors=details,
                control_id=control_id,
                record=record,
            )
        else:
            error = error_for(
                FUNCTION, details, status=status, control_id=control_id, record=record
            )
    return FunctionResult(
        control_id=control_id,
        function=function,
        status=status,
        key=texts.get("key") or None,
        data=rows,
        attributes=attributes,
        error=error,
    )


def parse_response(
    body: bytes,
    *,
    http_status: int | None = None,
    secrets: Iterable[str | None] = (),
    records: Mapping[str, str] | None = None,
) -> Response:
    """Parse a whole response.

    :param secrets: strings to blank out of every error text (passwords, session ID).
    :param records: function control ID → business key, to name the record in errors.
    :raises IntacctControlError: (or a subclass) when ``control/status`` is failure.
    :raises IntacctAuthenticationError: (or a subclass) when authentication failed.
    :raises IntacctResponseError: when the body is not an Intacct response.
    """
    secrets = tuple(secrets)
    root = load_xml(body, http_status=http_status)
    if root.tag != "response":
        # Some gateway-level failures come as a bare <errormessage> or <error> document.
        details = parse_errors(root, secrets=secrets)
        if details:
            raise error_for(GATEWAY, details, http_status=http_status)
        raise IntacctResponseError(f"unexpected root element <{root.tag}>", http_status=http_status)
    control = root.find("control")
    control_status = (_text(control, "status") or "").lower()
    control_id = _text(control, "controlid")
    if control is None or control_status != "success":
        details = parse_errors(root.find("errormessage"), secrets=secrets)
        if control is None and not details:
            raise IntacctResponseError("the response has no control block", http_status=http_status)
        raise error_for(CONTROL, details, control_id=control_id, http_status=http_status)
    operation = root.find("operation")
    if operation is None:
        details = parse_errors(root.find("errormessage"), secrets=secrets)
        if details:
            raise error_for(CONTROL, details, control_id=control_id, http_status=http_status)
        raise IntacctResponseError("the response has no operation block", http_status=http_status)
    auth = operation.find("authentication")
    if auth is None or (_text(auth, "status") or "").lower() != "success":
        details = parse_errors(operation.find("errormessage"), secrets=secrets)
        raise error_for(AUTHENTICATION, details, control_id=control_id, http_status=http_status)
    auth_info = {child.tag: (child.text or "") for child in auth if isinstance(child.tag, str)}
    results = [
        parse_result(r, secrets=secrets, records=records) for r in operation.findall("result")
    ]
    return Response(
        control_id=control_id,
        unique_id=_text(control, "uniqueid"),
        results=results,
        authentication=auth_info,
    )
