"""Fault kinds, a schedule's plan, and the worker-level faults (wrappers around the steps'
Intacct target; the product code is never patched).

A schedule is drawn from ``random.Random(f"{seed}/{number}")`` alone, so ``--seed S --only N``
replays schedule N exactly as the full soak ran it.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from soak.data import ScheduleData, generate

# Gateway faults: kind name -> (the gateway's fault kind, its parameters).
INTACCT_FAULTS: dict[str, str] = {
    "intacct_429": "rate_limit",
    "intacct_5xx": "server_error",
    "intacct_524_after_commit": "cf_524_after_commit",
    "intacct_drop_after_commit": "drop_after_commit",
    "intacct_drop_before_commit": "drop_before_commit",
}
DIVVY_FAULTS: dict[str, str] = {
    "divvy_429": "rate_limit",
    "divvy_5xx": "server_error",
    "divvy_truncated": "truncated",
}
WORKER_FAULTS = (
    "session_expired",
    "killed_before_send",
    "killed_after_send",
    "loads_racing",
    "landing_purged",
    "ledger_lost",
    "definitive_refusal",
)
ALL_KINDS: tuple[str, ...] = (*INTACCT_FAULTS, *DIVVY_FAULTS, *WORKER_FAULTS)

STEPS = ("extract", "stage", "map", "load", "reconcile")
# Where Intacct faults go: the writes and lookups of load, the reads of reconcile. (The map
# step's setup reads are made once per soak, see harness.call_step.)
INTACCT_FAULT_STEPS = ("load", "reconcile")
SESSION_STEPS = ("map", "load", "reconcile")


class WorkerKilled(BaseException):
    """The worker running the load died: nothing after this point of the step runs.

    A ``BaseException``, like the signal that kills a real worker: no ``except Exception`` in
    the code under test may swallow it."""


@dataclass(frozen=True)
class RunSpec:
    """One DAG run: its id and the inclusive days it covers."""

    run_id: str
    first_day: date
    last_day: date


@dataclass(frozen=True)
class Fault:
    kind: str
    run: int  # index into Schedule.runs
    step: str  # applied just before this step of that run
    count: int = 1
    variant: str = ""
    part_of: str = ""  # set on a fault drawn only to set up another kind's scenario

    def label(self) -> str:
        extra = f"[{self.variant}]" if self.variant else ""
        times = f"x{self.count}" if self.count > 1 else ""
        return f"{self.kind}{extra}{times}@run{self.run}.{self.step}"


@dataclass
class Schedule:
    seed: int
    number: int
    data: ScheduleData
    lookback_days: int
    batch_size: int
    runs: list[RunSpec]
    # Repeat a failed run as soon as it fails (task retries), or only once all planned runs
    # ran (someone clears the failed runs later).
    repeat_at_once: bool = True
    faults: list[Fault] = field(default_factory=list)
    drawn_from: tuple[str, ...] = ALL_KINDS  # the --kinds it was planned with

    def replay(self) -> str:
        """The command that runs this schedule again, exactly."""
        kinds = "" if self.drawn_from == ALL_KINDS else f" --kinds {','.join(self.drawn_from)}"
        return f"python -m soak --seed {self.seed} --only {self.number}{kinds}"

    def faults_at(self, run: int, step: str) -> list[Fault]:
        return [f for f in self.faults if f.run == run and f.step == step]

    def kinds(self) -> list[str]:
        """The kinds drawn for this schedule (not those only setting up another's scenario)."""
        return sorted({f.kind for f in self.faults if not f.part_of})

    def fault_list(self) -> str:
        labels = [f.label() for f in self.faults] or ["(none)"]
        return ", ".join(labels) + ("" if self.repeat_at_once else "; repeats at end")


def schedule_rng(seed: int, number: int) -> random.Random:
    # String seeds are hashed with SHA-512: stable across processes and PYTHONHASHSEED.
    return random.Random(f"divvy-intacct-soak/{seed}/{number}")


def plan(seed: int, number: int, kinds: Sequence[str] = ALL_KINDS) -> Schedule:
    """Schedule ``number`` of the soak with ``seed``: data, settings, runs and 1-4 faults."""
    rng = schedule_rng(seed, number)
    data = generate(rng)
    days = data.days
    runs = [RunSpec(f"scheduled__{d.isoformat()}", d, d) for d in days]
    if rng.random() < 0.3:  # someone re-runs a day by hand
        day = rng.choice(days)
        runs.append(RunSpec(f"manual__{day.isoformat()}_rerun", day, day))
    if rng.random() < 0.2:  # a backfill over the whole range
        runs.append(RunSpec(f"backfill__{days[0]}_{days[-1]}", days[0], days[-1]))
    schedule = Schedule(
        seed=seed,
        number=number,
        data=data,
        lookback_days=rng.choice((0, 0, 1, 2, 14)),
        batch_size=rng.choice((1, 2, 3, 50)),
        runs=runs,
        repeat_at_once=rng.random() < 0.5,
        drawn_from=tuple(kinds),
    )
    for _ in range(rng.randint(1, 4)):
        _add_fault(rng, schedule, rng.choice(list(kinds)))
    schedule.faults.sort(key=lambda f: (f.run, STEPS.index(f.step)))
    return schedule


def _count(rng: random.Random, most: int) -> int:
    """Mostly one or two; sometimes enough to use up the hook's retries."""
    return rng.choice((1, 1, 1, 2, 2, 3, most))


def _add_fault(rng: random.Random, s: Schedule, kind: str) -> None:
    before = list(s.faults)
    _draw_fault(rng, s, kind)
    # The same worker fault twice at one point is one fault: keep the first.
    s.faults = before + [
        f
        for f in s.faults[len(before) :]
        if f.kind in INTACCT_FAULTS or f.kind in DIVVY_FAULTS or not _same_point(f, before)
    ]


def _same_point(fault: Fault, others: Sequence[Fault]) -> bool:
    return any((f.kind, f.run, f.step) == (fault.kind, fault.run, fault.step) for f in others)


def _draw_fault(rng: random.Random, s: Schedule, kind: str) -> None:
    run = rng.randrange(len(s.runs))
    if kind in INTACCT_FAULTS:
        step = rng.choices(INTACCT_FAULT_STEPS, weights=(3, 1))[0]
        variant = str(rng.choice((500, 502, 503))) if kind == "intacct_5xx" else ""
        most = 4 if "commit" in kind else 6
        s.faults.append(Fault(kind, run, step, _count(rng, most), variant))
    elif kind in DIVVY_FAULTS:
        variant = str(rng.choice((500, 502, 503, 504))) if kind == "divvy_5xx" else ""
        s.faults.append(Fault(kind, run, "extract", _count(rng, 7), variant))
    elif kind == "session_expired":
        s.faults.append(Fault(kind, run, rng.choice(SESSION_STEPS)))
    elif kind in ("killed_before_send", "killed_after_send"):
        # Killed during the n-th batch the load sends.
        s.faults.append(Fault(kind, run, "load", variant=str(rng.choice((1, 1, 2)))))
    elif kind == "loads_racing":
        # paused_*: our load stops before/after sending its first batch until the other load
        # has finished; *_refused: Intacct refuses the other load's sends (books closed while
        # it runs); free: both start together.
        variant = rng.choice(
            ("paused_before_send", "paused_before_send_refused", "paused_after_send", "free")
        )
        s.faults.append(Fault(kind, run, "load", variant=variant))
    elif kind == "landing_purged":
        variant = rng.choice(("other_run_stage", "other_run_stage", "rows_deleted"))
        s.faults.append(Fault(kind, run, "stage", variant=variant))
    elif kind == "definitive_refusal":
        # Books closed through one of the days during this load: Intacct refuses the records
        # dated up to then; the next attempt goes out as divvy-<uuid>#2.
        day = rng.choice(s.data.days)
        s.faults.append(Fault(kind, run, "load", variant=day.isoformat()))
    elif kind == "ledger_lost":
        _add_ledger_loss(rng, s)
    else:
        raise ValueError(f"unknown fault kind {kind!r}; one of {ALL_KINDS}")


def _add_ledger_loss(rng: random.Random, s: Schedule) -> None:
    """The ledger file is replaced by an empty one before a later run; the operator then runs
    a backfill over the range (so the new ledger can learn every record again)."""
    days = s.data.days
    backfill = RunSpec(f"backfill__{days[0]}_{days[-1]}_after_loss", days[0], days[-1])
    if backfill not in s.runs:
        s.runs.append(backfill)
    run = rng.randrange(1, len(s.runs))
    s.faults.append(Fault("ledger_lost", run, "extract"))
    if rng.random() < 0.7:
        # Usually with a record posted under an attempt-2 control ID before the loss: refused
        # once, then posted by the run's repeat, before the loss.
        day = rng.choice(days)
        s.faults.append(
            Fault("definitive_refusal", rng.randrange(run), "load", 1, str(day), "ledger_lost")
        )
        s.repeat_at_once = True


# --- worker-level faults: wrappers around the load's Intacct target ------------------------


class TargetWrapper:
    """Delegates everything to the real hook; subclasses intercept ``record_cctransactions``."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.fired = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def record_cctransactions(self, txns: Sequence[Any], **kwargs: Any) -> list[Any]:
        return self.inner.record_cctransactions(txns, **kwargs)


class KillingTarget(TargetWrapper):
    """The worker dies during its ``at_call``-th batch: before the request leaves
    (``after_send=False``) or once Intacct has answered, before the step can mark the ledger."""

    def __init__(self, inner: Any, *, at_call: int, after_send: bool) -> None:
        super().__init__(inner)
        self.at_call = at_call
        self.after_send = after_send
        self.calls = 0

    def record_cctransactions(self, txns: Sequence[Any], **kwargs: Any) -> list[Any]:
        self.calls += 1
        if self.calls != self.at_call or not txns:
            return self.inner.record_cctransactions(txns, **kwargs)
        if self.after_send:
            self.inner.record_cctransactions(txns, **kwargs)
        self.fired = True
        raise WorkerKilled(f"worker killed {'after' if self.after_send else 'before'} sending")


class PausingTarget(TargetWrapper):
    """Pauses the first batch before or after sending it until ``resume`` is set (bounded),
    telling ``paused`` when it gets there, so another load can run in between."""

    def __init__(
        self,
        inner: Any,
        *,
        after_send: bool,
        paused: threading.Event,
        resume: threading.Event,
        timeout: float,
    ) -> None:
        super().__init__(inner)
        self.after_send = after_send
        self.paused = paused
        self.resume = resume
        self.timeout = timeout
        self.calls = 0

    def _pause(self) -> None:
        self.fired = True
        self.paused.set()
        self.resume.wait(self.timeout)

    def record_cctransactions(self, txns: Sequence[Any], **kwargs: Any) -> list[Any]:
        self.calls += 1
        if self.calls != 1 or not txns:
            return self.inner.record_cctransactions(txns, **kwargs)
        if not self.after_send:
            self._pause()
        outcomes = self.inner.record_cctransactions(txns, **kwargs)
        if self.after_send:
            self._pause()
        return outcomes


class Worker:
    """A load running in its own thread (a second Airflow worker); every wait is bounded."""

    def __init__(self, name: str, target: Callable[[], Any]) -> None:
        self.result: Any = None
        self.error: BaseException | None = None
        self._target = target
        self._thread = threading.Thread(target=self._body, name=name, daemon=True)

    def _body(self) -> None:
        try:
            self.result = self._target()
        except BaseException as exc:  # a WorkerKilled too: reported, never propagated
            self.error = exc

    def start(self) -> Worker:
        self._thread.start()
        return self

    def join(self, timeout: float) -> bool:
        """True when the thread finished within ``timeout`` seconds."""
        self._thread.join(timeout)
        return not self._thread.is_alive()
