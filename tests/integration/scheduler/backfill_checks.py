"""What a backfill over the generated week must have done, checked from the outside: the
metadata DB (runs, task instances, XComs), the ledger, and what the local Intacct gateway holds.

Shared by the real-scheduler test (LocalExecutor) and the deployment test (the production
profile: CeleryExecutor, the wheel). What is expected comes from the data, never from the
clock: the posting rules (``decide``) say which Divvy transactions are posted, and a line coded
with a GL account that Intacct does not hold as active stays unmapped. Every check runs and the
report lists every difference (per run, per day, per record) rather than stopping at the first.

Each check names its DAG, card and ledger schema (the single-account ones by default), so a
deployment of several Divvy accounts is checked account by account with the same code.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from deploy.cluster import DAG_ID, wait_until
from intacct_hook.divvy.records import DivvyTransaction
from intacct_hook.sync.report import format_table
from intacct_hook.sync.translation import decide

STEPS = ("preflight", "extract", "stage", "map", "load", "recode", "reconcile")
BACKFILL_TIMEOUT_SECONDS = 900
CARD = "Divvy CC Object"
COMPANY = "ACME-DEMO"


@dataclass(frozen=True)
class Expected:
    uuid: str
    amount: Decimal
    day: date  # posting date: occurredTime in the sync's time zone
    unmapped_gl: str | None  # the inactive/unknown GL account that keeps it unmapped


def wait_for_backfill_runs(
    cluster: Any, count: int, timeout: float = BACKFILL_TIMEOUT_SECONDS
) -> int:
    """Wait until the DAG has ``count`` finished backfill runs; the most runs seen running at
    once while polling."""
    return wait_for_backfills(cluster, {DAG_ID: count}, timeout)[DAG_ID]


def wait_for_backfills(
    cluster: Any, counts: Mapping[str, int], timeout: float = BACKFILL_TIMEOUT_SECONDS
) -> dict[str, int]:
    """Wait until each DAG of ``counts`` (``{dag_id: count}``) has that many finished backfill
    runs and its backfill is marked completed (the scheduler does so a loop after the last run:
    until then Airflow refuses another backfill of the DAG); the most runs seen running at once
    while polling, per DAG and, under ``"*"``, of all of them together."""
    most: dict[str, int] = dict.fromkeys([*counts, "*"], 0)

    def all_runs_finished() -> bool:
        rows = cluster.query(
            "SELECT dag_id, state FROM dag_run WHERE dag_id = ANY(%s) AND run_type = 'backfill'",
            [list(counts)],
        )
        for dag_id in counts:
            running = sum(r["state"] == "running" for r in rows if r["dag_id"] == dag_id)
            most[dag_id] = max(most[dag_id], running)
        most["*"] = max(most["*"], sum(r["state"] == "running" for r in rows))
        per_dag = Counter(r["dag_id"] for r in rows)
        if not all(per_dag[dag_id] == n for dag_id, n in counts.items()) or not all(
            r["state"] in ("success", "failed") for r in rows
        ):
            return False
        return not cluster.query(
            "SELECT id FROM backfill WHERE dag_id = ANY(%s) AND completed_at IS NULL",
            [list(counts)],
        )

    wait_until(
        all_runs_finished,
        timeout=timeout,
        interval=1,
        what=f"the backfill runs to finish ({dict(counts)})",
        check=cluster.check_alive,
    )
    return most


def verify_backfill(
    *,
    cluster: Any,
    gw: Any,
    dv: Any,
    ledger_dsn: str,
    days: Sequence[date],
    zone: ZoneInfo,
    max_active_runs: int,
    most_running_seen: int,
    backfill_seconds: float,
    dag_id: str = DAG_ID,
    card: str = CARD,
    ledger_schema: str | None = None,
    min_to_post: int = 101,
) -> tuple[list[str], str]:
    """Every difference between what the backfill runs did and what they should have done,
    and a report of the runs (printed by the tests, and part of a failure's message).

    ``dag_id``'s backfill runs, posting ``dv``'s transactions up to the last of ``days`` (the
    runs' lookback reads every day before their own) on the Intacct card ``card``, keeping
    its ledger in ``ledger_schema`` (the connection's default: None); at least
    ``min_to_post`` of them, so that a data set too small to prove anything fails."""
    expected = {
        uuid: e for uuid, e in expected_postings(dv, gw, zone).items() if e.day <= max(days)
    }
    runs = cluster.query(
        "SELECT run_id, state, data_interval_start, start_date, end_date FROM dag_run "
        "WHERE dag_id = %s AND run_type = 'backfill' ORDER BY data_interval_start",
        [dag_id],
    )
    tis = cluster.query(
        "SELECT run_id, task_id, state, try_number, start_date, end_date FROM task_instance "
        "WHERE dag_id = %s",
        [dag_id],
    )
    xcoms = cluster.query(
        "SELECT run_id, task_id, value FROM xcom WHERE dag_id = %s AND key = 'return_value'",
        [dag_id],
    )
    other_runs = cluster.query(
        "SELECT run_id, run_type FROM dag_run WHERE dag_id = %s AND run_type <> 'backfill'",
        [dag_id],
    )
    ledger = read_ledger(ledger_dsn, ledger_schema)
    records = [r for r in gw.cctransactions(COMPANY) if r["FINANCIALENTITY"] == card]

    problems: list[str] = []
    if len([e for e in expected.values() if not e.unmapped_gl]) < min_to_post:
        problems.append(
            f"only {len(expected)} transactions to post (fewer than {min_to_post}): too little "
            "data to prove anything"
        )
    day_of_run = {r["run_id"]: r["data_interval_start"].astimezone(zone).date() for r in runs}
    problems += check_runs(runs, tis, xcoms, day_of_run, days, other_runs, cluster, dag_id)
    overlap = max_overlap(
        (r["start_date"], r["end_date"]) for r in runs if r["start_date"] and r["end_date"]
    )
    task_overlap = max_runs_with_a_task_running(tis)
    if max(overlap, most_running_seen) < max_active_runs:
        problems.append(
            f"never {max_active_runs} runs at once: at most {overlap} by the runs' start/end "
            f"times, {most_running_seen} seen running by polling"
        )
    problems += check_exactly_once(expected, records, zone, card)
    problems += check_ledger(expected, ledger, records)
    problems += check_reconciliation(ledger, tis, day_of_run)

    report = summary(
        runs=runs,
        tis=tis,
        xcoms=xcoms,
        day_of_run=day_of_run,
        expected=expected,
        records=records,
        ledger=ledger,
        overlap=overlap,
        most_running_seen=most_running_seen,
        task_overlap=task_overlap,
        backfill_seconds=backfill_seconds,
        setup_timings=cluster.timings,
    )
    return problems, report


def assert_no_problems(problems: Sequence[str], report: str) -> None:
    print(report)
    assert not problems, "\n".join(
        [f"{len(problems)} problem(s):", *(f"- {p}" for p in problems), "", report]
    )


# --- what should happen -------------------------------------------------------------------


def expected_postings(dv: Any, gw: Any, zone: ZoneInfo) -> dict[str, Expected]:
    """Every Divvy transaction the posting rules post, from the Divvy API's own rows."""
    with gw.state.lock:
        active = {
            row["ACCOUNTNO"]
            for row in gw.state.companies[COMPANY].records("GLACCOUNT")
            if row.get("STATUS") == "active"
        }
    out: dict[str, Expected] = {}
    for row in dv.state.parent_transactions():
        txn = DivvyTransaction.from_json(row)
        if txn.child_uuids:
            txn = txn.with_children(
                DivvyTransaction.from_json(dv.state.get_transaction(u)) for u in txn.child_uuids
            )
        decision = decide(txn)
        if decision.action != "post":
            continue
        unknown = None
        for line in decision.lines:
            values = line.coding.get("GL Account") or ()
            gl = values[0].split(" - ")[0].strip() if values else ""
            # An empty GL is left to the mapping rules, which cover every such generated row.
            if gl and gl not in active:
                unknown = gl
        out[txn.uuid] = Expected(
            uuid=txn.uuid,
            amount=sum((line.amount for line in decision.lines), Decimal(0)),
            day=txn.occurred_time.astimezone(zone).date(),
            unmapped_gl=unknown,
        )
    return out


# --- checks: each returns the differences it found, in words ------------------------------


def check_runs(
    runs: Sequence[Mapping[str, Any]],
    tis: Sequence[Mapping[str, Any]],
    xcoms: Sequence[Mapping[str, Any]],
    day_of_run: Mapping[str, date],
    days: Sequence[date],
    other_runs: Sequence[Mapping[str, Any]],
    cluster: Any,
    dag_id: str = DAG_ID,
) -> list[str]:
    problems = []
    if sorted(day_of_run.values()) != list(days):
        problems.append(
            f"backfill runs cover days {sorted(day_of_run.values())}, expected {list(days)}"
        )
    if other_runs:
        problems.append(f"runs other than the backfill's: {other_runs}")
    states = task_states(tis)
    for run in runs:
        day = day_of_run[run["run_id"]]
        if run["state"] != "success":
            not_ok = {t: s for t, s in states.get(run["run_id"], {}).items() if s != "success"}
            problems.append(f"run for {day} ended {run['state']}; tasks not successful: {not_ok}")
            for ti in tis:
                if ti["run_id"] == run["run_id"] and ti["state"] == "failed":
                    for error in cluster.task_errors(
                        ti["run_id"], ti["task_id"], ti["try_number"], dag_id
                    ):
                        problems.append(f"run for {day}: {ti['task_id']} failed: {error}")
    values = {(x["run_id"], x["task_id"]): _json(x["value"]) for x in xcoms}
    for run_id, day in sorted(day_of_run.items(), key=lambda kv: kv[1]):
        extracted = values.get((run_id, "extract"), {}).get("extracted")
        staged = _staged(values.get((run_id, "stage"), {}))
        if extracted is not None and staged is not None and staged != extracted:
            problems.append(
                f"run for {day}: extract landed {extracted} transactions, stage staged {staged} "
                "(landed payloads lost between the two steps)"
            )
    windows = {
        x["run_id"]: _json(x["value"]).get("window") for x in xcoms if x["task_id"] == "extract"
    }
    for run_id, day in day_of_run.items():
        window = windows.get(run_id) or {}
        got = (window.get("first_day"), window.get("last_day"))
        if window and got != (day.isoformat(), day.isoformat()):
            problems.append(f"run for {day} synced days {got[0]}..{got[1]}, not its own day")
    return problems


def check_exactly_once(
    expected: Mapping[str, Expected],
    records: Sequence[Mapping[str, Any]],
    zone: ZoneInfo,
    card: str = CARD,
) -> list[str]:
    problems = []
    count = Counter(r["RECORDID"] for r in records)
    twice = {ref: n for ref, n in count.items() if n > 1}
    if twice:
        days = {}
        for r in records:
            if r["RECORDID"] in twice:
                days.setdefault(r["RECORDID"], []).append(
                    f"RECORDNO {r['RECORDNO']} on {r['WHENCREATED']} {r['TOTALENTERED']}"
                )
        problems.append(f"{len(twice)} reference(s) posted more than once: {days}")
    to_post = {u: e for u, e in expected.items() if not e.unmapped_gl}
    missing = sorted(set(to_post) - set(count), key=lambda u: (to_post[u].day, u))
    if missing:
        by_day = Counter(to_post[u].day.isoformat() for u in missing)
        problems.append(
            f"{len(missing)} transaction(s) never reached Intacct (by posting day "
            f"{dict(sorted(by_day.items()))}): {missing[:20]}{' …' if len(missing) > 20 else ''}"
        )
    unexpected = sorted(set(count) - set(to_post))
    if unexpected:
        problems.append(f"{len(unexpected)} record(s) in Intacct not meant to post: {unexpected}")
    for r in records:
        e = to_post.get(r["RECORDID"])
        if e is None:
            continue
        amount = Decimal(r["TOTALENTERED"])
        day = datetime.strptime(r["WHENCREATED"], "%m/%d/%Y").date()
        if (amount, day, r["FINANCIALENTITY"]) != (e.amount, e.day, card):
            problems.append(
                f"{e.uuid}: Intacct has {amount} on {day} on {r['FINANCIALENTITY']!r}, "
                f"Divvy {e.amount} on {e.day} on {card!r}"
            )
    return problems


def check_ledger(
    expected: Mapping[str, Expected],
    ledger: Mapping[str, Any],
    records: Sequence[Mapping[str, Any]],
) -> list[str]:
    problems = []
    rows = {r["uuid"]: r for r in ledger["transactions"]}
    record_no = {r["RECORDID"]: r["RECORDNO"] for r in records}
    wrong = []
    for uuid, e in sorted(expected.items(), key=lambda kv: (kv[1].day, kv[0])):
        row = rows.get(uuid)
        want = "unmapped" if e.unmapped_gl else "posted"
        if row is None:
            wrong.append(f"{uuid} ({e.day}) not in the ledger, expected {want}")
        elif row["state"] != want:
            wrong.append(
                f"{uuid} ({e.day}) is {row['state']} ({row['state_reason'] or row['last_error']}),"
                f" expected {want}"
            )
        elif want == "posted" and uuid in record_no and row["intacct_record_no"] != record_no[uuid]:
            wrong.append(
                f"{uuid} ({e.day}) ledger RECORDNO {row['intacct_record_no']}, Intacct "
                f"{record_no[uuid]}"
            )
    if wrong:
        problems.append(f"{len(wrong)} ledger row(s) not as expected: {wrong[:20]}")
    stuck = [
        f"{r['uuid']} {r['state']}"
        for r in ledger["transactions"]
        if r["state"] in ("ready", "posting", "failed")
    ]
    if stuck:
        problems.append(f"{len(stuck)} ledger row(s) left ready/posting/failed: {stuck[:20]}")
    return problems


def check_reconciliation(
    ledger: Mapping[str, Any], tis: Sequence[Mapping[str, Any]], day_of_run: Mapping[str, date]
) -> list[str]:
    problems = []
    states = task_states(tis)
    recon = ledger["reconciliations"]
    diffs = ledger["differences"]
    for run_id, day in sorted(day_of_run.items(), key=lambda kv: kv[1]):
        task = states.get(run_id, {}).get("reconcile")
        if task != "success":
            problems.append(f"run for {day}: reconcile task {task}")
        rows = {r["posting_date"]: r for r in recon if r["run_id"] == run_id}
        own = rows.get(day.isoformat())
        if own is None:
            problems.append(f"run for {day}: no reconciliation of its own day in the ledger")
        for posting_date, r in sorted(rows.items()):
            if r["status"] != "matched":
                listed = [
                    f"{d['kind']} {d['divvy_uuid'] or d['intacct_record_no']} "
                    f"(Divvy {d['divvy_amount']}, Intacct {d['intacct_amount']})"
                    for d in diffs
                    if d["run_id"] == run_id and d["posting_date"] == posting_date
                ]
                problems.append(
                    f"run for {day}: {posting_date} {r['status']} (Divvy {r['divvy_count']} / "
                    f"{r['divvy_total']}, Intacct {r['intacct_count']} / {r['intacct_total']}): "
                    f"{listed[:10]}{' …' if len(listed) > 10 else ''}"
                )
    return problems


# --- reading -----------------------------------------------------------------------------


def read_ledger(dsn: str, schema: str | None = None) -> dict[str, list[dict[str, Any]]]:
    """The ledger's rows; ``schema``: an account's part of the ledger (its PostgreSQL schema,
    alone on the search path, so nothing of another schema is read)."""
    import psycopg
    from psycopg import sql
    from psycopg.rows import dict_row

    with psycopg.connect(dsn, row_factory=dict_row, connect_timeout=5) as conn:
        if schema is not None:
            conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))

        def rows(sql: str) -> list[dict[str, Any]]:
            try:
                return list(conn.execute(sql))
            except psycopg.errors.UndefinedTable:  # no task ever created the schema
                conn.rollback()
                return []

        return {
            "transactions": rows(
                "SELECT uuid, state, state_reason, last_error, amount, posting_date, "
                "intacct_record_no FROM divvy_transaction"
            ),
            "reconciliations": rows("SELECT * FROM reconciliation ORDER BY run_id, posting_date"),
            "differences": rows(
                "SELECT * FROM reconciliation_difference ORDER BY run_id, posting_date, diff_no"
            ),
            "landing": rows("SELECT run_id, count(*) AS n FROM divvy_landing GROUP BY run_id"),
        }


def task_states(tis: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for ti in tis:
        out.setdefault(ti["run_id"], {})[ti["task_id"]] = str(ti["state"])
    return out


def _staged(stage: Mapping[str, Any]) -> int | None:
    """How many landed transactions the stage step accounted for (its XCom): written, left
    unchanged (same Divvy data, already decided) or left protected (posting, posted)."""
    if not stage:
        return None
    keys = ("inserted", "updated", "unchanged", "protected")
    return sum(int(stage.get(k) or 0) for k in keys)


def _json(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        value = json.loads(value)
    return value if isinstance(value, dict) else {}


def max_overlap(intervals: Iterable[tuple[datetime, datetime]]) -> int:
    """The most intervals open at one instant (an end and a start at the same instant: no
    overlap)."""
    spans = list(intervals)
    events = sorted(
        [(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans],
        key=lambda e: (e[0], e[1]),
    )
    best = now = 0
    for _, step in events:
        now += step
        best = max(best, now)
    return best


def max_runs_with_a_task_running(tis: Iterable[Mapping[str, Any]]) -> int:
    """The most distinct runs that had a task executing at the same instant."""
    spans = [
        (t["start_date"], t["end_date"], t["run_id"])
        for t in tis
        if t["start_date"] and t["end_date"]
    ]
    best = 0
    for start, _, _ in spans:
        best = max(best, len({run for s, e, run in spans if s <= start < e}))
    return best


# --- the report ----------------------------------------------------------------------------


def summary(
    *,
    runs: Sequence[Mapping[str, Any]],
    tis: Sequence[Mapping[str, Any]],
    xcoms: Sequence[Mapping[str, Any]],
    day_of_run: Mapping[str, date],
    expected: Mapping[str, Expected],
    records: Sequence[Mapping[str, Any]],
    ledger: Mapping[str, Any],
    overlap: int,
    most_running_seen: int,
    task_overlap: int,
    backfill_seconds: float,
    setup_timings: Mapping[str, float],
) -> str:
    states = task_states(tis)
    values = {(x["run_id"], x["task_id"]): _json(x["value"]) for x in xcoms}
    run_rows = []
    for run in runs:
        run_id = run["run_id"]
        secs = (
            f"{(run['end_date'] - run['start_date']).total_seconds():.0f}"
            if run["start_date"] and run["end_date"]
            else "-"
        )
        load = values.get((run_id, "load"), {})
        stage = values.get((run_id, "stage"), {})
        reconcile = values.get((run_id, "reconcile"), {})
        run_rows.append(
            {
                "day": day_of_run[run_id].isoformat(),
                **{step: states.get(run_id, {}).get(step, "-") for step in STEPS},
                "extracted": values.get((run_id, "extract"), {}).get("extracted", "-"),
                "staged": _staged(stage) if stage else "-",
                "new in ledger": stage.get("inserted", "-"),
                "posted": load.get("posted", "-"),
                "matched": reconcile.get("matched", "-"),
                "run": run["state"],
                "secs": secs,
                "run_id": run_id,
            }
        )
    count = Counter(r["RECORDID"] for r in records)
    per_day: dict[str, dict[str, Any]] = {}
    for e in expected.values():
        if e.unmapped_gl:
            continue
        d = per_day.setdefault(
            e.day.isoformat(), {"expected": 0, "expected total": Decimal(0), "in Intacct": 0}
        )
        d["expected"] += 1
        d["expected total"] += e.amount
        d["in Intacct"] += count.get(e.uuid, 0)
    recon = ledger["reconciliations"]
    for day, d in per_day.items():
        statuses = Counter(r["status"] for r in recon if r["posting_date"] == day)
        d["reconciled (runs)"] = ", ".join(f"{k} {v}" for k, v in sorted(statuses.items()))
    day_rows = [{"posting day": k, **v} for k, v in sorted(per_day.items())]
    states_count = Counter(r["state"] for r in ledger["transactions"])
    return "\n".join(
        [
            "",
            format_table(run_rows, title="Backfill runs (task states per run)"),
            "",
            format_table(day_rows, title="Per posting day: expected vs Intacct"),
            "",
            "Set-up: " + ", ".join(f"{k} {v:.0f} s" for k, v in setup_timings.items()) + ".",
            f"Backfill: {len(runs)} runs in {backfill_seconds:.0f} s; at most {overlap} runs "
            f"running at once (run start/end), {most_running_seen} seen by polling, "
            f"{task_overlap} runs with a task executing at the same instant.",
            f"Intacct: {len(records)} records, {len(count)} references; expected "
            f"{sum(1 for e in expected.values() if not e.unmapped_gl)} posted and "
            f"{sum(1 for e in expected.values() if e.unmapped_gl)} unmapped.",
            f"Ledger states: {dict(sorted(states_count.items()))}; landing rows left: "
            f"{ {r['run_id']: r['n'] for r in ledger['landing']} }",
        ]
    )
