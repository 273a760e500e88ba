"""Receipts as Intacct attachments (issue 11, part 4), without Airflow.

For each posted transaction of the window (its days and the lookback) that is due, Divvy is
asked for its receipts (only ``GET /v3/spend/transactions/{id}`` lists them). Due: never asked,
changed in Divvy since (the ledger's ``updated_time`` differs from the one recorded with the
last check, ``receipt_check``), asked ``receipts_recheck_days`` ago or more (whether Divvy bumps
``updatedTime`` for a new receipt is unverified), or holding a failed receipt. At most
``receipts_max_checks`` are asked per run, never-asked then least recently asked first, so a
window larger than that is covered over successive runs. Receipts the ledger does not
hold as attached (or that failed before) are downloaded, checked against the size and type
limits of the settings, and put into one Intacct supporting document with the receipts already
attached, which the credit card transaction's ``supdocid`` then names (``update_cctransaction``).
Each receipt's outcome is recorded in ``receipt_attachment``:

- ``attached``: in supporting document ``supdoc_id``; never sent again unless a later receipt
  of the same transaction makes a new document holding all of them;
- ``rejected``: too large or of a type not allowed, with the message saying which and the fix;
  not tried again (a new upload in Divvy is a new receipt);
- ``failed``: the download or Intacct failed; the next run tries again.

Why a new document holding every receipt rather than adding to the old one: a transaction
names one document, and whether ``update_supdoc`` adds attachments or replaces them is not in
the references. A document made whole works either way. Its ID is derived from the transaction
and the receipts it holds (``supdoc_id_for``), so a create whose answer was lost is found again
("already exists") instead of made twice.

A receipt never blocks posting: this step runs after load and alongside reconcile, and a
receipt that cannot be attached is reported on its own.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from intacct_hook.divvy.errors import DivvyApiError, DivvyReceiptTooLarge
from intacct_hook.divvy.records import DivvyReceipt
from intacct_hook.intacct.errors import IntacctError
from intacct_hook.intacct.records import Attachment, SupportingDocument
from intacct_hook.intacct.text import UnpostableRecord
from intacct_hook.logs import WarningLog
from intacct_hook.sync.ledger import Ledger, ReceiptCandidate, ReceiptRecord
from intacct_hook.sync.settings import SyncSettings
from intacct_hook.sync.window import SyncWindow

log = logging.getLogger(__name__)

SUPDOC_PREFIX = "DVY"
# 3 + 17 = 20 characters: Intacct's supporting document ID length is not in the references;
# 20 is short enough for any guess we know of, and 68 bits of hash never collide in practice.
SUPDOC_HASH_CHARS = 17
MESSAGES_IN_SUMMARY = 20

# Content types a server may give a file without an extension in its name.
_TYPE_OF_CONTENT = {
    "application/pdf": "pdf",
    "image/jpeg": "jpg",
    "image/jpg": "jpg",
    "image/png": "png",
    "image/gif": "gif",
    "image/tiff": "tif",
    "image/heic": "heic",
}


class ReceiptSource(Protocol):
    """What the step needs of Divvy (``DivvyHook``)."""

    def get_receipts(self, uuid: str) -> tuple[list[DivvyReceipt], list[str]]: ...

    def download_receipt(self, receipt: DivvyReceipt, *, max_bytes: int) -> Any: ...


class AttachmentTarget(Protocol):
    """What the step needs of Intacct (``IntacctHook``)."""

    def create_supdoc(self, doc: SupportingDocument, *, exist_ok: bool = False) -> str: ...

    def link_supdoc(self, record_no: str | int, supdoc_id: str) -> None: ...


@dataclass
class ReceiptReport:
    """What one run of the step did. ``rejected``/``failed`` hold one message per receipt."""

    enabled: bool = True
    preview: bool = False
    transactions: int = 0
    deferred: int = 0  # due, but past receipts_max_checks: a later run asks
    attached: int = 0
    unchanged: int = 0
    would_attach: int = 0
    supdocs: int = 0
    rejected: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """A small XCom: counts, and the first messages."""
        return {
            "enabled": self.enabled,
            "preview": self.preview,
            "transactions_checked": self.transactions,
            "transactions_deferred": self.deferred,
            "attached": self.attached,
            "already_attached": self.unchanged,
            "would_attach": self.would_attach,
            "supporting_documents": self.supdocs,
            "rejected": len(self.rejected),
            "failed": len(self.failed),
            "messages": (self.failed + self.rejected + self.warnings)[:MESSAGES_IN_SUMMARY],
        }


def supdoc_id_for(transaction_uuid: str, receipt_uuids: Sequence[str]) -> str:
    """The supporting document ID of a transaction holding exactly ``receipt_uuids``."""
    text = "\n".join([transaction_uuid, *sorted(receipt_uuids)])
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest().upper()
    return SUPDOC_PREFIX + digest[:SUPDOC_HASH_CHARS]


def file_type(receipt: DivvyReceipt, content_type: str | None = None) -> str | None:
    """The receipt's type as Intacct's ``attachmenttype`` takes it: the file name's extension,
    else the one its ``Content-Type`` stands for; None when neither says."""
    if receipt.extension:
        return receipt.extension
    kind = (content_type or "").split(";", 1)[0].strip().lower()
    return _TYPE_OF_CONTENT.get(kind)


def _name(receipt: DivvyReceipt) -> str:
    shown = receipt.filename or "(no file name)"
    return f"receipt {shown!r} ({receipt.uuid})"


def type_problem(kind: str | None, settings: SyncSettings) -> str | None:
    """Why a receipt of type ``kind`` is not attached, or None when it may be."""
    allowed = ", ".join(settings.receipts_allowed_types)
    if kind is None:
        return (
            f"its type is unknown (no extension, no known Content-Type); allowed: {allowed}. "
            "Fix: attach it in Intacct by hand, or upload it in Divvy as one of those types"
        )
    if kind not in settings.receipts_allowed_types:
        return (
            f"type {kind!r} is not allowed (receipts_allowed_types: {allowed}). Fix: attach it "
            "in Intacct by hand, or add the type to receipts_allowed_types if Intacct takes it"
        )
    return None


def size_problem(settings: SyncSettings) -> str:
    return (
        f"it is larger than receipts_max_mb = {settings.receipts_max_mb:g} MB. Fix: attach it "
        "in Intacct by hand, or raise receipts_max_mb if Intacct takes larger files"
    )


def attach_receipts(
    divvy: ReceiptSource,
    intacct: AttachmentTarget | None,
    ledger: Ledger,
    settings: SyncSettings,
    window: SyncWindow,
    *,
    dry_run: bool = False,
    logger: WarningLog | None = None,
) -> ReceiptReport:
    """Attach the receipts of the window's posted transactions in Intacct (see the module).

    ``dry_run`` (the preview) only asks Divvy which receipts would be attached: nothing is
    downloaded, sent or recorded. Raises only for an Intacct outage or a refused sign-in
    (after recording what was done); every other problem is one receipt's message.
    """
    warn: WarningLog = logger or log
    if not settings.receipts_enabled:
        return ReceiptReport(enabled=False, preview=dry_run)
    report = ReceiptReport(preview=dry_run)
    due = ledger.receipt_candidates(
        window.lookback_from, window.last_day, recheck_days=settings.receipts_recheck_days
    )
    # One Divvy call each: the cap bounds a run, and the order (never asked, then least
    # recently asked) lets successive runs cover a window larger than it.
    candidates = due[: settings.receipts_max_checks]
    report.deferred = len(due) - len(candidates)
    if report.deferred:
        log.info(
            "Receipts: %d transactions due, %d asked (receipts_max_checks); the rest are "
            "asked first by the next runs",
            len(due),
            len(candidates),
        )
    known_all = ledger.receipt_records([c.uuid for c in candidates])
    for cand in candidates:
        report.transactions += 1
        try:
            receipts, problems = divvy.get_receipts(cand.uuid)
        except DivvyApiError as exc:
            report.failed.append(f"Transaction {cand.uuid}: its receipts could not be read: {exc}")
            continue
        if not dry_run and intacct is not None:
            # Before the attachments: a receipt that fails keeps the transaction due anyway.
            ledger.record_receipt_check(cand.uuid, cand.updated_time)
        report.warnings.extend(
            f"Transaction {cand.uuid}: a receipt Divvy listed could not be read ({p})"
            for p in problems
        )
        known = known_all.get(cand.uuid, {})
        pending = [r for r in receipts if r.uuid not in known or known[r.uuid].state == "failed"]
        report.unchanged += sum(
            1 for r in receipts if r.uuid in known and known[r.uuid].state == "attached"
        )
        if not pending:
            continue
        if dry_run or intacct is None:
            report.would_attach += len(pending)
            continue
        attached_before = [
            r for r in receipts if r.uuid in known and known[r.uuid].state == "attached"
        ]
        try:
            outcomes = _attach(divvy, intacct, settings, cand, attached_before, pending, report)
        except _Stop as stop:
            ledger.record_receipts(stop.outcomes)
            raise stop.error from None
        ledger.record_receipts(outcomes)
        for rec in outcomes:
            if rec.state != "attached":
                warn.warning("%s", rec.message)
    return report


def _attach(
    divvy: ReceiptSource,
    intacct: AttachmentTarget,
    settings: SyncSettings,
    cand: ReceiptCandidate,
    attached_before: list[DivvyReceipt],
    pending: list[DivvyReceipt],
    report: ReceiptReport,
) -> list[ReceiptRecord]:
    """One transaction: download, check, create the document, link it; the outcomes."""
    prefix = f"Transaction {cand.uuid}"
    outcomes: list[ReceiptRecord] = []

    def outcome(
        r: DivvyReceipt, state: str, message: str | None = None, supdoc: str | None = None
    ) -> None:
        outcomes.append(ReceiptRecord(cand.uuid, r.uuid, state, r.filename, supdoc, message))

    files: list[tuple[DivvyReceipt, Attachment]] = []
    new_files: list[DivvyReceipt] = []
    for receipt in [*attached_before, *pending]:
        is_new = receipt in pending
        result = _fetch(divvy, settings, receipt)
        if isinstance(result, Attachment):
            files.append((receipt, result))
            if is_new:
                new_files.append(receipt)
            continue
        state, problem = result
        if not is_new:
            # The whole document cannot be made again without it: the new ones wait.
            outcomes.clear()
            for r in pending:
                text = (
                    f"{prefix}: {_name(r)} not attached: {_name(receipt)}, attached earlier, "
                    f"could not be read again ({problem}); the next run tries again"
                )
                report.failed.append(text)
                outcome(r, "failed", text)
            return outcomes
        text = f"{prefix}: {_name(receipt)} not attached: {problem}"
        (report.rejected if state == "rejected" else report.failed).append(text)
        outcome(receipt, state, text)
    if not new_files:
        return outcomes
    supdoc_id = supdoc_id_for(cand.uuid, [r.uuid for r, _ in files])
    try:
        doc = SupportingDocument(
            supdoc_id=supdoc_id,
            folder=settings.receipts_folder,
            attachments=tuple(a for _, a in files),
            name=f"Divvy receipts {cand.uuid}",
            description=(
                f"Receipts of Divvy transaction {cand.uuid} ({cand.posting_date.isoformat()}), "
                f"Intacct record {cand.record_no}"
            ),
        )
        intacct.create_supdoc(doc, exist_ok=True)
        intacct.link_supdoc(cand.record_no, supdoc_id)
    except (IntacctError, UnpostableRecord) as exc:
        for r in new_files:
            text = f"{prefix}: {_name(r)} not attached: Intacct refused: {exc}"
            report.failed.append(text)
            outcome(r, "failed", text)
        if isinstance(exc, IntacctError) and exc.level != "function":
            # An outage or a refused sign-in: every other transaction would fail the same way.
            raise _Stop(outcomes, exc) from exc
        return outcomes
    report.supdocs += 1
    report.attached += len(new_files)
    for r, _ in files:
        outcome(r, "attached", None, supdoc_id)
    return outcomes


class _Stop(Exception):
    """An outage or refused sign-in: the outcomes so far, and the error to raise."""

    def __init__(self, outcomes: list[ReceiptRecord], error: IntacctError) -> None:
        super().__init__(str(error))
        self.outcomes = outcomes
        self.error = error


def _fetch(
    divvy: ReceiptSource, settings: SyncSettings, receipt: DivvyReceipt
) -> Attachment | tuple[str, str]:
    """The receipt as an attachment, or ``(state, problem)``: rejected or failed."""
    if receipt.extension is not None:
        problem = type_problem(receipt.extension, settings)
        if problem:
            return "rejected", problem  # not even downloaded
    try:
        got = divvy.download_receipt(receipt, max_bytes=settings.receipts_max_bytes)
    except DivvyReceiptTooLarge:
        return "rejected", size_problem(settings)
    except DivvyApiError as exc:
        return "failed", f"the download failed ({exc}); the next run tries again"
    except OSError as exc:  # connection errors after the retries (requests' are OSErrors)
        return "failed", f"the download failed ({type(exc).__name__}); the next run tries again"
    kind = file_type(receipt, getattr(got, "content_type", None))
    problem = type_problem(kind, settings)
    if problem:
        return "rejected", problem
    data = got.data
    if not data:
        return "rejected", "the file is empty. Fix: upload it again in Divvy"
    assert kind is not None
    try:
        return Attachment(name=receipt.stem, type=kind, data=data)
    except UnpostableRecord as exc:
        return "rejected", str(exc)
