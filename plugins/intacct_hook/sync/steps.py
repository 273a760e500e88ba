"""The sync's five steps as plain functions: extract → stage → map → load → reconcile.

Each takes the hooks (duck-typed, so tests can pass the real hooks without a scheduler), the
ledger and the settings, does its work, and returns a small summary that is safe for XCom and
logs: counts and totals, never payloads or secrets.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Protocol

from intacct_hook.divvy.posting_rules import (
    PostingDecision,
    PostingRules,
    decide,
    posting_lines,
)
from intacct_hook.divvy.records import DivvyRecordError, DivvyTransaction
from intacct_hook.intacct.records import CCLine, CCTransaction, RecordOutcome
from intacct_hook.sync.ledger import (
    Ledger,
    LedgerRow,
    MappedLine,
    StagedTransaction,
    Tally,
)
from intacct_hook.sync.mapping import line_description, lines_frame, map_lines
from intacct_hook.sync.reconcile import (
    ExpectedPosting,
    IntacctPosting,
    ReconcileResult,
    compare,
)
from intacct_hook.sync.rules import RuleSet
from intacct_hook.sync.settings import SyncSettings
from intacct_hook.sync.window import SyncWindow

log = logging.getLogger(__name__)

STATE_FOR_ACTION = {"post": "ready", "hold": "held", "skip": "skipped"}
# States whose transactions Divvy and Intacct should agree on: everything the sync means to post.
EXPECTED_IN_INTACCT = ("ready", "posting", "posted", "failed")
# A dry run posted nothing, so its ready transactions are not expected in Intacct yet.
EXPECTED_AFTER_DRY_RUN = ("posting", "posted", "failed")


class StepError(RuntimeError):
    """A step finished what it could but some records need a person; the message says which."""


class DivvySource(Protocol):
    def iter_transactions(self, **kwargs: Any) -> Iterator[DivvyTransaction]: ...


class IntacctTarget(Protocol):
    def record_cctransactions(
        self, txns: Sequence[CCTransaction], *, batch_size: int | None = None
    ) -> list[RecordOutcome]: ...
    def find_cctransactions(
        self, card_id: str, start: date, end: date, reference_nos: Iterable[str] | None = None
    ) -> list[dict[str, Any]]: ...


# --- extract ----------------------------------------------------------------------------------


def landing_payload(txn: DivvyTransaction) -> dict[str, Any]:
    """What the ledger keeps of a Divvy transaction: its JSON as Divvy sent it, plus the JSON of
    split children (which the list endpoint does not return)."""
    return {"transaction": dict(txn.raw), "children": [dict(c.raw) for c in txn.children]}


def transaction_from_payload(payload: Mapping[str, Any]) -> DivvyTransaction:
    txn = DivvyTransaction.from_json(payload["transaction"])
    children = payload.get("children") or ()
    return txn.with_children(DivvyTransaction.from_json(c) for c in children) if children else txn


def extract(
    divvy: DivvySource, ledger: Ledger, window: SyncWindow, run_id: str, *, chunk: int = 500
) -> dict[str, Any]:
    """Land every Divvy transaction of the window (by purchase time, and by last update so a
    clear or completion that arrives after the lookback is not missed).

    Memory stays flat: rows go to the landing table in chunks, which keeps one row per uuid
    (both passes return many of the same transactions), and the counts are read back from it.
    """
    passes = (
        ("occurred", {"occurred_from": window.extract_from, "occurred_to": window.extract_to}),
        ("updated", {"updated_from": window.extract_from, "updated_to": window.extract_to}),
    )

    def keep_invalid(row: Mapping[str, Any], _error: DivvyRecordError) -> None:
        # Landed as sent; the stage step reports it by uuid and field with the others.
        ledger.land(run_id, [{"transaction": dict(row), "children": []}])

    for name, kwargs in passes:
        fetched = 0
        buffer: list[dict[str, Any]] = []
        for txn in divvy.iter_transactions(
            expand_splits=True, on_invalid_row=keep_invalid, **kwargs
        ):
            fetched += 1
            buffer.append(landing_payload(txn))
            if len(buffer) >= chunk:
                ledger.land(run_id, buffer)
                buffer = []
        ledger.land(run_id, buffer)
        log.info("Divvy %s-time pass: %d transactions returned", name, fetched)
    by_type: Counter[str] = Counter(
        p["transaction"].get("transactionType", "?") for p in ledger.landed(run_id)
    )
    return {"extracted": sum(by_type.values()), "by_type": dict(sorted(by_type.items()))}


# --- stage ------------------------------------------------------------------------------------


def stage(
    ledger: Ledger, settings: SyncSettings, window: SyncWindow, run_id: str
) -> dict[str, Any]:
    """Decide each landed transaction (post / hold / skip) and upsert it into the ledger."""
    rules = PostingRules(
        hold_incomplete=settings.hold_incomplete,
        skip_already_synced=settings.skip_already_synced,
    )
    rows: list[StagedTransaction] = []
    bad: list[str] = []
    reasons: Counter[str] = Counter()
    for payload in ledger.landed(run_id):
        try:
            txn = transaction_from_payload(payload)
        except DivvyRecordError as exc:
            bad.append(str(exc))
            continue
        row = staged_transaction(txn, decide(txn, rules), window, payload)
        if row.state != "ready":
            reasons[f"{row.state}: {_reason_kind(row.reason or '')}"] += 1
        rows.append(row)
    counts = ledger.stage(rows, run_id)
    ledger.purge_landing(keep_run_id=run_id)
    summary = counts.as_dict() | {"not_postable": dict(reasons)}
    if bad:
        summary["unreadable"] = len(bad)
        raise StepError(
            f"{len(bad)} Divvy transaction(s) could not be read and were not staged; the rest "
            "were. Each needs fixing in Divvy (or a bug report here):\n" + "\n".join(bad)
        )
    return summary


def staged_transaction(
    txn: DivvyTransaction,
    decision: PostingDecision,
    window: SyncWindow,
    payload: Mapping[str, Any],
) -> StagedTransaction:
    """The ledger row for ``txn`` as the posting rules decided it."""
    state = STATE_FOR_ACTION[decision.action]
    return StagedTransaction(
        uuid=txn.uuid,
        transaction_type=txn.raw_transaction_type,
        amount=txn.amount,
        occurred_time=txn.occurred_time,
        posting_date=window.posting_date(txn.occurred_time),
        updated_time=txn.updated_time,
        merchant=txn.merchant_name or txn.raw_merchant_name,
        raw_payload=payload,
        state=state,
        reason=None if state == "ready" else decision.reason,
    )


def _reason_kind(reason: str) -> str:
    """A short bucket for a decision's reason, for counts (the full text stays in the ledger)."""
    return reason.split(":")[0].split(";")[0].split(".")[0][:80]


# --- map --------------------------------------------------------------------------------------


def map_transactions(
    ledger: Ledger,
    settings: SyncSettings,
    rules: RuleSet,
    *,
    card_default_location: str | None,
    valid_ids: Mapping[str, set[str]] | None,
    required_dimensions: Mapping[str, frozenset[str]] | None = None,
) -> dict[str, Any]:
    """Code every line of every postable transaction; the uncodable ones become ``unmapped``."""
    rows = ledger.select_for_mapping()
    if not rows:
        return {"mapped": 0, "unmapped": 0, "unmapped_reasons": {}}
    txns = [transaction_from_payload(r.raw_payload) for r in rows]
    result = map_lines(
        lines_frame(txns),
        rules,
        field_names=settings.custom_field_names,
        default_gl_account=settings.default_gl_account,
        card_default_location=card_default_location,
        valid_ids=valid_ids,
        required_dimensions=required_dimensions,
    )
    states: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    for outcome in result.outcomes():
        ledger.save_mapping(outcome.uuid, outcome.lines, outcome.state, outcome.reason)
        states[outcome.state] += 1
        if outcome.reason:
            reasons[outcome.reason] += 1
    return {
        "mapped": states["ready"],
        "unmapped": states["unmapped"],
        "unmapped_reasons": dict(reasons.most_common(20)),
    }


# --- load -------------------------------------------------------------------------------------


@dataclass
class LoadReport:
    posted: int = 0
    already_posted: int = 0
    failed: int = 0
    resolved_unknown: int = 0
    released_unknown: int = 0
    would_post: int = 0
    would_post_total: Decimal = Decimal("0.00")
    failures: list[str] = field(default_factory=list)
    last_posted: tuple[str, date] | None = None  # reference number and date, for a UI link

    def summary(self) -> dict[str, Any]:
        return {
            "posted": self.posted,
            "already_posted": self.already_posted,
            "failed": self.failed,
            "resolved_unknown": self.resolved_unknown,
            "released_unknown": self.released_unknown,
            "would_post": self.would_post,
            "would_post_total": str(self.would_post_total),
            "failures": self.failures[:20],
        }


def header_description(txn: DivvyTransaction) -> str | None:
    """Cardholder, budget and memo for the transaction header (the first line's memo)."""
    lines = posting_lines(txn)
    return line_description(txn, lines[0]) if lines else None


def build_cctransaction(
    row: LedgerRow, lines: Sequence[MappedLine], settings: SyncSettings
) -> CCTransaction:
    txn = transaction_from_payload(row.raw_payload)
    return CCTransaction(
        card_id=settings.card_account_id,
        payment_date=row.posting_date,
        reference_no=row.uuid,
        attempt=row.failed_attempts + 1,
        payee=(txn.merchant_name or txn.raw_merchant_name or None),
        description=header_description(txn),
        lines=tuple(
            CCLine(
                gl_account_no=line.gl_account_no or "",
                amount=line.amount,
                description=line.description,
                location_id=line.location_id,
                department_id=line.department_id,
                class_id=line.class_id,
                project_id=line.project_id,
            )
            for line in sorted(lines, key=lambda ln: ln.line_no)
        ),
    )


def resolve_unknown_outcomes(
    intacct: IntacctTarget, ledger: Ledger, settings: SyncSettings, report: LoadReport
) -> None:
    """Rows left in ``posting`` by an interrupted run: Intacct decides, by reference number."""
    unknown = ledger.select_unknown_outcome()
    if not unknown:
        return
    dates = [r.posting_date for r in unknown]
    found = intacct.find_cctransactions(
        settings.card_account_id, min(dates), max(dates), reference_nos=[r.uuid for r in unknown]
    )
    by_ref = {str(f.get("RECORDID")): f for f in found}
    for row in unknown:
        hit = by_ref.get(row.uuid)
        if hit is not None:
            ledger.mark_posted(row.uuid, str(hit.get("RECORDNO")), row.control_id)
            report.resolved_unknown += 1
        else:
            ledger.release_claim(row.uuid, "not found in Intacct after an interrupted run")
            report.released_unknown += 1
    log.info(
        "Interrupted postings resolved by lookup: %d found in Intacct, %d released to retry",
        report.resolved_unknown,
        report.released_unknown,
    )


def load(
    intacct: IntacctTarget,
    ledger: Ledger,
    settings: SyncSettings,
    run_id: str,
    *,
    dry_run: bool = False,
) -> LoadReport:
    """Record every ready transaction in Intacct, in batches, exactly once."""
    report = LoadReport()
    if not dry_run:
        resolve_unknown_outcomes(intacct, ledger, settings, report)
    ready = ledger.select_in_state(["ready"])
    lines = ledger.mapped_lines([r.uuid for r in ready])
    txns = [build_cctransaction(r, lines.get(r.uuid, ()), settings) for r in ready]
    if dry_run:
        report.would_post = len(txns)
        report.would_post_total = sum((t.total for t in txns), Decimal("0.00"))
        return report

    total = len(txns)
    for start in range(0, total, settings.batch_size):
        batch = txns[start : start + settings.batch_size]
        # The ledger says "posting" before anything is sent, so a crash mid-request leaves a
        # trace that the next run resolves by lookup instead of posting blindly.
        claimed = set(
            ledger.claim_for_posting(
                [t.reference_no for t in batch],
                run_id,
                {t.reference_no: t.control_id for t in batch},
            )
        )
        batch = [t for t in batch if t.reference_no in claimed]
        dates = {t.reference_no: t.payment_date for t in batch}
        for outcome in intacct.record_cctransactions(batch, batch_size=settings.batch_size):
            if outcome.ok:
                ledger.mark_posted(outcome.reference_no, str(outcome.record_no), outcome.control_id)
                report.last_posted = (outcome.reference_no, dates[outcome.reference_no])
                if outcome.status == "posted":
                    report.posted += 1
                else:
                    report.already_posted += 1
            else:
                message = str(outcome.error) if outcome.error else "failed without an error"
                ledger.mark_failed(outcome.reference_no, message)
                report.failed += 1
                report.failures.append(f"{outcome.reference_no}: {message}")
        log.info("Posted batch %d..%d of %d", start + 1, min(start + len(batch), total), total)
    return report


def record_url(
    intacct: IntacctTarget, settings: SyncSettings, reference_no: str, day: date
) -> str | None:
    """Intacct's own link to the record posted for ``reference_no``, when Intacct gives one."""
    found = intacct.find_cctransactions(
        settings.card_account_id, day, day, reference_nos=[reference_no]
    )
    url = found[0].get("RECORD_URL") if found else None
    return str(url) if url else None


# --- reconcile --------------------------------------------------------------------------------


def reconcile(
    intacct: IntacctTarget,
    ledger: Ledger,
    settings: SyncSettings,
    window: SyncWindow,
    run_id: str,
    *,
    dry_run: bool = False,
) -> ReconcileResult:
    """Divvy's postable transactions vs Intacct's records on the card, for every day of the
    window (lookback included); stored in the ledger."""
    days = window.days()
    states = EXPECTED_AFTER_DRY_RUN if dry_run else EXPECTED_IN_INTACCT
    expected = [
        ExpectedPosting(r.uuid, r.posting_date, r.amount)
        for r in ledger.select_in_state(states, days[0], days[-1])
    ]
    actual = [
        IntacctPosting.from_record(row)
        for row in intacct.find_cctransactions(settings.card_account_id, days[0], days[-1])
    ]
    result = compare(expected, actual, days)
    for day in result.days:
        ledger.record_reconciliation(
            run_id,
            day.posting_date,
            settings.card_account_id,
            Tally(day.divvy_count, day.divvy_total),
            Tally(day.intacct_count, day.intacct_total),
            day.differences,
        )
    return result
