"""Daily Divvy → Sage Intacct sync. This file only wires the steps; the logic lives in
``intacct_hook`` (operators over hooks and the plain-Python sync domain)."""

from __future__ import annotations

import os
import pathlib
from datetime import timedelta

import pendulum
from airflow.sdk import DAG, Param, chain

from intacct_hook.operators.sync import (
    DivvyExtractOperator,
    IntacctLoadOperator,
    IntacctPreflightOperator,
    IntacctReconcileOperator,
    MapTransactionsOperator,
    StageTransactionsOperator,
)
from intacct_hook.timetables import LocalDayTimetable

INCLUDE_SQL = pathlib.Path(__file__).resolve().parents[1] / "include" / "sql"
# The schedule is read at parse time, so it comes from the environment, not the settings
# Variable. Keep the time zone the same as the Variable's "timezone": each run covers one local
# day of it (LocalDayTimetable) and the window maps that interval to posting dates in it.
SCHEDULE_HOUR = int(os.environ.get("DIVVY_INTACCT_SCHEDULE_HOUR", "6"))
SCHEDULE_TZ = os.environ.get("DIVVY_INTACCT_TIMEZONE", "America/Chicago")
# Retries cover outages; setup and data problems fail at once (AirflowFailException).
TASK_RETRIES = int(os.environ.get("DIVVY_INTACCT_TASK_RETRIES", "2"))

DAG_DOC = """
# Divvy → Sage Intacct card transactions

Every day this DAG moves Divvy (BILL Spend & Expense) card transactions into Intacct as credit
card transactions on the card account (default **Divvy CC Object**) and proves it by reconciling
totals. It posts each Divvy transaction **exactly once** (Intacct reference number = Divvy uuid,
function control ID derived from it with `uniqueid=true`) and never drops one silently: anything
that cannot be posted is held in the sync ledger with its reason and retried by later runs.

1. **preflight** checks the Intacct setup: sender, user, entity, the Divvy GL Account, the card,
   every mapping target, closed periods. *Fails:* fix what the log names in Intacct, then clear.
2. **extract** reads Divvy transactions for the run's days plus the lookback. *Fails:* Divvy is
   down or the token is wrong (see the log); it retries on its own.
3. **stage** records each transaction in the ledger with its posting decision (post, hold, skip).
4. **map** codes each line (GL account, location, department, class, project). Unmapped ones are
   held with the reason, not failed; add a rule to `mapping_rules.csv` and the next run posts them.
5. **load** records ready transactions in Intacct in batches. *Fails:* a record Intacct refuses
   fails alone; the task fails after posting all it can, and the log names each record and why.
6. **reconcile** compares Divvy's and Intacct's count and total per day. *Fails:* a difference
   (or only warns, per settings); the log lists each missing, extra or differing record.

**Runs.** Each scheduled run covers one local day, midnight to midnight in the company's time
zone, and runs at {hour:02d}:00 the next morning; its logical date is the day itself. A lookback
(default 14 days) re-reads earlier days for late clears and newly mapped transactions. Manual
runs take `start_date`/`end_date` (inclusive) for any range; `dry_run=true` shows what would be
posted without writing to Intacct. Backfills name the days themselves, both inclusive:

    airflow backfill create --dag-id divvy_intacct_sync \\
        --from-date 2026-11-01 --to-date 2026-11-07

**Settings** live in the Variable `divvy_intacct_settings` (JSON); connections `intacct_default`
and `divvy_default`. See the README.
"""

with DAG(
    dag_id="divvy_intacct_sync",
    description="Post Divvy card transactions to Sage Intacct exactly once, and reconcile.",
    schedule=LocalDayTimetable(SCHEDULE_TZ, run_hour=SCHEDULE_HOUR),
    # In the company's zone: the UI shows the DAG's zone from its start date.
    start_date=pendulum.datetime(2026, 1, 1, tz=SCHEDULE_TZ),
    catchup=False,
    max_active_runs=1,
    template_searchpath=[str(INCLUDE_SQL)],
    doc_md=DAG_DOC.format(hour=SCHEDULE_HOUR),
    tags=["divvy", "intacct", "finance"],
    params={
        "start_date": Param(
            None,
            type=["null", "string"],
            format="date",
            description="First day to sync (inclusive). Leave empty for the run's own day.",
        ),
        "end_date": Param(
            None,
            type=["null", "string"],
            format="date",
            description="Last day to sync (inclusive).",
        ),
        "dry_run": Param(
            False,
            type="boolean",
            description="Show what would be posted, held and skipped; write nothing to Intacct.",
        ),
    },
    default_args={
        "retries": TASK_RETRIES,
        "retry_delay": timedelta(minutes=2),
        "retry_exponential_backoff": 2.0,
        "execution_timeout": timedelta(hours=1),
    },
) as dag:
    chain(
        IntacctPreflightOperator(task_id="preflight", pool="intacct_api"),
        DivvyExtractOperator(task_id="extract", pool="divvy_api"),
        StageTransactionsOperator(task_id="stage"),
        MapTransactionsOperator(task_id="map"),
        IntacctLoadOperator(task_id="load", pool="intacct_api", max_active_tis_per_dag=1),
        IntacctReconcileOperator(task_id="reconcile", pool="intacct_api"),
    )
