"""lxml builders for the response envelope (reference §2.1, §2.3)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from lxml import etree


@dataclass(frozen=True)
class GwError:
    """One ``<error>`` entry; any part may be empty (reference §2.3)."""

    errorno: str
    description: str = ""
    description2: str = ""
    correction: str = ""


ROLLED_BACK = GwError(
    "XL03000009",
    "",
    "The entire transaction in this operation has been rolled back due to an error.",
)


def sub(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    el = etree.SubElement(parent, tag, {k: v for k, v in attrs.items()})
    if text is not None:
        el.text = text
    return el


def errormessage(errors: Iterable[GwError]) -> etree._Element:
    root = etree.Element("errormessage")
    for err in errors:
        item = sub(root, "error")
        sub(item, "errorno", err.errorno)
        sub(item, "description", err.description)
        sub(item, "description2", err.description2)
        sub(item, "correction", err.correction)
    return root


def control_block(parent: etree._Element, status: str, echo: Sequence[tuple[str, str]]) -> None:
    control = sub(parent, "control")
    sub(control, "status", status)
    for tag, text in echo:
        sub(control, tag, text)


def gateway_error_body(errorno: str, description: str, description2: str = "") -> bytes:
    """Body of an HTTP-level gateway error (GW-0010 / GW-0011): errormessage, no control."""
    root = etree.Element("response")
    root.append(errormessage([GwError(errorno, description, description2)]))
    return serialize(root)


def serialize(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")
