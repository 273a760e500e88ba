"""Run schedules: faulty runs, clean repeats until they succeed, then an independent check.

Everything a schedule touches is fresh (gateway records, Divvy transactions, ledger file, hooks),
so a schedule depends only on ``(seed, number)``. Only the thread interleavings of the ``free``
race variant are left to the operating system.
"""

from __future__ import annotations

import json
import os
import pathlib
import threading
import traceback
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
import tenacity

from intacct_hook.hooks.divvy import DivvyHook
from intacct_hook.hooks.intacct import IntacctHook
from intacct_hook.sync import steps
from intacct_hook.sync.ledger import Ledger
from intacct_hook.sync.preflight import PostingFacts, read_posting_facts
from intacct_hook.sync.rules import RuleSet, load_rules
from intacct_hook.sync.settings import SyncSettings
from intacct_hook.sync.states import STATES, LedgerState
from intacct_hook.sync.window import SyncWindow
from sandbox.divvy_api.testing import DivvyHandle, running_divvy
from sandbox.intacct_gateway.testing import GatewayHandle, running_gateway
from soak import _env
from soak.data import CARD, TIMEZONE
from soak.faults import (
    DIVVY_FAULTS,
    INTACCT_FAULTS,
    STEPS,
    Fault,
    KillingTarget,
    PausingTarget,
    RunSpec,
    Schedule,
    Worker,
    WorkerKilled,
)

MAX_REPEATS = 5  # clean repeats of a failed run before the schedule is called stuck
# The schedule's clock (the ledger's leases and landing retention run on it, never on the wall
# clock): a day between a schedule's runs, as daily runs are, and Airflow's retry delay between
# a run and its repeat. A killed load's claim is thus live for its own retries and expired for
# the next day's run, as in production.
RUN_GAP = timedelta(days=1)
RETRY_DELAY = timedelta(minutes=2)


class SimClock:
    """A clock that moves only when the schedule says so."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


RACE_TIMEOUT = 30.0  # seconds a paused load waits for the other, and a racing thread may take
# The local Divvy API allows this many calls per window; the hook's own limiter gets the same
# short window (60 calls per 10 ms), as the demo shortens it, so nothing waits on the limit.
DIVVY_WINDOW_SECONDS = 0.01


class HarnessError(RuntimeError):
    """The soak itself went wrong (not the code under test): a hang, a server that died."""


# --- the glue: the only place that calls the product's steps ------------------------------


@dataclass(frozen=True)
class StepContext:
    divvy: Any
    intacct: Any
    ledger: Ledger
    settings: SyncSettings
    rules: RuleSet
    facts: PostingFacts
    window: SyncWindow
    run_id: str
    try_number: int = 1  # Airflow's: a repeat of a run (its tasks cleared) is the next attempt


def call_step(name: str, c: StepContext) -> Any:
    """One step, called as its operator calls it (today's signatures: edit here if they change),
    and the operator's verdict on it: returns ``(result, failure or None)``.

    One difference: the map operator reads the posting facts (active IDs, the card's default
    location) with ``read_posting_facts`` every time; the soak reads them once (the setup never
    changes here), which saves six Intacct reads a run.
    """
    if name == "extract":
        return steps.extract(c.divvy, c.ledger, c.window, c.run_id, settings=c.settings), None
    if name == "stage":
        return steps.stage(c.ledger, c.settings, c.window, c.run_id), None
    if name == "map":
        return steps.map_transactions(
            c.ledger,
            c.settings,
            c.rules,
            card_default_location=c.facts.card_default_location,
            valid_ids=c.facts.active_ids,
            required_dimensions=c.facts.required_dimensions,
        ), None
    if name == "load":
        report = steps.load(
            c.intacct, c.ledger, c.settings, c.run_id, dry_run=False, try_number=c.try_number
        )
        return report, (f"{report.failed} refused by Intacct" if report.failed else None)
    if name == "reconcile":
        result = steps.reconcile(c.intacct, c.ledger, c.settings, c.window, c.run_id, dry_run=False)
        kinds = Counter(d.kind for d in result.differences)
        return result, (f"differs {dict(sorted(kinds.items()))}" if kinds else None)
    raise ValueError(f"unknown step {name!r}")


# --- results ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """Something the check found after the repeats: what an exactly-once sync must never do."""

    schedule: int
    seed: int
    kind: str  # duplicate | loss | wrong_amount | wrong_date | unexpected | ledger | reconcile
    # | stuck | harness
    detail: str
    faults: str
    replay_command: str

    def replay(self) -> str:
        return self.replay_command


@dataclass
class ScheduleResult:
    number: int
    seed: int
    kinds: list[str]
    fault_list: str
    planned: Counter[str] = field(default_factory=Counter)
    fired: Counter[str] = field(default_factory=Counter)
    runs: int = 0
    repeats: int = 0
    expected: int = 0
    posted: int = 0
    step_failures: Counter[str] = field(default_factory=Counter)
    problems: list[Problem] = field(default_factory=list)


@dataclass
class RunOutcome:
    ok: bool
    failure: str | None = None


# --- the world: both servers, started once ------------------------------------------------


class World:
    """The local Intacct gateway and Divvy API (in-process), the connections, the rules."""

    def __init__(self, gw: GatewayHandle, dv: DivvyHandle, workdir: pathlib.Path) -> None:
        self.gw = gw
        self.dv = dv
        self.workdir = workdir
        self.rules = load_rules(_env.ROOT / "include" / "mapping_rules.csv")
        self._facts: PostingFacts | None = None

    def facts(self, settings: SyncSettings) -> PostingFacts:
        """The posting facts, read from Intacct once, without faults."""
        if self._facts is None:
            hook = self.intacct(settings.batch_size)
            try:
                self._facts = read_posting_facts(hook, settings)
            finally:
                hook.close()
        return self._facts

    def intacct(self, batch_size: int) -> IntacctHook:
        hook = IntacctHook(
            intacct_conn_id=_env.INTACCT_CONN_ID,
            batch_size=batch_size,
            retry_args={"wait": tenacity.wait_none()},
            max_retry_after=0,
        )
        _local_only(hook.session)
        return hook

    def divvy(self) -> DivvyHook:
        hook = DivvyHook(
            divvy_conn_id=_env.DIVVY_CONN_ID,
            rate_limit_window=DIVVY_WINDOW_SECONDS,
            retry_args={"wait": tenacity.wait_none()},
            max_retry_after=0,
        )
        _local_only(hook.session)
        return hook


def _local_only(session: Any) -> None:
    """Both servers are on 127.0.0.1: skip reading proxy settings from the environment on
    every request (a tenth of the soak's time otherwise)."""
    session.trust_env = False


def _divvy_seed() -> dict[str, Any]:
    """The default Divvy company (users, budgets, cards, custom fields), no transactions."""
    seed = json.loads((_env.ROOT / "sandbox/divvy_api/seeds/default.json").read_text())
    seed["transactions"] = []
    seed.pop("scheduledClears", None)
    return seed


@contextmanager
def world(workdir: pathlib.Path) -> Iterator[World]:
    """Start both servers once and point the two connections at them (restored on exit)."""
    with (
        running_gateway() as gw,
        running_divvy(
            _divvy_seed(), calls_per_minute=60, window_seconds=DIVVY_WINDOW_SECONDS
        ) as dv,
    ):
        env = _env.connect(gw.url, dv.url, dv.token)
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            yield World(gw, dv, workdir)
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


# --- one schedule -------------------------------------------------------------------------


class ScheduleRunner:
    def __init__(self, w: World, schedule: Schedule) -> None:
        self.w = w
        self.s = schedule
        self.ledger_path = w.workdir / f"ledger-{schedule.seed}-{schedule.number}.db"
        self.ledgers: list[Ledger] = []  # every engine opened on the file, to dispose
        self.main: Ledger | None = None  # the one the runs use (a racing load opens its own)
        self.tries: dict[str, int] = {}  # attempts per run id, as Airflow counts task tries
        first_day = min(r.first_day for r in schedule.runs)
        self.clock = SimClock(datetime.combine(first_day, time(12), UTC))
        self.settings = SyncSettings.from_variable(
            {
                "lookback_days": schedule.lookback_days,
                "batch_size": schedule.batch_size,
                "timezone": TIMEZONE,
                "card_account_id": CARD,
                "mapping_file": str(_env.ROOT / "include" / "mapping_rules.csv"),
                "ledger_path": str(self.ledger_path),
            }
        )
        self.result = ScheduleResult(
            number=schedule.number,
            seed=schedule.seed,
            kinds=schedule.kinds(),
            fault_list=schedule.fault_list(),
            planned=Counter(f.kind for f in schedule.faults),
            expected=len(schedule.data.expected),
        )

    # --- set-up and tear-down ---------------------------------------------------------------

    def reset_servers(self) -> None:
        self.w.gw.reset_records()
        self.w.gw.expire_sessions()
        self.w.dv.reset_transactions()
        for row in self.s.data.rows:
            self.w.dv.state.add_transaction(row, bump=False)

    def ledger(self) -> Ledger:
        """The runs' ledger, opened (and its schema ensured) once, again after a loss."""
        if self.main is None:
            self.main = self.open_ledger()
        return self.main

    def open_ledger(self) -> Ledger:
        ledger = Ledger.sqlite(self.ledger_path)
        ledger.clock = self.clock
        # No fsync: the soak kills workers, not the machine, and a commit would otherwise cost
        # ~15 ms on a slow disk (most of the soak's time). Locking is unchanged.
        sa.event.listen(ledger.engine, "connect", _no_fsync)
        ledger.ensure_schema()
        self.ledgers.append(ledger)
        return ledger

    def close_ledgers(self) -> None:
        for ledger in self.ledgers:
            ledger.engine.dispose()
        self.ledgers.clear()
        self.main = None

    def delete_ledger(self) -> None:
        self.close_ledgers()
        for suffix in ("", "-journal", "-wal", "-shm"):
            pathlib.Path(f"{self.ledger_path}{suffix}").unlink(missing_ok=True)

    # --- the schedule -------------------------------------------------------------------------

    def execute(self) -> ScheduleResult:
        try:
            _fresh_secrets_masker()
            self.reset_servers()
            self.delete_ledger()
            failed: list[int] = []
            last, final = 0, RunOutcome(False)
            for i, spec in enumerate(self.s.runs):
                last, final = i, self.run(i, spec, faulty=True)
                if not final.ok:
                    if self.s.repeat_at_once:
                        final = self.repeat(i)
                    else:
                        failed.append(i)
            if failed:
                last, final = self.repeat_all(failed)
            self.check(self.s.runs[last], final)
        except HarnessError as exc:
            self.problem("harness", str(exc))
        except Exception as exc:
            tb = traceback.format_exception_only(type(exc), exc)[-1].strip()
            self.problem("harness", f"unexpected error in the soak itself: {tb}")
        finally:
            self.w.gw.clear_faults()
            self.w.dv.clear_faults()
            self.delete_ledger()
        return self.result

    def repeat(self, index: int) -> RunOutcome:
        """Run a failed run again without faults until it succeeds (bounded).

        A clean repeat that changed nothing (same ledger states, same Intacct records) ends
        the repeats early: the next one would start from the same state and fail the same way.
        """
        outcome = RunOutcome(False)
        tries = 0
        while tries < MAX_REPEATS:
            tries += 1
            self.result.repeats += 1
            before = self.fingerprint()
            outcome = self.run(index, self.s.runs[index], faulty=False)
            if outcome.ok:
                return outcome
            if self.fingerprint() == before:
                break
        self.problem(
            "stuck",
            f"{self.s.runs[index].run_id}: still failing after {tries} clean repeat(s)"
            f"{'' if tries == MAX_REPEATS else ' (the last changed nothing)'}: {outcome.failure}",
        )
        return outcome

    def repeat_all(self, failed: list[int]) -> tuple[int, RunOutcome]:
        """Repeat every failed run, one round after another, as an operator clearing all the
        failed runs (or Airflow retrying each) would: one run may wait on another's claim,
        which that run's own repeat resolves. Stops when all succeed, after MAX_REPEATS rounds,
        or when a whole round changed nothing."""
        pending = list(failed)
        outcomes: dict[int, RunOutcome] = {}
        rounds = 0
        while pending and rounds < MAX_REPEATS:
            rounds += 1
            before = self.fingerprint()
            for i in pending:
                self.result.repeats += 1
                outcomes[i] = self.run(i, self.s.runs[i], faulty=False)
            pending = [i for i in pending if not outcomes[i].ok]
            if pending and self.fingerprint() == before:
                break
        for i in pending:
            self.problem(
                "stuck",
                f"{self.s.runs[i].run_id}: still failing after {rounds} round(s) of clean "
                f"repeats: {outcomes[i].failure}",
            )
        last = failed[-1]
        return last, outcomes[last]

    def fingerprint(self) -> tuple[Any, ...]:
        """What a clean run can change: the ledger's transactions and Intacct's records."""
        with self.ledger().engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT uuid, state, failed_attempts, intacct_record_no, control_id "
                    "FROM divvy_transaction ORDER BY uuid"
                )
            ).all()
        records = sorted(str(r.get("RECORDNO")) for r in self.w.gw.cctransactions())
        return tuple(tuple(r) for r in rows), tuple(records)

    def problem(self, kind: str, detail: str) -> None:
        self.result.problems.append(
            Problem(self.s.number, self.s.seed, kind, detail, self.s.fault_list(), self.s.replay())
        )

    # --- one run ------------------------------------------------------------------------------

    def run(self, index: int, spec: RunSpec, *, faulty: bool) -> RunOutcome:
        self.result.runs += 1
        self.clock.advance(RUN_GAP if faulty else RETRY_DELAY)
        self.tries[spec.run_id] = self.tries.get(spec.run_id, 0) + 1
        faults = [f for f in self.s.faults if f.run == index] if faulty else []
        for fault in faults:
            if fault.kind == "ledger_lost":
                self.lose_ledger()
        ledger = self.ledger()
        ctx = StepContext(
            divvy=self.w.divvy(),
            intacct=self.w.intacct(self.settings.batch_size),
            ledger=ledger,
            settings=self.settings,
            rules=self.w.rules,
            facts=self.w.facts(self.settings),
            window=SyncWindow(
                spec.first_day, spec.last_day, self.s.lookback_days, TIMEZONE, "data_interval"
            ),
            run_id=spec.run_id,
            try_number=self.tries[spec.run_id],
        )
        try:
            for step in STEPS:
                here = [f for f in faults if f.step == step and f.kind != "ledger_lost"]
                failure = self.step(ctx, step, here)
                if failure is not None:
                    self.result.step_failures[failure.split(":")[0] + ": " + _kind(failure)] += 1
                    return RunOutcome(False, failure)
            return RunOutcome(True)
        finally:
            ctx.intacct.close()
            ctx.divvy.session.close()

    def step(self, c: StepContext, step: str, faults: Sequence[Fault]) -> str | None:
        """Apply the faults planned before ``step``, run it; the failure text, or None."""
        gw_queue: list[tuple[str, int]] = []
        dv_queue: list[tuple[str, int]] = []
        target = c.intacct
        race: Fault | None = None
        reopen: list[Callable[[], None]] = []
        refusal = False
        for f in faults:
            if f.kind in INTACCT_FAULTS:
                params = {"status": int(f.variant)} if f.variant else {}
                self.w.gw.queue_fault(INTACCT_FAULTS[f.kind], f.count, **params)
                gw_queue.append((f.kind, f.count))
            elif f.kind in DIVVY_FAULTS:
                params = {"status": int(f.variant)} if f.variant else {}
                if f.kind == "divvy_429":
                    params = {"retry_after": 0}
                self.w.dv.queue_fault(DIVVY_FAULTS[f.kind], f.count, **params)
                dv_queue.append((f.kind, f.count))
            elif f.kind == "session_expired":
                self.w.gw.expire_sessions()
                self.result.fired[f.kind] += 1
            elif f.kind in ("killed_before_send", "killed_after_send"):
                target = KillingTarget(
                    target, at_call=int(f.variant), after_send=f.kind == "killed_after_send"
                )
            elif f.kind == "loads_racing":
                race = f
            elif f.kind == "landing_purged":
                if self.purge_landing(c, f):
                    self.result.fired[f.kind] += 1
            elif f.kind == "definitive_refusal":
                reopen.append(self.close_books(date.fromisoformat(f.variant)))
                refusal = True
            else:
                raise HarnessError(f"fault {f.label()} cannot be applied before {step}")
        c = replace(c, intacct=target)
        result: Any = None
        try:
            if race is not None:
                result, failure = self.race(c, race)
            else:
                result, failure = call_step(step, c)
        except WorkerKilled:
            failure = f"{step}: worker killed"
        except Exception as exc:
            failure = f"{step}: {type(exc).__name__}: {_short(exc)}"
        else:
            failure = f"{step}: {failure}" if failure else None
        finally:
            for undo in reversed(reopen):
                undo()
            _count_fired(self.result.fired, gw_queue, self.w.gw.clear_faults())
            _count_fired(self.result.fired, dv_queue, self.w.dv.clear_faults())
        if isinstance(target, KillingTarget) and target.fired:
            kill = "killed_after_send" if target.after_send else "killed_before_send"
            self.result.fired[kill] += 1
        if refusal and getattr(result, "failed", 0):
            self.result.fired["definitive_refusal"] += 1
        return failure

    # --- worker-level faults ------------------------------------------------------------------

    def lose_ledger(self) -> None:
        """The ledger file is gone; the next run starts from an empty one."""
        had_rows = False
        if self.ledger_path.exists():
            probe = Ledger.sqlite(self.ledger_path)
            try:
                with probe.engine.connect() as conn:
                    had_rows = bool(
                        conn.execute(sa.text("SELECT COUNT(*) FROM divvy_transaction")).scalar()
                    )
            except sa.exc.OperationalError:
                had_rows = False
            finally:
                probe.engine.dispose()
        self.delete_ledger()
        if had_rows:
            self.result.fired["ledger_lost"] += 1

    def purge_landing(self, c: StepContext, f: Fault) -> bool:
        """Between this run's extract and stage: the next day's run (started early) extracts
        and stages, which purges other runs' landing; or the landing rows are deleted."""
        before = _landed(c.ledger, c.run_id)
        if f.variant == "rows_deleted":
            with c.ledger.engine.begin() as conn:
                conn.execute(
                    sa.text("DELETE FROM divvy_landing WHERE run_id = :r"), {"r": c.run_id}
                )
        else:
            day = c.window.last_day + timedelta(days=1)
            other = replace(
                c,
                divvy=self.w.divvy(),
                window=replace(c.window, first_day=day, last_day=day),
                run_id=f"scheduled__{day.isoformat()}__overlap",
            )
            try:
                for name in ("extract", "stage"):
                    call_step(name, other)
            except Exception as exc:
                self.result.step_failures[f"overlapping run: {type(exc).__name__}"] += 1
            finally:
                other.divvy.session.close()
        return _landed(c.ledger, c.run_id) < before

    def close_books(self, through: date) -> Callable[[], None]:
        """Intacct refuses records dated up to ``through`` until the returned call reopens."""
        with self.w.gw.state.lock:
            rows = [
                row
                for company in self.w.gw.state.companies.values()
                for row in company.records("BOOKSCLOSED")
            ]
            saved = [row["CLOSEDTHROUGH"] for row in rows]
            for row in rows:
                row["CLOSEDTHROUGH"] = through.strftime("%m/%d/%Y")

        def reopen() -> None:
            with self.w.gw.state.lock:
                for row, value in zip(rows, saved, strict=True):
                    row["CLOSEDTHROUGH"] = value

        return reopen

    def race(self, c: StepContext, f: Fault) -> tuple[Any, str | None]:
        """This run's load and another run's load on the same ledger file at the same time,
        each with its own hook and engine (two workers)."""
        other = replace(
            c,
            intacct=self.w.intacct(self.settings.batch_size),
            ledger=self.open_ledger(),
            run_id=f"{c.run_id}__racer",
        )
        if f.variant == "free":
            barrier = threading.Barrier(2, timeout=RACE_TIMEOUT)

            def ours() -> Any:
                barrier.wait()
                return call_step("load", c)

            def theirs() -> Any:
                barrier.wait()
                return call_step("load", other)

            pausing = None
        else:
            paused, resume = threading.Event(), threading.Event()
            pausing = PausingTarget(
                c.intacct,
                after_send=f.variant == "paused_after_send",
                paused=paused,
                resume=resume,
                timeout=RACE_TIMEOUT,
            )
            mine = replace(c, intacct=pausing)
            last_day = max(self.s.data.days)

            def ours() -> Any:
                try:
                    return call_step("load", mine)
                finally:
                    paused.set()  # nothing to send: let the other one go anyway

            def theirs() -> Any:
                paused.wait(RACE_TIMEOUT)
                reopen = self.close_books(last_day) if f.variant.endswith("_refused") else None
                try:
                    return call_step("load", other)
                finally:
                    if reopen is not None:
                        reopen()
                    resume.set()

        a = Worker("soak-load", ours).start()
        b = Worker("soak-load-racer", theirs).start()
        finished = a.join(2 * RACE_TIMEOUT + 10) and b.join(2 * RACE_TIMEOUT + 10)
        other.intacct.close()
        if not finished:
            raise HarnessError(f"{f.label()}: a racing load did not finish in time")
        if pausing is None or pausing.fired:
            self.result.fired["loads_racing"] += 1
        if b.error is not None:
            self.result.step_failures[f"racing load: {type(b.error).__name__}"] += 1
        if a.error is not None:
            raise a.error
        return a.result

    # --- the check ------------------------------------------------------------------------------

    def check(self, final_spec: RunSpec, final: RunOutcome) -> None:
        """Intacct holds exactly the expected records, each once, to the cent and date; the
        ledger says posted with the same RECORDNO; the final run reconciled every day."""
        expected = self.s.data.expected
        records = [r for r in self.w.gw.cctransactions() if r.get("FINANCIALENTITY") == CARD]
        by_ref: dict[str, list[dict[str, Any]]] = {}
        for rec in records:
            by_ref.setdefault(str(rec.get("RECORDID") or ""), []).append(rec)
        self.result.posted = len(records)
        ledger = self.ledger()
        rows = {r.uuid: r for r in ledger.select_in_state(STATES)}
        for uuid, exp in sorted(expected.items()):
            found = by_ref.get(uuid, [])
            if not found:
                self.problem("loss", f"{uuid} ({exp.total} on {exp.posting_date}) not in Intacct")
                continue
            if len(found) > 1:
                numbers = ", ".join(f"{r['RECORDNO']}" for r in found)
                self.problem(
                    "duplicate",
                    f"{uuid} ({exp.total} on {exp.posting_date}) is in Intacct {len(found)} "
                    f"times: RECORDNO {numbers}; ledger control ID "
                    f"{getattr(rows.get(uuid), 'control_id', None)}",
                )
            for rec in found:
                total = Decimal(str(rec.get("TOTALENTERED")))
                lines = sum((Decimal(str(ln["AMOUNT"])) for ln in rec["lines"]), Decimal(0))
                if total != exp.total or lines != exp.total:
                    self.problem(
                        "wrong_amount",
                        f"{uuid}: RECORDNO {rec['RECORDNO']} totals {total} (lines {lines}), "
                        f"Divvy says {exp.total}",
                    )
                if _gateway_date(rec.get("WHENCREATED")) != exp.posting_date:
                    self.problem(
                        "wrong_date",
                        f"{uuid}: RECORDNO {rec['RECORDNO']} dated {rec.get('WHENCREATED')}, "
                        f"Divvy says {exp.posting_date}",
                    )
            row = rows.get(uuid)
            numbers = {str(r["RECORDNO"]) for r in found}
            posted = row is not None and row.state == LedgerState.POSTED
            if not posted or row.intacct_record_no not in numbers:
                self.problem(
                    "ledger",
                    f"{uuid}: ledger says "
                    + (
                        "nothing"
                        if row is None
                        else f"{row.state} RECORDNO {row.intacct_record_no}"
                    )
                    + f", Intacct holds RECORDNO {', '.join(sorted(numbers))}",
                )
        for ref, found in sorted(by_ref.items()):
            if ref not in expected:
                self.problem(
                    "unexpected",
                    f"Intacct holds {len(found)} record(s) with reference {ref!r}, which Divvy "
                    "did not post",
                )
        if final.ok:
            window_days = {
                final_spec.first_day - timedelta(days=self.s.lookback_days) + timedelta(days=n)
                for n in range(
                    (final_spec.last_day - final_spec.first_day).days + self.s.lookback_days + 1
                )
            }
            recon = ledger.reconciliations(final_spec.run_id)
            bad = [r for r in recon if r["status"] != "matched"]
            days = {r["posting_date"] for r in recon}
            if bad or days != window_days:
                self.problem(
                    "reconcile",
                    f"final run {final_spec.run_id}: {len(bad)} day(s) differ, "
                    f"{len(window_days - days)} day(s) not reconciled",
                )


def _fresh_secrets_masker() -> None:
    """Forget the secrets masked so far, as a fresh worker process would.

    The hooks mask every Intacct session ID, and Airflow's masker recompiles one regex of all
    of them on each new one: after a few hundred logins in one process each costs tens of ms,
    and the soak logs in thousands of times. (A real task is a fresh process.)
    """
    from airflow.sdk import log

    masker = getattr(log, "_secrets_masker", None)
    if masker is not None:
        masker().reset_masker()


def _no_fsync(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA synchronous = OFF")
    cursor.close()


def _landed(ledger: Ledger, run_id: str) -> int:
    with ledger.engine.connect() as conn:
        return int(
            conn.execute(
                sa.text("SELECT COUNT(*) FROM divvy_landing WHERE run_id = :r"), {"r": run_id}
            ).scalar()
            or 0
        )


def _count_fired(fired: Counter[str], queued: list[tuple[str, int]], left: int) -> None:
    """Queued faults fire first-in first-out: what is left over belongs to the last ones."""
    for kind, count in reversed(queued):
        unfired = min(count, left)
        left -= unfired
        if count - unfired:
            fired[kind] += count - unfired


def _gateway_date(value: Any) -> date | None:
    try:
        month, day, year = str(value).split("/")
        return date(int(year), int(month), int(day))
    except ValueError:
        return None


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:160] + ("…" if len(text) > 160 else "")


def _kind(failure: str) -> str:
    """The failure's class name or verdict, for counting (not its record-specific text)."""
    rest = failure.split(": ", 1)[1] if ": " in failure else failure
    return rest.split(":")[0].split(" {")[0].lstrip("0123456789 ")
