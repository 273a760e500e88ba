"""`make demo`: run ``divvy_intacct_sync`` over a realistic week against both local sandboxes.

What it does, in order (each DAG run is a real Airflow run through ``dag.test()``):

1. starts the local Intacct gateway (the setup-guide company) and the local Divvy API seeded
   with a generated week (refunds, declines, splits, late clears, unmapped coding);
   the dimension push DAG (``divvy_intacct_dimensions``) then makes Divvy's custom-field values
   match Intacct: a dry run, the push, and a second push that changes nothing;
2. runs the DAG once per day of the week, as a daily backfill would, checking from the extract
   task's XCom that each run covered exactly its one local day;
3. prints what was posted, held, skipped and left unmapped, and the reconciliation per day;
4. runs the same week again and shows that nothing new reaches Intacct;
5. lets Divvy settle the clears that land after the week, and shows a later daily run posting
   them; a last manual run over the whole week reconciles every day;
6. closes Intacct's books through the week's first day and shows a purchase of that day that
   reaches Divvy late posted on the first open day (``closed_period_policy``
   ``post_to_first_open_day``), its purchase date kept; a rerun posts nothing;
7. re-codes a posted purchase in Divvy (another GL account): the next run's ``recode`` task
   reverses it and posts the new version (``recode_policy`` ``reverse_and_repost``), reconcile
   still matches; a rerun changes nothing.

Airflow's own logs go to ``var/demo/airflow.log``; the output here is only the summary.
Exit status 1 when any run does not succeed or a check fails.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pathlib
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from typing import IO, Any
from zoneinfo import ZoneInfo

ROOT = pathlib.Path(__file__).resolve().parents[1]
DEFAULT_VAR_DIR = ROOT / "var" / "demo"
STEPS = ("preflight", "extract", "stage", "map", "load", "recode", "reconcile")
DAG_ID = "divvy_intacct_sync"
RATE_WINDOW_SECONDS = 1.0


def _airflow_env() -> None:
    """The Makefile exports these; set them too when the demo is run by hand."""
    os.environ.setdefault("AIRFLOW_HOME", str(ROOT / ".airflow"))
    os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(ROOT / "dags"))
    os.environ.setdefault("AIRFLOW__CORE__PLUGINS_FOLDER", str(ROOT / "plugins"))
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    # A failing task should fail its run now; the DAG's default retries wait minutes.
    os.environ["DIVVY_INTACCT_TASK_RETRIES"] = "0"


def ensure_metadata_db(out: IO[str]) -> None:
    """``dag.test()`` needs a migrated metadata DB; create it on first use."""
    home = pathlib.Path(os.environ["AIRFLOW_HOME"])
    if (home / "airflow.db").exists() or os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"):
        return
    print(f"Creating the Airflow metadata DB in {home} (airflow db migrate) …", file=out)
    home.mkdir(parents=True, exist_ok=True)
    airflow = pathlib.Path(sys.executable).parent / "airflow"
    done = subprocess.run([str(airflow), "db", "migrate"], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"airflow db migrate failed:\n{done.stderr[-2000:]}")


@contextlib.contextmanager
def quiet(log_path: pathlib.Path) -> Iterator[None]:
    """Send everything written to stdout/stderr (Airflow's per-task logs) to ``log_path``.

    Redirects the file descriptors and leaves ``sys.stdout`` alone: Airflow's loggers keep the
    stream object they first wrote to, so swapping it would leave them holding a closed file.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(log_path, "a", encoding="utf-8") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def logical_date_for(day: date) -> datetime:
    """The logical date of the daily run that covers ``day``: local midnight starting it in
    DIVVY_INTACCT_TIMEZONE (LocalDayTimetable), as a scheduled run or a backfill of that day."""
    from intacct_hook.sync.settings import configured_timezone

    zone = ZoneInfo(configured_timezone())
    return datetime.combine(day, dtime(0), tzinfo=zone)


@dataclass
class RunResult:
    label: str
    day: date | None
    run_id: str
    state: str
    task_states: dict[str, str]
    xcoms: dict[str, Any]
    seconds: float
    divvy_calls: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def window(self) -> Mapping[str, Any]:
        return (self.xcoms.get("extract") or {}).get("window") or {}

    @property
    def load(self) -> Mapping[str, Any]:
        return self.xcoms.get("load") or {}

    @property
    def ok(self) -> bool:
        return self.state == "success" and not self.problems

    def row(self) -> dict[str, Any]:
        window = self.window
        span = f"{window.get('first_day', '?')}..{window.get('last_day', '?')}"
        return {
            "run": self.label,
            "days synced": span,
            **{step: self.task_states.get(step, "-") for step in STEPS},
            "extracted": (self.xcoms.get("extract") or {}).get("extracted", "-"),
            "posted": self.load.get("posted", "-"),
            "unmapped": (self.xcoms.get("map") or {}).get("unmapped", "-"),
            "Divvy calls": self.divvy_calls,
            "run state": self.state,
            "secs": f"{self.seconds:.1f}",
        }


def _xcoms(dag_run: Any) -> dict[str, Any]:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    out: dict[str, Any] = {}
    with create_session() as session:
        for step in STEPS:
            row = session.scalars(
                XComModel.get_many(
                    run_id=dag_run.run_id, dag_ids=dag_run.dag_id, task_ids=step, key="return_value"
                )
            ).first()
            out[step] = None if row is None else XComModel.deserialize_value(row)
    return out


class Demo:
    def __init__(self, args: argparse.Namespace, out: IO[str]) -> None:
        self.args = args
        self.out = out
        self.var_dir: pathlib.Path = args.var_dir
        self.log_path = self.var_dir / "airflow.log"
        self.ledger_path = self.var_dir / "ledger.db"
        self.runs: list[RunResult] = []
        self.divvy: Any = None  # the running local Divvy API, to count calls per run
        self._dag: Any = None

    def say(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    # --- running the DAG ------------------------------------------------------------------

    def dag(self) -> Any:
        if self._dag is None:
            from airflow.dag_processing.dagbag import DagBag

            with quiet(self.log_path):
                bag = DagBag(dag_folder=str(ROOT / "dags"))
            if bag.import_errors:
                raise SystemExit(f"The DAG does not import: {bag.import_errors}")
            self._dag = bag.get_dag(DAG_ID)
        return self._dag

    def run(
        self, label: str, *, day: date | None, logical_date: datetime, conf: dict | None = None
    ) -> RunResult:
        started = time.monotonic()
        calls_before = len(self.divvy.requests) if self.divvy else 0
        with quiet(self.log_path):
            dag_run = self.dag().test(logical_date=logical_date, run_conf=conf)
        result = RunResult(
            label=label,
            day=day,
            run_id=dag_run.run_id,
            state=str(dag_run.state),
            task_states={ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()},
            xcoms=_xcoms(dag_run),
            seconds=time.monotonic() - started,
            divvy_calls=(len(self.divvy.requests) - calls_before) if self.divvy else 0,
        )
        window = result.window
        if day is not None and (window.get("first_day"), window.get("last_day")) != (
            day.isoformat(),
            day.isoformat(),
        ):
            # A daily run must cover exactly its one local day, or a backfill double-counts.
            result.problems.append(
                f"run for {day} covered {window.get('first_day')}..{window.get('last_day')}"
            )
        if result.state != "success":
            failed = [t for t, s in result.task_states.items() if s != "success"]
            result.problems.append(f"run {label} ended {result.state}; tasks: {failed}")
        self.runs.append(result)
        mark = "ok" if result.ok else "FAILED"
        self.say(f"  {label:<24} {result.state:<8} {result.seconds:5.1f} s  {mark}")
        return result

    def run_days(self, days: Sequence[date], label: str) -> list[RunResult]:
        return [
            self.run(f"{label} {d.isoformat()}", day=d, logical_date=logical_date_for(d))
            for d in days
        ]

    def runs_table(self, results: Sequence[RunResult], title: str) -> str:
        from intacct_hook.sync.report import format_table

        return format_table([r.row() for r in results], title=title)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m demo", description=__doc__.split("\n\n")[0] if __doc__ else None
    )
    parser.add_argument("--start", type=date.fromisoformat, default=date(2026, 11, 16))
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--per-day", type=int, default=40, help="purchases per day")
    parser.add_argument("--seed", type=int, default=7, help="generator seed")
    parser.add_argument(
        "--var-dir",
        type=pathlib.Path,
        default=DEFAULT_VAR_DIR,
        help="working folder, deleted at the start (ledger, Airflow log)",
    )
    return parser


def main(argv: Sequence[str] | None = None, out: IO[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = out or sys.stdout
    _airflow_env()
    started = time.monotonic()
    shutil.rmtree(args.var_dir, ignore_errors=True)
    args.var_dir.mkdir(parents=True)
    ensure_metadata_db(out)
    demo = Demo(args, out)
    try:
        ok = _run_demo(demo)
    finally:
        demo.say(f"\nAirflow's task logs: {demo.log_path}")
        demo.say(f"Ledger (SQLite): {demo.ledger_path}")
        demo.say(f"Demo finished in {time.monotonic() - started:.1f} s")
    return 0 if ok else 1


def _run_demo(demo: Demo) -> bool:
    from demo import summary
    from intacct_hook.sync.ledger import Ledger
    from intacct_hook.sync.states import LedgerState
    from sandbox.divvy_api.generator import generate_week
    from sandbox.divvy_api.testing import running_divvy
    from sandbox.intacct_gateway.testing import running_gateway

    args, say = demo.args, demo.say
    week = [args.start + timedelta(days=n) for n in range(args.days)]
    seed = generate_week(args.start, args.days, seed=args.seed, per_day=args.per_day)
    late_clears = seed.get("scheduledClears") or []

    # Divvy allows 60 calls a minute per token and the hook keeps to it client-side. At that
    # pace the week's runs need ~10 minutes, nearly all of it waiting, so the demo shortens the
    # window on both sides (the connection's ``rate_limit_window``, meant for local APIs): still
    # 60 calls per window, enforced by client and server alike, one second long.
    with (
        running_gateway() as gw,
        running_divvy(
            seed, calls_per_minute=60, window_seconds=RATE_WINDOW_SECONDS, retry_after=True
        ) as dv,
    ):
        _configure(demo, gw.url, dv.url, dv.token)
        demo.divvy = dv
        say(f"Local Intacct gateway: {gw.url}  (company ACME-DEMO, card 'Divvy CC Object')")
        say(f"Local Divvy API:       {dv.url}")
        say(
            f"Generated week {week[0]}..{week[-1]} (seed {args.seed}, {args.per_day} purchases"
            f" a day); {len(late_clears)} clears will land after the week."
        )
        say("")
        say(summary.dataset_table(seed))
        push_ok = _dimension_push(demo, dv)
        ledger = Ledger.sqlite(demo.ledger_path)

        # 1. The week, one daily run per day, as `airflow backfill create` would run it.
        say(f"\n== Pass 1: one daily run per day ({len(week)} runs) ==")
        first = demo.run_days(week, "daily")
        say("")
        say(demo.runs_table(first, "Runs (task states per run)"))
        records = gw.cctransactions()
        tallies = ledger.counts_by_state()
        posted = tallies.get(LedgerState.POSTED)
        say("")
        say(summary.state_table(ledger))
        say(
            f"\nPosted: {posted.count if posted else 0} transactions, "
            f"{summary.money(posted.total) if posted else '0.00'}; Intacct holds "
            f"{len(records)} credit card transactions on the card, "
            f"{summary.money(summary.intacct_total(records))}."
        )
        say("")
        held = ledger.select_in_state([LedgerState.HELD])
        say(summary.grouped_reasons(held, title="Held (by reason)"))
        say("")
        say(
            summary.grouped_reasons(
                ledger.select_in_state([LedgerState.SKIPPED]), title="Skipped (by reason)"
            )
        )
        say("")
        say(summary.unmapped_table(ledger.select_in_state([LedgerState.UNMAPPED])))
        failed_rows = ledger.select_in_state([LedgerState.FAILED])
        if failed_rows:
            say("")
            say(summary.grouped_reasons(failed_rows, title="FAILED in Intacct"))
        say("")
        last = first[-1]
        recs = {r["posting_date"]: r for r in ledger.reconciliations(last.run_id)}
        active = [d for d, r in recs.items() if r["divvy_count"] or r["intacct_count"]]
        say(
            summary.reconciliation_table(
                recs,
                active,
                title=f"Reconciled per posting day (by the run for {week[-1]}, lookback "
                "included; read back from Intacct)",
            )
        )

        # 2. The same week again: exactly once means nothing new.
        say(f"\n== Pass 2: the same {len(week)} days again ==")
        before = len(gw.cctransactions())
        second = demo.run_days(week, "rerun")
        after = len(gw.cctransactions())
        new_posts = sum(int(r.load.get("posted") or 0) for r in second)
        say("")
        say(demo.runs_table(second, "Runs (task states per run)"))
        verdict = "nothing new was posted" if after == before and new_posts == 0 else "NEW POSTS"
        say(
            f"\nSecond pass: {new_posts} posted; Intacct records {before} before, {after} "
            f"after: {verdict}."
        )
        second_ok = after == before and new_posts == 0

        # 3. Late clears: Divvy settles them after the week; the daily run of that day posts them.
        late_ok = _late_clears(demo, dv, gw, ledger, late_clears, week, summary)

        # 4. Closed periods: the books close; a late purchase is posted on the first open day.
        closed_ok = _closed_period(demo, dv, gw, week)

        # 5. Re-coding after posting: Divvy's coding changes; reversed and re-posted.
        recode_ok = _recode(demo, dv, gw, week)
    all_ok = all(r.ok for r in demo.runs)
    for r in demo.runs:
        for problem in r.problems:
            say(f"PROBLEM: {problem}")
    return all_ok and second_ok and late_ok and push_ok and closed_ok and recode_ok


def _recode(demo: Demo, dv: Any, gw: Any, week: Sequence[date]) -> bool:
    """A purchase of the week's last day, already posted, is re-coded in Divvy to GL 6200: the
    next run reverses the Intacct record and posts the new version; a rerun changes nothing."""
    say = demo.say
    day = week[-1].strftime("%m/%d/%Y")
    posted = next(
        (
            r
            for r in gw.cctransactions()
            if r["STATE"] == "Posted"
            and r["WHENCREATED"] == day
            and len(r.get("lines") or []) == 1
            and r["lines"][0]["ACCOUNTNO"] != "6200"
            and ":" not in r["RECORDID"]
        ),
        None,
    )
    if posted is None:
        say("\n== Re-coding: NO POSTED PURCHASE TO RE-CODE ==")
        return False
    uuid = posted["RECORDID"]
    dv.state.update_transaction(uuid, customFields={"GL Account": "6200 - Travel"})
    say(
        f"\n== Re-coding: {uuid} (record {posted['RECORDNO']}, GL "
        f"{posted['lines'][0]['ACCOUNTNO']}) re-coded to 6200 in Divvy after posting =="
    )
    runs = [
        demo.run(
            label,
            day=None,
            logical_date=logical_date_for(week[-1]),
            conf={"start_date": week[0].isoformat(), "end_date": week[-1].isoformat()},
        )
        for label in ("re-coding run", "re-coding rerun")
    ]
    recode = runs[0].xcoms.get("recode") or {}
    for change in recode.get("changes", [])[:1]:
        say(f"  {change}")
    rec = runs[0].xcoms.get("reconcile") or {}
    again = runs[1].xcoms.get("recode") or {}
    say(
        f"  Reconcile matched: {rec.get('matched')}; chain records net "
        f"{(rec.get('recoded') or {}).get('net')}; the rerun re-posted "
        f"{again.get('reposted', '-')}."
    )
    return (
        recode.get("reposted") == 1
        and again.get("reposted") == 0
        and bool(rec.get("matched"))
        and all(r.ok for r in runs)
    )


def _closed_period(demo: Demo, dv: Any, gw: Any, week: Sequence[date]) -> bool:
    """The controller closes the books through the week's first day; a purchase of that day
    that reaches Divvy only now is posted on the first open day, and a rerun posts nothing."""
    say = demo.say
    closed_through = week[0]
    with gw.state.lock:
        for row in gw.state.companies["ACME-DEMO"].objects["BOOKSCLOSED"]:
            row["CLOSEDTHROUGH"] = closed_through.strftime("%m/%d/%Y")
    settings = json.loads(os.environ["AIRFLOW_VAR_DIVVY_INTACCT_SETTINGS"])
    settings["closed_period_policy"] = "post_to_first_open_day"
    os.environ["AIRFLOW_VAR_DIVVY_INTACCT_SETTINGS"] = json.dumps(settings)
    late = dv.state.add_transaction(
        {
            "transactionType": "CLEAR",
            "amount": 42.00,
            "complete": True,
            "merchantName": "Late Card Feed Supplies",
            "merchantCategoryCode": "5943",
            # Mid-morning in the US on the week's first day.
            "occurredTime": datetime.combine(closed_through, dtime(16), UTC).isoformat(),
            "userUuid": "usr_member000000000000000000002",
            "budgetUuid": "bgt_operations00000000000000001",
            "cardUuid": "crd_jane000000000000000000000001",
            "customFields": {"GL Account": "6100 - Office Supplies"},
        }
    )
    say(
        f"\n== Closed period: the books close through {closed_through}; a ${late['amount']:.2f} "
        f"purchase of that day reaches Divvy late (closed_period_policy "
        "'post_to_first_open_day') =="
    )
    runs = [
        demo.run(
            label,
            day=None,
            logical_date=logical_date_for(week[-1]),
            conf={"start_date": week[0].isoformat(), "end_date": week[-1].isoformat()},
        )
        for label in ("closed-period run", "closed-period rerun")
    ]
    record = next((r for r in gw.cctransactions() if r["RECORDID"] == late["uuid"]), None)
    moved = (runs[0].xcoms.get("reconcile") or {}).get("redated") or {}
    say(
        f"  Intacct record {record['RECORDNO']} dated {record['WHENCREATED']}: "
        f"{record['DESCRIPTION'][:60]}…"
        if record
        else "  NOT POSTED"
    )
    say(
        f"  Reconcile: {moved.get('count', 0)} re-dated posting(s) of the window, compared on "
        f"the day posted; the rerun posted {runs[1].load.get('posted', '-')}."
    )
    return record is not None and runs[1].load.get("posted") == 0 and all(r.ok for r in runs)


def _dimension_push(demo: Demo, dv: Any) -> bool:
    """Intacct's dimensions into Divvy's custom fields: dry run, push, push again."""
    from airflow.dag_processing.dagbag import DagBag

    from intacct_hook.sync.report import format_table

    say = demo.say
    say("\n== Dimensions into Divvy: divvy_intacct_dimensions (dry run, push, push again) ==")
    with quiet(demo.log_path):
        dag = DagBag(dag_folder=str(ROOT / "dags")).get_dag("divvy_intacct_dimensions")
    tasks = [t for t in dag.task_ids if t.startswith("push_")]
    # Any instant (the push has no window), named as the logical date too: dag.test() replaces
    # an earlier run of the same logical date, so a second `make demo` on the same metadata DB
    # does not collide with the first one's run ids.
    clock = datetime(2026, 11, 29, 11, tzinfo=UTC)
    results = []
    for n, (label, conf) in enumerate(
        # dry_run named every time: dag.test() on one DAG object keeps a run's params
        (
            ("dry run", {"dry_run": True}),
            ("push", {"dry_run": False}),
            ("again", {"dry_run": False}),
        )
    ):
        writes_before = sum(1 for r in dv.requests if r.method != "GET")
        with quiet(demo.log_path):
            at = clock + timedelta(minutes=n)
            run = dag.test(logical_date=at, run_after=at, run_conf=conf)
        diffs = {t: _xcom(run, t) or {} for t in tasks}
        writes = sum(1 for r in dv.requests if r.method != "GET") - writes_before
        totals: dict[str, int] = {}
        for diff in diffs.values():
            for action, count in (diff.get("counts") or {}).items():
                totals[action] = totals.get(action, 0) + count
        results.append((label, str(run.state), totals, writes, diffs))
    table = [
        {"run": label, "state": state, **totals, "Divvy writes": writes}
        for label, state, totals, writes, _ in results
    ]
    say(format_table(table, title="Custom-field values vs Intacct"))
    for diff in results[1][4].values():
        for change in diff.get("changes", []):
            old = f"{change['old']!r} → " if "old" in change else ""
            say(f"  {diff['field']}: {change['action']} {old}{change['value']!r}")
    changed_again = sum(v for k, v in results[2][2].items() if k != "unchanged") + results[2][3]
    dry_writes = results[0][3]
    say(
        f"Dry run wrote {dry_writes}; the second push changed {changed_again}"
        + (": Divvy matches Intacct." if changed_again == 0 and dry_writes == 0 else ": PROBLEM")
    )
    return all(state == "success" for _, state, *_ in results) and not (changed_again or dry_writes)


def _xcom(dag_run: Any, task_id: str) -> Any:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = session.scalars(
            XComModel.get_many(
                run_id=dag_run.run_id, dag_ids=dag_run.dag_id, task_ids=task_id, key="return_value"
            )
        ).first()
        return None if row is None else XComModel.deserialize_value(row)


def _late_clears(
    demo: Demo,
    dv: Any,
    gw: Any,
    ledger: Any,
    late_clears: Sequence[Mapping[str, Any]],
    week: Sequence[date],
    summary: Any,
) -> bool:
    from intacct_hook.sync.report import format_table
    from intacct_hook.sync.settings import configured_timezone
    from intacct_hook.sync.states import STATES, LedgerState

    say = demo.say
    if not late_clears:
        say("\n(No clears land after this week: nothing more to show.)")
        return True
    until = max(datetime.fromisoformat(c["clearAt"].replace("Z", "+00:00")) for c in late_clears)
    zone = ZoneInfo(configured_timezone())
    later_day = until.astimezone(zone).date()
    made = dv.state.apply_scheduled_clears(until.astimezone(UTC))
    say(
        f"\n== Late clears: Divvy settles {len(made)} authorizations after the week "
        f"(last on {later_day}); the daily run for {later_day} picks them up =="
    )
    before = len(gw.cctransactions())
    later = demo.run(
        f"daily {later_day.isoformat()}", day=later_day, logical_date=logical_date_for(later_day)
    )
    after = len(gw.cctransactions())
    rows = {r.uuid: r for r in ledger.select_in_state(STATES)}
    table = []
    for clear in made:
        row = rows.get(clear["uuid"])
        table.append(
            {
                "purchase date": row.posting_date.isoformat() if row else "?",
                "cleared at (UTC)": clear["updatedTime"][:16],
                "amount": f"{clear['amount']:,.2f}",
                "merchant": (clear.get("merchantName") or "")[:24],
                "ledger state": row.state if row else "not seen",
                "Intacct RECORDNO": (row.intacct_record_no or "") if row else "",
            }
        )
    say("")
    say(format_table(table, title="Late clears"))
    say(
        f"\nThe run for {later_day} posted {later.load.get('posted', 0)}; Intacct records "
        f"{before} before, {after} after."
    )

    # A manual run over the whole week (start_date/end_date params) posts nothing and
    # reconciles every day, late clears included.
    say(f"\n== Check: one manual run over {week[0]}..{week[-1]} ==")
    check = demo.run(
        "manual range",
        day=None,
        logical_date=logical_date_for(week[-1]),
        conf={"start_date": week[0].isoformat(), "end_date": week[-1].isoformat()},
    )
    recs = {r["posting_date"]: r for r in ledger.reconciliations(check.run_id)}
    active = [d for d, r in recs.items() if r["divvy_count"] or r["intacct_count"]]
    say("")
    say(
        summary.reconciliation_table(
            recs, active, title="Reconciled per posting day after the late clears"
        )
    )
    posted_late = sum(
        1 for c in made if rows.get(c["uuid"]) and rows[c["uuid"]].state == LedgerState.POSTED
    )
    say(
        f"\nLate clears posted: {posted_late} of {len(made)}; the manual run posted "
        f"{check.load.get('posted', 0)} more."
    )
    return later.ok and check.ok


def _configure(demo: Demo, intacct_url: str, divvy_url: str, divvy_token: str) -> None:
    """Connections and settings through the environment, as a deployment's secrets backend
    would supply them (JSON form: see README, 'Connections')."""
    # The default seed's test credentials: in the environment only, never printed.
    from sandbox.intacct_gateway.testing import default_connection

    os.environ["AIRFLOW_CONN_INTACCT_DEFAULT"] = json.dumps(
        default_connection(intacct_url, timeout=30)
    )
    os.environ["AIRFLOW_CONN_DIVVY_DEFAULT"] = json.dumps(
        {
            "conn_type": "divvy",
            "host": divvy_url,
            "password": divvy_token,
            # The local API serves receipt files on "localhost": loopback opted in.
            "extra": {
                "timeout": 30,
                "rate_limit_window": RATE_WINDOW_SECONDS,
                "receipts_allow_loopback": True,
            },
        }
    )
    os.environ["AIRFLOW_VAR_DIVVY_INTACCT_SETTINGS"] = json.dumps(
        {"ledger_path": str(demo.ledger_path)}
    )


if __name__ == "__main__":
    raise SystemExit(main())
