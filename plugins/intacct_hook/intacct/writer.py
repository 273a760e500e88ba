"""The exactly-once writer: record credit card transactions, settle each outcome, look records
up by reference number (and reverse one).

Exactly once rests on two things Intacct offers: ``uniqueid=true`` with a deterministic control
ID per record and attempt (``control_id_for``), and the reference number (RECORDID) to look a
record up by. Whenever the outcome of a write is not certain, the record is looked up before
anything is sent again. The client (the hook) only sends requests and pages through answers;
nothing here imports Airflow.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from typing import Protocol

from intacct_hook.intacct import request as rq
from intacct_hook.intacct.errors import (
    SUPDOC_EXISTS,
    IntacctAmbiguousWrite,
    IntacctDuplicateControlId,
    IntacctError,
    IntacctResultIncomplete,
)
from intacct_hook.intacct.records import (
    CCTransaction,
    RecordOutcome,
    SupportingDocument,
    check_unique_references,
)
from intacct_hook.intacct.response import FunctionResult
from intacct_hook.logs import WarningLog

CCTRANSACTION_FIELDS = (
    "RECORDNO",
    "RECORDID",
    "FINANCIALENTITY",
    "WHENCREATED",
    "TOTALENTERED",
    "DESCRIPTION",
    "PAYEE",
    "STATE",
    "RECORD_URL",  # a link into Intacct's UI (field in public SDK field lists)
)
# How often one batch may come back ambiguous (each time resolved by a lookup) before its
# remaining records are reported failed; a later run resolves them the same way.
MAX_AMBIGUOUS_ROUNDS = 3

_log = logging.getLogger(__name__)


class IntacctClient(Protocol):
    """What the writer needs from a client: send functions, page through a query."""

    def execute(
        self,
        functions: Sequence[rq.Function],
        *,
        transaction: bool = False,
        unique_id: bool = False,
        records: dict[str, str] | None = None,
    ) -> list[FunctionResult]: ...

    def iter_query(
        self,
        obj: str,
        fields: Sequence[str],
        filter: rq.Filter | None = None,
        order_by: Sequence[tuple[str, str]] = (("RECORDNO", "asc"),),
        page_size: int = 1000,
    ) -> Iterator[dict]: ...


def _on_card(card_id: str | None, start: date, end: date) -> rq.Filter | None:
    """The window's records on ``card_id``; on every card when it is None (the exactly-once
    lookup asks whether a reference is anywhere, see ``steps.adopt_already_in_intacct``)."""
    dated = rq.between("WHENCREATED", start, end)
    return dated if card_id is None else rq.and_(rq.eq("FINANCIALENTITY", card_id), dated)


def iter_cctransactions(
    client: IntacctClient,
    card_id: str | None,
    start: date,
    end: date,
    fields: Sequence[str] = CCTRANSACTION_FIELDS,
) -> Iterator[dict]:
    """Credit card transactions on ``card_id`` dated ``start``..``end`` (inclusive), page by
    page: ``query``'s largest page (2,000), so a window of N records costs ceil(N/2000) reads
    and the caller holds one page at a time."""
    return client.iter_query(
        "CCTRANSACTION", fields, _on_card(card_id, start, end), page_size=rq.QUERY_MAX_PAGE
    )


def count_cctransactions(
    client: IntacctClient,
    card_id: str | None,
    start: date,
    end: date,
    *,
    with_reference: bool = False,
) -> int:
    """How many credit card transactions ``card_id`` holds dated ``start``..``end`` (only those
    with a reference number when ``with_reference``): one ``query`` of page size 1, read from
    its ``totalcount`` (no aggregate needed)."""
    flt = _on_card(card_id, start, end)
    if with_reference:
        flt = rq.and_(flt, rq.is_not_null("RECORDID"))
    fn = rq.query("CCTRANSACTION", ("RECORDNO",), filter=flt, page_size=1)
    return client.execute([fn])[0].raise_for_status().total_count


def find_cctransactions(
    client: IntacctClient,
    card_id: str | None,
    start: date,
    end: date,
    reference_nos: Iterable[str] | None = None,
) -> list[dict]:
    """Credit card transactions on ``card_id`` (every card: None) dated ``start``..``end``
    (inclusive), optionally only those whose RECORDID is one of ``reference_nos``.

    References go to Intacct in ``in`` lists of 1,000, one read each. When that takes more than
    one read, Intacct is first asked how many records the range holds; if reading the whole
    range (pages of 2,000) is cheaper, the range is read and matched here. Both routes return
    the same records: the range route filters on exactly the same card, dates and references.
    A fresh window of 100,000 references costs 1 read instead of 100.
    """
    if reference_nos is None:
        return list(iter_cctransactions(client, card_id, start, end))
    refs = list(dict.fromkeys(reference_nos))
    in_list_reads = -(-len(refs) // rq.MAX_IN_VALUES)
    if in_list_reads > 1:
        held = count_cctransactions(client, card_id, start, end)
        if held == 0:
            return []
        if -(-held // rq.QUERY_MAX_PAGE) < in_list_reads:
            wanted = set(refs)
            return [
                row
                for row in iter_cctransactions(client, card_id, start, end)
                if row.get("RECORDID") is not None and str(row["RECORDID"]) in wanted
            ]
    base = _on_card(card_id, start, end)
    rows: list[dict] = []
    for i in range(0, len(refs), rq.MAX_IN_VALUES):
        flt = rq.and_(base, rq.in_("RECORDID", refs[i : i + rq.MAX_IN_VALUES]))
        rows.extend(client.iter_query("CCTRANSACTION", CCTRANSACTION_FIELDS, flt))
    return rows


def reverse_cctransaction(
    client: IntacctClient,
    record_no: str | int,
    date_reversed: date,
    memo: str | None = None,
    *,
    control_id: str | None = None,
) -> str:
    """Reverse a credit card transaction; return the key Intacct gives back.

    ``control_id`` (see :func:`~intacct_hook.intacct.records.reversal_control_id`) is sent
    with ``uniqueid=true``: a second reversal with it raises ``IntacctDuplicateControlId``."""
    fn = rq.reverse_cctransaction(record_no, date_reversed, memo=memo, control_id=control_id)
    result = client.execute([fn], unique_id=control_id is not None)[0].raise_for_status()
    return result.key or str(record_no)


def create_supdoc(client: IntacctClient, doc: SupportingDocument, *, exist_ok: bool = False) -> str:
    """Create a supporting document; return its ID.

    ``exist_ok``: a refusal saying a document with this ID already exists counts as created.
    The receipts step derives the ID from the receipts it holds, so an existing document is
    the one an earlier, cut-off attempt created.
    """
    fn = rq.create_supdoc(doc)
    result = client.execute([fn], records={fn.control_id: doc.supdoc_id})[0]
    if exist_ok and not result.ok and result.error and result.error.says(SUPDOC_EXISTS):
        return doc.supdoc_id
    result.raise_for_status()
    return doc.supdoc_id


def link_supdoc(client: IntacctClient, record_no: str | int, supdoc_id: str) -> None:
    """Point the credit card transaction ``record_no`` at the supporting document
    ``supdoc_id`` (``update_cctransaction`` with ``supdocid``). Repeating it is harmless."""
    fn = rq.link_supdoc(record_no, supdoc_id)
    client.execute([fn], records={fn.control_id: str(record_no)})[0].raise_for_status()


class CCTransactionWriter:
    """Post credit card transactions through ``client`` exactly once.

    :param log: where the writer says what it resolved (the hook passes its own logger, so the
        lines land in the task log).
    """

    def __init__(self, client: IntacctClient, *, log: WarningLog | None = None) -> None:
        self.client = client
        self.log = log or _log

    def record(
        self,
        txns: Sequence[CCTransaction],
        *,
        batch_size: int,
        transaction: bool = False,
        check_first: bool = False,
    ) -> list[RecordOutcome]:
        """One outcome per transaction, in order; see ``IntacctHook.record_cctransactions``."""
        txns = list(txns)
        check_unique_references(txns)
        size = len(txns) if transaction else batch_size
        outcomes: dict[str, RecordOutcome] = {}
        for start in range(0, len(txns), max(size, 1)):
            batch = txns[start : start + size]
            if check_first:
                found = self.lookup(batch)
                outcomes.update(
                    {
                        t.reference_no: _already(t, found[t.reference_no])
                        for t in batch
                        if t.reference_no in found
                    }
                )
                batch = [t for t in batch if t.reference_no not in found]
            if batch:
                outcomes.update(self._record_batch(batch, transaction))
        return [outcomes[t.reference_no] for t in txns]

    def _record_batch(
        self, batch: list[CCTransaction], transaction: bool
    ) -> dict[str, RecordOutcome]:
        outcomes: dict[str, RecordOutcome] = {}
        pending = batch
        last_error: IntacctError | None = None
        for _round in range(MAX_AMBIGUOUS_ROUNDS):
            records = {t.control_id: t.reference_no for t in pending}
            functions = [rq.record_cctransaction(t) for t in pending]
            try:
                results = self.client.execute(
                    functions, transaction=transaction, unique_id=True, records=records
                )
            except IntacctAmbiguousWrite as exc:
                self.log.warning(
                    "Outcome of %d credit card transaction(s) unknown (%s); "
                    "looking them up before sending again",
                    len(pending),
                    exc.http_status or "no answer",
                )
                found = self.lookup(pending)
                for txn in pending:
                    if txn.reference_no in found:
                        outcomes[txn.reference_no] = _already(txn, found[txn.reference_no])
                pending = [t for t in pending if t.reference_no not in found]
                if not pending:
                    return outcomes
                last_error = exc
                continue
            outcomes.update(self.settle(pending, results))
            return outcomes
        assert last_error is not None  # only reached after ambiguous rounds
        for txn in pending:
            outcomes[txn.reference_no] = RecordOutcome(
                txn.reference_no,
                txn.control_id,
                "failed",
                error=last_error.with_context(record=txn.reference_no, control_id=txn.control_id),
            )
        return outcomes

    def settle(
        self, txns: list[CCTransaction], results: list[FunctionResult]
    ) -> dict[str, RecordOutcome]:
        """Turn results into outcomes; failed writes are checked against Intacct first."""
        outcomes: dict[str, RecordOutcome] = {}
        doubtful: list[tuple[CCTransaction, FunctionResult]] = []
        for txn, result in zip(txns, results, strict=True):
            if result.ok:
                outcomes[txn.reference_no] = RecordOutcome(
                    txn.reference_no, txn.control_id, "posted", record_no=result.key
                )
            elif result.status == "aborted":
                # Rolled back: nothing was written, so no lookup is needed.
                outcomes[txn.reference_no] = _failed(txn, result)
            else:
                doubtful.append((txn, result))
        if doubtful:
            found = self.lookup([t for t, _ in doubtful])
            for txn, result in doubtful:
                if txn.reference_no in found:
                    outcomes[txn.reference_no] = _already(txn, found[txn.reference_no])
                else:
                    outcomes[txn.reference_no] = _failed(txn, result)
        return outcomes

    def lookup(self, txns: list[CCTransaction]) -> dict[str, dict]:
        """Existing CCTRANSACTION rows by reference number, for the given transactions."""
        by_card: dict[str, list[CCTransaction]] = {}
        for txn in txns:
            by_card.setdefault(txn.card_id, []).append(txn)
        found: dict[str, dict] = {}
        for card_id, group in by_card.items():
            start = min(t.payment_date for t in group)
            end = max(t.payment_date for t in group)
            rows = find_cctransactions(
                self.client, card_id, start, end, [t.reference_no for t in group]
            )
            for row in rows:
                ref = row.get("RECORDID")
                if ref and ref not in found:
                    found[str(ref)] = row
        for txn in txns:
            existing = found.get(txn.reference_no)
            total = existing.get("TOTALENTERED") if existing else None
            if existing and total is not None and total != txn.total:
                self.log.warning(
                    "Intacct record %s for reference %s totals %s, expected %s",
                    existing.get("RECORDNO"),
                    txn.reference_no,
                    total,
                    txn.total,
                )
        return found


def _already(txn: CCTransaction, row: dict) -> RecordOutcome:
    return RecordOutcome(
        txn.reference_no,
        txn.control_id,
        "already_posted",
        record_no=str(row.get("RECORDNO") or "") or None,
    )


def _failed(txn: CCTransaction, result: FunctionResult) -> RecordOutcome:
    error = result.error or IntacctResultIncomplete("no status")
    if isinstance(error, IntacctResultIncomplete | IntacctDuplicateControlId):
        # Already processed but not found by reference number: say so rather than guess.
        error = type(error)(
            "Intacct refused the write as already processed, but no record with this "
            "reference number exists on the card",
            errors=error.errors,
            control_id=txn.control_id,
            record=txn.reference_no,
        )
    return RecordOutcome(
        txn.reference_no,
        txn.control_id,
        "failed",
        error=error.with_context(record=txn.reference_no, control_id=txn.control_id),
    )
