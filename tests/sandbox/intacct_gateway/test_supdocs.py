"""Supporting documents (create_supdoc) and their link from a credit card transaction
(supdocid on record_cctransaction and update_cctransaction), with Intacct-style refusals."""

from __future__ import annotations

import base64

import pytest
from gw_wire import call, cctransaction, descriptions, el, errornos, read_by_query, results


def _one(gw, fn, **kw):
    [result] = results(call(gw.url, fn, **kw))
    return result


def supdoc(
    supdoc_id: str = "DVY-1",
    folder: str | None = "Divvy Receipts",
    *attachments: tuple[str, str, str],
) -> object:
    node = el("create_supdoc", None, el("supdocid", supdoc_id), el("supdocname", "Receipts"))
    if folder is not None:
        node.append(el("supdocfoldername", folder))
    atts = attachments or (("lunch", "pdf", base64.b64encode(b"%PDF-1.4 lunch").decode()),)
    node.append(
        el(
            "attachments",
            None,
            *(
                el(
                    "attachment",
                    None,
                    el("attachmentname", name),
                    el("attachmenttype", kind),
                    el("attachmentdata", data),
                )
                for name, kind, data in atts
            ),
        )
    )
    return node


def link(key: str, supdoc_id: str, *extra) -> object:
    return el("update_cctransaction", None, *extra, el("supdocid", supdoc_id), key=key)


def test_a_supporting_document_is_stored_with_its_decoded_attachments(gw):
    result = _one(gw, supdoc())
    assert result.findtext("status") == "success", descriptions(result)
    assert result.findtext("key") == "DVY-1"
    [doc] = gw.supdocs()
    assert (doc["SUPDOCID"], doc["FOLDER"], doc["SUPDOCNAME"], doc["ATTACHMENTS"]) == (
        "DVY-1",
        "Divvy Receipts",
        "Receipts",
        "1",
    )
    assert doc["attachments"] == [("lunch", "pdf", b"%PDF-1.4 lunch")]
    data = _one(gw, read_by_query("SUPDOC", "SUPDOCID = 'DVY-1'")).find("data")
    assert data.get("count") == "1"


@pytest.mark.parametrize(
    ("make", "text"),
    [
        (
            lambda: supdoc("DVY-1"),
            "Another supporting document with the ID 'DVY-1' already exists.",
        ),
        (lambda: supdoc("DVY-2", "Nope"), "Invalid folder name 'Nope' specified."),
        (lambda: supdoc("DVY-2", None), "Required field supdocfoldername is missing."),
        (
            lambda: supdoc("DVY-2", "Divvy Receipts", ("bad", "pdf", "not base64!")),
            "Attachment 'bad': attachmentdata is not valid base64.",
        ),
        (
            lambda: supdoc("DVY-2", "Divvy Receipts", ("empty", "pdf", "")),
            "Attachment 'empty': attachmentdata is empty.",
        ),
    ],
    ids=["duplicate", "unknown-folder", "no-folder", "bad-base64", "empty"],
)
def test_a_bad_supporting_document_is_refused_and_nothing_is_kept(gw, make, text):
    assert _one(gw, supdoc()).findtext("status") == "success"
    result = _one(gw, make())
    assert result.findtext("status") == "failure"
    assert errornos(result) == ["BL01001973", "BL01001973"]
    assert descriptions(result) == [text, "Could not create supdoc record!"]
    assert [d["SUPDOCID"] for d in gw.supdocs()] == ["DVY-1"]


def test_a_transaction_links_a_document_by_supdocid_and_refuses_an_unknown_one(gw):
    _one(gw, supdoc())
    posted = _one(gw, cctransaction(ref="REF-1"))
    key = posted.findtext("key")

    assert _one(gw, link(key, "DVY-1")).findtext("status") == "success"
    assert gw.cctransactions()[0]["SUPDOCID"] == "DVY-1"

    unknown = _one(gw, link(key, "DVY-404"))
    assert unknown.findtext("status") == "failure"
    assert descriptions(unknown) == [
        "Invalid Supporting Document 'DVY-404' specified.",
        "Could not update cctransaction record!",
    ]
    assert gw.cctransactions()[0]["SUPDOCID"] == "DVY-1"
    missing = _one(gw, link("999999", "DVY-1"))
    assert "Charge card transaction 999999 does not exist." in descriptions(missing)


def test_record_cctransaction_takes_a_known_supdocid_and_refuses_an_unknown_one(gw):
    _one(gw, supdoc())
    with_doc = cctransaction(ref="REF-2")
    with_doc.find("description").addnext(el("supdocid", "DVY-1"))
    assert _one(gw, with_doc).findtext("status") == "success"
    bad = cctransaction(ref="REF-3")
    bad.find("description").addnext(el("supdocid", "DVY-404"))
    result = _one(gw, bad)
    assert descriptions(result) == [
        "Invalid Supporting Document 'DVY-404' specified.",
        "Could not create cctransaction record!",
    ]
    assert [(r["RECORDID"], r["SUPDOCID"]) for r in gw.cctransactions()] == [("REF-2", "DVY-1")]


def test_update_cctransaction_emulates_only_the_link(gw):
    key = _one(gw, cctransaction()).findtext("key")
    result = _one(gw, link(key, "", el("payee", "Someone")))
    assert result.findtext("status") == "failure"
    assert "only supdocid is supported by the local gateway" in descriptions(result)[0]


def test_out_of_order_supdoc_elements_are_a_schema_error(gw):
    node = supdoc()
    node.insert(0, node[2])  # supdocfoldername before supdocid
    resp = call(gw.url, node)
    assert resp.findtext("control/status") == "failure"
    assert errornos(resp) == ["XL03000003"]
    assert "Element 'supdocfoldername': This element is not expected" in descriptions(resp)[0]
    assert gw.supdocs() == []
