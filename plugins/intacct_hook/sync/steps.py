"""The sync's five steps as plain functions: extract → stage → map → load → reconcile.

Each takes the hooks (duck-typed, so tests can pass the real hooks without a scheduler), the
ledger and the settings, does its work, and returns a small summary that is safe for XCom and
logs: counts and totals, never payloads or secrets.
"""

from __future__ import annotations

import gc
import json
import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from intacct_hook import __version__
from intacct_hook.divvy.records import DivvyRecordError, DivvyTransaction
from intacct_hook.intacct.records import CCTransaction, RecordOutcome
from intacct_hook.intacct.text import (
    FIELD_LIMITS,
    describe_illegal,
    fit,
    xml_safe,
)
from intacct_hook.sync import already_posted, closed_periods
from intacct_hook.sync.dimensions import CARD_DEFAULT_LOCATION
from intacct_hook.sync.ledger import (
    MAP_PAGE,
    ExpectedEntry,
    LandingRow,
    Ledger,
    MappingInput,
    StagedTransaction,
    Tally,
    landing_row,
)
from intacct_hook.sync.map_inputs import (
    StoredLine,
    decode_page,
    line_inputs,
    staged_map_input,
    stored_lines,
)
from intacct_hook.sync.recoding import chain_for_reconcile
from intacct_hook.sync.reconcile import (
    ExpectedPosting,
    IntacctPosting,
    ReconcileResult,
    compare,
)
from intacct_hook.sync.report import reason_kind
from intacct_hook.sync.rules import RuleSet
from intacct_hook.sync.settings import SyncSettings
from intacct_hook.sync.states import (
    EXPECTED_AFTER_PREVIEW,
    EXPECTED_IN_INTACCT,
    STATE_FOR_ACTION,
    LedgerState,
)
from intacct_hook.sync.translation import (
    BAD_DATA,
    PostingDecision,
    PostingRules,
    build_cctransaction,
    decide,
    posting_date,
    rules_from_settings,
    transaction_from_payload,
)
from intacct_hook.sync.window import SyncWindow

if TYPE_CHECKING:
    from intacct_hook.sync.coding import StoredMapper

log = logging.getLogger(__name__)

# A run's landing is deleted by its own reconcile; a run that never got there (failed, marked
# failed, deleted) leaves it behind, and any later reconcile deletes it once it is this old.
# Longer than any run lasts, so a live run's landing is never taken.
LANDING_RETENTION = timedelta(days=7)
#: What reconcile reads of Intacct's records: what ``IntacctPosting`` needs, nothing more.
RECONCILE_FIELDS = ("RECORDNO", "RECORDID", "WHENCREATED", "TOTALENTERED")


class StepError(RuntimeError):
    """A step finished what it could but some records need a person; the message says which."""


class DivvySource(Protocol):
    # The keywords extract passes; DivvyHook.iter_transactions documents them.
    def iter_transactions(
        self,
        *,
        occurred_from: datetime | None = None,
        occurred_to: datetime | None = None,
        updated_from: datetime | None = None,
        updated_to: datetime | None = None,
        expand_splits: bool = True,
        on_invalid_row: Callable[[Mapping[str, Any], DivvyRecordError], None] | None = None,
    ) -> Iterator[DivvyTransaction]: ...


class IntacctTarget(already_posted.CardLookup, Protocol):
    def record_cctransactions(
        self, txns: Sequence[CCTransaction], *, batch_size: int | None = None
    ) -> list[RecordOutcome]: ...
    def iter_cctransactions(
        self, card_id: str, start: date, end: date, fields: Sequence[str] = ...
    ) -> Iterator[dict[str, Any]]: ...
    def count_cctransactions(
        self, card_id: str, start: date, end: date, *, with_reference: bool = False
    ) -> int: ...


# --- extract ----------------------------------------------------------------------------------


def landing_payload(txn: DivvyTransaction) -> dict[str, Any]:
    """What the ledger keeps of a Divvy transaction: its JSON as Divvy sent it, plus the JSON of
    split children (which the list endpoint does not return)."""
    return {"transaction": dict(txn.raw), "children": [dict(c.raw) for c in txn.children]}


def extract(
    divvy: DivvySource,
    ledger: Ledger,
    window: SyncWindow,
    run_id: str,
    *,
    settings: SyncSettings | None = None,
    chunk: int = 500,
) -> dict[str, Any]:
    """Land every Divvy transaction of the window (by purchase time, and by last update so a
    clear or completion that arrives after the lookback is not missed), and note the postable
    ones for this run's reconcile.

    The window is covered by three walks that never read the same row twice (the rate limit,
    not our CPU, decides how long an extract takes): purchases in the window, and rows updated
    in the window whose purchase is before it or after it. Together they are exactly "occurred
    in the window, or updated in it". Each walk's server-side result set can only grow while it
    is paged (``occurredTime`` never changes and ``updatedTime`` only increases, and the
    ``updatedTime`` end is applied client-side), so the offset cursor can repeat a row but never
    skip one.

    Memory stays flat: rows go to the landing table in chunks, which keeps one row per uuid,
    and the counts are read back from it.
    """
    rules = rules_from_settings(settings or SyncSettings())
    start, end = window.extract_from, window.extract_to
    updated = {"updated_from": start, "updated_to": end}
    passes = (
        ("occurred-time", {"occurred_from": start, "occurred_to": end}),
        ("updated-time (purchased before the window)", {**updated, "occurred_to": start}),
        ("updated-time (purchased after the window)", {**updated, "occurred_from": end}),
    )

    def keep_invalid(row: Mapping[str, Any], _error: DivvyRecordError) -> None:
        # Landed as sent; the stage step reports it by uuid and field with the others.
        ledger.land(run_id, [{"transaction": dict(row), "children": []}])

    key = carried_key(rules, window.timezone)
    dropped = ledger.clear_run_landing(run_id)
    if dropped:
        log.info(
            "Extract runs again for %s: its earlier landing (%d rows) is replaced", run_id, dropped
        )
    for name, kwargs in passes:
        fetched = 0
        buffer: list[LandingRow] = []
        postable: list[ExpectedEntry] = []
        for txn in divvy.iter_transactions(
            expand_splits=True, on_invalid_row=keep_invalid, **kwargs
        ):
            fetched += 1
            staged, entry = _decide_at_extract(txn, rules, window, key)
            buffer.append(landing_row(landing_payload(txn), staged))
            if entry is not None:
                postable.append(entry)
            if len(buffer) >= chunk:
                ledger.land_rows(run_id, buffer, postable)
                buffer, postable = [], []
        ledger.land_rows(run_id, buffer, postable)
        log.info("Divvy %s pass: %d transactions returned", name, fetched)
    by_type = ledger.landed_by_type(run_id)
    return {"extracted": sum(by_type.values()), "by_type": dict(sorted(by_type.items()))}


_DECIDE_ERRORS = (DivvyRecordError, ValueError, TypeError, ArithmeticError, OverflowError)


def _decide_at_extract(
    txn: DivvyTransaction, rules: PostingRules, window: SyncWindow, key: str
) -> tuple[str | None, ExpectedEntry | None]:
    """What stage will make of ``txn`` (:func:`carried_stage`; None when stage must decide it
    itself: bad data it names), and what reconcile will expect of it in Intacct if the
    posting rules post it. The posting rules run once per transaction, here."""
    try:
        decision = decide(txn, rules)
    except _DECIDE_ERRORS:
        return None, None
    entry = None
    if decision.action == "post" and describe_illegal(txn.uuid) is None:
        try:
            entry = ExpectedEntry(txn.uuid, posting_date(txn, window.timezone), txn.amount)
        except _DECIDE_ERRORS:
            entry = None
    try:
        row, bad_data = _stage_decided(txn, decision, window, "")
    except Exception:
        # Whatever it is, stage meets it again from the payload and names the record.
        return None, entry
    return carried_stage(key, row, bad_data), entry


# --- extract's decision, carried to stage ------------------------------------------------------

#: Bump when the carried row's shape or meaning changes.
_CARRIED_FORMAT = 1


def carried_key(rules: PostingRules, timezone: str) -> str:
    """What a carried decision was made with: the package version, the posting rules and the
    time zone. Stage uses a carried row only if its own key is the same (settings changed, or
    the package upgraded, between the two tasks: stage decides again from the payload)."""
    return f"{_CARRIED_FORMAT}|{__version__}|{rules!r}|{timezone}"


def carried_stage(key: str, row: StagedTransaction, bad_data: bool) -> str:
    """The landing's ``staged`` text: the ledger row stage would make of the payload (all of
    it but the payload, which the landing holds), so stage neither decodes the payload nor
    runs the posting rules again."""
    return json.dumps(
        [
            key,
            row.uuid,
            row.transaction_type,
            str(row.amount),
            row.occurred_time.isoformat(),
            row.posting_date.isoformat(),
            row.updated_time.isoformat() if row.updated_time is not None else None,
            row.merchant,
            str(row.state),
            row.reason,
            row.map_input,
            bad_data,
        ]
    )


def _carried_row(text: str, key: str, landed: str) -> tuple[StagedTransaction, bool] | None:
    """The row :func:`carried_stage` carried, if it was made with ``key``; else None."""
    try:
        value = json.loads(text)
        if not isinstance(value, list) or len(value) != 12 or value[0] != key:
            return None
        _, uuid, kind, amount, occurred, day, updated, merchant, state, reason, lines, bad = value
        row = StagedTransaction(
            uuid=uuid,
            transaction_type=kind,
            amount=Decimal(amount),
            occurred_time=datetime.fromisoformat(occurred),
            posting_date=date.fromisoformat(day),
            updated_time=datetime.fromisoformat(updated) if updated is not None else None,
            merchant=merchant,
            raw_payload=landed,
            state=LedgerState(state),
            reason=reason,
            map_input=lines,
        )
    except (ValueError, TypeError, ArithmeticError):
        return None  # not ours to read: decided again from the payload
    return row, bool(bad)


# --- stage ------------------------------------------------------------------------------------


def stage(
    ledger: Ledger, settings: SyncSettings, window: SyncWindow, run_id: str
) -> dict[str, Any]:
    """Decide each landed transaction (post / hold / skip) and upsert it into the ledger.

    Each record is decided on its own: bad data (an absurd amount or date, text the ledger or
    Intacct cannot hold) is held with a reason naming the field, and the others go on. A record
    that cannot even have a ledger row (unreadable, or a uuid unusable as a key) is named in the
    :class:`StepError` raised after everything else is staged. The landing stays: it belongs to
    this run until its reconcile has counted it.
    """
    rules = rules_from_settings(settings)
    bad: list[str] = []
    reasons: Counter[str] = Counter()
    held_bad_data = 0

    def decided() -> Iterator[StagedTransaction]:
        # A generator: the ledger writes each chunk as it is decided, so however large the
        # window, one chunk of payloads is held at a time.
        nonlocal held_bad_data
        key = carried_key(rules, window.timezone)
        for text, staged in ledger.landed_rows(run_id):
            carried = _carried_row(staged, key, text) if staged is not None else None
            if carried is not None:
                row, bad_data = carried
            else:
                try:
                    row, bad_data = _stage_one(text, rules, window)
                except _Unstageable as exc:
                    bad.append(str(exc))
                    continue
            if bad_data:
                held_bad_data += 1
                log.warning("Divvy transaction %s held: %s", row.uuid, row.reason)
            if row.state != LedgerState.READY:
                reasons[f"{row.state}: {reason_kind(row.reason)}"] += 1
            yield row

    counts = ledger.stage(decided(), run_id)
    summary = counts.as_dict() | {"not_postable": dict(reasons), "held_bad_data": held_bad_data}
    # What extract noted as postable must have been landed: a landing lost between the two
    # steps (deleted, or from a restored database) would otherwise stage nothing and succeed.
    missing = ledger.not_landed(run_id)
    if missing:
        summary["not_landed"] = len(missing)
        raise StepError(
            f"{len(missing)} transaction(s) this run's extract read from Divvy are no longer in "
            "its landing (deleted before stage read it); the rest were staged. Fix: clear this "
            "run's extract task so it reads them again. First ones: " + ", ".join(missing[:10])
        )
    if bad:
        summary["unreadable"] = len(bad)
        raise StepError(
            f"{len(bad)} Divvy transaction(s) could not be read and were not staged; the rest "
            "were. Each needs fixing in Divvy (or a bug report here):\n" + "\n".join(bad)
        )
    return summary


class _Unstageable(Exception):
    """A landed record that cannot have a ledger row; the message names it and the fix."""


def _stage_one(
    landed: str, rules: PostingRules, window: SyncWindow
) -> tuple[StagedTransaction, bool]:
    """The ledger row for one landed payload (its JSON text, kept as it is as the row's raw
    payload), and whether it is held for bad data."""
    try:
        payload = json.loads(landed)
        txn = transaction_from_payload(payload)
    except DivvyRecordError as exc:
        raise _Unstageable(str(exc)) from None
    except (ValueError, TypeError, KeyError, RecursionError) as exc:
        # Not JSON of a landed payload at all: only a damaged ledger holds such a row.
        raise _Unstageable(
            f"a landed payload cannot be read ({type(exc).__name__}); run this run's extract again."
        ) from None
    _check_key(txn)
    try:
        decision = decide(txn, rules)
    except Exception as exc:
        raise _unstageable(txn, exc) from exc
    return _stage_decided(txn, decision, window, landed)


def _check_key(txn: DivvyTransaction) -> None:
    """Raise :class:`_Unstageable` if ``txn``'s uuid cannot be a ledger key."""
    problem = describe_illegal(txn.uuid)
    if problem is not None or len(txn.uuid) > FIELD_LIMITS["reference_no"]:
        why = problem or f"is {len(txn.uuid)} characters long"
        raise _Unstageable(
            f"Divvy transaction {txn.uuid[:60]!r}: field 'uuid' {why}; it can be neither a "
            "ledger key nor an Intacct reference number. Report the transaction to Divvy support."
        )


def _stage_decided(
    txn: DivvyTransaction, decision: PostingDecision, window: SyncWindow, landed: str
) -> tuple[StagedTransaction, bool]:
    """:func:`_stage_one` once the posting rules have decided ``txn``."""
    _check_key(txn)
    try:
        row = staged_transaction(txn, decision, window, landed)
    except Exception as exc:
        raise _unstageable(txn, exc) from exc
    # staged_transaction holds a postable record whose data the ledger or map step cannot take.
    demoted = decision.action == "post" and row.state == LedgerState.HELD
    return row, decision.bad_field is not None or demoted


def _unstageable(txn: DivvyTransaction, exc: Exception) -> _Unstageable:
    # Whatever else one record's data breaks must not stop the others; the step still fails at
    # the end, naming it.
    return _Unstageable(
        f"Divvy transaction {txn.uuid}: could not be staged ({type(exc).__name__}: "
        f"{fit(xml_safe(str(exc)), 300)}); please report this as a bug."
    )


def staged_transaction(
    txn: DivvyTransaction,
    decision: PostingDecision,
    window: SyncWindow,
    payload: Mapping[str, Any] | str,
) -> StagedTransaction:
    """The ledger row for ``txn`` as the posting rules decided it.

    Text columns are made safe for both databases (PostgreSQL refuses NUL, SQLite a lone
    surrogate); the raw payload is kept as sent, since JSON escapes those characters (``payload``
    may be its JSON text as the ledger landed it).
    """
    state = STATE_FOR_ACTION[decision.action]
    reason = None if state == LedgerState.READY else decision.reason
    try:
        day = posting_date(txn, window.timezone)
    except OverflowError:
        # Year 1 west of UTC, or 9999 east of it: the local date does not exist in Python.
        day = txn.occurred_time.date()
        if state == LedgerState.READY:
            state = LedgerState.HELD
            reason = (
                f"{BAD_DATA}: field 'occurredTime' ({txn.occurred_time.isoformat()}) has no "
                f"date in {window.timezone}; held until it is corrected in Divvy."
            )
    if state == LedgerState.READY:
        children = [c.uuid for c in txn.children if describe_illegal(c.uuid)]
        if children:
            state = LedgerState.HELD
            reason = (
                f"{BAD_DATA}: field 'childTransactionUuids' has {children[0][:60]!r}, which "
                f"{describe_illegal(children[0])}; held until Divvy corrects it (report it to "
                "Divvy support)."
            )
    merchant = txn.merchant_name or txn.raw_merchant_name
    return StagedTransaction(
        uuid=txn.uuid,
        transaction_type=xml_safe(txn.raw_transaction_type),
        amount=txn.amount,
        occurred_time=txn.occurred_time,
        posting_date=day,
        updated_time=txn.updated_time,
        merchant=(xml_safe(merchant).strip() or None) if merchant else None,
        raw_payload=payload,
        state=state,
        reason=fit(xml_safe(reason), _REASON_LIMIT) if reason else reason,
        map_input=staged_map_input(txn) if state == LedgerState.READY else None,
    )


#: A reason quotes the merchant; a 10k-character one must not make the ledger unreadable.
_REASON_LIMIT = 1000


# --- map --------------------------------------------------------------------------------------


def map_transactions(
    ledger: Ledger,
    settings: SyncSettings,
    rules: RuleSet,
    *,
    card_default_location: str | None,
    valid_ids: Mapping[str, set[str]] | None,
    required_dimensions: Mapping[str, frozenset[str]] | None = None,
    page_size: int = MAP_PAGE,
    default_location_rule: str = CARD_DEFAULT_LOCATION,
) -> dict[str, Any]:
    """Code every line of every postable transaction; the uncodable ones become ``unmapped``.

    A page of transactions at a time (``page_size``): read what mapping needs (the lines stage
    kept, or for an older row its payload), code each distinct set of facts once, save the
    page's verdicts in one write transaction. Memory stays flat however large the window.
    """
    # Imported when the step runs, not when the DAG file is parsed; the coder needs no pandas.
    from intacct_hook.sync.coding import StoredMapper

    mapper = StoredMapper(
        rules,
        field_names=settings.custom_field_names,
        default_gl_account=settings.default_gl_account,
        card_default_location=card_default_location,
        valid_ids=valid_ids,
        required_dimensions=required_dimensions,
        default_location_rule=default_location_rule,
    )
    states: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    with _cyclic_gc_paused():
        _map_pages(ledger, mapper, page_size, states, reasons)
    if not states:
        return {"mapped": 0, "unmapped": 0, "unmapped_reasons": {}}
    return {
        "mapped": states[LedgerState.READY],
        "unmapped": states[LedgerState.UNMAPPED],
        "claimed_by_another_run": states["claimed_elsewhere"],
        "unmapped_reasons": dict(reasons.most_common(20)),
    }


def _map_pages(
    ledger: Ledger,
    mapper: StoredMapper,
    page_size: int,
    states: Counter[str],
    reasons: Counter[str],
) -> None:
    for page in ledger.mapping_inputs(page_size):
        read: list[MappingInput] = []
        lines: list[tuple[str, Sequence[Sequence[Any]]]] = []
        for row, stored in zip(page, decode_page([row.map_input for row in page]), strict=True):
            ln = stored if stored is not None else _stored_lines(row)
            # A transaction without posting lines (a split whose parts are missing) has
            # nothing to code; stage holds such a one, and mapping leaves it as it is.
            if ln:
                read.append(row)
                lines.append((row.uuid, ln))
        verdicts = mapper.verdicts(lines)
        claimed = ledger.save_map_verdicts(read, verdicts)
        if claimed:
            # Another run's load took these meanwhile.
            states["claimed_elsewhere"] += sum(1 for v in verdicts if v.uuid in claimed)
            verdicts = [v for v in verdicts if v.uuid not in claimed]
        states.update(v.state for v in verdicts)
        reasons.update(v.reason for v in verdicts if v.reason)


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Python's cycle collector paused while the map step runs (restored after, as it was).

    A page builds tens of thousands of lists, tuples and strings, none in a reference cycle
    (reference counting frees each page); counting them, the collector ran full collections
    over every object of the process (Airflow's ~200,000 included): 20-45 % of the step's CPU
    time, varying with the process. Whatever cycles the step leaves are collected once the
    collector runs again."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@contextmanager
def _older_objects_frozen() -> Iterator[None]:
    """Every object alive when the load starts moved out of the cycle collector's reach while
    it runs (``gc.freeze``); the collector itself stays on.

    A load makes requests, elements and answers by the batch, some of them in cycles (lxml
    proxies, exceptions, ``requests``' responses), so unlike the map step it keeps collecting.
    But each of its full collections walked every object of the process, Airflow's included:
    a third of the load's CPU or more (issue 10's benchmarks: ``load_map`` 120 → 80 µs a
    transaction, the DAG at 100,000 transactions 136-160 → 79 µs).

    Frozen objects are never collected, so what is frozen must not be garbage. When nothing
    was frozen before (``dag.test``, a test, a benchmark), everything is thawed after. In an
    Airflow task process something already is: the Celery and local executors freeze before
    they fork, and the task process inherits that and exits without thawing. There the load
    collects first, so no cycle already garbage is frozen with the rest, and leaves the
    freeze as it found it; the process ends with the task."""
    thaw = gc.get_freeze_count() == 0
    if not thaw:
        # Cheap here: the objects the parent froze are not walked.
        gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        if thaw:
            gc.unfreeze()


def _stored_lines(row: MappingInput) -> list[StoredLine]:
    """The lines of a row stage kept none for (staged before the ledger kept them), or kept
    in a format this version does not read: computed from its payload."""
    if row.raw_payload is None:
        raise StepError(
            f"Divvy transaction {row.uuid}: the ledger holds its map input in a format this "
            "version does not read (written by a newer version of the package); run that "
            "version, or stage the transaction again"
        )
    return stored_lines(line_inputs(transaction_from_payload(json.loads(row.raw_payload))))


# --- load -------------------------------------------------------------------------------------


@dataclass
class LoadReport:
    posted: int = 0
    already_posted: int = 0
    adopted: int = 0
    held_elsewhere: int = 0  # already in Intacct on another card: held, not sent
    failed: int = 0
    resolved_unknown: int = 0
    released_unknown: int = 0
    would_post: int = 0
    would_post_total: Decimal = Decimal("0.00")
    failures: list[str] = field(default_factory=list)
    last_posted: tuple[str, date] | None = None  # reference number and date, for a UI link
    # Intacct's closed-period refusals and what closed_period_policy made of them.
    closed_period: list[closed_periods.Refusal] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "posted": self.posted,
            "already_posted": self.already_posted,
            "adopted": self.adopted,
            "held_elsewhere": self.held_elsewhere,
            "failed": self.failed,
            "resolved_unknown": self.resolved_unknown,
            "released_unknown": self.released_unknown,
            "would_post": self.would_post,
            "would_post_total": str(self.would_post_total),
            "failures": self.failures[:20],
            "closed_period_refusals": closed_periods.refusal_summary(self.closed_period),
        }

    def fail(self, reference_no: str, message: str) -> None:
        self.failed += 1
        self.failures.append(f"{reference_no}: {message}")

    def absorb(self, other: LoadReport) -> None:
        """Add what another worker's report counted (its batches' outcomes)."""
        self.posted += other.posted
        self.already_posted += other.already_posted
        self.failed += other.failed
        self.failures.extend(other.failures)
        self.closed_period.extend(other.closed_period)
        if other.last_posted is not None:
            self.last_posted = other.last_posted


def new_ledger_warning(
    intacct: IntacctTarget, ledger: Ledger, settings: SyncSettings, window: SyncWindow
) -> str | None:
    """Say it loudly when the ledger is empty (new, lost, moved) but Intacct already holds
    records with reference numbers on the card in the window: the ledger's history is gone.

    A warning, not a stop: nothing can be posted twice (load asks Intacct before sending) and
    a first run on a card that Divvy's own sync used also looks like this.
    """
    if not ledger.is_empty():
        return None
    days = window.days()
    # A count of one read: the records themselves are not needed, and a lost ledger over a
    # busy window would otherwise read every page of it.
    held = intacct.count_cctransactions(
        settings.card_account_id, days[0], days[-1], with_reference=True
    )
    if not held:
        return None
    where = "a new file" if ledger.created else "empty"
    return (
        f"The sync ledger is {where}, but Intacct already holds {held} credit card "
        f"transaction(s) with reference numbers on '{settings.card_account_id}' between "
        f"{days[0]} and {days[-1]}. If the ledger was lost or moved, restore it (settings "
        "'ledger_path' or 'ledger_conn_id') to keep its history. Either way nothing is posted "
        "twice: each transaction is looked up in Intacct before it is sent, and the ones found "
        "are recorded as posted."
    )


def claim_owner(run_id: str, try_number: int) -> str:
    """Who holds a claim: the run and the task attempt (a retry is a new owner that may take
    over its own run's earlier claims)."""
    return f"{run_id}#try{try_number}"


def resolve_unknown_outcomes(
    intacct: IntacctTarget,
    ledger: Ledger,
    settings: SyncSettings,
    report: LoadReport,
    *,
    owner: str,
    run_id: str,
) -> None:
    """Rows left ``posting`` by a load that stopped mid-request (and whose claim this load may
    take over): Intacct decides, by reference number."""
    unknown = ledger.take_over_claims(owner, run_id=run_id, lease=settings.claim_lease)
    if not unknown:
        return
    found = _found_in_intacct(intacct, settings, [(r.uuid, r.posting_date) for r in unknown])
    for row in unknown:
        hit = found.get(row.uuid)
        if hit is not None:
            ledger.mark_posted(row.uuid, str(hit.get("RECORDNO")), row.control_id)
            report.resolved_unknown += 1
        else:
            ledger.release_claim(
                row.uuid, "not found in Intacct after an interrupted run", owner=owner
            )
            report.released_unknown += 1
    log.info(
        "Interrupted postings resolved by lookup: %d found in Intacct, %d released to retry",
        report.resolved_unknown,
        report.released_unknown,
    )


def adopt_already_in_intacct(
    intacct: IntacctTarget, ledger: Ledger, settings: SyncSettings, report: LoadReport
) -> None:
    """Ask Intacct, before anything is sent, which ready transactions it already holds.

    The ledger is not trusted blindly: it may be new (lost, moved), restored from a backup, or
    one of two deployments. A transaction Intacct already holds under its reference number on
    this card — whichever attempt's control ID posted it — is recorded as posted and not sent;
    one on another card is held with the card named (``sync/already_posted.py``). One query
    per 1,000 references, not one per record.
    """
    # Only the references: the rows themselves are read when a batch is claimed.
    ready = ledger.ready_references()
    if not ready:
        return
    card = settings.card_account_id
    found = already_posted.look_up(intacct, card, [(u, day, day) for u, day in ready])
    adopted, held = already_posted.settle(
        ledger,
        found,
        card,
        lambda hit: (
            f"already in Intacct as record {hit.get('RECORDNO')} before this ledger sent it"
        ),
    )
    report.adopted += adopted
    report.held_elsewhere += held
    if report.adopted:
        log.warning(
            "%d transaction(s) were already in Intacct although this ledger had not recorded "
            "them as posted (a lost, new or restored ledger, or a second deployment): recorded "
            "as posted, not sent again.",
            report.adopted,
        )
    if report.held_elsewhere:
        log.warning(
            "%d transaction(s) are already in Intacct on another credit card account than "
            "'%s': held, not posted again (each one's reason names the card and record).",
            report.held_elsewhere,
            card,
        )


def _found_in_intacct(
    intacct: IntacctTarget, settings: SyncSettings, refs: Sequence[tuple[str, date]]
) -> dict[str, dict[str, Any]]:
    """Intacct's records on this card among ``(uuid, posting date)`` references, by reference
    number (what an interrupted run of this account sent)."""
    dates = [day for _uuid, day in refs]
    found = intacct.find_cctransactions(
        settings.card_account_id, min(dates), max(dates), reference_nos=[u for u, _ in refs]
    )
    by_ref: dict[str, dict[str, Any]] = {}
    for hit in found:
        by_ref.setdefault(str(hit.get("RECORDID")), hit)
    return by_ref


def load(
    intacct: IntacctTarget,
    ledger: Ledger,
    settings: SyncSettings,
    run_id: str,
    *,
    dry_run: bool = False,
    try_number: int = 1,
) -> LoadReport:
    """Record every ready transaction in Intacct, in batches, exactly once.

    Safe beside other loads on the same ledger: each batch is claimed atomically for this run
    and attempt (``try_number``) before it is sent, and only claims whose lease expired, or of
    an earlier attempt of this run, are recovered. A record that cannot be built into a request
    fails alone, with the reason; the others go on.

    With ``settings.intacct_concurrency`` above 1, that many workers each claim, send and record
    their own batches, so up to that many requests are at Intacct at once (the subscription's
    concurrent API jobs). Each batch keeps its own claim and its own ledger transaction; when
    one worker fails, the others record the batch they are sending and stop claiming, and the
    first error is raised (its batch stays ``posting`` for the next attempt to look up).
    """
    report = LoadReport()
    if dry_run:
        _dry_run(ledger, settings, report)
        return report
    with _older_objects_frozen():
        _load(intacct, ledger, settings, run_id, try_number, report)
    return report


def _load(
    intacct: IntacctTarget,
    ledger: Ledger,
    settings: SyncSettings,
    run_id: str,
    try_number: int,
    report: LoadReport,
) -> None:
    owner = claim_owner(run_id, try_number)
    resolve_unknown_outcomes(intacct, ledger, settings, report, owner=owner, run_id=run_id)
    adopt_already_in_intacct(intacct, ledger, settings, report)
    batches = _Batches(intacct, ledger, settings, owner, run_id)
    workers = settings.intacct_concurrency
    if workers <= 1:
        batches.run(report)
        return
    reports = [LoadReport() for _ in range(workers)]
    with ThreadPoolExecutor(workers, thread_name_prefix="intacct-load") as pool:
        futures = [pool.submit(batches.run, r) for r in reports]
        try:
            wait(futures)
        except BaseException:
            # The task is being stopped (Airflow raises in this thread): the workers send and
            # record the batch in hand, then claim nothing more.
            batches.stop.set()
            raise
    for part in reports:
        report.absorb(part)
    for future in futures:
        error = future.exception()
        if error is not None:
            raise error


class _Batches:
    """Claim → build → send → record, batch after batch, until no coded ready row is left; run
    by one worker, or by several at once (each call of :meth:`run` with its own report)."""

    def __init__(
        self,
        intacct: IntacctTarget,
        ledger: Ledger,
        settings: SyncSettings,
        owner: str,
        run_id: str,
    ) -> None:
        self.intacct = intacct
        self.ledger = ledger
        self.settings = settings
        self.owner = owner
        self.run_id = run_id
        self.sent = 0
        self.stop = threading.Event()
        self._lock = threading.Lock()
        # Closed-period refusals re-dated to ready since the last claim came back empty.
        self._redated = 0

    def run(self, report: LoadReport) -> None:
        """Send and record batch after batch. The next batch is claimed and built while the
        current one is at Intacct (its claim commits before it is sent, as always), so this
        process's own work overlaps Intacct's instead of adding to it; requests still go one
        at a time per worker."""
        upcoming: Future[_Prepared | None] | None = None
        try:
            with ThreadPoolExecutor(1, thread_name_prefix="intacct-load-prepare") as helper:
                upcoming = helper.submit(self._prepare)
                while True:
                    prepared = upcoming.result()
                    upcoming = None
                    if prepared is None:
                        if self._take_redated():
                            # Re-dated after that claim was made: claim once more to send them.
                            upcoming = helper.submit(self._prepare)
                            continue
                        return
                    if self.stop.is_set():
                        # Claimed ahead before another worker failed, or the task was stopped.
                        self._release(prepared)
                        return
                    upcoming = helper.submit(self._prepare)
                    self._send_prepared(prepared, report)
        except BaseException:
            # The other workers finish (and record) the batch in hand, then stop claiming.
            self.stop.set()
            if upcoming is not None:
                self._release_unsent(upcoming)
            raise

    def _take_redated(self) -> bool:
        with self._lock:
            taken, self._redated = self._redated > 0, 0
        return taken

    def _release_unsent(self, upcoming: Future[_Prepared | None]) -> None:
        """Give back the batch claimed ahead when this worker fails; a release that fails
        too is left to the next load's lookup (the error being raised matters more)."""
        try:
            prepared = upcoming.result()
            if prepared is not None:
                self._release(prepared)
        except Exception:
            log.warning("Could not release a batch claimed ahead; the next load looks it up")

    def _release(self, prepared: _Prepared) -> None:
        """A batch claimed and never sent is certainly not in Intacct: ready again (a process
        killed outright leaves it to the next load's lookup)."""
        for txn in prepared.batch:
            self.ledger.release_claim(
                txn.reference_no,
                "claimed, then not sent: the load stopped before this batch",
                owner=self.owner,
            )

    def _prepare(self) -> _Prepared | None:
        """Claim a batch and build its records; None when nothing is left (or a worker
        failed). Records that cannot be built are recorded failed here, unsent."""
        if self.stop.is_set():
            return None
        claimed = self.ledger.claim_records(
            self.owner,
            run_id=self.run_id,
            batch_size=self.settings.batch_size,
            lease=self.settings.claim_lease,
        )
        if not claimed:
            return None
        # The request's functions are built here too, so the XML of this batch is made while
        # the previous batch is at Intacct instead of before this one is sent.
        from intacct_hook.intacct.request import prebuild_cctransaction

        batch: list[CCTransaction] = []
        unbuildable: list[tuple[str, str]] = []
        for row in claimed:
            try:
                txn = build_cctransaction(row, row.lines, self.settings)
                prebuild_cctransaction(txn)
                batch.append(txn)
            except (ValueError, TypeError, ArithmeticError) as exc:
                # UnpostableRecord names the record and field; anything else is cleaned too,
                # since the ledger must be able to store the message (PostgreSQL refuses NUL).
                unbuildable.append((row.uuid, xml_safe(str(exc))))
        if unbuildable:
            self.ledger.mark_outcomes(owner=self.owner, failed=unbuildable, sent=False)
        return _Prepared(batch, unbuildable)

    def _send_prepared(self, prepared: _Prepared, report: LoadReport) -> None:
        for uuid, message in prepared.unbuildable:
            report.fail(uuid, message)
        before = len(report.closed_period)
        if prepared.batch:
            _send(
                self.intacct,
                self.ledger,
                prepared.batch,
                self.owner,
                report,
                closed_period_policy=self.settings.closed_period_policy,
            )
        redated = sum(r.action == "redated" for r in report.closed_period[before:])
        with self._lock:
            self.sent += len(prepared.batch)
            sent = self.sent
            self._redated += redated
        log.info("Sent %d transaction(s) so far (batches of %d)", sent, self.settings.batch_size)


@dataclass
class _Prepared:
    """A claimed batch, built: the records to send and the ones that could not be built."""

    batch: list[CCTransaction]
    unbuildable: list[tuple[str, str]]


def _send(
    intacct: IntacctTarget,
    ledger: Ledger,
    batch: list[CCTransaction],
    owner: str,
    report: LoadReport,
    *,
    closed_period_policy: str = closed_periods.FAIL,
) -> None:
    dates = {t.reference_no: t.payment_date for t in batch}
    # The claim is the batch (settings.batch_size is applied there alone): one request each.
    outcomes = intacct.record_cctransactions(batch, batch_size=len(batch))
    posted = [o for o in outcomes if o.ok]
    failed = [
        (o.reference_no, str(o.error) if o.error else "failed without an error")
        for o in outcomes
        if not o.ok
    ]
    # The whole batch's answers in one ledger transaction. A crash before it commits leaves
    # every row of the batch 'posting' under this claim: the next attempt looks them up.
    ledger.mark_outcomes(
        owner=owner,
        posted=[(o.reference_no, str(o.record_no), o.control_id) for o in posted],
        failed=failed,
    )
    for outcome in posted:
        report.last_posted = (outcome.reference_no, dates[outcome.reference_no])
        if outcome.status == "posted":
            report.posted += 1
        else:
            report.already_posted += 1
    # Closed periods (sync/closed_periods.py): the policy holds or re-dates a closed-period
    # refusal the up-front check did not foresee; those are not failures.
    refusals = closed_periods.settle_refusals(
        intacct,
        ledger,
        closed_period_policy,
        [(o.reference_no, dates[o.reference_no], o.error) for o in outcomes if not o.ok],
    )
    report.closed_period.extend(refusals)
    settled = {r.uuid for r in refusals if r.action != "failed"}
    for reference_no, message in failed:
        if reference_no not in settled:
            report.fail(reference_no, message)


def _dry_run(ledger: Ledger, settings: SyncSettings, report: LoadReport) -> None:
    ready = ledger.select_in_state([LedgerState.READY])
    lines = ledger.mapped_lines([r.uuid for r in ready])
    for row in ready:
        try:
            txn = build_cctransaction(row, lines.get(row.uuid, ()), settings)
        except (ValueError, TypeError, ArithmeticError, DivvyRecordError) as exc:
            report.fail(row.uuid, f"would not be sent to Intacct: {xml_safe(str(exc))}")
            continue
        report.would_post += 1
        report.would_post_total += txn.total


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
    window (lookback included); stored in the ledger.

    Divvy's side is what the ledger expects in Intacct plus every postable transaction this
    run's extract read that never reached the ledger, so data lost inside the sync (between
    extract and load) is a difference, not a quiet "matched". Then this run's landing goes.
    """
    days = window.days()
    states = EXPECTED_AFTER_PREVIEW if dry_run else EXPECTED_IN_INTACCT
    expected = [
        ExpectedPosting(uuid, day, amount)
        for uuid, day, amount in ledger.expected_amounts(states, days[0], days[-1])
    ]
    # Re-coding after posting (sync/recoding.py): a re-posted transaction is expected under its
    # replacement's reference; the original and reversal each change left, by RECORDNO.
    current, chain = chain_for_reconcile(ledger, days[0], days[-1])
    expected = [replace(e, uuid=current.get(e.uuid, e.uuid)) for e in expected]
    expected += lost_in_sync(ledger, window, run_id)
    # Streamed page by page (2,000 a read) and compared as it comes: a window's Intacct
    # records are never all held at once.
    actual = (
        IntacctPosting.from_record(row)
        for row in intacct.iter_cctransactions(
            settings.card_account_id, days[0], days[-1], RECONCILE_FIELDS
        )
    )
    result = compare(expected, actual, days, chain)
    # Re-dated postings (closed periods) are compared on their posted date; listed as shifts.
    result.shifts = closed_periods.shifts(ledger, states, days[0], days[-1])
    for day in result.days:
        ledger.record_reconciliation(
            run_id,
            day.posting_date,
            settings.card_account_id,
            Tally(day.divvy_count, day.divvy_total),
            Tally(day.intacct_count, day.intacct_total),
            day.differences,
        )
    ledger.purge_landing(run_id, retention=LANDING_RETENTION)
    return result


def lost_in_sync(ledger: Ledger, window: SyncWindow, run_id: str) -> list[ExpectedPosting]:
    """Postable transactions of the window that this run's extract read from Divvy and that
    the ledger does not hold at all: lost between extract and stage (a landing deleted, a
    record stage could not write). Counted from the extract's manifest, not from the landing."""
    days = window.days()
    return [
        ExpectedPosting(
            e.uuid,
            e.posting_date,
            e.amount,
            note="read from Divvy by this run's extract but never reached the ledger; clear "
            "this run's extract task to read it again",
        )
        for e in ledger.extracted_not_staged(run_id, days[0], days[-1])
    ]
