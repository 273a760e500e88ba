"""Issue 11 part 5 under a real scheduler: two Divvy accounts in one deployment (LocalExecutor,
PostgreSQL metadata DB and ledger), their backfills over the same days at the same time.

The settings Variable lists ``east`` (the default Divvy connection's generated data, the card
``Divvy CC Object``) and ``west`` (its own local Divvy API with a smaller generated set, its own
card object ``Divvy CC West`` and default location). The dag-processor builds each account's
DAGs from the Variable; both sync DAGs are unpaused and backfilled together over two days, their
tasks sharing the ``intacct_api`` and ``divvy_api`` pools (one slot each). Checked from the
outside, per account (backfill_checks.py): every transaction posted exactly once on its own
card, its ledger schema holding its own rows only, every run reconciled.

Then west's card is deleted in Intacct and both are backfilled over the next two days: west's
runs fail at preflight and post nothing, east's all succeed and post that day's transactions,
and no pool slot is left held.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from backfill_checks import (
    CARD,
    COMPANY,
    assert_no_problems,
    expected_postings,
    max_overlap,
    read_ledger,
    verify_backfill,
    wait_for_backfills,
)

from intacct_hook.operators.base import PREVIEW_DAG_ID, SYNC_DAG_ID
from intacct_hook.operators.dimension_push import DIMENSIONS_DAG_ID
from intacct_hook.sync.accounts import account_dag_id

pytestmark = [pytest.mark.scheduler, pytest.mark.postgres]

WEST_CARD = "Divvy CC West"
ACCOUNTS = [
    # East keeps the deployment's Divvy connection and the default card.
    {"name": "east", "divvy_conn_id": "divvy_default"},
    {
        "name": "west",
        "divvy_conn_id": "divvy_west",
        "card_account_id": WEST_CARD,
        "default_location": "300",
    },
]
CARDS = {"east": CARD, "west": WEST_CARD}
SYNC = {a["name"]: account_dag_id(SYNC_DAG_ID, a["name"]) for a in ACCOUNTS}
EVERY_DAG = [
    account_dag_id(base, a["name"])
    for base in (SYNC_DAG_ID, PREVIEW_DAG_ID, DIMENSIONS_DAG_ID)
    for a in ACCOUNTS
]
POOLS = ("intacct_api", "divvy_api")
# Four generated days; two backfilled together, then the next two with west broken. Small
# sets: east ~10 transactions to post in the first two days, west ~6 (a seed of its own, so no
# uuid is shared with east).
DAYS = 4
EAST_PER_DAY, WEST_PER_DAY, WEST_SEED = 8, 4, 11
MAX_ACTIVE_RUNS = 2
MIN_TO_POST = {"east": 6, "west": 4}


def test_two_accounts_backfilled_together_post_apart_and_one_failing_blocks_nothing(
    start_scheduler_world,
):
    with start_scheduler_world(
        settings={"accounts": ACCOUNTS},
        dag_ids=EVERY_DAG,
        unpause=list(SYNC.values()),
        days=DAYS,
        per_day=EAST_PER_DAY,
        more_divvy={"divvy_west": {"seed": WEST_SEED, "per_day": WEST_PER_DAY}},
    ) as w:
        zone = ZoneInfo(w.timezone)
        divvy = {"east": w.dv, "west": w.more_dv["divvy_west"]}
        first, later = w.days[:2], w.days[2:]
        problems: list[str] = []
        reports: list[str] = []

        # What the dag-processor built from the Variable: each account's DAGs, nothing else.
        built = {r["dag_id"] for r in w.cluster.query("SELECT dag_id FROM serialized_dag")}
        if built != set(EVERY_DAG):
            problems.append(f"the DAG files built {sorted(built)}, expected {sorted(EVERY_DAG)}")
        west_card = add_card(w.gw, WEST_CARD)

        # --- both accounts, the same two days, at the same time -------------------------------
        started = time.monotonic()
        backfill_together(w.cluster, SYNC.values(), first)
        most = wait_for_backfills(w.cluster, {SYNC[n]: len(first) for n in SYNC})
        seconds = time.monotonic() - started
        for name, dag_id in SYNC.items():
            found, report = verify_backfill(
                cluster=w.cluster,
                gw=w.gw,
                dv=divvy[name],
                ledger_dsn=w.ledger_dsn,
                days=first,
                zone=zone,
                max_active_runs=MAX_ACTIVE_RUNS,
                most_running_seen=most[dag_id],
                backfill_seconds=seconds,
                dag_id=dag_id,
                card=CARDS[name],
                ledger_schema=f"divvy_intacct_{name}",
                min_to_post=MIN_TO_POST[name],
            )
            problems += [f"{name}: {p}" for p in found]
            reports.append(f"===== account {name} ({dag_id}), days {first[0]}..{first[-1]}")
            reports.append(report)
        problems += check_ledgers_apart(w.ledger_dsn, divvy)
        found, report = check_shared_pools(w.cluster, SYNC.values())
        problems += found
        reports.append(report)
        reports.append(f"Both backfills: at most {most['*']} runs seen running at once.")
        assert_no_problems(problems, "\n".join(reports))
        west_posted = on_card(w.gw, WEST_CARD)

        # --- west's card deleted in Intacct: west fails, east goes on -------------------------
        with w.gw.state.lock:
            w.gw.state.companies[COMPANY].records("CREDITCARD").remove(west_card)
        started = time.monotonic()
        backfill_together(w.cluster, SYNC.values(), later)
        most_later = wait_for_backfills(w.cluster, dict.fromkeys(SYNC.values(), len(w.days)))
        seconds = time.monotonic() - started
        problems, reports = [], []
        found, report = verify_backfill(
            cluster=w.cluster,
            gw=w.gw,
            dv=w.dv,
            ledger_dsn=w.ledger_dsn,
            days=w.days,
            zone=zone,
            max_active_runs=MAX_ACTIVE_RUNS,
            most_running_seen=max(most[SYNC["east"]], most_later[SYNC["east"]]),
            backfill_seconds=seconds,
            dag_id=SYNC["east"],
            card=CARD,
            ledger_schema="divvy_intacct_east",
            min_to_post=MIN_TO_POST["east"],
        )
        problems += [f"east: {p}" for p in found]
        reports += [f"===== account east, days {w.days[0]}..{w.days[-1]}", report]
        problems += check_broken_account(
            w.cluster,
            SYNC["west"],
            days=later,
            zone=zone,
            expect_error=f"The credit card account '{WEST_CARD}' does not exist",
        )
        problems += check_nothing_more_posted(
            w.gw, w.ledger_dsn, west_posted, later, divvy["west"], zone
        )
        problems += check_ledgers_apart(w.ledger_dsn, divvy)
        found, report = check_shared_pools(w.cluster, SYNC.values())
        problems += found
        reports.append(report)
        assert_no_problems(problems, "\n".join(reports))


# --- doing --------------------------------------------------------------------------------


def add_card(gw: Any, card_id: str) -> dict[str, Any]:
    """A second credit card object in the one Intacct company, as the setup guide's step 7
    makes one per Divvy account (test_account_runs.py does the same); the record, to delete
    it later."""
    with gw.state.lock:
        cards = gw.state.companies[COMPANY].records("CREDITCARD")
        card = dict(cards[0], CARDID=card_id, DESCRIPTION="Divvy West cards", LOCATION="200")
        cards.append(card)
    return card


def backfill_together(cluster: Any, dag_ids: Iterable[str], days: Sequence[date]) -> None:
    """``airflow backfill create`` over ``days`` for each DAG, the commands run at the same
    time (each CLI call takes seconds to start: one after the other, the first DAG's runs would
    have a head start)."""

    def create(dag_id: str) -> str:
        return cluster.cli(
            *("backfill", "create", "--dag-id", dag_id),
            *("--from-date", days[0].isoformat(), "--to-date", days[-1].isoformat()),
            *("--max-active-runs", str(MAX_ACTIVE_RUNS)),
        )

    ids = list(dag_ids)
    with ThreadPoolExecutor(len(ids)) as pool:
        list(pool.map(create, ids))


# --- checks: each returns the differences it found, in words ------------------------------


def on_card(gw: Any, card: str) -> dict[str, str]:
    """Reference (Divvy uuid) -> RECORDNO of every record on ``card``."""
    return {
        r["RECORDID"]: r["RECORDNO"]
        for r in gw.cctransactions(COMPANY)
        if r["FINANCIALENTITY"] == card
    }


def check_ledgers_apart(ledger_dsn: str, divvy: Mapping[str, Any]) -> list[str]:
    """Each account's schema holds its own Divvy transactions only, and nothing is in the
    database's default schema (no statement ran outside an account's)."""
    import psycopg

    problems = []
    own = {name: {t["uuid"] for t in dv.state.parent_transactions()} for name, dv in divvy.items()}
    for name in divvy:
        rows = {r["uuid"] for r in read_ledger(ledger_dsn, f"divvy_intacct_{name}")["transactions"]}
        if not rows:
            problems.append(f"{name}: its ledger schema holds no transaction")
        foreign = rows - own[name]
        if foreign:
            problems.append(
                f"{name}: its ledger schema holds {len(foreign)} transaction(s) not of its Divvy "
                f"account: {sorted(foreign)[:10]}"
            )
    with psycopg.connect(ledger_dsn, connect_timeout=5) as conn:
        public = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchall()
    if public:
        problems.append(f"tables in the ledger database's public schema: {public}")
    return problems


def check_shared_pools(cluster: Any, dag_ids: Iterable[str]) -> tuple[list[str], str]:
    """Both accounts' tasks went through the shared pools: never more at once than a pool's
    one slot, the two accounts' runs executing at the same time and their Intacct tasks
    taking turns, and no slot left held once the runs are over."""
    ids = list(dag_ids)
    tis = cluster.query(
        "SELECT dag_id, run_id, task_id, pool, state, start_date, end_date FROM task_instance "
        "WHERE dag_id = ANY(%s) AND start_date IS NOT NULL AND end_date IS NOT NULL "
        "ORDER BY start_date",
        [ids],
    )
    runs = cluster.query(
        "SELECT dag_id, run_id, start_date, end_date FROM dag_run "
        "WHERE dag_id = ANY(%s) AND start_date IS NOT NULL AND end_date IS NOT NULL",
        [ids],
    )
    slots = {r["pool"]: r["slots"] for r in cluster.query("SELECT pool, slots FROM slot_pool")}
    problems = []
    lines = []
    for pool in POOLS:
        spans = [(t["start_date"], t["end_date"]) for t in tis if t["pool"] == pool]
        at_once = max_overlap(spans)
        lines.append(
            f"pool {pool} ({slots.get(pool)} slot(s)): {len(spans)} tasks, at most {at_once} "
            "running at once"
        )
        if at_once > (slots.get(pool) or 0):
            problems.append(
                f"pool {pool}: {at_once} tasks ran at once, it has {slots.get(pool)} slot(s)"
            )
    intacct = [t["dag_id"] for t in tis if t["pool"] == "intacct_api"]
    turns = sum(a != b for a, b in itertools.pairwise(intacct))
    lines.append(f"intacct_api taken in turn by the accounts' DAGs: {turns} hand-overs")
    if turns < 2:
        problems.append(
            f"the accounts' Intacct tasks did not take turns in intacct_api ({turns} hand-over"
            f"s): {intacct}"
        )
    by_dag = {d: [(r["start_date"], r["end_date"]) for r in runs if r["dag_id"] == d] for d in ids}
    together = any(
        s1 < e2 and s2 < e1
        for a, b in itertools.pairwise(ids)
        for s1, e1 in by_dag[a]
        for s2, e2 in by_dag[b]
    )
    lines.append(
        f"runs of both accounts at the same time: {together}; at most "
        f"{max_overlap(s for spans in by_dag.values() for s in spans)} runs at once"
    )
    if not together:
        problems.append(f"no run of one account ran while another's did: {by_dag}")
    held = cluster.query(
        "SELECT dag_id, run_id, task_id, pool, state FROM task_instance "
        "WHERE pool = ANY(%s) AND state IN ('queued', 'running', 'deferred')",
        [list(POOLS)],
    )
    lines.append(f"pool slots held after the runs: {len(held)}")
    if held:
        problems.append(f"pool slots still held after every run ended: {held}")
    return problems, "\n".join(["", "Shared pools:", *lines])


def check_broken_account(
    cluster: Any, dag_id: str, *, days: Sequence[date], zone: ZoneInfo, expect_error: str
) -> list[str]:
    """The broken account's runs of ``days`` failed at preflight, its log saying why, and
    nothing after preflight ran but receipts (``all_done`` by design: it attaches receipts to
    what is already posted, whatever load's outcome)."""
    runs = cluster.query(
        "SELECT run_id, state, data_interval_start FROM dag_run "
        "WHERE dag_id = %s AND run_type = 'backfill'",
        [dag_id],
    )
    mine = {
        r["run_id"]: r for r in runs if r["data_interval_start"].astimezone(zone).date() in days
    }
    problems = []
    if len(mine) != len(days):
        problems.append(f"{dag_id}: {len(mine)} runs for {list(days)}, expected {len(days)}")
    for run_id, run in sorted(mine.items()):
        states = {
            t["task_id"]: (t["state"], t["try_number"])
            for t in cluster.query(
                "SELECT task_id, state, try_number FROM task_instance "
                "WHERE dag_id = %s AND run_id = %s",
                [dag_id, run_id],
            )
        }
        if run["state"] != "failed":
            problems.append(f"{dag_id} {run_id}: ended {run['state']}, expected failed")
        preflight, try_number = states.get("preflight", (None, None))
        if preflight != "failed":
            problems.append(f"{dag_id} {run_id}: preflight {preflight}, expected failed")
        else:
            logs = cluster.task_logs(run_id, "preflight", try_number, dag_id)
            if not any(expect_error in log.read_text(encoding="utf-8") for log in logs):
                problems.append(
                    f"{dag_id} {run_id}: preflight's log does not say {expect_error!r}: "
                    f"{cluster.task_errors(run_id, 'preflight', try_number, dag_id)}"
                )
        ran = {
            t: s
            for t, (s, _) in states.items()
            if t not in ("preflight", "receipts") and s == "success"
        }
        if ran:
            problems.append(f"{dag_id} {run_id}: tasks ran after the failed preflight: {ran}")
    return problems


def check_nothing_more_posted(
    gw: Any,
    ledger_dsn: str,
    posted_before: Mapping[str, str],
    days: Sequence[date],
    dv: Any,
    zone: ZoneInfo,
) -> list[str]:
    """West's card holds what it held before its runs failed, and its ledger nothing of the
    failed runs' days (there were transactions to post on them)."""
    problems = []
    now = on_card(gw, WEST_CARD)
    if now != posted_before:
        problems.append(
            f"west: its card changed while its runs failed: {len(posted_before)} records "
            f"before, {len(now)} after"
        )
    waiting = {u for u, e in expected_postings(dv, gw, zone).items() if e.day in days}
    if not waiting:
        problems.append(f"west: no transaction to post on {list(days)}: the check proves nothing")
    rows = {r["uuid"] for r in read_ledger(ledger_dsn, "divvy_intacct_west")["transactions"]}
    if waiting & (rows | set(now)):
        problems.append(
            f"west: transactions of {list(days)} read or posted although every run failed: "
            f"{sorted(waiting & (rows | set(now)))}"
        )
    return problems
