"""Closed periods, explicitly: what happens to a transaction dated on or before Intacct's
books-closed date, by the setting ``closed_period_policy`` (README, "Closed periods").

``fail``
    It is sent, Intacct refuses it, it is ``failed`` and every later run sends it again as its
    next attempt (the behaviour before this policy existed); the load's summary counts the
    refusals and names their dates.
``hold``
    It is ``held`` with a reason starting :data:`HOLD_PREFIX`, keeping its mapped lines, until
    the books-closed date moves back before its date; the first load after that releases it to
    ``ready`` and posts it.
``post_to_first_open_day``
    Its ``posting_date`` (the date sent to Intacct) becomes the day after the books-closed date;
    the purchase date stays in ``original_posting_date`` and at the start of every line
    description (:func:`purchase_note`). Reconcile compares by the posted date and lists each
    shift. When the period reopens before it is posted, it goes back to its purchase date.

The policy acts at two points of the load, and never elsewhere:

1. :func:`before_load`, before the load claims anything, with the books-closed date the load
   has just read (:func:`read_closed_through`). It holds, releases, re-dates or un-re-dates
   ``ready`` rows; it never touches a row being posted or posted.
2. :func:`settle_refusals`, inside the load, for what the up-front date did not foresee (the
   date could not be read: the object is a guess, see ``intacct.fields``; or the books were
   closed meanwhile): a refusal Intacct classifies as a closed period
   (``IntacctClosedPeriod``) is held or re-dated to the day its message names ("Date must be
   on or after 10/01/2026", in the company's date format: month/day or day/month, see
   :func:`choose_first_open`), else to the day after the books-closed date if that can be read,
   else it stays failed with a message saying what could not be verified.

Exactly once: re-dating changes neither the reference number nor the attempt, so the control
ID is the one it would have been; a refused attempt counts like any refusal (Intacct created
nothing, and may remember the control ID). Before a re-dated transaction is sent, Intacct is
asked whether the card already holds its reference anywhere from its purchase date to its
posting date (a record a lost ledger posted on another day), and such a record is adopted.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, NamedTuple, Protocol

from intacct_hook.intacct import errors as ierr
from intacct_hook.intacct.fields import BOOKS_CLOSED_FIELD, BOOKS_CLOSED_OBJECT
from intacct_hook.sync import already_posted
from intacct_hook.sync.already_posted import CardLookup
from intacct_hook.sync.ledger import Ledger
from intacct_hook.sync.reconcile import Shift
from intacct_hook.sync.settings import SyncSettings
from intacct_hook.sync.states import LedgerState

log = logging.getLogger(__name__)

FAIL, HOLD, REDATE = "fail", "hold", "post_to_first_open_day"
#: How a hold for a closed period starts its reason: the marker the release looks for (as
#: ``Bad data in Divvy`` marks stage's holds for bad data).
HOLD_PREFIX = "Closed period:"
#: Intacct's closed-period message names the first open day (an emulator choice, after Fyle's
#: integration, which read it the same way; the real text is unverified). US or ISO dates.
_FIRST_OPEN = re.compile(
    r"on or after\s+(?:(\d{1,2})/(\d{1,2})/(\d{4})|(\d{4})-(\d{2})-(\d{2}))", re.IGNORECASE
)


class ClosedDateReader(Protocol):
    def get_books_closed_through(self) -> date | None: ...


class ClosedPeriodTarget(ClosedDateReader, CardLookup, Protocol):
    """What the load's up-front step needs: the books-closed date and the card's records."""


def us_date(day: date) -> str:
    return f"{day.month:02d}/{day.day:02d}/{day.year}"


def purchase_note(purchase: date) -> str:
    """What starts a re-dated transaction's descriptions: its purchase date."""
    return f"Purchased {us_date(purchase)} (closed period) | "


def in_closed_period(day: date, closed_through: date | None) -> bool:
    """Whether ``day`` is on or before the books-closed date (never when it is unknown)."""
    return closed_through is not None and day <= closed_through


def first_open_day(closed_through: date) -> date:
    """The day a posting moved out of the closed period goes to."""
    return closed_through + timedelta(days=1)


def hold_reason(purchase: date, closed_through: date) -> str:
    """Why a posting dated ``purchase`` waits under ``hold``."""
    return (
        f"{HOLD_PREFIX} dated {us_date(purchase)}, and the books are closed through "
        f"{us_date(closed_through)}. Held until the period reopens (closed_period_policy "
        "'hold'); the first run after that posts it."
    )


def redate_reason(purchase: date, to: date, closed_through: date) -> str:
    """Why a posting dated ``purchase`` is sent on ``to`` under ``post_to_first_open_day``."""
    return (
        f"re-dated from {us_date(purchase)} to {us_date(to)}: the books are closed through "
        f"{us_date(closed_through)} (closed_period_policy 'post_to_first_open_day')"
    )


def with_purchase_note(description: str | None, purchase: date) -> str:
    """A line description starting with :func:`purchase_note`, once (as
    ``closed_period_annotate.sql`` writes the load's lines)."""
    note = purchase_note(purchase)
    text = description or ""
    return text if text.startswith(note) else note + text


#: What a run says when ``fail`` lets a closed-period posting fail.
FAIL_ADVICE = "Set closed_period_policy to 'hold' or 'post_to_first_open_day' to stop that."


def fail_reason(purchase: date, closed_through: date) -> str:
    """Why a posting dated ``purchase`` is not sent under ``fail`` when the books-closed date
    is known (the re-coding step, which reads it anyway; the load sends and counts the
    refusal)."""
    return (
        f"{HOLD_PREFIX} dated {us_date(purchase)}, and the books are closed through "
        f"{us_date(closed_through)}: not posted (closed_period_policy 'fail'). {FAIL_ADVICE}"
    )


class Placement(NamedTuple):
    """Where the policy puts a posting dated ``purchase``: ``post`` it on ``day`` (its own
    date, or the first open day when ``day`` differs), ``hold`` it, or let it ``fail``;
    ``reason`` says why for the last three."""

    action: str  # 'post' | 'hold' | 'fail'
    day: date
    reason: str | None = None

    @property
    def moved(self) -> bool:
        return self.action == "post" and self.reason is not None


def place(purchase: date, closed_through: date | None, policy: str) -> Placement:
    """The policy's outcome for one posting dated ``purchase``, the books being closed
    through ``closed_through`` (None: unknown, so it is sent on its date and Intacct's answer
    decides)."""
    if not in_closed_period(purchase, closed_through):
        return Placement("post", purchase)
    assert closed_through is not None
    if policy == HOLD:
        return Placement("hold", purchase, hold_reason(purchase, closed_through))
    if policy == REDATE:
        to = first_open_day(closed_through)
        return Placement("post", to, redate_reason(purchase, to, closed_through))
    return Placement("fail", purchase, fail_reason(purchase, closed_through))


def first_open_readings(message: str) -> list[date]:
    """Every day Intacct's closed-period message can mean as the first open day: none, one, or
    for a slashed date valid both ways (``01/12/2026``) month/day/year first, then
    day/month/year. Intacct writes dates in the company's format, which the sync does not know,
    so :func:`choose_first_open` decides."""
    match = _FIRST_OPEN.search(message)
    if match is None:
        return []
    first, second, year, iso_year, iso_month, iso_day = match.groups()
    if not year:
        try:
            return [date(int(iso_year), int(iso_month), int(iso_day))]
        except ValueError:
            return []
    out: list[date] = []
    for month, day in ((first, second), (second, first)):
        try:
            reading = date(int(year), int(month), int(day))
        except ValueError:
            continue
        if reading not in out:
            out.append(reading)
    return out


def choose_first_open(
    readings: Sequence[date], *, refused: date, closed_through: date | None, today: date
) -> tuple[date | None, str | None]:
    """The first open day among ``readings`` (:func:`first_open_readings`), or None and what
    could not be verified when it names two dates and neither the books-closed date nor
    plausibility tells which: the day after ``closed_through`` when it is one of them, else the
    only one after the ``refused`` date (the first open day follows the closed period the
    refused date is in) and not after the day after ``today`` (books are closed on past
    days)."""
    if len(readings) <= 1:
        return (readings[0] if readings else None), None
    if closed_through is not None and closed_through + timedelta(days=1) in readings:
        return closed_through + timedelta(days=1), None
    plausible = [d for d in readings if refused < d <= today + timedelta(days=1)]
    if len(plausible) == 1:
        return plausible[0], None
    first, second = readings[0], readings[1]
    known = (
        "the books-closed date could not be read"
        if closed_through is None
        else f"the day after the books-closed date ({closed_through.isoformat()}) is neither"
    )
    return None, (
        f"Intacct names the first open day {us_date(first)}, which is {first.isoformat()} "
        f"(month/day) or {second.isoformat()} (day/month) depending on the company's date "
        f"format, and {known}: not re-dated"
    )


def first_open_after_refusal(
    message: str,
    *,
    refused: date,
    books_closed: Callable[[], date | None],
    today: date,
    fall_back: bool,
) -> tuple[date | None, str | None]:
    """The first open day a closed-period refusal of the date ``refused`` means: the one its
    message names (:func:`first_open_readings`, :func:`choose_first_open` for a date read both
    ways), else with ``fall_back`` the day after the books-closed date when it can be read
    (``books_closed`` is called only when needed: a request). Second: what could not be
    verified, when the message's date is ambiguous."""
    readings = first_open_readings(message)
    if len(readings) > 1:
        return choose_first_open(
            readings, refused=refused, closed_through=books_closed(), today=today
        )
    if readings:
        return readings[0], None
    if fall_back:
        through = books_closed()
        return (first_open_day(through) if through else None), None
    return None, None


def refused_hold_reason(refused: date, first_open: date | None) -> str:
    """Why a posting Intacct refused as a closed period waits under ``hold``."""
    named = f" (it names {us_date(first_open)} as the first open day)" if first_open else ""
    return (
        f"{HOLD_PREFIX} Intacct refused the date {us_date(refused)} as a closed period"
        f"{named}. Held until the period reopens (closed_period_policy 'hold'); the first run "
        "after that posts it."
    )


def refused_redate_reason(purchase: date, to: date, refused: date) -> str:
    """Why a posting Intacct refused as a closed period is sent on ``to``."""
    return (
        f"re-dated from {us_date(purchase)} to {us_date(to)}: Intacct refused "
        f"{us_date(refused)} as a closed period (closed_period_policy 'post_to_first_open_day')"
    )


def read_closed_through(intacct: ClosedDateReader) -> tuple[date | None, str | None]:
    """The books-closed date, or None and why it could not be read (as preflight reads it: an
    object Intacct does not know is an answer, not a failure)."""
    try:
        closed = intacct.get_books_closed_through()
    except ierr.IntacctFunctionError as exc:
        return None, exc.description2 or exc.description or str(exc)
    if closed is None:
        return None, "Intacct returned no books-closed date"
    return closed, None


def unverified_text(unreadable: str | None) -> str:
    return (
        f"the books-closed date could not be read (object {BOOKS_CLOSED_OBJECT}, field "
        f"{BOOKS_CLOSED_FIELD}" + (f": {unreadable}" if unreadable else "") + ")"
    )


# --- before the load claims -------------------------------------------------------------------


class _Row(NamedTuple):
    uuid: str
    state: str
    posting_date: date
    original: date | None

    @property
    def purchase(self) -> date:
        return self.original or self.posting_date


@dataclass
class ClosedPeriodPlan:
    """What :func:`before_load` did (or, for a preview, would do); small and XCom-safe."""

    policy: str
    closed_through: date | None
    unreadable: str | None = None
    dry_run: bool = False
    held: list[tuple[str, date]] = field(default_factory=list)
    released: list[tuple[str, date]] = field(default_factory=list)
    redated: list[tuple[str, date, date]] = field(default_factory=list)
    restored: list[tuple[str, date]] = field(default_factory=list)  # re-dating undone
    still_held: list[tuple[str, date]] = field(default_factory=list)
    will_fail: list[tuple[str, date]] = field(default_factory=list)
    adopted: int = 0
    # `fail` with nothing held or re-dated to reconsider: the books-closed date was not read.
    read_skipped: bool = False

    def summary(self) -> dict[str, Any]:
        def dates(items: Iterable[tuple[Any, ...]]) -> list[str]:
            return sorted({item[1].isoformat() for item in items})

        return {
            "policy": self.policy,
            "books_closed_through": self.closed_through.isoformat()
            if self.closed_through
            else None,
            "verified": self.closed_through is not None,
            "held": len(self.held),
            "held_dates": dates(self.held),
            "still_held": len(self.still_held),
            "released": len(self.released),
            "released_dates": dates(self.released),
            "redated": len(self.redated),
            "redated_from": dates(self.redated),
            "redated_to": sorted({to.isoformat() for _, _, to in self.redated}),
            "restored": len(self.restored),
            "dated_in_closed_period": len(self.will_fail),
            "dated_in_closed_period_dates": dates(self.will_fail),
            "adopted": self.adopted,
            "preview": self.dry_run,
            # `fail` with nothing to reconsider: no up-front read, so no forecast above; the
            # refusals (refused, refused_dates) give the count and the dates.
            "books_closed_read": not self.read_skipped,
        }

    def messages(self) -> Iterator[tuple[int, str]]:
        """What the task log says, with the level of each line."""
        would = "would be " if self.dry_run else ""
        policy = f"closed_period_policy '{self.policy}'"
        if self.read_skipped:
            yield (
                logging.INFO,
                f"{policy}: nothing is held or re-dated for a closed period, so the books-closed "
                "date is not read again (preflight reported the closed periods); a posting "
                "Intacct refuses as a closed period fails and is counted below.",
            )
        elif self.closed_through is None:
            yield (
                logging.WARNING,
                f"Closed periods not verified up front: {unverified_text(self.unreadable)}. "
                f"{policy} applies when Intacct refuses a posting as a closed period.",
            )
        else:
            yield logging.INFO, f"Books closed through {self.closed_through}; {policy}."
        if self.held:
            yield (
                logging.WARNING,
                f"{len(self.held)} transaction(s) dated in the closed period {would}held until "
                f"it reopens: dates {', '.join(self.summary()['held_dates'])}",
            )
        if self.still_held:
            yield logging.INFO, f"{len(self.still_held)} transaction(s) stay held: still closed"
        if self.released:
            yield (
                logging.INFO,
                f"{len(self.released)} held transaction(s) {would}released to post: dates "
                f"{', '.join(self.summary()['released_dates'])}"
                + ("" if self.closed_through else " (tried again: the date cannot be read)"),
            )
        for uuid, purchase, to in self.redated:
            yield (
                logging.WARNING,
                f"{uuid} purchased {purchase} {would}posted on {to}, the first open day",
            )
        if self.restored:
            yield (
                logging.INFO,
                f"{len(self.restored)} re-dated transaction(s) {would}back on their purchase "
                "date (the period reopened, or the policy changed)",
            )
        if self.will_fail:
            yield (
                logging.WARNING,
                f"{len(self.will_fail)} transaction(s) dated in the closed period will be sent "
                "and refused by Intacct (policy 'fail'): dates "
                f"{', '.join(self.summary()['dated_in_closed_period_dates'])}. {FAIL_ADVICE}",
            )
        if self.adopted:
            yield (
                logging.WARNING,
                f"{self.adopted} re-dated transaction(s) were already in Intacct on another "
                "date: recorded as posted, not sent again",
            )


def plan_before_load(
    intacct: ClosedPeriodTarget,
    ledger: Ledger,
    settings: SyncSettings,
    *,
    dry_run: bool = False,
) -> ClosedPeriodPlan:
    """What the load task runs before its claim: :func:`before_load` with the books-closed date
    read now (the one preflight read may be hours old in a backfill). Under ``fail`` with no
    row held or re-dated for a closed period there is nothing to decide up front (Intacct's
    refusal does it), so the read, one request per run, is not made."""
    if settings.closed_period_policy == FAIL and not _has_rows_to_reconsider(ledger):
        return ClosedPeriodPlan(FAIL, None, dry_run=dry_run, read_skipped=True)
    closed, unreadable = read_closed_through(intacct)
    return before_load(intacct, ledger, settings, closed, unreadable=unreadable, dry_run=dry_run)


def _has_rows_to_reconsider(ledger: Ledger) -> bool:
    # An empty closed_through matches no ready row: only the held and re-dated ones remain.
    with ledger.engine.connect() as conn:
        found = conn.execute(
            ledger._stmt("select_closed_period_rows"), {"closed_through": "", **_hold_marker()}
        ).first()
    return found is not None


def before_load(
    intacct: CardLookup,
    ledger: Ledger,
    settings: SyncSettings,
    closed_through: date | None,
    *,
    unreadable: str | None = None,
    dry_run: bool = False,
) -> ClosedPeriodPlan:
    """Apply ``settings.closed_period_policy`` to the ready and closed-period-held rows before
    the load claims anything. ``closed_through`` None: the date could not be read; rows held
    for a closed period are then released to be tried again (a refusal holds them again), and
    re-dated rows keep their date."""
    plan = ClosedPeriodPlan(settings.closed_period_policy, closed_through, unreadable, dry_run)
    # The statements are read through the ledger (its dialect, its cache, its write lock) but
    # kept in this module: the load's own hot path stays as it is.
    with ledger._write() as conn:
        rows = [
            _Row(
                r.uuid, r.state, date.fromisoformat(r.posting_date), _date(r.original_posting_date)
            )
            for r in conn.execute(
                ledger._stmt("select_closed_period_rows"),
                {
                    "closed_through": closed_through.isoformat() if closed_through else "",
                    **_hold_marker(),
                },
            )
        ]
        writes = _Writes(ledger, conn, dry_run)
        for row in rows:
            _decide(row, plan, writes)
    if not dry_run:
        plan.adopted = adopt_redated(intacct, ledger, settings)
    return plan


def _decide(row: _Row, plan: ClosedPeriodPlan, writes: _Writes) -> None:
    closed = plan.closed_through
    in_closed = closed is not None and row.purchase <= closed
    if row.state == LedgerState.HELD:
        if plan.policy == HOLD and in_closed:
            plan.still_held.append((row.uuid, row.purchase))
            return
        reason = (
            f"released: the books are closed through {us_date(closed)} only"
            if closed
            else f"released to try again: {unverified_text(plan.unreadable)}"
        )
        writes.release(row.uuid, reason)
        plan.released.append((row.uuid, row.purchase))
        row = row._replace(state=LedgerState.READY)
    if not in_closed:
        if row.original is not None and (closed is not None or plan.policy != REDATE):
            # The purchase date is open again (or the policy no longer re-dates): post it there.
            writes.redate(row, row.purchase, None, None)
            plan.restored.append((row.uuid, row.purchase))
        elif row.original is not None:
            writes.annotate(row.uuid, row.purchase)  # the date cannot be read: keep it moved
        return
    assert closed is not None
    if plan.policy == HOLD:
        writes.hold(row, hold_reason(row.purchase, closed))
        plan.held.append((row.uuid, row.purchase))
    elif plan.policy == REDATE:
        target = first_open_day(closed)
        reason = redate_reason(row.purchase, target, closed)
        if row.posting_date != target or row.original != row.purchase:
            writes.redate(row, target, row.purchase, reason)
            plan.redated.append((row.uuid, row.purchase, target))
        else:
            writes.annotate(row.uuid, row.purchase)
    else:
        if row.original is not None:
            writes.redate(row, row.purchase, None, None)
            plan.restored.append((row.uuid, row.purchase))
        plan.will_fail.append((row.uuid, row.purchase))


class _Writes:
    """The ledger writes of the closed-period step, in the caller's transaction (none in a
    preview)."""

    def __init__(self, ledger: Ledger, conn: Any, dry_run: bool) -> None:
        self.ledger, self.conn, self.dry_run = ledger, conn, dry_run
        self.now = ledger.now()

    def _run(self, name: str, params: dict[str, Any]) -> None:
        if not self.dry_run:
            self.conn.execute(self.ledger._stmt(name), {**params, "now": self.now})

    def hold(self, row: _Row, reason: str) -> None:
        self._run(
            "closed_period_hold",
            {"uuid": row.uuid, "reason": reason, "posting_date": row.purchase.isoformat()},
        )
        if row.original is not None:
            self._note(row.uuid, row.purchase, add=False)

    def release(self, uuid: str, reason: str) -> None:
        self._run("closed_period_release", {"uuid": uuid, "reason": reason, **_hold_marker()})

    def redate(self, row: _Row, to: date, original: date | None, reason: str | None) -> None:
        self._run(
            "closed_period_redate",
            {
                "uuid": row.uuid,
                "posting_date": to.isoformat(),
                "original_posting_date": original.isoformat() if original else None,
                "reason": reason,
            },
        )
        self._note(row.uuid, row.purchase, add=original is not None)

    def annotate(self, uuid: str, purchase: date) -> None:
        self._note(uuid, purchase, add=True)

    def _note(self, uuid: str, purchase: date, *, add: bool) -> None:
        note = purchase_note(purchase)
        name = "closed_period_annotate" if add else "closed_period_unannotate"
        self._run(name, {"uuid": uuid, "prefix": note, "prefix_length": len(note)})


def _hold_marker() -> dict[str, Any]:
    return {"hold_prefix": HOLD_PREFIX, "prefix_length": len(HOLD_PREFIX)}


def _date(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def adopt_redated(intacct: CardLookup, ledger: Ledger, settings: SyncSettings) -> int:
    """Exactly once for re-dated transactions: ask Intacct whether it holds any ready re-dated
    transaction's reference anywhere from its purchase date to its posting date (the load's
    own lookup reads only posting dates), on any card; record those on this card as posted,
    unsent, and hold those on another (``sync/already_posted.py``). Returns how many were
    adopted."""
    with ledger.engine.connect() as conn:
        rows = [
            (
                r.uuid,
                date.fromisoformat(r.original_posting_date),
                date.fromisoformat(r.posting_date),
            )
            for r in conn.execute(
                ledger._stmt("select_redated", "states"),
                {
                    "states": [str(LedgerState.READY)],
                    "date_from": "0001-01-01",
                    "date_to": "9999-12-31",
                },
            )
        ]
    if not rows:
        return 0
    card = settings.card_account_id
    found = already_posted.look_up(intacct, card, rows)
    adopted, _held = already_posted.settle(
        ledger,
        found,
        card,
        lambda hit: (
            f"already in Intacct as record {hit.get('RECORDNO') or ''} (dated "
            f"{hit.get('WHENCREATED')}) before this ledger sent it"
        ),
    )
    return adopted


# --- Intacct's refusals during the load -------------------------------------------------------


class Refusal(NamedTuple):
    """A posting Intacct refused as a closed period, and what the policy made of it."""

    uuid: str
    refused_date: date
    first_open: date | None
    action: str  # 'failed' | 'held' | 'redated'
    #: Why the first open day the message names could not be verified (an ambiguous date).
    unverified: str | None = None


def settle_refusals(
    intacct: Any,
    ledger: Ledger,
    policy: str,
    refused: Sequence[tuple[str, date, BaseException | None]],
) -> list[Refusal]:
    """Apply the policy to postings Intacct refused (``(uuid, date sent, error)``, already
    recorded ``failed`` by the load) that are closed-period refusals; the others are not
    returned. A held or re-dated one is no failure (a re-dated one is ``ready`` again, and the
    load sends it as its next attempt)."""
    closed = [(u, d, e) for u, d, e in refused if isinstance(e, ierr.IntacctClosedPeriod)]
    if not closed:
        return []
    out: list[Refusal] = []
    cache: list[date | None] = []  # the books-closed date, read at most once

    def books_closed() -> date | None:
        if not cache:
            reader = getattr(intacct, "get_books_closed_through", None)
            cache.append(read_closed_through(intacct)[0] if reader else None)
        return cache[0]

    today = ledger.clock().date()
    for uuid, day, error in closed:
        first_open, unverified = first_open_after_refusal(
            str(error), refused=day, books_closed=books_closed, today=today,
            fall_back=policy == REDATE,
        )  # fmt: skip
        if unverified:
            log.warning("Closed-period refusal of %s on %s: %s.", uuid, day, unverified)
        action = (
            "failed"
            if unverified and policy == REDATE
            else _settle(ledger, policy, uuid, day, first_open)
        )
        out.append(Refusal(uuid, day, first_open, action, unverified))
    return out


def _settle(ledger: Ledger, policy: str, uuid: str, day: date, first_open: date | None) -> str:
    if policy not in (HOLD, REDATE):
        return "failed"
    with ledger._write() as conn:
        found = conn.execute(ledger._stmt("select_closed_period_row"), {"uuid": uuid}).first()
        if found is None or found.state != LedgerState.FAILED:
            return "failed"  # another run took it meanwhile: its outcome stands
        row = _Row(
            uuid,
            found.state,
            date.fromisoformat(found.posting_date),
            _date(found.original_posting_date),
        )
        writes = _Writes(ledger, conn, dry_run=False)
        if policy == HOLD:
            writes.hold(row, refused_hold_reason(day, first_open))
            return "held"
        # Only forward: each re-dating moves strictly later, so refusals cannot loop.
        if first_open is not None and first_open > row.posting_date:
            writes.redate(
                row, first_open, row.purchase, refused_redate_reason(row.purchase, first_open, day)
            )
            return "redated"
    return "failed"


def refusal_summary(refusals: Sequence[Refusal]) -> dict[str, Any]:
    """The load's XCom part for closed-period refusals: how many, on which dates, and what
    became of them."""
    actions = Counter(r.action for r in refusals)
    return {
        "refused": len(refusals),
        "refused_dates": sorted({r.refused_date.isoformat() for r in refusals}),
        "first_open_days": sorted({r.first_open.isoformat() for r in refusals if r.first_open}),
        "failed": actions["failed"],
        "held": actions["held"],
        "redated": actions["redated"],
        "unverified": sum(r.unverified is not None for r in refusals),
    }


def run_summary(plan: ClosedPeriodPlan, refusals: Sequence[Refusal]) -> dict[str, Any]:
    """The load's whole closed-period summary (XCom ``closed_periods``): what was decided before
    the claim and on Intacct's refusals together (``held`` and ``redated`` count both), plus
    the refusals themselves (``refused``, ``refused_dates``, ``failed``)."""
    out = plan.summary()
    held = [r for r in refusals if r.action == "held"]
    moved = [r for r in refusals if r.action == "redated"]
    out["held"] += len(held)
    out["held_dates"] = sorted({*out["held_dates"], *(r.refused_date.isoformat() for r in held)})
    out["redated"] += len(moved)
    out["redated_from"] = sorted(
        {*out["redated_from"], *(r.refused_date.isoformat() for r in moved)}
    )
    out["redated_to"] = sorted(
        {*out["redated_to"], *(r.first_open.isoformat() for r in moved if r.first_open)}
    )
    summary = refusal_summary(refusals)
    out.update(
        refused=summary["refused"],
        refused_dates=summary["refused_dates"],
        first_open_days=summary["first_open_days"],
        failed=summary["failed"],
        unverified=summary["unverified"],
    )
    return out


# --- reconcile --------------------------------------------------------------------------------


def shifts(ledger: Ledger, states: Iterable[str], date_from: date, date_to: date) -> list[Shift]:
    """Re-dated transactions in ``states`` whose purchase or posted date is in the range."""
    with ledger.engine.connect() as conn:
        return [
            Shift(
                r.uuid,
                date.fromisoformat(r.original_posting_date),
                date.fromisoformat(r.posting_date),
                Decimal(r.amount),
            )
            for r in conn.execute(
                ledger._stmt("select_redated", "states"),
                {
                    "states": [str(s) for s in states],
                    "date_from": date_from.isoformat(),
                    "date_to": date_to.isoformat(),
                },
            )
        ]
