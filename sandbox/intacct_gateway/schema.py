"""The request schema: Intacct's 2019R3 ``api.xsd`` plus the newer elements the product uses.

The xsd is read from outside the repository (``INTACCT_XSD_PATH``, default
``<repo>/../shared/reference/intacct/api.xsd``) and never copied in. It predates the ``query``
function and a few ``record_cctransaction`` elements, so :func:`load_schema` adds them to the
parsed xsd document with lxml tree edits before compiling it (reference §3.2, §4.3).

When the xsd file is absent, :func:`validate` falls back to a structural check built from
:data:`FUNCTION_CHILD_ORDER` and :data:`ENVELOPE_CHILD_ORDER`, so element order is still
enforced for the envelope and every function the gateway implements.
"""

from __future__ import annotations

import functools
import os
import pathlib
from collections.abc import Mapping
from dataclasses import dataclass

from lxml import etree

__all__ = [
    "ENVELOPE_CHILD_ORDER",
    "FUNCTION_CHILD_ORDER",
    "QUERY_IN_MAX_VALUES",
    "Slot",
    "default_xsd_path",
    "load_schema",
    "validate",
]

XS = "http://www.w3.org/2001/XMLSchema"
_X = f"{{{XS}}}"

QUERY_IN_MAX_VALUES = 1000  # reference §4.3, js #54
READ_BY_QUERY_MAX_PAGESIZE = 1000  # reference §4.1
QUERY_MAX_PAGESIZE = 2000  # reference §4.3

_REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]


def default_xsd_path() -> pathlib.Path:
    """``$INTACCT_XSD_PATH`` or the shared reference copy beside the repository."""
    env = os.environ.get("INTACCT_XSD_PATH")
    if env:
        return pathlib.Path(env)
    return _REPO_ROOT.parent / "shared" / "reference" / "intacct" / "api.xsd"


# --------------------------------------------------------------------------------------------
# Structural description of what the gateway implements (used when the xsd is absent).
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Slot:
    """One position of a content model: any of ``names``, between ``min`` and ``max`` times."""

    names: tuple[str, ...]
    min: int = 1
    max: int | None = 1  # None = unbounded


def _s(spec: str) -> Slot:
    """Parse ``"a|b?"`` style shorthand: ``|`` alternatives, ``?`` optional, ``+``/``*`` repeat."""
    lo, hi = 1, 1
    if spec.endswith("?"):
        lo, spec = 0, spec[:-1]
    elif spec.endswith("+"):
        hi, spec = None, spec[:-1]
    elif spec.endswith("*"):
        lo, hi, spec = 0, None, spec[:-1]
    return Slot(tuple(spec.split("|")), lo, hi)


def _seq(*specs: str) -> tuple[Slot, ...]:
    return tuple(_s(s) for s in specs)


# Envelope order (api.xsd request/control/operation/authentication/login/content, reference §1.2).
ENVELOPE_CHILD_ORDER: dict[str, tuple[Slot, ...]] = {
    "request": _seq("control", "operation+"),
    "control": _seq(
        "senderid",
        "password?",
        "controlid",
        "uniqueid?",
        "dtdversion?",
        "policyid?",
        "debug?",
        "includewhitespace?",
    ),
    "operation": _seq("authentication", "preferences*", "content*"),
    "authentication": _seq("login|sessionid|oauth"),
    "login": _seq("userid", "companyid", "password", "clientid?", "locationid?"),
    "content": _seq("function+"),
}

# Generic functions that api.xsd declares with xs:all: any order, each child at most once.
UNORDERED_FUNCTIONS: frozenset[str] = frozenset({"readByQuery", "read", "readByName", "delete"})

_FILTER_OPERATORS = (
    "equalto",
    "notequalto",
    "lessthan",
    "lessthanorequalto",
    "greaterthan",
    "greaterthanorequalto",
    "between",
    "in",
    "notin",
    "like",
    "notlike",
    "isnull",
    "isnotnull",
    "and",
    "or",
)
_FILTER_CHOICE = "|".join(_FILTER_OPERATORS)
_DIMENSIONS = (
    "departmentid?",
    "locationid?",
    "customerid?",
    "vendorid?",
    "employeeid?",
    "projectid?",
    "taskid?",
    "costtypeid?",
    "itemid?",
    "classid?",
    "contractid?",
    "warehouseid?",
)

# Children of every element the gateway implements, in schema order. For the xs:all functions
# in UNORDERED_FUNCTIONS the tuple lists the allowed children and their cardinality only.
FUNCTION_CHILD_ORDER: dict[str, tuple[Slot, ...]] = {
    "function": _seq(
        "getAPISession|readByQuery|readMore|query|read|readByName|delete|record_cctransaction"
        "|reverse_cctransaction|update_cctransaction|create_supdoc"
    ),
    "getAPISession": _seq("locationid?"),
    "readByQuery": _seq("object", "query", "pagesize?", "fields?", "returnFormat?", "docparid?"),
    "readMore": _seq("object|view|reportId|resultId"),
    "read": _seq("object", "keys", "fields?", "returnFormat?", "docparid?"),
    "readByName": _seq("object", "keys", "fields?", "returnFormat?", "docparid?"),
    "delete": _seq("object", "keys"),
    # reference §4.3; docparid's position is not documented, the brief puts it last [UNVERIFIED]
    "query": _seq(
        "object",
        "select",
        "filter?",
        "orderby?",
        "options?",
        "pagesize?",
        "offset?",
        "docparid?",
    ),
    "select": _seq("field|count|avg|min|max|sum+"),
    "filter": _seq(_FILTER_CHOICE),
    "and": (Slot(_FILTER_OPERATORS, 2, None),),
    "or": (Slot(_FILTER_OPERATORS, 2, None),),
    **{op: _seq("field", "value") for op in _FILTER_OPERATORS[:6]},
    "like": _seq("field", "value"),
    "notlike": _seq("field", "value"),
    "between": (_s("field"), Slot(("value",), 2, 2)),
    "in": (_s("field"), Slot(("value",), 1, QUERY_IN_MAX_VALUES)),
    "notin": (_s("field"), Slot(("value",), 1, QUERY_IN_MAX_VALUES)),
    "isnull": _seq("field"),
    "isnotnull": _seq("field"),
    "orderby": _seq("order+"),
    "order": _seq("field", "ascending|descending?"),
    "options": _seq("caseinsensitive?", "showprivate?", "returnformat?"),
    # api.xsd 2019R3 plus inclusivetax/taxsolutionid at the documented place (reference §3.2)
    "record_cctransaction": _seq(
        "chargecardid",
        "paymentdate",
        "referenceno?",
        "payee?",
        "description?",
        "supdocid?",
        "currency?",
        "exchratedate?",
        "exchratetype|exchrate?",
        "customfields?",
        "inclusivetax?",
        "taxsolutionid?",
        "ccpayitems",
    ),
    "ccpayitems": _seq("ccpayitem+"),
    "ccpayitem": _seq(
        "glaccountno|accountlabel",
        "description?",
        "paymentamount?",
        *_DIMENSIONS,
        "customfields?",
        "totaltrxamount?",
        "taxentries?",
        "billable?",
    ),
    "taxentries": _seq("taxentry+"),
    "taxentry": _seq("detailid", "trx_tax?"),
    "customfields": _seq("customfield*"),
    "customfield": _seq("customfieldname", "customfieldvalue"),
    "paymentdate": _seq("year", "month", "day"),
    "exchratedate": _seq("year", "month", "day"),
    "reverse_cctransaction": _seq("datereversed", "memo?"),
    # api.xsd 2019R3
    "update_cctransaction": _seq(
        "paymentdate?",
        "referenceno?",
        "payee?",
        "description?",
        "supdocid?",
        "currency?",
        "exchratedate?",
        "exchratetype|exchrate?",
        "customfields?",
        "updateccpayitems?",
    ),
    "create_supdoc": _seq(
        "supdocid", "supdocname?", "supdocfoldername?", "supdocdescription?", "attachments?"
    ),
    "attachments": _seq("attachment+"),
    "attachment": _seq("attachmentname", "attachmenttype", "attachmentdata"),
    "datereversed": _seq("year", "month", "day"),
}


# --------------------------------------------------------------------------------------------
# xsd extension (lxml tree edits of the parsed api.xsd)
# --------------------------------------------------------------------------------------------


def _xs(tag: str, parent: etree._Element | None = None, **attrs: str) -> etree._Element:
    el = etree.Element(_X + tag) if parent is None else etree.SubElement(parent, _X + tag)
    for key, value in attrs.items():
        el.set(key, value)
    return el


def _bounded_int(parent: etree._Element, lo: int, hi: int | None) -> None:
    simple = _xs("simpleType", parent)
    restr = _xs("restriction", simple, base="xs:integer")
    _xs("minInclusive", restr, value=str(lo))
    if hi is not None:
        _xs("maxInclusive", restr, value=str(hi))


def _global_element(root: etree._Element, name: str) -> etree._Element:
    found = root.find(f"{_X}element[@name='{name}']")
    if found is None:
        raise ValueError(f"api.xsd has no global element {name!r}")
    return found


def _query_types(root: etree._Element) -> None:
    """Named types for the ``query`` filter tree; the ``emuQuery`` prefix is not used by api.xsd."""
    node = _xs("group", root, name="emuQueryFilterNode")
    choice = _xs("choice", node)
    for op in _FILTER_OPERATORS:
        _xs("element", choice, name=op, type=f"emuQuery_{op}")

    def field_values(name: str, lo: int, hi: int) -> None:
        ctype = _xs("complexType", root, name=f"emuQuery_{name}")
        seq = _xs("sequence", ctype)
        _xs("element", seq, name="field", type="xs:string")
        if hi:
            _xs(
                "element", seq, name="value", type="xs:string", minOccurs=str(lo), maxOccurs=str(hi)
            )

    for op in _FILTER_OPERATORS[:6]:
        field_values(op, 1, 1)
    field_values("like", 1, 1)
    field_values("notlike", 1, 1)
    field_values("between", 2, 2)
    field_values("in", 1, QUERY_IN_MAX_VALUES)
    field_values("notin", 1, QUERY_IN_MAX_VALUES)
    field_values("isnull", 0, 0)
    field_values("isnotnull", 0, 0)
    for logical in ("and", "or"):
        ctype = _xs("complexType", root, name=f"emuQuery_{logical}")
        seq = _xs("sequence", ctype, minOccurs="2", maxOccurs="unbounded")
        _xs("group", seq, ref="emuQueryFilterNode")


def _add_query_function(root: etree._Element) -> None:
    """Global ``query`` element (reference §4.3) as a new choice of ``function``.

    readByQuery declares a *local* ``query`` of type string; a global element of the same name
    does not clash with it, because local declarations live in their parent's scope.
    """
    if root.find(f"{_X}element[@name='query']") is not None:
        return  # a newer xsd may already have it
    _query_types(root)
    query = _xs("element", root, name="query")
    seq = _xs("sequence", _xs("complexType", query))
    _xs("element", seq, name="object", type="xs:string")
    select = _xs("element", seq, name="select")
    sel_choice = _xs("choice", _xs("complexType", select), maxOccurs="unbounded")
    for name in ("field", "count", "avg", "min", "max", "sum"):
        _xs("element", sel_choice, name=name, type="xs:string")
    filt = _xs("element", seq, name="filter", minOccurs="0")
    _xs("group", _xs("sequence", _xs("complexType", filt)), ref="emuQueryFilterNode")
    orderby = _xs("element", seq, name="orderby", minOccurs="0")
    order = _xs(
        "element", _xs("sequence", _xs("complexType", orderby)), name="order", maxOccurs="unbounded"
    )
    order_seq = _xs("sequence", _xs("complexType", order))
    _xs("element", order_seq, name="field", type="xs:string")
    direction = _xs("choice", order_seq, minOccurs="0")
    for name in ("ascending", "descending"):
        _xs("complexType", _xs("element", direction, name=name))
    options = _xs("element", seq, name="options", minOccurs="0")
    opt_seq = _xs("sequence", _xs("complexType", options))
    _xs("element", opt_seq, name="caseinsensitive", type="xs:boolean", minOccurs="0")
    _xs("element", opt_seq, name="showprivate", type="xs:boolean", minOccurs="0")
    _xs("element", opt_seq, name="returnformat", type="xs:string", minOccurs="0")
    _bounded_int(_xs("element", seq, name="pagesize", minOccurs="0"), 1, QUERY_MAX_PAGESIZE)
    _bounded_int(_xs("element", seq, name="offset", minOccurs="0"), 0, None)
    _xs("element", seq, name="docparid", type="xs:string", minOccurs="0")

    function_choice = _global_element(root, "function").find(f"{_X}complexType/{_X}choice")
    if function_choice is None:
        raise ValueError("api.xsd: function is not a choice")
    _xs("element", function_choice, ref="query")


def _insert_after(seq: etree._Element, ref: str, new: list[etree._Element]) -> None:
    anchor = seq.find(f"{_X}element[@ref='{ref}']")
    if anchor is None:
        raise ValueError(f"api.xsd: no {ref!r} in sequence")
    for offset, el in enumerate(new, start=1):
        seq.insert(seq.index(anchor) + offset, el)


def _local(name: str, type_: str = "xs:string") -> etree._Element:
    return _xs("element", name=name, type=type_, minOccurs="0")


def _extend_cctransaction(root: etree._Element) -> None:
    """Newer record_cctransaction elements at the positions of the devdocs page (§3.2)."""
    header = _global_element(root, "record_cctransaction").find(f"{_X}complexType/{_X}sequence")
    if header is None or header.find(f"{_X}element[@name='inclusivetax']") is not None:
        return
    _insert_after(
        header, "customfields", [_local("inclusivetax", "xs:boolean"), _local("taxsolutionid")]
    )

    line = _global_element(root, "ccpayitem").find(f"{_X}complexType/{_X}sequence")
    if line is None:
        raise ValueError("api.xsd: ccpayitem is not a sequence")
    # paymentamount is required by the 2019R3 xsd but not for inclusive-tax lines (devdocs);
    # the gateway checks "required unless inclusive tax" itself.
    amount = line.find(f"{_X}element[@ref='paymentamount']")
    if amount is not None:
        amount.set("minOccurs", "0")
    _insert_after(line, "projectid", [_local("taskid"), _local("costtypeid")])
    taxentries = _xs("element", name="taxentries", minOccurs="0")
    entry = _xs(
        "element",
        _xs("sequence", _xs("complexType", taxentries)),
        name="taxentry",
        maxOccurs="unbounded",
    )
    entry_seq = _xs("sequence", _xs("complexType", entry))
    _xs("element", entry_seq, name="detailid", type="xs:string")
    _xs("element", entry_seq, name="trx_tax", type="xs:string", minOccurs="0")
    _insert_after(
        line,
        "customfields",
        [_local("totaltrxamount"), taxentries, _local("billable", "xs:boolean")],
    )


def _restrict_read_by_query_pagesize(root: etree._Element) -> None:
    """readByQuery pagesize is 1..1000 (reference §4.1); api.xsd types it as a plain string."""
    pagesize = _global_element(root, "readByQuery").find(
        f"{_X}complexType/{_X}all/{_X}element[@name='pagesize']"
    )
    if pagesize is None:
        return
    pagesize.attrib.pop("type", None)
    _bounded_int(pagesize, 1, READ_BY_QUERY_MAX_PAGESIZE)


def extend_schema_document(doc: etree._ElementTree) -> etree._ElementTree:
    """Apply every gateway extension to a parsed api.xsd document, in place."""
    root = doc.getroot()
    _add_query_function(root)
    _extend_cctransaction(root)
    _restrict_read_by_query_pagesize(root)
    return doc


@functools.lru_cache(maxsize=8)
def _load_cached(path: str, mtime: float) -> etree.XMLSchema:
    doc = etree.parse(path, etree.XMLParser(remove_blank_text=True, resolve_entities=False))
    return etree.XMLSchema(extend_schema_document(doc))


def load_schema(xsd_path: str | os.PathLike[str] | None = None) -> etree.XMLSchema | None:
    """Load api.xsd, extend it in memory, and compile it; None when the file does not exist."""
    path = pathlib.Path(xsd_path) if xsd_path is not None else default_xsd_path()
    if not path.is_file():
        return None
    return _load_cached(str(path.resolve()), path.stat().st_mtime)


# --------------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------------

_UNSET = object()


def _as_element(xml: bytes | str | etree._Element | etree._ElementTree) -> etree._Element:
    if isinstance(xml, etree._ElementTree):
        return xml.getroot()
    if isinstance(xml, etree._Element):
        return xml
    data = xml.encode("utf-8") if isinstance(xml, str) else xml
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    return etree.fromstring(data, parser)


def validate(
    xml: bytes | str | etree._Element | etree._ElementTree,
    schema: etree.XMLSchema | object | None = _UNSET,
) -> list[str]:
    """Error messages for a request document; empty when it is valid.

    ``schema`` defaults to :func:`load_schema` (the env/default path). Passing ``None`` forces
    the structural fallback. Messages follow libxml2's shape, prefixed like Intacct's
    XL03000003 description2 ("XML Parse schema error: Error 1871: Element 'x': ...").
    """
    try:
        root = _as_element(xml)
    except etree.XMLSyntaxError as exc:
        return [f"XML Parse error: {exc}"]
    if schema is _UNSET:
        schema = load_schema()
    if isinstance(schema, etree.XMLSchema):
        if schema.validate(root):
            return []
        return [
            f"XML Parse schema error: Error {err.type}: {err.message.strip()}"
            for err in schema.error_log
        ]
    return _structural_errors(root)


def _structural_errors(root: etree._Element) -> list[str]:
    if root.tag != "request":
        return [f"Element '{root.tag}': No matching global declaration available."]
    errors: list[str] = []
    specs: Mapping[str, tuple[Slot, ...]] = {**FUNCTION_CHILD_ORDER, **ENVELOPE_CHILD_ORDER}
    _check(root, specs, errors)
    return errors


def _check(el: etree._Element, specs: Mapping[str, tuple[Slot, ...]], errors: list[str]) -> None:
    # readByQuery's child <query> is text, not the query function; only descend where meaningful
    spec = specs.get(el.tag) if not _is_text_leaf(el) else None
    children = [c for c in el if isinstance(c.tag, str)]
    if spec is None:
        return
    if el.tag in UNORDERED_FUNCTIONS:
        _check_all(el, spec, children, errors)
        return  # all children of xs:all functions are text
    i = 0
    for slot in spec:
        count = 0
        while (
            i < len(children)
            and children[i].tag in slot.names
            and (slot.max is None or count < slot.max)
        ):
            count += 1
            i += 1
        if count < slot.min:
            expected = " | ".join(slot.names)
            got = f"Element '{children[i].tag}'" if i < len(children) else f"Element '{el.tag}'"
            errors.append(f"{got}: Missing child element(s). Expected is ( {expected} ).")
            return
    if i < len(children):
        errors.append(f"Element '{children[i].tag}': This element is not expected.")
        return
    if el.tag == "query":
        size = el.findtext("pagesize")
        if size is not None and not _int_in(size, 1, QUERY_MAX_PAGESIZE):
            errors.append(f"Element 'pagesize': '{size}' is not a valid value.")
    for child in children:
        _check(child, specs, errors)


def _check_all(
    el: etree._Element, spec: tuple[Slot, ...], children: list[etree._Element], errors: list[str]
) -> None:
    allowed = {name: slot for slot in spec for name in slot.names}
    seen: set[str] = set()
    for child in children:
        if child.tag not in allowed or child.tag in seen:
            errors.append(f"Element '{child.tag}': This element is not expected.")
            return
        seen.add(child.tag)
    missing = [n for n, slot in allowed.items() if slot.min and n not in seen]
    if missing:
        errors.append(
            f"Element '{el.tag}': Missing child element(s). Expected is ( {', '.join(missing)} )."
        )
    if el.tag == "readByQuery":
        size = el.findtext("pagesize")
        if size is not None and not _int_in(size, 1, READ_BY_QUERY_MAX_PAGESIZE):
            errors.append(f"Element 'pagesize': '{size}' is not a valid value.")


def _is_text_leaf(el: etree._Element) -> bool:
    parent = el.getparent()
    return parent is not None and parent.tag in UNORDERED_FUNCTIONS


def _int_in(text: str, lo: int, hi: int) -> bool:
    try:
        return lo <= int(text.strip()) <= hi
    except ValueError:
        return False
