"""Re-coding after posting (issue 11 part 2; README "Re-coding after posting").

A posted transaction that Divvy changes afterwards (its coding, amount or date: Divvy bumps
``updatedTime``) is found by a later run: stage never touches a posted row, so the ledger still
holds what was posted, and this step compares it with the version this run's extract landed.
``settings.recode_policy``:

``reverse_and_repost`` (default)
    ``reverse_cctransaction`` on the original date when its period is open, else on the day of
    the change (at the earliest the first open day), then the new version is posted under the
    reference number ``<uuid>:v<n>`` (n = 2 for the first change) with the attempt-scoped
    control ID :func:`~intacct_hook.intacct.records.control_id_for` derives from it. The
    load's exactly-once lookup (RECORDID = uuid) can therefore never take a replacement for
    the reversed original, nor the reverse: each version has its own reference, and the
    reversal carries its original's. A transaction Divvy declined after posting is reversed
    only, and becomes ``skipped``.
``report_only``
    The change is recorded (once per Divvy version) and reported; Intacct is not touched.

A transaction deleted in Divvy after posting is handled as a decline. Divvy sends no deletion
event: the transaction stops being listed and GET by id answers 404. So the posted rows whose
purchase day lies in this run's extract window and that this run's extract did not land are
looked up one by one (at most :data:`MAX_DELETION_LOOKUPS`); a 404 is a deletion, reversed only
(or reported once), and one Divvy still returns (its date moved out of the window) is left as
posted and logged. More missing rows than the cap mean an incomplete extract far more likely
than mass deletion: none is looked up or reversed, and the run warns.

The chain lives in the ledger table ``recoding`` (``schema_recoding.sql``), one row per change:
original → reversal → replacement. Exactly once: the row is committed (``reversing``) before
the reversal is sent, and before reversing, the original is read back: a ``REVERSALKEY``
means a run stopped after Intacct reversed it, and that reversal is recorded instead of a
second one. The replacement is sent with a lookup by its reference first
(``check_first=True``), so a run stopped after Intacct posted it adopts it. Every run resumes
the open rows first.

A change that makes the new version unpostable for now (held, unmapped) is reported and left:
Intacct keeps the posted version until the new one can be posted. An update that changes none
of the compared facts (a note, a receipt, Divvy's sync status) only records the new version.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from intacct_hook.divvy.errors import DivvyApiError
from intacct_hook.intacct.errors import (
    IntacctClosedPeriod,
    IntacctDuplicateControlId,
    IntacctError,
)
from intacct_hook.intacct.records import (
    CCTransaction,
    RecordOutcome,
    UnpostableRecord,
    reversal_control_id,
)
from intacct_hook.intacct.text import fit, xml_safe
from intacct_hook.sync.closed_periods import (
    FAIL,
    HOLD,
    HOLD_PREFIX,
    REDATE,
    Placement,
    first_open_after_refusal,
    first_open_day,
    in_closed_period,
    place,
    read_closed_through,
    refused_hold_reason,
    refused_redate_reason,
    with_purchase_note,
)
from intacct_hook.sync.ledger import MAPPED_LINE_PARAMS, Ledger, MappedLine
from intacct_hook.sync.map_inputs import line_inputs, stored_lines
from intacct_hook.sync.reconcile import ChainRecord, IntacctPosting
from intacct_hook.sync.settings import SyncSettings
from intacct_hook.sync.translation import (
    build_cctransaction,
    decide,
    posting_date,
    rules_from_settings,
    transaction_from_payload,
)
from intacct_hook.sync.window import SyncWindow

log = logging.getLogger(__name__)

REPOST, REPORT_ONLY = "reverse_and_repost", "report_only"
#: The Divvy types that end a posted transaction: reversed without a replacement.
ENDING_TYPES = ("DECLINE",)
#: The change of a transaction deleted in Divvy after posting (reversed only, as a decline).
DELETED = "deleted in Divvy"
#: Posted transactions missing from one run's extract that the run looks up in Divvy (GET by
#: id). More missing than this is far likelier an incomplete extract (an API fault returning
#: too few rows) than mass deletion: none is looked up, and none reversed.
MAX_DELETION_LOOKUPS = 100
#: Coding compared per line, in line order, with the amount.
_CODING = ("gl_account_no", "location_id", "department_id", "class_id", "project_id")
_NAMES = {
    "gl_account_no": "GL account",
    "location_id": "location",
    "department_id": "department",
    "class_id": "class",
    "project_id": "project",
}
#: The ledger statements this step writes with (the operator lists them for the UI).
STATEMENTS = (
    "recoding_open",
    "recoding_reversed",
    "recoding_refused",
    "recoding_replaced",
    "recoding_waiting",
    "recoding_dates",
    "recoding_redated",
    "recoding_revised",
    "recode_transaction",
    "recode_reversed_transaction",
    "recode_unchanged",
    "recode_examined",
    "delete_mapped_lines",
    "insert_mapped_line",
)


class Recoder(Protocol):
    """The Intacct side (the real hook): read back, reverse, post, books-closed date."""

    def read(
        self, obj: str, keys: Iterable[str | int], fields: Sequence[str] = ...
    ) -> list[dict]: ...

    def reverse_cctransaction(
        self,
        record_no: str | int,
        date_reversed: date,
        memo: str | None = None,
        *,
        control_id: str | None = None,
    ) -> str: ...

    def record_cctransactions(
        self, txns: Sequence[CCTransaction], *, check_first: bool = False
    ) -> list[RecordOutcome]: ...

    def get_books_closed_through(self) -> date | None: ...

    def find_cctransactions(
        self, card_id: str, start: date, end: date, reference_nos: Iterable[str] | None = None
    ) -> list[dict[str, Any]]: ...


class DivvyLookup(Protocol):
    """The Divvy side (the real hook): one transaction by uuid, None when Divvy answers 404."""

    def find_transaction(self, uuid: str) -> Any | None: ...


class ChainError(Exception):
    """A transaction's chain cannot go on as the ledger and Intacct describe it: reported as a
    failure of that transaction, and the step goes on with the others."""


@dataclass(frozen=True)
class Link:
    """One row of the ledger table ``recoding``: one change and what it did in Intacct."""

    uuid: str
    seq: int
    divvy_updated_time: str
    change: str
    status: str  # reported | reversing | reversed | replaced | done
    original_reference: str
    original_record_no: str
    original_date: str
    original_amount: str
    reversal_date: str | None = None
    reversal_record_no: str | None = None
    replacement_reference: str | None = None
    replacement_date: str | None = None
    purchase_date: str | None = None
    replacement_amount: str | None = None
    replacement_lines: str | None = None
    transaction_type: str | None = None
    merchant: str | None = None
    replacement_record_no: str | None = None
    replacement_control_id: str | None = None
    attempts: int = 0
    last_error: str | None = None
    run_id: str = ""
    detected_at: str = ""
    updated_at: str = ""

    def text(self) -> str:
        """The chain as people read it: original → reversal → replacement."""
        ref = "" if self.original_reference == self.uuid else f"{self.original_reference} "
        out = (
            f"{self.uuid}: {self.change}; {ref}record "
            f"{self.original_record_no} ({self.original_amount} on {self.original_date})"
        )
        if self.reversal_record_no:
            out += f" → reversal {self.reversal_record_no} on {self.reversal_date}"
        if self.replacement_record_no:
            out += (
                f" → {(self.replacement_reference or '').removeprefix(self.uuid)} record "
                f"{self.replacement_record_no} "
                f"({self.replacement_amount} on {self.replacement_date})"
            )
        return out


def version_reference(uuid: str, version: int) -> str:
    """Intacct's reference number (RECORDID) of version ``version`` of a Divvy transaction: the
    uuid itself for the first posting, ``<uuid>:v<n>`` for each replacement. ``:`` is in the
    reference alphabet :func:`control_id_for` keeps readable and is never in a Divvy uuid."""
    return uuid if version == 1 else f"{uuid}:v{version}"


@dataclass
class RecodeReport:
    policy: str
    dry_run: bool = False
    examined: int = 0  # posted transactions this run's extract read again, updated in Divvy
    unchanged: int = 0  # updated, but nothing posted changed
    reported: list[str] = field(default_factory=list)  # report_only, and a preview
    reversed: list[str] = field(default_factory=list)  # declined: reversed only
    reposted: list[str] = field(default_factory=list)  # full chains completed this run
    waiting: list[str] = field(default_factory=list)  # the new version cannot post yet
    failures: list[str] = field(default_factory=list)
    missing: int = 0  # posted, in the window, not in this run's extract
    deleted: int = 0  # of those, Divvy answered 404 (reversed or reported as the policy says)
    left: list[str] = field(default_factory=list)  # of those, Divvy still has: left as posted
    warnings: list[str] = field(default_factory=list)  # e.g. too many missing: none looked up
    # New versions dated in a closed period (closed_period_policy), as the load counts them.
    closed_policy: str = FAIL
    books_closed_through: date | None = None
    held: list[tuple[str, date]] = field(default_factory=list)  # waiting for the period
    closed_failed: list[tuple[str, date]] = field(default_factory=list)  # not sent: 'fail'
    redated: list[tuple[str, date, date]] = field(default_factory=list)  # posted later
    #: Open changes waiting for a closed period, resumed after this run's new Divvy versions
    #: (one may supersede a waiting change first). Bookkeeping, not part of the summary.
    waiting_links: dict[tuple[str, int], Link] = field(
        default_factory=dict, repr=False, compare=False
    )

    def closed_period_summary(self) -> dict[str, Any]:
        """The closed-period part of the summary, named as the load's ``closed_periods``."""

        def dates(items: Iterable[tuple[Any, ...]]) -> list[str]:
            return sorted({item[1].isoformat() for item in items})

        through = self.books_closed_through
        return {
            "policy": self.closed_policy,
            "books_closed_through": through.isoformat() if through else None,
            "held": len(self.held),
            "held_dates": dates(self.held),
            "failed": len(self.closed_failed),
            "failed_dates": dates(self.closed_failed),
            "redated": len(self.redated),
            "redated_from": dates(self.redated),
            "redated_to": sorted({to.isoformat() for _, _, to in self.redated}),
        }

    def summary(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "preview": self.dry_run,
            "examined": self.examined,
            "unchanged": self.unchanged,
            "reported": len(self.reported),
            "reversed": len(self.reversed),
            "reposted": len(self.reposted),
            "waiting": len(self.waiting),
            "failed": len(self.failures),
            "missing": self.missing,
            "deleted": self.deleted,
            "left": len(self.left),
            "warnings": self.warnings,
            "changes": (self.reposted + self.reversed + self.reported + self.waiting)[:20],
            "closed_periods": self.closed_period_summary(),
        }


@dataclass(frozen=True)
class _Change:
    """What a new Divvy version of a posted transaction asks for."""

    kind: str  # unchanged | repost | reverse | wait
    text: str
    updated_time: str
    updated: datetime | None = None
    purchase: date | None = None
    amount: Decimal | None = None
    lines: tuple[dict[str, Any], ...] = ()
    transaction_type: str | None = None
    merchant: str | None = None


class _Posting:
    """The ``PostingRow`` of a replacement (``build_cctransaction`` reads these four)."""

    def __init__(self, uuid: str, day: date, merchant: str | None, attempts: int) -> None:
        self.uuid = uuid
        self.posting_date = day
        self.merchant = merchant
        self.failed_attempts = attempts


def recode(
    intacct: Recoder,
    ledger: Ledger,
    settings: SyncSettings,
    run_id: str,
    *,
    mapper: Callable[[], Any],
    dry_run: bool = False,
    divvy: DivvyLookup | None = None,
    window: SyncWindow | None = None,
) -> RecodeReport:
    """Find the posted transactions Divvy changed (in this run's landing) and apply
    ``settings.recode_policy``; resume the changes a previous run left open first.

    ``mapper`` makes the map step's coder (a ``StoredMapper`` with Intacct's facts); it is
    called only when some posted transaction was updated in Divvy, so a run with no change
    reads nothing more from Intacct.

    ``divvy`` and ``window`` (this run's extract window; its extract completed, as this step
    runs after it): the posted transactions of the window that the extract did not land are
    looked up in Divvy, and those deleted there are treated as declined. Without them no
    deletion is looked for.
    """
    report = RecodeReport(
        settings.recode_policy, dry_run, closed_policy=settings.closed_period_policy
    )
    closed: list[date | None] = []  # read once, when a date is first needed

    def closed_through() -> date | None:
        if not closed:
            closed.append(read_closed_through(intacct)[0])
            report.books_closed_through = closed[0]
        return closed[0]

    if not dry_run:
        for link in _open_links(ledger):
            if link.status == "reversing" and _waited_for_period(link):
                report.waiting_links[(link.uuid, link.seq)] = link
                continue
            _advance(intacct, ledger, settings, run_id, link, report, closed_through)
        for row in _reinstated(ledger):
            try:
                charge = _open_reinstated(
                    ledger, row, run_id, closed_through(), settings.closed_period_policy
                )
            except ChainError as exc:
                _failed(report, row["uuid"], "charged again", str(exc))
                continue
            if charge is not None:
                _advance(intacct, ledger, settings, run_id, charge, report, closed_through)
    _apply(
        intacct, ledger, settings, run_id, _candidates(ledger, run_id), report,
        mapper=mapper, closed_through=closed_through, dry_run=dry_run,
    )  # fmt: skip
    if divvy is not None and window is not None:
        _deletions(
            intacct, ledger, settings, run_id, divvy, window, report,
            closed_through=closed_through, dry_run=dry_run,
        )  # fmt: skip
    for link in list(report.waiting_links.values()):
        _advance(intacct, ledger, settings, run_id, link, report, closed_through)
    for line in report.reported + report.waiting:
        log.warning("Changed in Divvy after posting: %s", line)
    return report


def _apply(
    intacct: Recoder,
    ledger: Ledger,
    settings: SyncSettings,
    run_id: str,
    candidates: Iterable[tuple[dict[str, Any], str]],
    report: RecodeReport,
    *,
    mapper: Callable[[], Any],
    closed_through: Callable[[], date | None],
    dry_run: bool,
) -> None:
    """Compare each candidate (read at the task's start: another task may have acted on it
    since, which ``_open`` checks under the row's lock) and act on its change."""
    coder = None
    for row, txn_text in candidates:
        found = _updated(row, txn_text, settings)
        if found is None:
            if not dry_run:  # not newer than what was posted: nothing to look at again
                _write(ledger, "recode_examined", uuid=row["uuid"], payload=txn_text)
            continue
        report.examined += 1
        if coder is None:
            coder = mapper()
        change = _compare(ledger, row, found, settings, coder)
        uuid = row["uuid"]
        if change.kind == "unchanged":
            report.unchanged += 1
            waiting = _waiting_for(report, uuid)
            if waiting is not None and not dry_run and settings.recode_policy == REPOST:
                # Divvy changed it back to the version posted: the waiting change is withdrawn.
                _supersede(
                    intacct, ledger, settings, run_id, row, waiting, change, report,
                    closed_through=closed_through, examined=txn_text,
                )  # fmt: skip
                continue
            if not dry_run:
                with ledger._write() as conn:
                    now = ledger.now()
                    conn.execute(
                        ledger._stmt("recode_unchanged"),
                        {"uuid": uuid, "updated_time": change.updated_time, "now": now},
                    )
                    conn.execute(
                        ledger._stmt("recode_examined"), {"uuid": uuid, "payload": txn_text}
                    )
            continue
        if change.kind == "wait":
            report.waiting.append(f"{uuid}: {change.text}")
            continue
        _act(
            intacct, ledger, settings, run_id, row, change, report,
            closed_through=closed_through, dry_run=dry_run, examined=txn_text,
        )  # fmt: skip


def _act(
    intacct: Recoder,
    ledger: Ledger,
    settings: SyncSettings,
    run_id: str,
    row: Mapping[str, Any],
    change: _Change,
    report: RecodeReport,
    *,
    closed_through: Callable[[], date | None],
    dry_run: bool,
    examined: str | None,
) -> None:
    """Report, or reverse (and re-post), one change of a posted transaction, as the policy says."""
    uuid = row["uuid"]
    links = _links(ledger, [uuid])
    waiting = next(
        (lk for lk in links if lk.status == "reversing" and _waited_for_period(lk)), None
    )
    if waiting is not None and not dry_run and settings.recode_policy == REPOST:
        _supersede(
            intacct, ledger, settings, run_id, row, waiting, change, report,
            closed_through=closed_through, examined=examined,
        )  # fmt: skip
        return
    if any(lk.status in ("reversing", "reversed") for lk in links):
        return  # resumed above; its newer version is looked at once it is done
    if dry_run or settings.recode_policy == REPORT_ONLY:
        if (
            not any(
                lk.divvy_updated_time == change.updated_time
                and lk.status == "reported"
                and lk.change == change.text
                for lk in links
            )
            and not dry_run
        ):
            _open(ledger, row, change, run_id, "reported", None, None)
        report.reported.append(f"{uuid}: {change.text} (not reversed: {_why_not(dry_run)})")
        return
    closed = closed_through()
    reversal_date = _reversal_date(
        date.fromisoformat(row["posting_date"]), change.updated, closed, settings.timezone
    )
    # Where the policy puts the new version now; _advance decides again before sending it.
    replacement_date = (
        place(change.purchase, closed, settings.closed_period_policy).day
        if change.purchase is not None
        else None
    )
    opened = _open(
        ledger, row, change, run_id, "reversing", reversal_date, replacement_date,
        examined=examined,
    )  # fmt: skip
    if opened is not None:
        _advance(intacct, ledger, settings, run_id, opened, report, closed_through)


def _deletions(
    intacct: Recoder,
    ledger: Ledger,
    settings: SyncSettings,
    run_id: str,
    divvy: DivvyLookup,
    window: SyncWindow,
    report: RecodeReport,
    *,
    closed_through: Callable[[], date | None],
    dry_run: bool,
) -> None:
    """The posted transactions of the window this run's extract did not land: those Divvy
    answers 404 for were deleted there, and end as a decline does."""
    first, last = window.lookback_from, window.last_day
    with ledger.engine.connect() as conn:
        rows = [
            dict(r)
            for r in conn.execute(
                ledger._stmt("select_missing_posted"),
                {
                    "run_id": run_id,
                    "first_day": first.isoformat(),
                    "last_day": last.isoformat(),
                    "deleted": DELETED,
                    "hold_prefix": HOLD_PREFIX,
                    "prefix_length": len(HOLD_PREFIX),
                    "limit": MAX_DELETION_LOOKUPS + 1,
                },
            ).mappings()
        ]
    report.missing = len(rows)
    if len(rows) > MAX_DELETION_LOOKUPS:
        warning = (
            f"More than {MAX_DELETION_LOOKUPS} posted transactions of {first}..{last} are "
            "missing from this run's Divvy extract: probably an incomplete extract, not "
            "deletions. None was looked up in Divvy or reversed; check the extract's counts."
        )
        report.warnings.append(warning)
        log.warning("%s", warning)
        return
    for row in rows:
        uuid = row["uuid"]
        try:
            found = divvy.find_transaction(uuid)
        except DivvyApiError as exc:
            _failed(report, uuid, "missing from this run's extract; looked up in Divvy", str(exc))
            continue
        if found is not None:
            text = (
                f"{uuid}: posted for {row['original_posting_date'] or row['posting_date']}, not "
                f"in this run's extract of {first}..{last}, but Divvy still has it "
                f"(occurred {getattr(found, 'occurred_time', '?')}): left as posted"
            )
            report.left.append(text)
            log.warning("%s", text)
            continue
        report.deleted += 1
        # No Divvy version is left to name: the link keeps the version that was posted.
        change = _Change("reverse", DELETED, row["updated_time"] or "")
        _act(
            intacct, ledger, settings, run_id, row, change, report,
            closed_through=closed_through, dry_run=dry_run, examined=None,
        )  # fmt: skip


def _why_not(dry_run: bool) -> str:
    return "preview" if dry_run else "recode_policy report_only"


# --- finding changes ---------------------------------------------------------------------------


def _candidates(ledger: Ledger, run_id: str) -> list[tuple[dict[str, Any], str]]:
    # Read whole before anything is written: only rows whose text changed come back (few), and
    # no read cursor stays open across the step's write transactions.
    with ledger.engine.connect() as conn:
        result = conn.execute(ledger._stmt("select_recode_candidates"), {"run_id": run_id})
        return [(dict(r), r["payload"]) for r in result.mappings()]


def _updated(row: Mapping[str, Any], landed: str, settings: SyncSettings) -> Any:
    """The landed Divvy transaction when Divvy updated it after the version posted."""
    try:
        txn = transaction_from_payload(json.loads(landed))
    except Exception:  # stage names unreadable payloads; nothing to compare here
        return None
    if txn.updated_time is None:
        return None
    if row["updated_time"] is not None:
        try:
            known = datetime.fromisoformat(row["updated_time"])
        except ValueError:
            known = None
        if known is not None and txn.updated_time <= known:
            return None
    return txn


def _compare(
    ledger: Ledger, row: Mapping[str, Any], txn: Any, settings: SyncSettings, coder: Any
) -> _Change:
    uuid = row["uuid"]
    updated = txn.updated_time.isoformat()
    decision = decide(txn, rules_from_settings(settings))
    kind = str(txn.raw_transaction_type).upper()
    merchant = txn.merchant_name or txn.raw_merchant_name
    merchant = (xml_safe(merchant).strip() or None) if merchant else None
    if decision.action == "skip":
        if kind in ENDING_TYPES:
            return _Change("reverse", f"now {kind} in Divvy", updated, txn.updated_time)
        return _Change("wait", f"not postable any more ({decision.reason})", updated)
    if decision.action == "hold":
        return _Change("wait", f"the new version is held: {decision.reason}", updated)
    try:
        purchase = posting_date(txn, settings.timezone)
    except OverflowError:
        return _Change("wait", "the new date has no local date", updated)
    verdict = coder.verdict(uuid, stored_lines(line_inputs(txn)))
    if verdict.reason is not None:
        return _Change("wait", f"the new version is unmapped: {verdict.reason}", updated)
    # The coder hands lines as MAPPED_LINE_PARAMS tuples (uuid first); the chain stores them
    # as JSON objects keyed by the line's fields.
    lines = [dict(zip(MAPPED_LINE_PARAMS[1:], ln[1:], strict=True)) for ln in verdict.lines]
    new = [(*tuple(ln.get(k) for k in _CODING), Decimal(ln["amount"])) for ln in lines]
    posted_lines = ledger.mapped_lines([uuid])[uuid]
    old = [(*tuple(getattr(ln, k) for k in _CODING), ln.amount) for ln in posted_lines]
    was = date.fromisoformat(row["original_posting_date"] or row["posting_date"])
    parts = []
    old_total, new_total = Decimal(row["amount"]), Decimal(txn.amount)
    if old_total != new_total:
        parts.append(f"amount {old_total} → {new_total}")
    if was != purchase:
        parts.append(f"date {was} → {purchase}")
    for i, key in enumerate(_CODING):
        before = ",".join(str(v[i]) for v in old if v[i])
        after = ",".join(str(v[i]) for v in new if v[i])
        if before != after:
            parts.append(f"{_NAMES[key]} {before or '-'} → {after or '-'}")
    if not parts and old != new:
        parts.append("line amounts")
    if not parts:
        return _Change("unchanged", "", updated)
    return _Change(
        "repost",
        fit("; ".join(parts), 500),
        updated,
        txn.updated_time,
        purchase,
        new_total,
        tuple(lines),
        xml_safe(str(txn.raw_transaction_type)),
        merchant,
    )


def _reversal_date(
    original: date, changed_at: datetime | None, closed: date | None, timezone: str
) -> date:
    """The reversal's date: the original's when its period is open, else the day of the change,
    at the earliest the first open day and never before the original. (The replacement's is
    ``closed_periods.place``'s: the policy's, as for a first posting.)"""
    if not in_closed_period(original, closed):
        return original
    assert closed is not None
    changed = _local_day(changed_at, timezone) if changed_at else original
    return max(changed, first_open_day(closed), original)


def _local_day(moment: datetime, timezone: str) -> date:
    return moment.astimezone(ZoneInfo(timezone)).date()


# --- the chain in the ledger --------------------------------------------------------------------


def _links(ledger: Ledger, uuids: Sequence[str]) -> list[Link]:
    with ledger.engine.connect() as conn:
        result = conn.execute(ledger._stmt("select_recodings", "uuids"), {"uuids": list(uuids)})
        return [Link(**dict(r)) for r in result.mappings()]


def _open_links(ledger: Ledger) -> list[Link]:
    with ledger.engine.connect() as conn:
        return [
            Link(**dict(r)) for r in conn.execute(ledger._stmt("select_open_recodings")).mappings()
        ]


def links(ledger: Ledger, uuids: Sequence[str]) -> list[Link]:
    """The chain of each given transaction, in order (for reports and tests)."""
    return _links(ledger, uuids)


def _write(ledger: Ledger, name: str, **params: Any) -> int:
    with ledger._write() as conn:
        return conn.execute(ledger._stmt(name), {**params, "now": ledger.now()}).rowcount


def _open(
    ledger: Ledger,
    row: Mapping[str, Any],
    change: _Change,
    run_id: str,
    status: str,
    reversal_date: date | None,
    replacement_date: date | None,
    *,
    examined: str | None = None,
) -> Link | None:
    """Open the next link of ``row``'s chain, or none when another task acted on it since this
    one read ``row`` (its record or version changed, or a link of it is open). ``examined``:
    the landed text the link acts on, no candidate again (the open link is resumed instead)."""
    uuid = row["uuid"]
    with ledger._write() as conn:
        now = ledger.now()
        current, previous = _locked_chain(ledger, conn, uuid)
        why = None
        if current is None or (current["intacct_record_no"], current["updated_time"]) != (
            row["intacct_record_no"],
            row["updated_time"],
        ):
            why = "another run changed it since this run read it"
        elif any(lk.status in ("reversing", "reversed") for lk in previous):
            why = "another run has a change of it open"
        elif status == "reported" and any(
            lk.divvy_updated_time == change.updated_time
            and lk.status == "reported"
            and lk.change == change.text
            for lk in previous
        ):
            why = "this version is already reported"
        if why is not None:
            log.info("Re-coding %s (%s) left: %s.", uuid, change.text, why)
            return None
        assert current is not None
        done = [lk for lk in previous if lk.status == "replaced"]
        version = 1 + len(done)
        original = done[-1].replacement_reference if done else uuid
        seq = 1 + max((lk.seq for lk in previous), default=0)
        repost = change.kind == "repost"
        params = {
            "uuid": uuid,
            "seq": seq,
            "divvy_updated_time": change.updated_time,
            "change": change.text,
            "status": status,
            "original_reference": original,
            "original_record_no": current["intacct_record_no"],
            "original_date": row["posting_date"],
            "original_amount": row["amount"],
            "reversal_date": reversal_date.isoformat() if reversal_date else None,
            "reversal_record_no": None,
            "replacement_reference": version_reference(uuid, version + 1) if repost else None,
            "replacement_date": (
                replacement_date.isoformat() if repost and replacement_date else None
            ),
            "purchase_date": change.purchase.isoformat() if change.purchase else None,
            "replacement_amount": (
                format(change.amount, "f") if change.amount is not None else None
            ),
            "replacement_lines": (
                json.dumps(list(change.lines), sort_keys=True) if repost else None
            ),
            "transaction_type": change.transaction_type,
            "merchant": change.merchant,
            "run_id": run_id,
        }
        conn.execute(ledger._stmt("recoding_open"), {**params, "now": now})
        if examined is not None:
            conn.execute(ledger._stmt("recode_examined"), {"uuid": uuid, "payload": examined})
    return Link(**params, detected_at=now, updated_at=now)


def _reinstated(ledger: Ledger) -> list[dict[str, Any]]:
    with ledger.engine.connect() as conn:
        return [dict(r) for r in conn.execute(ledger._stmt("select_reinstated")).mappings()]


def _open_reinstated(
    ledger: Ledger,
    row: Mapping[str, Any],
    run_id: str,
    closed: date | None,
    policy: str = FAIL,
) -> Link | None:
    """A declined transaction, reversed, that Divvy charged again: the load recorded one of its
    chain's records as posted (found under the plain uuid). A link that starts ``reversed``
    (the last one's original and reversal: nothing more to reverse) posts the charge as the
    next version, with the lines the map step gave it. None when another task opened it since
    ``row`` was read (checked under the row's lock, as in :func:`_open`)."""
    uuid = row["uuid"]
    # The load may have re-dated the charge (post_to_first_open_day) before adopting the record.
    purchase = date.fromisoformat(row.get("original_posting_date") or row["posting_date"])
    day = place(purchase, closed, policy).day
    lines = [
        {
            **{f.name: getattr(ln, f.name) for f in dataclasses.fields(MappedLine)},
            "amount": format(ln.amount, "f"),
        }
        for ln in ledger.mapped_lines([uuid])[uuid]
    ]
    with ledger._write() as conn:
        now = ledger.now()
        current, previous = _locked_chain(ledger, conn, uuid)
        if (
            current is None
            or current["intacct_record_no"] != row["intacct_record_no"]
            or any(lk.status in ("reversing", "reversed") for lk in previous)
        ):
            log.info("Re-coding %s (charged again) left: another run opened it.", uuid)
            return None
        ended_links = [lk for lk in previous if lk.status == "done"]
        if not ended_links:
            # Its record is the original or reversal of a re-posted link: the ledger lost the
            # replacement it had, and nothing here says which version Intacct should hold.
            raise ChainError(
                f"the ledger names record {row['intacct_record_no']} of its re-coding chain, "
                "which was re-posted, not declined; set the transaction's record to the "
                "chain's replacement (or re-stage it) after checking Intacct"
            )
        ended = ended_links[-1]
        replaced = [lk for lk in previous if lk.status == "replaced"]
        params = {
            "uuid": uuid,
            "seq": 1 + max(lk.seq for lk in previous),
            "divvy_updated_time": row["updated_time"] or ended.divvy_updated_time,
            "change": (
                f"charged again in Divvy after the {ended.change.removeprefix('now ')} was reversed"
            ),
            "status": "reversed",
            "original_reference": ended.original_reference,
            "original_record_no": ended.original_record_no,
            "original_date": ended.original_date,
            "original_amount": ended.original_amount,
            "reversal_date": ended.reversal_date,
            "reversal_record_no": ended.reversal_record_no,
            "replacement_reference": version_reference(uuid, 2 + len(replaced)),
            "replacement_date": day.isoformat(),
            "purchase_date": purchase.isoformat(),
            "replacement_amount": row["amount"],
            "replacement_lines": json.dumps(lines, sort_keys=True),
            "transaction_type": row["transaction_type"],
            "merchant": row["merchant"],
            "run_id": run_id,
        }
        conn.execute(ledger._stmt("recoding_open"), {**params, "now": now})
    return Link(**params, detected_at=now, updated_at=now)


def _locked_chain(ledger: Ledger, conn: Any, uuid: str) -> tuple[Any, list[Link]]:
    """In a write transaction: the posted row's RECORDNO and version, locked (PostgreSQL;
    SQLite's write transaction is exclusive already), and its chain as it is now."""
    current = (
        conn.execute(ledger._stmt("lock_recoded_transaction"), {"uuid": uuid}).mappings().first()
    )
    previous = [
        Link(**dict(r))
        for r in conn.execute(
            ledger._stmt("select_recodings", "uuids"), {"uuids": [uuid]}
        ).mappings()
    ]
    return current, previous


# --- acting in Intacct ---------------------------------------------------------------------------


def _advance(
    intacct: Recoder,
    ledger: Ledger,
    settings: SyncSettings,
    run_id: str,
    link: Link,
    report: RecodeReport,
    closed_through: Callable[[], date | None],
) -> None:
    """Take one open link as far as it goes: the reversal, then the replacement. A new version
    dated in a closed period goes where ``closed_period_policy`` puts a first posting, decided
    before anything is sent: under ``hold`` and ``fail`` nothing is (Intacct keeps the version
    posted, and the link waits); under ``post_to_first_open_day`` it is posted on the first
    open day with the load's note."""
    purchase: date | None = None
    report.waiting_links.pop((link.uuid, link.seq), None)
    try:
        placed = None
        waited = link.status == "reversing" and _waited_for_period(link)
        if link.replacement_reference and link.purchase_date:
            purchase = date.fromisoformat(link.purchase_date)
            placed = _placement(link, purchase, closed_through(), settings.closed_period_policy)
            if placed.action != "post":
                if link.status == "reversing" and not waited and _reversal_key(intacct, link):
                    # A run stopped after sending the reversal: record it (and its date) before
                    # the replacement waits, so the waiting link is known to hold nothing sent.
                    link = _reverse(intacct, ledger, run_id, link)
                _wait_for_period(ledger, link, purchase, placed, report)
                return
        if waited:
            day = placed.day if placed is not None else None
            link = _dates_now(ledger, link, closed_through(), day, settings.timezone)
        if link.status == "reversing":
            link = _reverse(intacct, ledger, run_id, link)
            if link.status == "done":
                report.reversed.append(link.text())
                return
        if link.status == "reversed":
            try:
                link = _replace(intacct, ledger, settings, run_id, link, placed)
            except IntacctClosedPeriod as exc:
                if placed is None or purchase is None:
                    raise
                # The books-closed date could not tell (unreadable, or closed meanwhile):
                # Intacct's refusal gets the policy, as the load's refusals do.
                settled = _closed_refusal(ledger, settings, placed.day, exc, closed_through)
                if settled.action == "fail":
                    raise
                message = fit(xml_safe(settled.reason or str(exc)), 500)
                if settled.action == "hold":
                    _write(ledger, "recoding_refused", uuid=link.uuid, seq=link.seq,
                           last_error=message)  # fmt: skip
                    report.held.append((link.uuid, purchase))
                    report.waiting.append(f"{link.uuid}: {link.change}: {message}")
                    return
                _write(
                    ledger, "recoding_redated", uuid=link.uuid, seq=link.seq,
                    replacement_date=settled.day.isoformat(), last_error=message,
                )  # fmt: skip
                link = dataclasses.replace(
                    link, attempts=link.attempts + 1, replacement_date=settled.day.isoformat()
                )
                placed = Placement(
                    "post", settled.day, refused_redate_reason(purchase, settled.day, placed.day)
                )
                link = _replace(intacct, ledger, settings, run_id, link, placed)
            if link.status == "replaced":
                report.reposted.append(link.text())
                posted_on = date.fromisoformat(link.replacement_date or link.original_date)
                if purchase is not None and posted_on != purchase:
                    report.redated.append((link.uuid, purchase, posted_on))
                    log.warning(
                        "Re-coding %s: the new version, purchased %s in a closed period, is "
                        "posted on %s",
                        link.uuid, purchase, posted_on,
                    )  # fmt: skip
    except (IntacctError, UnpostableRecord, ChainError) as exc:
        message = fit(xml_safe(str(exc)), 500)
        if link.status == "reversed":
            _write(ledger, "recoding_refused", uuid=link.uuid, seq=link.seq, last_error=message)
            if isinstance(exc, IntacctClosedPeriod) and purchase is not None:
                report.closed_failed.append((link.uuid, purchase))
        _failed(report, link.uuid, link.change, message)


def _placement(link: Link, purchase: date, closed: date | None, policy: str) -> Placement:
    """:func:`~intacct_hook.sync.closed_periods.place`; and when the books-closed date cannot
    be read, a replacement Intacct's refusal re-dated keeps that day (as a re-dated first
    posting keeps its date then)."""
    placed = place(purchase, closed, policy)
    if closed is None and policy == REDATE and link.replacement_date:
        kept = date.fromisoformat(link.replacement_date)
        if kept > purchase:
            return Placement("post", kept, refused_redate_reason(purchase, kept, purchase))
    return placed


def _closed_refusal(
    ledger: Ledger,
    settings: SyncSettings,
    sent_on: date,
    error: IntacctClosedPeriod,
    closed_through: Callable[[], date | None],
) -> Placement:
    """What the policy makes of Intacct's closed-period refusal of a replacement sent on
    ``sent_on``: ``hold`` it (sent again each run: only a refusal or a post tells whether the
    period reopened), ``post`` it on the first open day Intacct names (only forward, so
    refusals cannot loop), or let it ``fail``."""
    policy = settings.closed_period_policy
    if policy not in (HOLD, REDATE):
        return Placement("fail", sent_on)
    first_open, unverified = first_open_after_refusal(
        str(error), refused=sent_on, books_closed=closed_through,
        today=ledger.clock().date(), fall_back=policy == REDATE,
    )  # fmt: skip
    if unverified:
        log.warning("Closed-period refusal of a replacement on %s: %s.", sent_on, unverified)
    if policy == HOLD:
        return Placement("hold", sent_on, refused_hold_reason(sent_on, first_open))
    if unverified or first_open is None or first_open <= sent_on:
        return Placement("fail", sent_on)
    return Placement("post", first_open)


def _wait_for_period(
    ledger: Ledger, link: Link, purchase: date, placed: Placement, report: RecodeReport
) -> None:
    """``hold`` or ``fail`` keeps the new version out of a closed period: nothing is sent (not
    the reversal either, so Intacct keeps the version posted); the link stays open with the
    reason, and every run decides again."""
    reason = placed.reason or ""
    if link.last_error != reason:
        _write(ledger, "recoding_waiting", uuid=link.uuid, seq=link.seq, last_error=reason)
    if placed.action == "hold":
        report.held.append((link.uuid, purchase))
        report.waiting.append(f"{link.uuid}: {link.change}: {reason}")
    else:
        report.closed_failed.append((link.uuid, purchase))
        _failed(report, link.uuid, link.change, reason)


def _waited_for_period(link: Link) -> bool:
    """Whether the link waits for a closed period (``hold``, ``fail``). Only a ``reversing``
    link with nothing sent is marked so (:func:`_advance` records a reversal a stopped run sent
    first), so its dates may still change."""
    return (link.last_error or "").startswith(HOLD_PREFIX)


def _dates_now(
    ledger: Ledger, link: Link, closed: date | None, replacement: date | None, timezone: str
) -> Link:
    """A change that waited for a closed period, nothing sent: its dates as the books stand
    now (the original's own date, if its period reopened), written before anything is sent."""
    try:
        changed_at: datetime | None = datetime.fromisoformat(link.divvy_updated_time)
    except ValueError:
        changed_at = None
    reversal = _reversal_date(date.fromisoformat(link.original_date), changed_at, closed, timezone)
    replacement_date = replacement.isoformat() if replacement else None
    _write(
        ledger, "recoding_dates", uuid=link.uuid, seq=link.seq,
        reversal_date=reversal.isoformat(), replacement_date=replacement_date,
    )  # fmt: skip
    return dataclasses.replace(
        link, reversal_date=reversal.isoformat(), replacement_date=replacement_date,
        last_error=None,
    )  # fmt: skip


def _waiting_for(report: RecodeReport, uuid: str) -> Link | None:
    return next((lk for (u, _), lk in report.waiting_links.items() if u == uuid), None)


def _supersede(
    intacct: Recoder,
    ledger: Ledger,
    settings: SyncSettings,
    run_id: str,
    row: Mapping[str, Any],
    link: Link,
    change: _Change,
    report: RecodeReport,
    *,
    closed_through: Callable[[], date | None],
    examined: str | None,
) -> None:
    """Divvy changed a transaction again while its change waited for a closed period, nothing
    of it sent: the waiting change takes the newer version (a new coding, amount or date; a
    decline or a deletion: reversed only) and goes on as the policy says, or is withdrawn
    (kept as ``reported``, with why) when Divvy changed it back to the version posted. Under
    the row's lock, only while it still waits as read (another task may have resumed it)."""
    report.waiting_links.pop((link.uuid, link.seq), None)
    uuid = link.uuid
    withdrawn = change.kind == "unchanged"
    repost = change.kind == "repost"
    replacement_date = None
    if repost and change.purchase is not None:
        replacement_date = place(
            change.purchase, closed_through(), settings.closed_period_policy
        ).day.isoformat()
    with ledger._write() as conn:
        now = ledger.now()
        current, previous = _locked_chain(ledger, conn, uuid)
        still = any(
            (lk.seq, lk.status, lk.last_error, lk.divvy_updated_time)
            == (link.seq, "reversing", link.last_error, link.divvy_updated_time)
            for lk in previous
        )
        if (
            current is None
            or (current["intacct_record_no"], current["updated_time"])
            != (row["intacct_record_no"], row["updated_time"])
            or not still
        ):
            log.info("Re-coding %s (%s) left: another run changed it.", uuid, change.text)
            return
        replaced = [lk for lk in previous if lk.status == "replaced"]
        params: dict[str, Any] = {
            "uuid": uuid,
            "seq": link.seq,
            "waited": link.last_error,
            "divvy_updated_time": change.updated_time,
            "change": (
                fit(f"{link.change}; withdrawn: Divvy changed it back to the version posted", 500)
                if withdrawn
                else change.text
            ),
            "status": "reported" if withdrawn else "reversing",
            "replacement_reference": (
                version_reference(uuid, 2 + len(replaced)) if repost else None
            ),
            "replacement_date": replacement_date,
            "purchase_date": change.purchase.isoformat() if repost and change.purchase else None,
            "replacement_amount": (
                format(change.amount, "f") if repost and change.amount is not None else None
            ),
            "replacement_lines": (
                json.dumps(list(change.lines), sort_keys=True) if repost else None
            ),
            "transaction_type": change.transaction_type if repost else None,
            "merchant": change.merchant if repost else None,
            # Still waiting: the next step decides again, its dates as the books stand then.
            "last_error": None if withdrawn else link.last_error,
            "run_id": run_id,
            "now": now,
        }
        conn.execute(ledger._stmt("recoding_revised"), params)
        if withdrawn:
            conn.execute(
                ledger._stmt("recode_unchanged"),
                {"uuid": uuid, "updated_time": change.updated_time, "now": now},
            )
        if examined is not None:
            conn.execute(ledger._stmt("recode_examined"), {"uuid": uuid, "payload": examined})
    if withdrawn:
        log.info("Re-coding %s: the change waiting for a closed period is withdrawn.", uuid)
        return
    fields = {k: params[k] for k in params if k not in ("waited", "now")}
    revised = dataclasses.replace(link, **fields, updated_at=now)
    _advance(intacct, ledger, settings, run_id, revised, report, closed_through)


def _failed(report: RecodeReport, uuid: str, change: str, message: str) -> None:
    message = fit(xml_safe(message), 500)
    report.failures.append(f"{uuid}: {change}: {message}")
    log.warning("Re-coding %s (%s) stopped: %s", uuid, change, message)


def _reverse(intacct: Recoder, ledger: Ledger, run_id: str, link: Link) -> Link:
    # A run stopped after Intacct reversed it but before the ledger said so: look first.
    reversal_no = _reversal_key(intacct, link)
    day = date.fromisoformat(link.reversal_date or link.original_date)
    if not reversal_no:
        memo = fit(xml_safe(f"Divvy {link.uuid} changed after posting: {link.change}"), 1000)
        # The link's own control ID under uniqueid=true: a second reversal of it (another task
        # resuming it, a read that missed REVERSALKEY) is refused instead of recorded.
        control_id = reversal_control_id(link.uuid, link.seq)
        try:
            reversal_no = intacct.reverse_cctransaction(
                link.original_record_no, day, memo=memo, control_id=control_id
            )
        except IntacctDuplicateControlId:
            reversal_no = _reversal_key(intacct, link)
            if not reversal_no:
                raise
            log.info("Reversal of %s already sent: %s", link.original_record_no, reversal_no)
    else:
        log.info("Reversal of %s found in Intacct: %s", link.original_record_no, reversal_no)
    status = "reversed" if link.replacement_reference else "done"
    with ledger._write() as conn:
        now = ledger.now()
        params = {
            "uuid": link.uuid,
            "seq": link.seq,
            "status": status,
            "reversal_record_no": reversal_no,
            "reversal_date": day.isoformat(),
            "now": now,
        }
        conn.execute(ledger._stmt("recoding_reversed"), params)
        if status == "done":
            conn.execute(
                ledger._stmt("recode_reversed_transaction"),
                {
                    "uuid": link.uuid,
                    "reason": fit(
                        f"Reversed in Intacct after posting (record {reversal_no} reverses "
                        f"{link.original_record_no}): {link.change}",
                        1000,
                    ),
                    "updated_time": link.divvy_updated_time,
                    "run_id": run_id,
                    "now": now,
                },
            )
    return dataclasses.replace(
        link, status=status, reversal_record_no=reversal_no, reversal_date=day.isoformat()
    )


def _reversal_key(intacct: Recoder, link: Link) -> str:
    """The RECORDNO of the reversal Intacct holds for the link's original, or ""."""
    # All fields ("*"): REVERSALKEY is only partially verified, and naming a field Intacct does
    # not know would fail the read.
    found = intacct.read("CCTRANSACTION", [link.original_record_no])
    if len(found) > 1:
        raise ChainError(
            f"Intacct answered the read of record {link.original_record_no} with "
            f"{len(found)} records; not reversed"
        )
    return str((found[0] if found else {}).get("REVERSALKEY") or "")


def _replace(
    intacct: Recoder,
    ledger: Ledger,
    settings: SyncSettings,
    run_id: str,
    link: Link,
    placed: Placement | None,
) -> Link:
    """Post the new version on the day ``placed`` gives (the link's own date without one),
    exactly once."""
    assert link.replacement_reference and link.replacement_lines and link.replacement_date
    mapped: list[dict[str, Any]] = json.loads(link.replacement_lines)
    day = placed.day if placed is not None else date.fromisoformat(link.replacement_date)
    purchase = link.purchase_date
    bought = date.fromisoformat(purchase) if purchase else None

    def lines_on(day: date) -> list[dict[str, Any]]:
        # As the load re-dates a first posting: off its purchase date, every description
        # names that date.
        if bought is None or day == bought:
            return mapped
        return [{**ln, "description": with_purchase_note(ln.get("description"), bought)}
                for ln in mapped]  # fmt: skip

    lines = lines_on(day)
    built = build_cctransaction(
        _Posting(link.uuid, day, link.merchant, link.attempts),
        [_mapped(ln) for ln in lines],
        settings,
    )
    with ledger.engine.connect() as conn:
        supdoc = conn.execute(
            ledger._stmt("select_receipt_supdoc"), {"uuid": link.uuid}
        ).scalar_one_or_none()
    # The replacement links the receipts' supporting document, as the original did.
    txn = dataclasses.replace(
        built, reference_no=link.replacement_reference, supdoc_id=supdoc or built.supdoc_id
    )
    found = _sent_on_another_day(intacct, link, txn, bought)
    if found is None:
        [outcome] = intacct.record_cctransactions([txn], check_first=True)
    else:  # the ledger describes the record Intacct holds: its day, and the lines sent then
        outcome, day = found
        lines = lines_on(day)
    if not outcome.ok:
        assert outcome.error is not None
        raise outcome.error
    lines_text = json.dumps(lines, sort_keys=True)
    with ledger._write() as conn:
        now = ledger.now()
        conn.execute(
            ledger._stmt("recoding_replaced"),
            {
                "uuid": link.uuid,
                "seq": link.seq,
                "record_no": outcome.record_no,
                "control_id": outcome.control_id,
                "replacement_date": day.isoformat(),
                "replacement_lines": lines_text,
                "now": now,
            },
        )
        changed = conn.execute(
            ledger._stmt("recode_transaction"),
            {
                "uuid": link.uuid,
                "amount": link.replacement_amount,
                "posting_date": day.isoformat(),
                "original_posting_date": purchase if purchase != day.isoformat() else None,
                "updated_time": link.divvy_updated_time,
                "transaction_type": link.transaction_type,
                "merchant": link.merchant,
                "record_no": outcome.record_no,
                "control_id": outcome.control_id,
                "run_id": run_id,
                "now": now,
            },
        ).rowcount
        if changed == 1:
            conn.execute(ledger._stmt("delete_mapped_lines", "uuids"), {"uuids": [link.uuid]})
            conn.execute(
                ledger._stmt("insert_mapped_line"),
                [{**ln, "uuid": link.uuid, "now": now} for ln in lines],
            )
    return dataclasses.replace(
        link,
        status="replaced",
        replacement_date=day.isoformat(),
        replacement_lines=lines_text,
        replacement_record_no=outcome.record_no,
        replacement_control_id=outcome.control_id,
    )


def _sent_on_another_day(
    intacct: Recoder, link: Link, txn: CCTransaction, purchase: date | None
) -> tuple[RecordOutcome, date] | None:
    """Exactly once across dates: the replacement's date follows the books-closed date, so an
    earlier attempt whose answer was lost may be in Intacct on another day than this one's
    (``check_first`` looks on this day only). When its possible days span more than this one,
    the card is asked for its reference over all of them first, as the load does for the
    transactions it re-dates (``closed_periods.adopt_redated``)."""
    days = {txn.payment_date}
    if link.replacement_date:
        days.add(date.fromisoformat(link.replacement_date))
    if purchase:
        days.add(purchase)
    if len(days) == 1:
        return None
    found = intacct.find_cctransactions(
        txn.card_id, min(days), max(days), reference_nos=[txn.reference_no]
    )
    hit = next((r for r in found if str(r.get("RECORDID")) == txn.reference_no), None)
    if hit is None:
        return None
    held = IntacctPosting.from_record(hit)
    log.info("Replacement %s found in Intacct on %s", txn.reference_no, held.posting_date)
    outcome = RecordOutcome(
        txn.reference_no, txn.control_id, "already_posted", record_no=held.record_no
    )
    return outcome, held.posting_date


def _mapped(line: Mapping[str, Any]) -> MappedLine:
    fields = {f.name for f in dataclasses.fields(MappedLine)}
    values = {k: v for k, v in line.items() if k in fields}
    values["amount"] = Decimal(values["amount"])
    return MappedLine(**values)


# --- reconcile ---------------------------------------------------------------------------------


def chain_for_reconcile(
    ledger: Ledger, date_from: date, date_to: date
) -> tuple[dict[str, str], list[ChainRecord]]:
    """What reconcile needs of the chains: the current reference number of each re-posted
    transaction (its replacement's), and every original and reversal dated in the window,
    expected in Intacct by RECORDNO (they net to zero per change)."""
    current: dict[str, str] = {}
    records: dict[str, ChainRecord] = {}  # by RECORDNO: a re-charge's link repeats its chain
    with ledger.engine.connect() as conn:
        rows = conn.execute(ledger._stmt("select_recoding_chain")).mappings().all()
    for r in rows:
        if r["status"] == "replaced" and r["replacement_reference"]:
            current[r["uuid"]] = r["replacement_reference"]
        if not r["reversal_record_no"]:
            continue
        amount = Decimal(r["original_amount"])
        original = date.fromisoformat(r["original_date"])
        # A replacement still to post ('reversed': refused, or held for a closed period): the
        # ledger row still names the original, expected under its reference, so the original
        # is no chain record of its own; with its reversal it nets to nothing, as a held
        # transaction is not expected.
        waiting = r["status"] == "reversed"
        if date_from <= original <= date_to and not waiting:
            records[r["original_record_no"]] = ChainRecord(
                r["original_record_no"], r["uuid"], "original", original, amount
            )
        reversed_on = date.fromisoformat(r["reversal_date"])
        if date_from <= reversed_on <= date_to:
            records[r["reversal_record_no"]] = ChainRecord(
                r["reversal_record_no"], r["uuid"], "reversal", reversed_on, -amount
            )
    return current, list(records.values())


__all__ = [
    "REPORT_ONLY",
    "REPOST",
    "STATEMENTS",
    "ChainError",
    "Link",
    "RecodeReport",
    "chain_for_reconcile",
    "links",
    "recode",
    "version_reference",
]
