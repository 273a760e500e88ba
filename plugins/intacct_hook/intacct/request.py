"""lxml builders for Intacct XML API requests.

Every builder emits its children in the order Intacct's schema (``api.xsd``, dtdversion 3.0)
declares, because the gateway rejects out-of-order elements with XL03000003. The envelope is
built from ``Function`` objects, so the same functions can be re-sent with fresh authentication
(after a session expires) without rebuilding them.
"""

from __future__ import annotations

import base64
import copy
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from lxml import etree

from intacct_hook.intacct.records import CCTransaction, SupportingDocument
from intacct_hook.intacct.text import FIELD_LIMITS, UnpostableRecord, clean_text, describe_illegal
from intacct_hook.intacct.values import format_value

DTD_VERSION = "3.0"
SESSION_CONTROL_ID = "sessionProvider"
READ_BY_QUERY_MAX_PAGE = 1000
QUERY_MAX_PAGE = 2000
MAX_IN_VALUES = 1000
MAX_READ_KEYS = 100

#: Functions that only read; everything else may change data and is treated as a write.
READ_FUNCTIONS = frozenset(
    {"getAPISession", "readByQuery", "readMore", "query", "read", "readByName", "inspect", "lookup"}
)


def new_control_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True)
class Function:
    """One ``<function controlid=...>`` with its operation element."""

    control_id: str
    element: etree._Element
    # The serialized <function>, made once: a request is the envelope around these bytes, so
    # building it neither copies the elements nor serializes them again (issue 10).
    _xml: bytes | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.control_id) > 256:
            raise ValueError("a function control ID is at most 256 characters")
        _check_text("controlid", self.control_id)

    def xml(self) -> bytes:
        """``<function controlid=...>`` with the operation, as UTF-8 bytes."""
        if self._xml is None:
            object.__setattr__(self, "_xml", self._serialize())
        assert self._xml is not None
        return self._xml

    def _serialize(self) -> bytes:
        if self.element.getparent() is not None or self.element.tail:
            return bytes(etree.tostring(self.to_element(), encoding="UTF-8"))
        # The element is lent to the wrapper for the one serialization and taken back, as it
        # was: deep-copying each record's elements cost a third of building them (issue 10).
        fn = etree.Element("function", controlid=self.control_id)
        fn.append(self.element)
        try:
            return bytes(etree.tostring(fn, encoding="UTF-8"))
        finally:
            fn.remove(self.element)

    @property
    def name(self) -> str:
        return self.element.tag

    @property
    def is_write(self) -> bool:
        return self.name not in READ_FUNCTIONS

    def to_element(self) -> etree._Element:
        fn = etree.Element("function", controlid=self.control_id)
        # Copy so a Function can be put into several requests (re-auth, re-send).
        fn.append(copy.deepcopy(self.element))
        return fn


def _check_text(tag: str, text: str) -> str:
    # Records clean their text on construction; this catches whatever arrives another way, with
    # the typed error (naming the element) instead of lxml's bare "All strings must be XML
    # compatible", which names nothing.
    problem = describe_illegal(text)
    if problem is not None:
        raise UnpostableRecord(tag, problem)
    return text


def _sub(parent: etree._Element, tag: str, text: object | None = None) -> etree._Element:
    el = etree.SubElement(parent, tag)
    if text is not None:
        el.text = _check_text(tag, format_value(text))
    return el


def _opt(parent: etree._Element, tag: str, text: object | None) -> None:
    if text is not None and text != "":
        _sub(parent, tag, text)


def _split_date(parent: etree._Element, tag: str, value: date) -> None:
    # Legacy functions take dates as year/month/day children, not MM/DD/YYYY.
    el = _sub(parent, tag)
    _sub(el, "year", f"{value.year:04d}")
    _sub(el, "month", f"{value.month:02d}")
    _sub(el, "day", f"{value.day:02d}")


# --- envelope -----------------------------------------------------------------------------------


def control_block(
    *,
    sender_id: str,
    sender_password: str,
    control_id: str | None = None,
    unique_id: bool = False,
) -> etree._Element:
    """``<control>``: senderid, password, controlid, uniqueid, dtdversion, includewhitespace."""
    control = etree.Element("control")
    _sub(control, "senderid", sender_id)
    _sub(control, "password", sender_password)
    _sub(control, "controlid", control_id or new_control_id())
    _sub(control, "uniqueid", bool(unique_id))
    _sub(control, "dtdversion", DTD_VERSION)
    _sub(control, "includewhitespace", False)
    return control


def login_auth(
    *, user_id: str, company_id: str, password: str, entity_id: str | None = None
) -> etree._Element:
    """``<authentication><login>``; ``entity_id`` goes into ``locationid`` (multi-entity)."""
    auth = etree.Element("authentication")
    login = _sub(auth, "login")
    _sub(login, "userid", user_id)
    _sub(login, "companyid", company_id)
    _sub(login, "password", password)
    _opt(login, "locationid", entity_id)
    return auth


def session_auth(session_id: str) -> etree._Element:
    """``<authentication><sessionid>``."""
    auth = etree.Element("authentication")
    _sub(auth, "sessionid", session_id)
    return auth


def build_request_element(
    *,
    control: etree._Element,
    auth: etree._Element,
    functions: Sequence[Function],
    transaction: bool = False,
) -> etree._Element:
    """The ``<request>`` element (see ``build_request`` for bytes)."""
    _check_functions(functions)
    request, content = _envelope(control, auth, transaction)
    for fn in functions:
        content.append(fn.to_element())
    return request


def build_request(
    *,
    control: etree._Element,
    auth: etree._Element,
    functions: Sequence[Function],
    transaction: bool = False,
) -> bytes:
    """Serialize a whole request as UTF-8 bytes with an XML declaration: the same bytes as
    serializing :func:`build_request_element`."""
    _check_functions(functions)
    request, content = _envelope(control, auth, transaction)
    # Each function's element is lent to the request for its one serialization and taken back
    # as it was, so the request is serialized once, with no copies (issue 10: a copy and a
    # serialization per function cost a third of building them). A Function is therefore not
    # to be serialized by two threads at once; an element that has a parent is copied.
    lent: list[tuple[etree._Element, etree._Element]] = []
    try:
        for fn in functions:
            if fn.element.getparent() is None and not fn.element.tail:
                wrapper = etree.SubElement(content, "function", controlid=fn.control_id)
                wrapper.append(fn.element)
                lent.append((wrapper, fn.element))
            else:
                content.append(fn.to_element())
        return bytes(etree.tostring(request, xml_declaration=True, encoding="UTF-8"))
    finally:
        for wrapper, element in lent:
            wrapper.remove(element)


def _check_functions(functions: Sequence[Function]) -> None:
    if not functions:
        raise ValueError("a request needs at least one function")
    ids = [f.control_id for f in functions]
    if len(set(ids)) != len(ids):
        # Results are matched by control ID, so duplicates would be ambiguous.
        raise ValueError("function control IDs must be unique within a request")


def _envelope(
    control: etree._Element, auth: etree._Element, transaction: bool
) -> tuple[etree._Element, etree._Element]:
    request = etree.Element("request")
    request.append(control)
    operation = _sub(request, "operation")
    operation.set("transaction", "true" if transaction else "false")
    operation.append(auth)
    return request, _sub(operation, "content")


# --- functions ----------------------------------------------------------------------------------


def get_api_session(*, control_id: str = SESSION_CONTROL_ID) -> Function:
    """``getAPISession``: the entity comes from the login's ``locationid``."""
    return Function(control_id, etree.Element("getAPISession"))


def _fields_text(fields: Iterable[str]) -> str:
    fields = list(fields)
    return ",".join(fields) if fields else "*"


def read_by_query(
    obj: str,
    query: str = "",
    *,
    fields: Iterable[str] = ("*",),
    page_size: int = READ_BY_QUERY_MAX_PAGE,
    control_id: str | None = None,
) -> Function:
    """``readByQuery``: ``query`` is Intacct's SQL-like filter; empty reads every record.

    Build literals with ``values.quote_literal`` (never by hand).
    """
    if not 1 <= page_size <= READ_BY_QUERY_MAX_PAGE:
        raise ValueError(f"readByQuery page size must be 1..{READ_BY_QUERY_MAX_PAGE}")
    el = etree.Element("readByQuery")
    _sub(el, "object", obj)
    _sub(el, "fields", _fields_text(fields))
    _sub(el, "query", query)
    _sub(el, "pagesize", page_size)
    return Function(control_id or new_control_id(), el)


def read_more(result_id: str, *, control_id: str | None = None) -> Function:
    """``readMore`` for the cursor ``result_id`` returned by readByQuery."""
    el = etree.Element("readMore")
    _sub(el, "resultId", result_id)
    return Function(control_id or new_control_id(), el)


def read(
    obj: str,
    keys: Iterable[str | int],
    *,
    fields: Iterable[str] = ("*",),
    control_id: str | None = None,
) -> Function:
    """``read`` by RECORDNO keys (at most 100)."""
    return _read("read", obj, keys, fields, control_id)


def read_by_name(
    obj: str,
    names: Iterable[str],
    *,
    fields: Iterable[str] = ("*",),
    control_id: str | None = None,
) -> Function:
    """``readByName`` by the object's ID field (ACCOUNTNO, CARDID...; at most 100)."""
    return _read("readByName", obj, names, fields, control_id)


def _read(
    tag: str,
    obj: str,
    keys: Iterable[str | int],
    fields: Iterable[str],
    control_id: str | None,
) -> Function:
    texts = [str(k) for k in keys]
    if not texts or len(texts) > MAX_READ_KEYS:
        raise ValueError(f"{tag} takes 1..{MAX_READ_KEYS} keys")
    if any("," in k for k in texts):
        raise ValueError(f"{tag} keys cannot contain commas")
    el = etree.Element(tag)
    _sub(el, "object", obj)
    _sub(el, "keys", ",".join(texts))
    _sub(el, "fields", _fields_text(fields))
    return Function(control_id or new_control_id(), el)


# --- query (2019+) and its filter tree --------------------------------------------------------


class Filter:
    """A node of a ``query`` filter. Build with the helper functions below."""

    def to_element(self) -> etree._Element:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass(frozen=True)
class Comparison(Filter):
    op: str
    field: str
    values: tuple[object, ...] = ()

    def to_element(self) -> etree._Element:
        el = etree.Element(self.op)
        _sub(el, "field", self.field)
        for value in self.values:
            _sub(el, "value", value)
        return el


@dataclass(frozen=True)
class Logical(Filter):
    op: str  # "and" | "or"
    children: tuple[Filter, ...]

    def to_element(self) -> etree._Element:
        el = etree.Element(self.op)
        for child in self.children:
            el.append(child.to_element())
        return el


def eq(field: str, value: object) -> Filter:
    return Comparison("equalto", field, (value,))


def ne(field: str, value: object) -> Filter:
    return Comparison("notequalto", field, (value,))


def lt(field: str, value: object) -> Filter:
    return Comparison("lessthan", field, (value,))


def le(field: str, value: object) -> Filter:
    return Comparison("lessthanorequalto", field, (value,))


def gt(field: str, value: object) -> Filter:
    return Comparison("greaterthan", field, (value,))


def ge(field: str, value: object) -> Filter:
    return Comparison("greaterthanorequalto", field, (value,))


def between(field: str, low: object, high: object) -> Filter:
    return Comparison("between", field, (low, high))


def _list(op: str, field: str, values: Iterable[object]) -> Filter:
    values = tuple(values)
    if not 1 <= len(values) <= MAX_IN_VALUES:
        # More than 1000 values is a schema error at Intacct (intacct-sdk-js #54).
        raise ValueError(f"{op} takes 1..{MAX_IN_VALUES} values; split the list")
    return Comparison(op, field, values)


def in_(field: str, values: Iterable[object]) -> Filter:
    return _list("in", field, values)


def not_in(field: str, values: Iterable[object]) -> Filter:
    return _list("notin", field, values)


def like(field: str, pattern: str) -> Filter:
    return Comparison("like", field, (pattern,))


def not_like(field: str, pattern: str) -> Filter:
    return Comparison("notlike", field, (pattern,))


def is_null(field: str) -> Filter:
    return Comparison("isnull", field)


def is_not_null(field: str) -> Filter:
    return Comparison("isnotnull", field)


def _logical(op: str, filters: Sequence[Filter | None]) -> Filter | None:
    present = tuple(f for f in filters if f is not None)
    if not present:
        return None
    # Intacct's and/or need two or more children; a single condition stands alone.
    return present[0] if len(present) == 1 else Logical(op, present)


def and_(*filters: Filter | None) -> Filter | None:
    return _logical("and", filters)


def or_(*filters: Filter | None) -> Filter | None:
    return _logical("or", filters)


def query(
    obj: str,
    fields: Sequence[str],
    *,
    filter: Filter | None = None,
    order_by: Sequence[tuple[str, str]] = (("RECORDNO", "asc"),),
    case_insensitive: bool = False,
    page_size: int = QUERY_MAX_PAGE,
    offset: int = 0,
    control_id: str | None = None,
) -> Function:
    """``query``: object, select, filter, orderby, options, pagesize, offset (in that order).

    ``order_by`` is ``(field, "asc"|"desc")`` pairs; offset paging is only stable with one.
    """
    if not fields:
        raise ValueError("query needs at least one field")
    if not 1 <= page_size <= QUERY_MAX_PAGE:
        raise ValueError(f"query page size must be 1..{QUERY_MAX_PAGE}")
    if offset < 0:
        raise ValueError("offset must be >= 0")
    el = etree.Element("query")
    _sub(el, "object", obj)
    select = _sub(el, "select")
    for f in fields:
        _sub(select, "field", f)
    if filter is not None:
        _sub(el, "filter").append(filter.to_element())
    if order_by:
        orderby = _sub(el, "orderby")
        for field_name, direction in order_by:
            direction = direction.lower()
            if direction not in ("asc", "desc"):
                raise ValueError(f"order direction must be asc or desc, not {direction!r}")
            order = _sub(orderby, "order")
            _sub(order, "field", field_name)
            _sub(order, "ascending" if direction == "asc" else "descending")
    if case_insensitive:
        _sub(_sub(el, "options"), "caseinsensitive", True)
    _sub(el, "pagesize", page_size)
    _sub(el, "offset", offset)
    return Function(control_id or new_control_id(), el)


# --- credit card transactions -------------------------------------------------------------------


def _amount(value: Decimal) -> str:
    return format(value, "f")


def record_cctransaction(txn: CCTransaction, *, control_id: str | None = None) -> Function:
    """``record_cctransaction`` for ``txn``; the control ID defaults to its idempotency key
    (then the function :func:`prebuild_cctransaction` made for ``txn``, if it was called).

    :raises UnpostableRecord: naming the record and the element, for text XML cannot carry.
    """
    if control_id is None:
        prebuilt: Function | None = txn.__dict__.get(_PREBUILT)
        if prebuilt is not None:
            return prebuilt
    # Records clean their text when built, and lxml refuses any text XML cannot carry as it is
    # set; only then is the record's text scanned, to name the element (issue 10: a check per
    # element, then one scan of all of it, cost as much as building the elements).
    try:
        el = _record_cctransaction(txn)
    except ValueError:
        for tag, text in _record_texts(txn):
            problem = describe_illegal(text)
            if problem is not None:
                raise UnpostableRecord(tag, problem, record=txn.reference_no) from None
        raise
    return Function(control_id or txn.control_id, el)


def prebuild_cctransaction(txn: CCTransaction) -> None:
    """Build ``txn``'s ``record_cctransaction`` function now and keep it with ``txn``, so that
    sending it later does not build it: the load builds a batch while the previous one is at
    Intacct (issue 10). ``txn`` is frozen, so the function stays what it would be rebuilt as;
    a copy (``dataclasses.replace``) carries none and is built when sent.

    :raises UnpostableRecord: as :func:`record_cctransaction`.
    """
    object.__setattr__(txn, _PREBUILT, record_cctransaction(txn))


# Where prebuild_cctransaction keeps the function: an attribute outside the dataclass fields, so
# equality, hashing and repr of the record are unchanged.
_PREBUILT = "_prebuilt_record_function"


def _record_texts(txn: CCTransaction) -> Iterator[tuple[str, str]]:
    """Every text the record element holds, with its element's tag, in document order."""
    for tag, value in (
        ("chargecardid", txn.card_id),
        ("referenceno", txn.reference_no),
        ("payee", txn.payee),
        ("description", txn.description),
        ("supdocid", txn.supdoc_id),
        ("currency", txn.currency),
        ("exchratetype", txn.exchange_rate_type),
    ):
        if value:
            yield tag, value
    for line in txn.lines:
        for tag, value in (
            ("glaccountno", line.gl_account_no),
            ("description", line.description),
            *((tag, getattr(line, name)) for tag, name in _CCPAYITEM_IDS),
        ):
            if value:
                yield tag, value


def _record_cctransaction(txn: CCTransaction) -> etree._Element:
    # lxml's calls inline, not through _sub: a Python call per element cost a sixth of
    # building it (issue 10). lxml checks each text as it is set (ValueError).
    sub = etree.SubElement
    el = etree.Element("record_cctransaction")
    sub(el, "chargecardid").text = txn.card_id
    _date_parts(sub(el, "paymentdate"), txn.payment_date)
    sub(el, "referenceno").text = txn.reference_no
    if txn.payee:
        sub(el, "payee").text = txn.payee
    if txn.description:
        sub(el, "description").text = txn.description
    if txn.supdoc_id:
        sub(el, "supdocid").text = txn.supdoc_id
    if txn.currency:
        sub(el, "currency").text = txn.currency
        if txn.exchange_rate is not None:
            sub(el, "exchrate").text = format_value(txn.exchange_rate)
        else:
            if txn.exchange_rate_date is not None:
                _date_parts(sub(el, "exchratedate"), txn.exchange_rate_date)
            sub(el, "exchratetype").text = txn.exchange_rate_type
    items = sub(el, "ccpayitems")
    for line in txn.lines:
        item = sub(items, "ccpayitem")
        sub(item, "glaccountno").text = line.gl_account_no
        if line.description:
            sub(item, "description").text = line.description
        sub(item, "paymentamount").text = _amount(line.amount)
        for tag, name in _CCPAYITEM_IDS:
            value = getattr(line, name)
            if value:
                sub(item, tag).text = value
    return el


# The optional IDs of a ccpayitem after its amount, in the schema's order.
_CCPAYITEM_IDS = (
    ("departmentid", "department_id"),
    ("locationid", "location_id"),
    ("customerid", "customer_id"),
    ("vendorid", "vendor_id"),
    ("employeeid", "employee_id"),
    ("projectid", "project_id"),
    ("itemid", "item_id"),
    ("classid", "class_id"),
)


def _date_parts(el: etree._Element, value: date) -> None:
    sub = etree.SubElement
    sub(el, "year").text = f"{value.year:04d}"
    sub(el, "month").text = f"{value.month:02d}"
    sub(el, "day").text = f"{value.day:02d}"


def reverse_cctransaction(
    record_no: str | int,
    date_reversed: date,
    *,
    memo: str | None = None,
    control_id: str | None = None,
) -> Function:
    """``reverse_cctransaction key=RECORDNO``: datereversed, then memo."""
    el = etree.Element("reverse_cctransaction", key=_check_text("key", str(record_no)))
    _split_date(el, "datereversed", date_reversed)
    _opt(el, "memo", clean_text(memo, FIELD_LIMITS["memo"]))
    return Function(control_id or new_control_id(), el)


def create_supdoc(doc: SupportingDocument, *, control_id: str | None = None) -> Function:
    """``create_supdoc``: supdocid, supdocname, supdocfoldername, supdocdescription, then
    ``attachments`` (each attachmentname, attachmenttype, attachmentdata in base64).

    The control ID defaults to one derived from the document's ID, so a re-send after an
    ambiguous outcome is recognisable (the document ID itself is the idempotency key: Intacct
    refuses a second document with the same ID)."""
    el = etree.Element("create_supdoc")
    _sub(el, "supdocid", doc.supdoc_id)
    _opt(el, "supdocname", doc.name)
    _sub(el, "supdocfoldername", doc.folder)
    _opt(el, "supdocdescription", doc.description)
    attachments = _sub(el, "attachments")
    for item in doc.attachments:
        att = _sub(attachments, "attachment")
        _sub(att, "attachmentname", item.name)
        _sub(att, "attachmenttype", item.type)
        # base64 text is ASCII: no check needed, and the check would scan megabytes.
        etree.SubElement(att, "attachmentdata").text = base64.b64encode(item.data).decode("ascii")
    return Function(control_id or f"supdoc-{doc.supdoc_id}", el)


def link_supdoc(record_no: str | int, supdoc_id: str, *, control_id: str | None = None) -> Function:
    """``update_cctransaction key=RECORDNO`` with only ``supdocid``: attach the supporting
    document to the posted credit card transaction (what Fyle's SDK's ``update_attachment``
    sends; reference §7.2)."""
    el = etree.Element("update_cctransaction", key=_check_text("key", str(record_no)))
    _sub(el, "supdocid", supdoc_id)
    return Function(control_id or new_control_id(), el)
