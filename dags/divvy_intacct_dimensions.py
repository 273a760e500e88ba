"""Intacct dimensions → Divvy custom fields: the daily push (and on demand, with ``dry_run``).

Wiring only: one task per dimension (each rerunnable on its own), then a report of the whole
diff. The logic lives in ``intacct_hook.sync.dimension_push``. With several Divvy accounts in
the settings (``accounts``), one DAG per account (``divvy_intacct_dimensions__east``): each
Divvy account has its own custom fields.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG, Param
from airflow.sdk.definitions.timetables.trigger import CronTriggerTimetable

from intacct_hook.operators.base import configured_accounts
from intacct_hook.operators.dimension_push import (
    DIMENSIONS_DAG_ID,
    DimensionPushOperator,
    DimensionPushReportOperator,
)
from intacct_hook.sync.accounts import DivvyAccount
from intacct_hook.sync.dimensions import DIMENSIONS
from intacct_hook.sync.settings import configured_timezone

SCHEDULE_TZ = configured_timezone()
# The Divvy API's pool: every task writes there, one at a time (60 calls a minute per token).
DIVVY_POOL = "divvy_api"

DOC = """
# Intacct dimensions → Divvy custom fields

Every day (05:00, before the sync) and whenever you trigger it, this DAG makes the values of
Divvy's custom fields match Intacct, so cardholders can only pick what Intacct accepts: active
GL accounts (the ones the settings' `dimension_push.gl_accounts` selects), locations,
departments, classes and projects, each as `"<ID> - <Name>"` (the form the sync's map step
reads). One task per dimension:

- creates the Divvy custom field if it is missing (named as in `custom_field_names`);
- creates a value for each new active record, renames a value whose name changed in Intacct;
- retires a value whose record became inactive (Divvy keeps it on past transactions);
- leaves alone values whose ID Intacct does not know, and lists them.

**Dry run:** trigger with `dry_run` = true: every task logs the same diff and writes nothing.
A second run changes nothing. The **report** task lists the whole diff. Settings: the Variable
`divvy_intacct_settings`, key `dimension_push` (see the README).
"""


def dimensions_dag(dag_id: str = DIMENSIONS_DAG_ID, account: DivvyAccount | None = None) -> DAG:
    description = "Make Divvy's custom-field values match Intacct's dimensions and GL accounts."
    doc, tags = DOC, ["divvy", "intacct", "finance", "dimensions"]
    if account is not None:
        description = f"[{account.name}] {description}"
        doc += (
            f"\n**Divvy account `{account.name}`**: Divvy connection `{account.divvy_conn_id}`, "
            f"Intacct connection `{account.intacct_conn_id}`"
            + (f", entity `{account.entity_id}`" if account.entity_id else "")
            + ". The other accounts have their own DAGs.\n"
        )
        tags.append(f"account:{account.name}")
    with DAG(
        dag_id=dag_id,
        description=description,
        doc_md=doc,
        schedule=CronTriggerTimetable("0 5 * * *", timezone=SCHEDULE_TZ),
        start_date=pendulum.datetime(2026, 1, 1, tz=SCHEDULE_TZ),
        catchup=False,
        max_active_runs=1,
        tags=tags,
        params={
            "dry_run": Param(
                None,
                type=["null", "boolean"],
                description="True: show the diff, write nothing. Empty: the settings' default.",
            ),
        },
        default_args={
            "retries": 2,
            "retry_delay": timedelta(minutes=2),
            # A first push writes one value per call, at Divvy's 60 calls a minute: 1,000 new
            # values take ~17 minutes. A run cut short continues where it stopped next time.
            "execution_timeout": timedelta(hours=3),
        },
    ) as dag:
        pushes = [
            DimensionPushOperator(
                task_id=f"push_{dim}", dimension=dim, pool=DIVVY_POOL, account=account
            )
            for dim in DIMENSIONS
        ]
        report = DimensionPushReportOperator(
            task_id="report",
            push_task_ids=[t.task_id for t in pushes],
            trigger_rule="all_done",
        )
        for task in pushes:
            task >> report
    return dag


# Read when this file is parsed, like the sync's DAG file (dags/divvy_intacct_sync.py).
ACCOUNTS = configured_accounts()
if not ACCOUNTS:
    dimensions = dimensions_dag()
for _account in ACCOUNTS:
    globals()[_account.dag_id(DIMENSIONS_DAG_ID)] = dimensions_dag(
        _account.dag_id(DIMENSIONS_DAG_ID), _account
    )
