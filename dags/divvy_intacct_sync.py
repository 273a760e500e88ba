"""Divvy → Sage Intacct: the daily sync and its preview. This file only wires the steps; the
logic lives in ``intacct_hook`` (operators over hooks and the plain-Python sync domain).

Two DAGs from one factory, :func:`sync_dag`: ``divvy_intacct_sync`` posts;
``divvy_intacct_preview`` runs the same steps built in preview mode (``preview=True`` on every
operator, fixed here) and can write nothing to Intacct.
"""

from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.sdk import DAG, Param, chain

from intacct_hook.operators.base import PREVIEW_DAG_ID, SYNC_DAG_ID
from intacct_hook.operators.sync import (
    DivvyExtractOperator,
    IntacctLoadOperator,
    IntacctPreflightOperator,
    IntacctReconcileOperator,
    MapTransactionsOperator,
    StageTransactionsOperator,
)
from intacct_hook.paths import SQL_DIR
from intacct_hook.timetables import LocalDayTimetable

# The ledger SQL the operators' <name>_sql fields render: a resource of the package (include/sql/
# in the repository), so an installed wheel renders the same files.
INCLUDE_SQL = SQL_DIR
# The schedule is read at parse time, so it comes from the environment, not the settings
# Variable. Keep the time zone the same as the Variable's "timezone": each run covers one local
# day of it (LocalDayTimetable) and the window maps that interval to posting dates in it.
SCHEDULE_HOUR = int(os.environ.get("DIVVY_INTACCT_SCHEDULE_HOUR", "6"))
SCHEDULE_TZ = os.environ.get("DIVVY_INTACCT_TIMEZONE", "America/Chicago")
# Retries cover outages; setup and data problems fail at once (AirflowFailException).
TASK_RETRIES = int(os.environ.get("DIVVY_INTACCT_TASK_RETRIES", "2"))

STEPS_DOC = """
1. **preflight** checks the Intacct setup: sender, user, entity, the Divvy GL Account, the card,
   every mapping target, closed periods. *Fails:* fix what the log names in Intacct, then clear.
2. **extract** reads Divvy transactions for the run's days plus the lookback. *Fails:* Divvy is
   down or the token is wrong (see the log); it retries on its own.
3. **stage** records each transaction in the ledger with its posting decision (post, hold, skip).
4. **map** codes each line (GL account, location, department, class, project). Unmapped ones are
   held with the reason, not failed; add a rule to `mapping_rules.csv` and the next run posts them.
"""

SYNC_DOC = (
    """
# Divvy → Sage Intacct card transactions

Every day this DAG moves Divvy (BILL Spend & Expense) card transactions into Intacct as credit
card transactions on the card account (default **Divvy CC Object**) and proves it by reconciling
totals. It posts each Divvy transaction **exactly once** (Intacct reference number = Divvy uuid,
function control ID derived from it with `uniqueid=true`) and never drops one silently: anything
that cannot be posted is held in the sync ledger with its reason and retried by later runs.
"""
    + STEPS_DOC
    + """5. **load** records ready transactions in Intacct in batches. *Fails:* a record Intacct
   refuses fails alone; the task fails after posting all it can, and the log names each record.
6. **reconcile** compares Divvy's and Intacct's count and total per day. *Fails:* a difference
   (or only warns, per settings); the log lists each missing, extra or differing record.

**Runs.** Each scheduled run covers one local day, midnight to midnight in {tz}, and runs at
{hour:02d}:00 the next morning; its logical date is the day itself, and its note says which days
it covers. A lookback (default 14 days) re-reads earlier days for late clears and newly mapped
transactions. Manual runs take `start_date`/`end_date` (inclusive) for any range. Backfills name
the days themselves, both inclusive:

    airflow backfill create --dag-id divvy_intacct_sync \\
        --from-date 2026-11-01 --to-date 2026-11-07

**To see what would be posted without posting, use the DAG `divvy_intacct_preview`.** This DAG
has no dry run: a run whose conf asks for one (`dry_run`, `preview`) fails at preflight.

**Settings** live in the Variable `divvy_intacct_settings` (JSON); connections `intacct_default`
and `divvy_default`. See the README.
"""
)

PREVIEW_DOC = (
    """
# PREVIEW — writes nothing to Intacct

The same steps as `divvy_intacct_sync`, built in preview mode: every task talks to Intacct through
a hook that refuses writes, and **load** only lists what the sync would post, hold, skip and retry,
with the reason. No run parameter, conf or dialog setting can change that: it is fixed in the DAG.
It is never scheduled; trigger it (with `start_date`/`end_date` for a range) or backfill it:

    airflow backfill create --dag-id divvy_intacct_preview \\
        --from-date 2026-11-01 --to-date 2026-11-07

Extract, stage and map update the sync ledger as the real run would (nothing there is posted), so
the next real run starts from the same decisions. Run notes start with "Preview:".
"""
    + STEPS_DOC
    + """5. **load** (preview) logs the would-post table: every transaction of the days with *would
   create*, *held*, *skipped* or *would retry* and why. Nothing is sent.
6. **reconcile** compares what is really in Intacct with what was really posted: what the preview
   would post is not reported missing.
"""
)


def sync_dag(dag_id: str, *, preview: bool) -> DAG:
    """The sync's six steps in one line; ``preview`` builds every step for the preview DAG."""
    dag_params = {
        "start_date": Param(
            None,
            type=["null", "string"],
            format="date",
            description="First day (inclusive). Leave both empty for the run's own day.",
        ),
        "end_date": Param(
            None,
            type=["null", "string"],
            format="date",
            description="Last day (inclusive), not before start_date (checked at preflight).",
        ),
    }
    if preview:
        identity = {
            "dag_display_name": "Preview: Divvy → Intacct (writes nothing)",
            "description": (
                "PREVIEW — writes nothing to Intacct: what divvy_intacct_sync would post, "
                "hold and skip, per local day."
            ),
            "doc_md": PREVIEW_DOC,
            "tags": ["divvy", "intacct", "finance", "preview"],
            # Manual and backfill runs only (the timetable never schedules a preview either).
            "allowed_run_types": ["manual", "backfill"],
        }
    else:
        identity = {
            "description": (
                "Post Divvy card transactions to Sage Intacct exactly once, and reconcile."
            ),
            "doc_md": SYNC_DOC.format(tz=SCHEDULE_TZ, hour=SCHEDULE_HOUR),
            "tags": ["divvy", "intacct", "finance"],
        }
    with DAG(
        dag_id=dag_id,
        schedule=LocalDayTimetable(SCHEDULE_TZ, run_hour=SCHEDULE_HOUR, preview=preview),
        # In the company's zone: the UI shows the DAG's zone from its start date.
        start_date=pendulum.datetime(2026, 1, 1, tz=SCHEDULE_TZ),
        catchup=False,
        max_active_runs=1,
        template_searchpath=[str(INCLUDE_SQL)],
        params=dag_params,
        default_args={
            "retries": TASK_RETRIES,
            "retry_delay": timedelta(minutes=2),
            "retry_exponential_backoff": 2.0,
            "execution_timeout": timedelta(hours=1),
        },
        **identity,
    ) as dag:
        chain(
            IntacctPreflightOperator(task_id="preflight", pool="intacct_api", preview=preview),
            DivvyExtractOperator(task_id="extract", pool="divvy_api", preview=preview),
            StageTransactionsOperator(task_id="stage", preview=preview),
            MapTransactionsOperator(task_id="map", preview=preview),
            IntacctLoadOperator(
                task_id="load", pool="intacct_api", max_active_tis_per_dag=1, preview=preview
            ),
            IntacctReconcileOperator(task_id="reconcile", pool="intacct_api", preview=preview),
        )
    return dag


sync = sync_dag(SYNC_DAG_ID, preview=False)
preview = sync_dag(PREVIEW_DAG_ID, preview=True)
