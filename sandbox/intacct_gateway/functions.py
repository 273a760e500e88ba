"""One handler per implemented function. Each returns the children of ``<result>`` that follow
``<controlid>`` (``<data>`` or ``<key>``), or raises :class:`FunctionFailure`.

Handlers run with ``state.lock`` held by the server, and only mutate the model after every
validation passed, so a failed function never leaves partial writes behind.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from lxml import etree

from .queries import QueryError, compile_filter, parse_read_by_query, sort_key
from .responses import GwError, sub
from .state import (
    ENTITY_OWNED,
    NAME_FIELDS,
    OBJECT_FIELDS,
    Company,
    GatewayState,
    ResultSet,
    Session,
    User,
    fmt_amount,
    fmt_date,
    parse_date,
)

# [EMULATOR CHOICE] errornos the references do not pin down (README "Emulator choices").
ERR_QUERY = "DL02000001"  # invented: query syntax, unknown object/field, stale resultId
ERR_BUSINESS = "BL01001973"  # real generic business-logic errorno (reference §2.4)
ERR_PERMISSION = "PL04000005"  # real (reference §2.4)
ERR_DUPLICATE_CONTROLID = "XL03000004"  # invented, architecture.md
CC_CREATE_FAILED = "Could not create cctransaction record!"
CC_REVERSE_FAILED = "Could not reverse cctransaction record!"  # [EMULATOR CHOICE] text
CC_UPDATE_FAILED = "Could not update cctransaction record!"  # [EMULATOR CHOICE] text
SUPDOC_CREATE_FAILED = "Could not create supdoc record!"  # [EMULATOR CHOICE] text
MAX_READ_KEYS = 100  # reference §4.4 (SDK cap; the gateway enforces it)

OPERATION_NAMES = {
    "readByQuery": "READ_BY_QUERY",
    "readMore": "READ_BY_QUERY",
    "query": "READ_BY_QUERY",
    "read": "READ",
    "readByName": "READ",
    "delete": "DELETE",
    "record_cctransaction": "CREATE",
    "reverse_cctransaction": "REVERSE",
    "update_cctransaction": "UPDATE",
    "create_supdoc": "CREATE",
}


class FunctionFailure(Exception):
    def __init__(self, *errors: GwError) -> None:
        super().__init__("; ".join(e.description2 or e.description for e in errors))
        self.errors = list(errors)


@dataclass
class Context:
    state: GatewayState
    company: Company
    user: User
    entity: str  # "" = top level
    session: Session | None
    endpoint: str
    control_id: str


Handler = Callable[[Context, etree._Element], list[etree._Element]]


def _query_error(text: str) -> FunctionFailure:
    return FunctionFailure(GwError(ERR_QUERY, "Query Failed", text))


def _require_permission(ctx: Context, function: str, obj: str) -> None:
    op = OPERATION_NAMES.get(function)
    if op and not ctx.user.may(op, obj):
        raise FunctionFailure(
            GwError(
                ERR_PERMISSION,
                "",
                f"You do not have permission for API operation {op} on objects of type "
                f"{obj.lower()}",
            )
        )


def _object(ctx: Context, name: str | None) -> str:
    obj = (name or "").strip().upper()
    if obj not in OBJECT_FIELDS or obj in ctx.company.unknown_objects:
        raise FunctionFailure(
            GwError(
                ERR_QUERY, "Query Failed", f"Object definition {(name or '').strip()} not found"
            )
        )
    return obj


def visible(ctx: Context, obj: str) -> list[dict[str, str]]:
    """Records of ``obj`` seen from the session's entity (top level sees every entity)."""
    rows = ctx.company.records(obj)
    if not ctx.entity or obj not in ENTITY_OWNED:
        return rows
    return [r for r in rows if r.get("_entity", "") in ("", ctx.entity)]


def readable(ctx: Context, obj: str) -> list[dict[str, str]]:
    """Copies of the visible records as reads return them, with computed fields added."""
    rows = [ctx.company.public(obj, r) for r in visible(ctx, obj)]
    if obj != "CCTRANSACTION":
        return rows
    # [EMULATOR CHOICE] Intacct reads return RECORD_URL, a link into its UI (the field is in
    # public SDK field lists; its exact form is not documented). Here: this server's own URL
    # with the record number, so a link built from it is real and unique.
    fmt = ctx.state.record_url_format or (
        ctx.endpoint.rsplit("/ia/", 1)[0] + "/ia/acct/ur.phtml?.r={recordno}"
    )
    return [r | {"RECORD_URL": fmt.replace("{recordno}", r["RECORDNO"])} for r in rows]


def _fields(ctx: Context, obj: str, spec: str | None) -> tuple[str, ...]:
    names = [f.strip().upper() for f in (spec or "*").split(",") if f.strip()]
    if not names or names == ["*"]:
        return ctx.company.fields(obj)
    unknown = [n for n in names if n not in ctx.company.fields(obj)]
    if unknown:
        raise FunctionFailure(
            GwError(ERR_QUERY, "Query Failed", f"Invalid field {unknown[0]} for object {obj}")
        )
    return tuple(names)


def _render(parent: etree._Element, tag: str, row: dict[str, str], fields: Iterable[str]) -> None:
    el = sub(parent, tag)
    for name in fields:
        sub(el, name, row.get(name, ""))


def _text(el: etree._Element, path: str) -> str:
    return (el.findtext(path) or "").strip()


# --------------------------------------------------------------------------------------------
# sessions and reads
# --------------------------------------------------------------------------------------------


def get_api_session(ctx: Context, fn: etree._Element) -> list[etree._Element]:
    entity = ctx.entity
    loc = fn.find("locationid")
    if loc is not None:
        entity = (loc.text or "").strip()  # empty = top level (reference §1.3)
        if entity and not _is_entity(ctx.company, entity):
            raise FunctionFailure(GwError("XL03000006", f"Invalid entity ID '{entity}'"))
    if ctx.session is not None and ctx.session.entity == entity:
        session = ctx.session
    else:
        session = ctx.state.open_session(ctx.company.company_id, ctx.user.user_id, entity)
    data = etree.Element("data")
    api = sub(data, "api")
    sub(api, "sessionid", session.session_id)
    sub(api, "endpoint", ctx.endpoint)
    sub(api, "locationid", entity)
    return [data]


def _is_entity(company: Company, entity: str) -> bool:
    rec = company.find("LOCATIONENTITY", "LOCATIONID", entity)
    return company.multi_entity and rec is not None and rec.get("STATUS") == "active"


def _page_data(rs: ResultSet) -> etree._Element:
    page, rs.rows = rs.rows[: rs.pagesize], rs.rows[rs.pagesize :]
    data = etree.Element(
        "data",
        listtype=rs.obj.lower(),
        count=str(len(page)),
        totalcount=str(rs.totalcount),
        numremaining=str(len(rs.rows)),
        resultId=rs.result_id,
    )
    for row in page:
        _render(data, rs.obj.lower(), row, rs.fields)
    return data


def read_by_query(ctx: Context, fn: etree._Element) -> list[etree._Element]:
    obj = _object(ctx, fn.findtext("object"))
    _require_permission(ctx, "readByQuery", obj)
    fields = _fields(ctx, obj, fn.findtext("fields"))
    pagesize = int(_text(fn, "pagesize") or 100)  # range checked by the schema
    try:
        pred = parse_read_by_query(fn.findtext("query") or "", ctx.company.fields(obj))
    except QueryError as exc:
        raise _query_error(str(exc)) from exc
    rows = [dict(r) for r in readable(ctx, obj) if pred(r)]
    rs = ResultSet(
        ctx.state.new_result_id(), ctx.company.company_id, obj, rows, fields, pagesize, len(rows)
    )
    data = _page_data(rs)
    if rs.rows:
        ctx.state.result_sets[rs.result_id] = rs
    return [data]


def read_more(ctx: Context, fn: etree._Element) -> list[etree._Element]:
    result_id = _text(fn, "resultId")
    rs = ctx.state.result_sets.get(result_id) if result_id else None
    if result_id == "" and fn.find("object") is not None:
        # legacy form: the latest open cursor on that object in this company
        obj = _text(fn, "object").upper()
        rs = next(
            (
                r
                for r in reversed(ctx.state.result_sets.values())
                if r.obj == obj and r.company_id == ctx.company.company_id
            ),
            None,
        )
    if rs is None or rs.company_id != ctx.company.company_id:
        # [EMULATOR CHOICE] text: stale/unknown cursor (reference §4.2, UNVERIFIED)
        raise _query_error(f"Attempt to readMore on an invalid or expired resultId '{result_id}'")
    _require_permission(ctx, "readMore", rs.obj)
    data = _page_data(rs)
    if not rs.rows:
        ctx.state.result_sets.pop(rs.result_id, None)
    return [data]


def _aggregate(kind: str, values: list[str]) -> str:
    if kind == "count":
        return str(len([v for v in values if v != ""]))
    nums: list[Decimal] = []
    for v in values:
        try:
            nums.append(Decimal(v))
        except InvalidOperation:
            continue
    if not nums:
        return ""
    if kind == "sum":
        return fmt_amount(sum(nums, Decimal(0)))
    if kind == "avg":
        return fmt_amount(sum(nums, Decimal(0)) / len(nums))
    return fmt_amount(min(nums) if kind == "min" else max(nums))


def query(ctx: Context, fn: etree._Element) -> list[etree._Element]:
    obj = _object(ctx, fn.findtext("object"))
    _require_permission(ctx, "query", obj)
    select = [
        (c.tag, (c.text or "").strip().upper()) for c in fn.find("select") if isinstance(c.tag, str)
    ]
    for _, name in select:
        if name not in ctx.company.fields(obj):
            raise _query_error(f"Invalid field {name} for object {obj}")
    fold = _text(fn, "options/caseinsensitive").lower() == "true"
    rows = list(readable(ctx, obj))
    filt = fn.find("filter")
    if filt is not None:
        try:
            pred = compile_filter(filt[0], ctx.company.fields(obj), fold_case=fold)
        except QueryError as exc:
            raise _query_error(str(exc)) from exc
        rows = [r for r in rows if pred(r)]
    plain = [name for kind, name in select if kind == "field"]
    aggs = [(kind, name) for kind, name in select if kind != "field"]
    if aggs:
        # [UNVERIFIED] grouping by the plain fields when aggregates are mixed in
        groups: dict[tuple[str, ...], list[dict[str, str]]] = {}
        for r in rows:
            groups.setdefault(tuple(r.get(f, "") for f in plain), []).append(r)
        if not groups and not plain:
            groups[()] = []
        out = []
        for key, members in groups.items():
            row = dict(zip(plain, key, strict=True))
            for kind, name in aggs:
                # [EMULATOR CHOICE] COUNT.FIELD / SUM.FIELD naming (architecture.md)
                row[f"{kind.upper()}.{name}"] = _aggregate(kind, [m.get(name, "") for m in members])
            out.append(row)
        rows = out
        columns = plain + [f"{k.upper()}.{n}" for k, n in aggs]
    else:
        columns = plain
    for order in reversed(fn.findall("orderby/order")):
        name = _text(order, "field").upper()
        if name not in ctx.company.fields(obj) and name not in columns:
            raise _query_error(f"Invalid orderby field {name}")
        rows = sorted(
            rows,
            key=lambda r, n=name: sort_key(r.get(n, "")),
            reverse=order.find("descending") is not None,
        )
    offset = int(_text(fn, "offset") or 0)
    pagesize = int(_text(fn, "pagesize") or 100)
    page = rows[offset : offset + pagesize]
    data = etree.Element(
        "data",
        listtype=obj,
        totalcount=str(len(rows)),
        offset=str(offset),
        count=str(len(page)),
        numremaining=str(max(0, len(rows) - offset - len(page))),
    )
    for row in page:
        _render(data, obj, row, columns)
    return [data]


def _read_keys(ctx: Context, fn: etree._Element, function: str, key_field: str | None):
    obj = _object(ctx, fn.findtext("object"))
    _require_permission(ctx, function, obj)
    fields = _fields(ctx, obj, fn.findtext("fields"))
    keys = [k.strip() for k in (fn.findtext("keys") or "").split(",") if k.strip()]
    if len(keys) > MAX_READ_KEYS:
        raise _query_error(f"Too many keys: {len(keys)} (at most {MAX_READ_KEYS})")
    match = key_field or NAME_FIELDS[obj]
    rows = readable(ctx, obj)
    # record-not-found returns success with fewer rows [UNVERIFIED, reference §2.4]
    found = [r for k in keys for r in rows if r.get(match) == k]
    data = etree.Element("data", listtype=obj, count=str(len(found)))
    for row in found:
        _render(data, obj, row, fields)
    return [data]


def read(ctx: Context, fn: etree._Element) -> list[etree._Element]:
    return _read_keys(ctx, fn, "read", "RECORDNO")


def read_by_name(ctx: Context, fn: etree._Element) -> list[etree._Element]:
    return _read_keys(ctx, fn, "readByName", None)


# --------------------------------------------------------------------------------------------
# charge card transactions
# --------------------------------------------------------------------------------------------

# line element -> (REQUIRE* flag on GLACCOUNT, dimension label, object or None if not modelled)
DIMENSIONS: tuple[tuple[str, str, str, str | None], ...] = (
    ("departmentid", "REQUIREDEPT", "Department", "DEPARTMENT"),
    ("locationid", "REQUIRELOC", "Location", "LOCATION"),
    ("customerid", "REQUIRECUSTOMER", "Customer", None),
    ("vendorid", "REQUIREVENDOR", "Vendor", None),
    ("employeeid", "REQUIREEMPLOYEE", "Employee", None),
    ("projectid", "REQUIREPROJECT", "Project", "PROJECT"),
    ("taskid", "REQUIRETASK", "Task", None),
    ("itemid", "REQUIREITEM", "Item", None),
    ("classid", "REQUIRECLASS", "Class", "CLASS"),
    ("contractid", "REQUIRECONTRACT", "Contract", None),
    ("warehouseid", "REQUIREWAREHOUSE", "Warehouse", None),
)
_ID_FIELD = {
    "DEPARTMENT": "DEPARTMENTID",
    "LOCATION": "LOCATIONID",
    "PROJECT": "PROJECTID",
    "CLASS": "CLASSID",
}


def _invalid_dimension(label: str, value: str) -> str:
    # texts follow the real messages quoted in reference §2.4 where one exists
    if label == "Department":
        return f"Department '{value}' specified is not valid."
    if label == "Location":
        return f"The location '{value}' is invalid."
    return f"Invalid {label} '{value}' specified."


def _cc_fail(text: str, generic: str = CC_CREATE_FAILED) -> FunctionFailure:
    return FunctionFailure(GwError(ERR_BUSINESS, "", text), GwError(ERR_BUSINESS, "", generic))


def _split_date(el: etree._Element | None, what: str, generic: str) -> dt.date:
    try:
        if el is None:
            raise ValueError
        return dt.date(int(_text(el, "year")), int(_text(el, "month")), int(_text(el, "day")))
    except ValueError:
        raise FunctionFailure(
            GwError("BL03000018", "", f"Illegal format for {what}"),
            GwError(ERR_BUSINESS, "", generic),
        ) from None


def closed_through(ctx: Context, entity: str | None) -> dt.date | None:
    """Books-closed date for an entity; None entity (unknown) takes the latest of all."""
    dates = [
        parse_date(r["CLOSEDTHROUGH"])
        for r in ctx.company.records("BOOKSCLOSED")
        if r.get("CLOSEDTHROUGH") and (entity is None or r.get("_entity", "") in ("", entity))
    ]
    return max(dates) if dates else None


def _check_open_period(ctx: Context, day: dt.date, entity: str | None, generic: str) -> None:
    closed = closed_through(ctx, entity)
    if closed is not None and day <= closed:
        # [EMULATOR CHOICE] text, architecture.md
        raise _cc_fail(
            f"The date {fmt_date(day)} is in a closed period. Date must be on or after "
            f"{fmt_date(closed + dt.timedelta(days=1))}.",
            generic,
        )


def _line_entity(ctx: Context, lines: list[etree._Element]) -> str | None:
    """Entity of a top-level posting, from the first line location's owning entity."""
    for line in lines:
        loc = ctx.company.find("LOCATION", "LOCATIONID", _text(line, "locationid"))
        if loc is not None and loc.get("_owner_entity"):
            return loc["_owner_entity"]
    return None


def record_cctransaction(ctx: Context, fn: etree._Element) -> list[etree._Element]:
    company = ctx.company
    _require_permission(ctx, "record_cctransaction", "cctransaction")
    # 1. required elements beyond what the schema enforces
    card_id = _text(fn, "chargecardid")
    if not card_id:
        raise _cc_fail("Required field chargecardid is missing.")
    day = _split_date(fn.find("paymentdate"), "paymentdate", CC_CREATE_FAILED)
    inclusive = _text(fn, "inclusivetax").lower() == "true"
    lines = fn.findall("ccpayitems/ccpayitem")
    amounts: list[Decimal] = []
    for n, line in enumerate(lines, start=1):
        raw = _text(line, "paymentamount") or (_text(line, "totaltrxamount") if inclusive else "")
        if not raw:
            raise _cc_fail(f"Line {n}: paymentamount is required.")
        try:
            amounts.append(Decimal(raw))
        except InvalidOperation:
            raise FunctionFailure(
                GwError("BL03000018", "", f"Illegal format for paymentamount '{raw}'"),
                GwError(ERR_BUSINESS, "", CC_CREATE_FAILED),
            ) from None
    # 2. card exists and is active ([EMULATOR CHOICE] text, reference §2.4)
    card = company.find("CREDITCARD", "CARDID", card_id)
    if card is None or card.get("STATUS") != "active":
        state = "" if card is None else " The charge card account is inactive."
        raise _cc_fail(f"Invalid Charge Card '{card_id}' specified.{state}")
    offset_acct = company.find("GLACCOUNT", "ACCOUNTNO", card.get("LIABACCTNO", ""))
    if offset_acct is None or offset_acct.get("STATUS") != "active":
        raise _cc_fail(f"Account {card.get('LIABACCTNO', '')} is not valid")
    # 3. not in a closed period
    entity = ctx.entity or (_line_entity(ctx, lines) if company.multi_entity else "")
    _check_open_period(ctx, day, entity, CC_CREATE_FAILED)
    # 4. each line's account exists, is active and accepts direct posting
    accounts = []
    for line in lines:
        if line.find("accountlabel") is not None:
            raise _cc_fail(f"Account label '{_text(line, 'accountlabel')}' is not valid")
        no = _text(line, "glaccountno")
        acct = company.find("GLACCOUNT", "ACCOUNTNO", no)
        if acct is None or acct.get("STATUS") != "active":
            raise _cc_fail(f"Account {no} is not valid")
        if acct.get("SUBLEDGERCONTROLON") == "true":
            # [EMULATOR CHOICE] text
            raise _cc_fail(f"Direct posting is disallowed for the Account {no}")
        accounts.append(acct)
    # 5. required dimensions present
    for line, acct in zip(lines, accounts, strict=True):
        for tag, flag, label, _ in DIMENSIONS:
            if acct.get(flag) == "true" and not _text(line, tag):
                raise _cc_fail(
                    f"This transaction is missing the {label} dimension for the "
                    f"Account {acct['ACCOUNTNO']}"
                )
    # 6. dimension values exist and are active
    for line in lines:
        for tag, _, label, obj in DIMENSIONS:
            value = _text(line, tag)
            if not value:
                continue
            rec = company.find(obj, _ID_FIELD[obj], value) if obj else None
            if rec is None or rec.get("STATUS") != "active":
                raise _cc_fail(_invalid_dimension(label, value))
    # 7. a top-level posting in a multi-entity company needs a location on every line
    if company.multi_entity and not ctx.entity:
        for n, line in enumerate(lines, start=1):
            if not _text(line, "locationid"):
                # [EMULATOR CHOICE] text
                raise _cc_fail(
                    f"Line {n}: a location is required for transactions entered at "
                    "the top level of a multi-entity company."
                )
    # 8. a supporting document named by supdocid must exist ([EMULATOR CHOICE] text, README)
    supdoc_id = _text(fn, "supdocid")
    if supdoc_id:
        _check_supdoc(ctx, supdoc_id, CC_CREATE_FAILED)
    key = store_cctransaction(
        company,
        entity=entity or "",
        card_id=card_id,
        supdoc_id=supdoc_id,
        day=day,
        reference_no=_text(fn, "referenceno"),
        payee=_text(fn, "payee"),
        description=_text(fn, "description"),
        currency=_text(fn, "currency") or "USD",
        lines=[
            {
                "ACCOUNTNO": _text(line, "glaccountno"),
                "AMOUNT": amount,
                "DESCRIPTION": _text(line, "description"),
                **{
                    tag[:-2].upper() + "ID": _text(line, tag)
                    for tag in (
                        "departmentid",
                        "locationid",
                        "classid",
                        "projectid",
                        "customerid",
                        "vendorid",
                        "employeeid",
                        "itemid",
                    )
                },
            }
            for line, amount in zip(lines, amounts, strict=True)
        ],
    )
    key_el = etree.Element("key")
    key_el.text = key
    return [key_el]


def store_cctransaction(
    company: Company,
    *,
    entity: str,
    card_id: str,
    day: dt.date,
    reference_no: str,
    payee: str,
    description: str,
    currency: str,
    lines: list[dict],
    state: str = "Posted",
    supdoc_id: str = "",
) -> str:
    """Persist a header and its lines; ``lines`` hold ACCOUNTNO, AMOUNT (Decimal) and dims."""
    key = company.new_recordno()
    total = sum((Decimal(line["AMOUNT"]) for line in lines), Decimal(0))
    ename = company.entity_name(entity)
    company.records("CCTRANSACTION").append(
        {
            "RECORDNO": key,
            "RECORDID": reference_no,
            "FINANCIALENTITY": card_id,
            "WHENCREATED": fmt_date(day),
            "TOTALENTERED": fmt_amount(total),
            "TRX_TOTALENTERED": fmt_amount(total),
            "CURRENCY": currency,
            "DESCRIPTION": description,
            "PAYEE": payee,
            "STATE": state,
            "REVERSALKEY": "",
            "REVERSEDKEY": "",
            "REVERSALDATE": "",
            "MEGAENTITYID": entity,
            "MEGAENTITYNAME": ename,
            "WHENMODIFIED": dt.datetime.now().strftime("%m/%d/%Y %H:%M:%S"),
            "SUPDOCID": supdoc_id,
            "_entity": entity,
        }
    )
    for n, line in enumerate(lines, start=1):
        amount = fmt_amount(Decimal(line["AMOUNT"]))
        row = {f: str(line.get(f, "")) for f in OBJECT_FIELDS["CCTRANSACTIONENTRY"]}
        row.update(
            {
                "RECORDNO": company.new_recordno(),
                "RECORDKEY": key,
                "LINE_NO": str(n),
                "AMOUNT": amount,
                "TRX_AMOUNT": amount,
                "MEGAENTITYID": entity,
                "MEGAENTITYNAME": ename,
                "_entity": entity,
            }
        )
        company.records("CCTRANSACTIONENTRY").append(row)
    return key


def _own_cctransaction(ctx: Context, key: str, generic: str) -> dict[str, str]:
    header = next((r for r in visible(ctx, "CCTRANSACTION") if r["RECORDNO"] == key), None)
    if header is None:
        # [EMULATOR CHOICE] text
        raise _cc_fail(f"Charge card transaction {key} does not exist.", generic)
    return header


def reverse_cctransaction(ctx: Context, fn: etree._Element) -> list[etree._Element]:
    _require_permission(ctx, "reverse_cctransaction", "cctransaction")
    key = fn.get("key", "").strip()
    header = _own_cctransaction(ctx, key, CC_REVERSE_FAILED)
    if header.get("REVERSALKEY") or header.get("REVERSEDKEY"):
        raise _cc_fail(
            f"Charge card transaction {key} has already been reversed.", CC_REVERSE_FAILED
        )
    day = _split_date(fn.find("datereversed"), "datereversed", CC_REVERSE_FAILED)
    if day < parse_date(header["WHENCREATED"]):
        raise _cc_fail(
            "The reversal date cannot be before the transaction date.", CC_REVERSE_FAILED
        )
    _check_open_period(ctx, day, header.get("_entity", ""), CC_REVERSE_FAILED)
    lines = [r for r in ctx.company.records("CCTRANSACTIONENTRY") if r["RECORDKEY"] == key]
    new_key = store_cctransaction(
        ctx.company,
        entity=header.get("_entity", ""),
        card_id=header["FINANCIALENTITY"],
        day=day,
        reference_no=header["RECORDID"],
        payee=header["PAYEE"],
        description=_text(fn, "memo") or header["DESCRIPTION"],
        currency=header["CURRENCY"],
        lines=[{**line, "AMOUNT": -Decimal(line["AMOUNT"])} for line in lines],
        state="Reversal",  # [EMULATOR CHOICE] state names
    )
    header.update(STATE="Reversed", REVERSALKEY=new_key, REVERSALDATE=fmt_date(day))
    reversal = ctx.company.find("CCTRANSACTION", "RECORDNO", new_key)
    assert reversal is not None
    reversal.update(REVERSEDKEY=key, REVERSALDATE=fmt_date(day))
    key_el = etree.Element("key")
    key_el.text = new_key
    return [key_el]


def delete(ctx: Context, fn: etree._Element) -> list[etree._Element]:
    obj = _object(ctx, fn.findtext("object"))
    _require_permission(ctx, "delete", obj)
    if obj != "CCTRANSACTION":
        raise FunctionFailure(
            GwError(
                ERR_BUSINESS,
                "",
                f"API operation 'DELETE' cannot be performed on objects of type {obj.lower()}",
            )
        )
    keys = [k.strip() for k in (fn.findtext("keys") or "").split(",") if k.strip()]
    generic = "Could not delete cctransaction record!"  # [EMULATOR CHOICE]
    headers = [_own_cctransaction(ctx, k, generic) for k in keys]
    for header in headers:
        _check_open_period(
            ctx, parse_date(header["WHENCREATED"]), header.get("_entity", ""), generic
        )
    gone = {h["RECORDNO"] for h in headers}
    company = ctx.company
    company.objects["CCTRANSACTION"] = [
        r for r in company.records("CCTRANSACTION") if r["RECORDNO"] not in gone
    ]
    company.objects["CCTRANSACTIONENTRY"] = [
        r for r in company.records("CCTRANSACTIONENTRY") if r["RECORDKEY"] not in gone
    ]
    return []


# --------------------------------------------------------------------------------------------
# supporting documents (attachments) and linking them to credit card transactions
# --------------------------------------------------------------------------------------------


def _check_supdoc(ctx: Context, supdoc_id: str, generic: str) -> None:
    if ctx.company.find("SUPDOC", "SUPDOCID", supdoc_id) is None:
        # [EMULATOR CHOICE] text: the real message for an unknown supdocid is not on record
        raise _cc_fail(f"Invalid Supporting Document '{supdoc_id}' specified.", generic)


def _supdoc_fail(text: str) -> FunctionFailure:
    return _cc_fail(text, SUPDOC_CREATE_FAILED)


def create_supdoc(ctx: Context, fn: etree._Element) -> list[etree._Element]:
    """A supporting document in an existing folder, its attachments base64-decoded and kept.

    [EMULATOR CHOICE] (README): a folder is required; a second document with the same ID, an
    unknown folder, an attachment without name or type, or data that is not base64 are
    refused with errorno BL01001973 and a specific text first.
    """
    _require_permission(ctx, "create_supdoc", "supdoc")
    company = ctx.company
    supdoc_id = _text(fn, "supdocid")
    if not supdoc_id:
        raise _supdoc_fail("Required field supdocid is missing.")
    if company.find("SUPDOC", "SUPDOCID", supdoc_id) is not None:
        raise _supdoc_fail(f"Another supporting document with the ID '{supdoc_id}' already exists.")
    folder = _text(fn, "supdocfoldername")
    if not folder:
        raise _supdoc_fail("Required field supdocfoldername is missing.")
    if company.find("SUPDOCFOLDER", "NAME", folder) is None:
        raise _supdoc_fail(f"Invalid folder name '{folder}' specified.")
    attachments: list[tuple[str, str, bytes]] = []
    for n, att in enumerate(fn.findall("attachments/attachment"), start=1):
        name, kind = _text(att, "attachmentname"), _text(att, "attachmenttype")
        if not name or not kind:
            raise _supdoc_fail(f"Attachment {n}: attachmentname and attachmenttype are required.")
        raw = "".join((att.findtext("attachmentdata") or "").split())
        try:
            data = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise _supdoc_fail(
                f"Attachment '{name}': attachmentdata is not valid base64."
            ) from None
        if not data:
            raise _supdoc_fail(f"Attachment '{name}': attachmentdata is empty.")
        attachments.append((name, kind, data))
    record: dict = {
        "RECORDNO": company.new_recordno(),
        "SUPDOCID": supdoc_id,
        "SUPDOCNAME": _text(fn, "supdocname"),
        "FOLDER": folder,
        "DESCRIPTION": _text(fn, "supdocdescription"),
        "ATTACHMENTS": str(len(attachments)),
        "_entity": "",
        "_attachments": attachments,
    }
    company.records("SUPDOC").append(record)
    key_el = etree.Element("key")
    key_el.text = supdoc_id
    return [key_el]


def update_cctransaction(ctx: Context, fn: etree._Element) -> list[etree._Element]:
    """Only ``supdocid`` is emulated: it links a supporting document (which must exist).

    [EMULATOR CHOICE] (README): any other field is refused as not emulated; a link is allowed
    whatever the period (whether Intacct allows attaching in a closed period is unknown).
    """
    _require_permission(ctx, "update_cctransaction", "cctransaction")
    others = [c.tag for c in fn if isinstance(c.tag, str) and c.tag != "supdocid"]
    if others:
        raise FunctionFailure(
            GwError(
                "DL02000001",
                "",
                f"update_cctransaction: only supdocid is supported by the local gateway "
                f"(got {', '.join(others)})",
            )
        )
    key = fn.get("key", "").strip()
    header = _own_cctransaction(ctx, key, CC_UPDATE_FAILED)
    supdoc_id = _text(fn, "supdocid")
    if supdoc_id:
        _check_supdoc(ctx, supdoc_id, CC_UPDATE_FAILED)
    header["SUPDOCID"] = supdoc_id
    key_el = etree.Element("key")
    key_el.text = key
    return [key_el]


HANDLERS: dict[str, Handler] = {
    "getAPISession": get_api_session,
    "readByQuery": read_by_query,
    "readMore": read_more,
    "query": query,
    "read": read,
    "readByName": read_by_name,
    "record_cctransaction": record_cctransaction,
    "reverse_cctransaction": reverse_cctransaction,
    "delete": delete,
    "create_supdoc": create_supdoc,
    "update_cctransaction": update_cctransaction,
}
