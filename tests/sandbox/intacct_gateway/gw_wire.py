"""Raw request building and posting for the gateway tests (lxml + requests, no product code)."""

from __future__ import annotations

from collections.abc import Iterable

import requests
from lxml import etree

SENDER = ("bill.com", "sender-pass-0001")
USER = ("Divvy", "ws-user-pass-0001")
COMPANY = "ACME-DEMO"
CARD = "Divvy CC Object"


def el(tag: str, text: str | None = None, *children: etree._Element, **attrs: str):
    node = etree.Element(tag, attrs)
    if text is not None:
        node.text = text
    node.extend(children)
    return node


def login(
    user: str = USER[0],
    password: str = USER[1],
    company: str = COMPANY,
    entity: str | None = "E100",
) -> etree._Element:
    node = el("login", None, el("userid", user), el("companyid", company), el("password", password))
    if entity is not None:
        node.append(el("locationid", entity))
    return node


def request(
    functions: Iterable[etree._Element],
    *,
    auth: etree._Element | None = None,
    sender: tuple[str, str] = SENDER,
    unique: bool = False,
    transaction: bool = False,
    control_id: str = "ctl-1",
) -> etree._Element:
    """``functions``: ``<function>`` elements or bare operation elements (wrapped as f1, f2...)."""
    control = el(
        "control",
        None,
        el("senderid", sender[0]),
        el("password", sender[1]),
        el("controlid", control_id),
        el("uniqueid", "true" if unique else "false"),
        el("dtdversion", "3.0"),
        el("includewhitespace", "false"),
    )
    content = el("content")
    for n, fn in enumerate(functions, start=1):
        content.append(fn if fn.tag == "function" else el("function", None, fn, controlid=f"f{n}"))
    operation = el(
        "operation",
        None,
        el("authentication", None, auth if auth is not None else login()),
        content,
        transaction="true" if transaction else "false",
    )
    return el("request", None, control, operation)


def post(url: str, doc: etree._Element | bytes, timeout: float = 10) -> requests.Response:
    body = (
        doc
        if isinstance(doc, bytes)
        else etree.tostring(doc, xml_declaration=True, encoding="UTF-8")
    )
    return requests.post(
        url, data=body, headers={"Content-Type": "application/xml"}, timeout=timeout
    )


def call(url: str, *functions: etree._Element, **kw) -> etree._Element:
    """Post and parse; asserts HTTP 200 and the XML content type."""
    timeout = kw.pop("timeout", 10)
    resp = post(url, request(functions, **kw), timeout=timeout)
    assert resp.status_code == 200, resp.text
    assert resp.headers["Content-Type"] == 'text/xml; encoding="UTF-8"'
    return etree.fromstring(resp.content)


def results(resp: etree._Element) -> list[etree._Element]:
    return resp.findall("operation/result")


def errornos(node: etree._Element) -> list[str]:
    return [e.text or "" for e in node.findall("errormessage/error/errorno")]


def descriptions(node: etree._Element) -> list[str]:
    return [
        (e.findtext("description") or "") + (e.findtext("description2") or "")
        for e in node.findall("errormessage/error")
    ]


def read_by_query(obj: str, query: str = "", fields: str = "*", pagesize: int | None = None):
    node = el("readByQuery", None, el("object", obj), el("fields", fields), el("query", query))
    if pagesize is not None:
        node.append(el("pagesize", str(pagesize)))
    return node


def split_date(tag: str, y: int, m: int, d: int) -> etree._Element:
    return el(tag, None, el("year", str(y)), el("month", f"{m:02d}"), el("day", f"{d:02d}"))


def line(account: str, amount: str, **dims: str) -> etree._Element:
    node = el(
        "ccpayitem",
        None,
        el("glaccountno", account),
        el("description", "line"),
        el("paymentamount", amount),
    )
    for tag in ("departmentid", "locationid", "projectid", "classid"):
        if tag in dims:
            node.append(el(tag, dims[tag]))
    return node


def cctransaction(
    *lines: etree._Element,
    card: str = CARD,
    date=(2026, 10, 15),
    ref: str = "REF-1",
    payee: str = "Delta",
) -> etree._Element:
    lines = lines or (line("6200", "123.45", locationid="100"),)
    return el(
        "record_cctransaction",
        None,
        el("chargecardid", card),
        split_date("paymentdate", *date),
        el("referenceno", ref),
        el("payee", payee),
        el("description", "Trip"),
        el("ccpayitems", None, *lines),
    )
