"""Divvy → Sage Intacct: the daily sync and its preview. This file only wires the steps; the
logic lives in ``intacct_hook`` (operators over hooks and the plain-Python sync domain).

Two DAGs from one factory, :func:`sync_dag`: ``divvy_intacct_sync`` posts;
``divvy_intacct_preview`` runs the same steps built in preview mode (``preview=True`` on every
operator, fixed here) and can write nothing to Intacct. When the settings list several Divvy
accounts (``accounts``), each account gets the pair, named after it
(``divvy_intacct_sync__east``, ``divvy_intacct_preview__east``), and the single pair is not built.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import DAG, Param, chain

from intacct_hook.operators.base import (
    PREVIEW_DAG_ID,
    SETTINGS_CHECK_DAG_ID,
    SYNC_DAG_ID,
    SettingsCheckOperator,
    configured_account_problems,
    configured_accounts,
)
from intacct_hook.operators.sync import (
    DivvyExtractOperator,
    IntacctLoadOperator,
    IntacctPreflightOperator,
    IntacctReceiptsOperator,
    IntacctRecodeOperator,
    IntacctReconcileOperator,
    MapTransactionsOperator,
    StageTransactionsOperator,
)
from intacct_hook.paths import SQL_DIR
from intacct_hook.sync.accounts import DivvyAccount
from intacct_hook.sync.settings import configured_timezone
from intacct_hook.timetables import LocalDayTimetable

# The ledger SQL the operators' <name>_sql fields render: a resource of the package (include/sql/
# in the repository), so an installed wheel renders the same files.
INCLUDE_SQL = SQL_DIR
# The schedule is read at parse time, so it comes from the environment, not the settings
# Variable; the time zone is the one the settings default to (sync.settings.TIMEZONE_ENV).
SCHEDULE_HOUR = int(os.environ.get("DIVVY_INTACCT_SCHEDULE_HOUR", "6"))
SCHEDULE_TZ = configured_timezone()
# One slot each keeps a single caller per API. A task takes the pool of the API it calls; preflight
# holds Intacct's while it also reads Divvy's custom fields (a task holds one pool; see README).
INTACCT_POOL = "intacct_api"
DIVVY_POOL = "divvy_api"
# Retries cover outages; setup and data problems fail at once (AirflowFailException).
TASK_RETRIES = int(os.environ.get("DIVVY_INTACCT_TASK_RETRIES", "2"))

# The backfill recipe, shown on both DAGs' Docs tab; the README carries the same text (a test
# holds them equal), so there is one recipe.
BACKFILL_DOC = """
**Backfill.** Name the days, both inclusive:

    airflow backfill create --dag-id divvy_intacct_sync \\
        --from-date 2026-11-01 --to-date 2026-11-07

creates seven runs, Nov 1 to Nov 7 (the scheduler runs them; the DAG must be unpaused). Each
date names the day written in it, whatever the time zone (a bound's date, not its instant:
`2026-11-07T23:59:59`, the old advice, is still Nov 7). In the UI's backfill dialog pick the
first and last day at 00:00 with the UI's time zone set to UTC or to one west of it (the dialog
sends the instant in UTC, so a zone east of UTC would name the day before); the dialog's dry-run
list shows the runs' logical dates, one per day. Check on the CLI with `--dry-run`. Backfill runs
carry Airflow's own run IDs, from the moment each may run
(`backfill__2026-11-02T12:00:00+00:00` for Nov 1: the timetable cannot name them); their notes
name the day. Repeating a backfill is safe: by default days that already have a run are not run
again; add `--reprocess-behavior completed` to run them again (they post nothing new). A preview
backfill is the same command with `--dag-id divvy_intacct_preview`.
"""

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
6. **recode** reverses and re-posts a posted transaction whose coding, amount or date changed
   in Divvy since (or only reports it: `recode_policy`); a declined one is reversed.
7. **reconcile** compares Divvy's and Intacct's count and total per day. *Fails:* a difference
   (or only warns, per settings); the log lists each missing, extra or differing record.
8. **receipts** (after load, beside reconcile; off unless `receipts_enabled`) attaches the
   Divvy receipts of posted transactions in Intacct, each once. *Fails:* a receipt could not be
   downloaded or Intacct refused it; the next run tries again. Postings are not affected.

**Runs.** Each scheduled run covers one local day, midnight to midnight in {tz}, and runs at
{hour:02d}:00 the next morning; its logical date is the day itself, and its note says which days
it covers. A lookback (default 14 days) re-reads earlier days for late clears and newly mapped
transactions. Manual runs take `start_date`/`end_date` (inclusive) for any range.
"""
    + BACKFILL_DOC
    + """
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
It is never scheduled; trigger it (with `start_date`/`end_date` for a range) or backfill it
(below, with `--dag-id divvy_intacct_preview`).

Extract, stage and map update the sync ledger as the real run would (nothing there is posted), so
the next real run starts from the same decisions. Run notes start with "Preview:".
"""
    + STEPS_DOC
    + """5. **load** (preview) logs the would-post table: every transaction of the days with *would
   create*, *held*, *skipped* or *would retry* and why. Nothing is sent.
6. **recode** (preview) lists posted transactions changed in Divvy since; nothing is reversed.
7. **reconcile** compares what is really in Intacct with what was really posted: what the preview
   would post is not reported missing.
8. **receipts** (preview) counts the receipts it would attach; nothing is downloaded or sent.
"""
    + BACKFILL_DOC
)


ACCOUNT_DOC = """
**Divvy account `{name}`** (one of the settings' `accounts`): Divvy connection
`{divvy_conn_id}`, Intacct connection `{intacct_conn_id}`{entity}; its own ledger (file
`….{name}.db`, or PostgreSQL schema `{schema}`). The other accounts have their own DAGs; a
failure here never stops theirs. They share the `intacct_api` and `divvy_api` pools.
"""


def sync_dag(dag_id: str, *, preview: bool, account: DivvyAccount | None = None) -> DAG:
    """The sync's seven steps in one line, and receipts beside reconcile; ``preview`` builds
    every step for the preview DAG; ``account`` builds them for one of the settings'
    Divvy accounts."""
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
    identity: dict[str, Any]
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
    if account is not None:
        identity["doc_md"] += ACCOUNT_DOC.format(
            name=account.name,
            divvy_conn_id=account.divvy_conn_id,
            intacct_conn_id=account.intacct_conn_id,
            entity=f", entity `{account.entity_id}`" if account.entity_id else "",
            schema=account.schema,
        )
        identity["tags"] = [*identity["tags"], f"account:{account.name}"]
        identity["dag_display_name"] = (
            f"{identity.get('dag_display_name', 'Divvy → Intacct')} · {account.name}"
        )
        identity["description"] = f"[{account.name}] {identity['description']}"
    # Every step of an account's DAG works for that account (its settings, connections,
    # entity and ledger); None: the single-account setup.
    step: dict[str, Any] = {"preview": preview, "account": account}
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
        load = IntacctLoadOperator(
            task_id="load", pool=INTACCT_POOL, max_active_tis_per_dag=1, **step
        )
        chain(
            IntacctPreflightOperator(task_id="preflight", pool=INTACCT_POOL, **step),
            DivvyExtractOperator(task_id="extract", pool=DIVVY_POOL, **step),
            StageTransactionsOperator(task_id="stage", **step),
            # Map reads the active IDs and required dimensions from Intacct.
            MapTransactionsOperator(task_id="map", pool=INTACCT_POOL, **step),
            load,
            # Re-coding after posting: after load (new postings first), before reconcile (which
            # shows the chains it leaves).
            IntacctRecodeOperator(task_id="recode", pool=INTACCT_POOL, **step),
            IntacctReconcileOperator(task_id="reconcile", pool=INTACCT_POOL, **step),
        )
        # Beside reconcile, not before it: a receipt problem never holds up reconcile. It runs
        # whatever load's outcome (all_done): the receipts go to what is already posted, and a
        # load that failed on one refused record has posted the others. In the Divvy pool: its
        # calls are mostly Divvy's (one per transaction asked), its Intacct writes few, and
        # holding intacct_api (1 slot) would make recode and reconcile wait on it.
        load >> IntacctReceiptsOperator(
            task_id="receipts", pool=DIVVY_POOL, trigger_rule="all_done", **step
        )
    return dag


def settings_check_dag(problems: list[str]) -> DAG:
    """Built only while the account list cannot be (fully) read: unpaused from the start, it
    fails every day naming the problems, so accounts whose DAGs could not be built are noticed
    (a DAG that disappears raises no alert of its own)."""
    with DAG(
        dag_id=SETTINGS_CHECK_DAG_ID,
        description="FIX THE SETTINGS: the Divvy account list cannot be read; some DAGs are "
        "not built.",
        doc_md="# The settings' account list cannot be read\n\n"
        + "\n".join(f"- {p}" for p in problems)
        + "\n\nFix the Variable `divvy_intacct_settings` (README, 'Several Divvy accounts').",
        schedule=LocalDayTimetable(SCHEDULE_TZ, run_hour=SCHEDULE_HOUR),
        start_date=pendulum.datetime(2026, 1, 1, tz=SCHEDULE_TZ),
        catchup=False,
        is_paused_upon_creation=False,
        tags=["divvy", "intacct", "finance", "settings"],
    ) as dag:
        SettingsCheckOperator(task_id="check_settings")
    return dag


# The accounts are read from the settings Variable when this file is parsed (a DAG per account
# must exist before any task runs); each task reads its account's settings again when it runs.
ACCOUNTS = configured_accounts()
if problems := configured_account_problems():
    settings_check = settings_check_dag(problems)
if not ACCOUNTS:
    sync = sync_dag(SYNC_DAG_ID, preview=False)
    preview = sync_dag(PREVIEW_DAG_ID, preview=True)
for _account in ACCOUNTS:
    globals()[_account.dag_id(SYNC_DAG_ID)] = sync_dag(
        _account.dag_id(SYNC_DAG_ID), preview=False, account=_account
    )
    globals()[_account.dag_id(PREVIEW_DAG_ID)] = sync_dag(
        _account.dag_id(PREVIEW_DAG_ID), preview=True, account=_account
    )
