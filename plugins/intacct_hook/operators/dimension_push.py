"""The dimension push's operator: one task per dimension of ``divvy_intacct_dimensions``.

Thin over the hooks: reads the settings, reads Intacct (through the read-only hook: the push
never writes there) and Divvy, and calls :func:`intacct_hook.sync.dimension_push.push_dimension`.
The diff goes to the task log (one line per change) and to XCom (names and counts, no secrets).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from airflow.sdk import BaseOperator, Context
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from intacct_hook.operators.base import SyncStepOperator
from intacct_hook.sync.dimensions import BY_KEY
from intacct_hook.sync.settings import SyncSettings

DIMENSIONS_DAG_ID = "divvy_intacct_dimensions"


def dry_run_of(params: Mapping[str, Any] | None, settings: SyncSettings) -> bool:
    """The run's ``dry_run`` param when set (true/false), else the settings' default."""
    asked = (params or {}).get("dry_run")
    if asked is None:
        return settings.dimension_push.dry_run
    if not isinstance(asked, bool):
        raise AirflowFailException(f"dry_run must be true, false or empty, got {asked!r}")
    return asked


class DimensionPushOperator(SyncStepOperator):
    """Make one Divvy custom field's values match one Intacct dimension (or the GL accounts).

    :param dimension: the coding key (``gl_account``, ``location``, ``department``, ``class``,
        ``project``); its Divvy field is the settings' ``custom_field_names`` entry.
    """

    template_fields: Sequence[str] = SyncStepOperator.template_fields
    step_doc = """
**Push one dimension to Divvy.** Reads the Intacct records (read-only) and the Divvy custom
field the mapping reads for this dimension, then creates the field if missing, creates values
for new records, renames values whose name changed in Intacct and retires values whose record
became inactive (a retired value stays on past transactions). Values Intacct does not know are
left alone. With `dry_run` the log and XCom show the same diff and nothing is written.

*When it fails:* the log says which change Divvy refused, or why the field cannot be used
(retired, or not a selector). Fix it in Divvy, then clear this task: it plans again from what
Divvy holds, so a rerun never repeats a change.
"""

    def __init__(self, *, dimension: str, **kwargs: Any) -> None:
        if dimension not in BY_KEY:
            raise ValueError(f"unknown dimension {dimension!r}")
        super().__init__(**kwargs)
        self.dimension = dimension

    def refuse_preview_request(self, context: Mapping[str, Any]) -> None:
        """``dry_run`` is this DAG's own parameter: never a reason to refuse."""

    def execute(self, context: Context) -> dict[str, Any]:
        from intacct_hook.sync.dimension_push import GLAccountFilter, push_dimension

        settings = self.load_settings()
        push = settings.dimension_push
        field_name = settings.field_name(self.dimension)
        if self.dimension not in push.dimensions or not field_name:
            raise AirflowSkipException(
                f"{self.dimension} is not pushed: it is not in the settings' "
                "dimension_push.dimensions (or custom_field_names names no field for it)"
            )
        dry_run = dry_run_of(context.get("params"), settings)
        gl_filter = GLAccountFilter(
            accounts=push.accounts,
            account_types=push.account_types,
            categories=push.categories,
            card_account_no=settings.divvy_gl_account_no,
            card_account_title=settings.divvy_gl_account_title,
        )
        intacct = self.intacct_hook(read_only=True)
        divvy = self.divvy_hook()
        diff = push_dimension(
            intacct,
            divvy,
            self.dimension,
            field_name,
            gl_filter,
            dry_run=dry_run,
        )
        for line in diff.lines():
            self.log.info("%s", line)
        if dry_run and diff.changes:
            self.log.info("Dry run: nothing was written to Divvy.")
        result = {**diff.to_public_dict(), "dry_run": dry_run}
        if diff.blocked or diff.failed:
            context["ti"].xcom_push(key="diff", value=result)
            raise AirflowFailException(
                f"{self.dimension}: "
                + (diff.blocked or f"Divvy refused {len(diff.failed)} change(s); see the log")
            )
        return result


class DimensionPushReportOperator(BaseOperator):
    """The whole run's diff in one log and one XCom, whatever the push tasks did."""

    def __init__(self, *, push_task_ids: Sequence[str], **kwargs: Any) -> None:
        kwargs.setdefault(
            "doc_md",
            "**Report.** The whole run's diff: per dimension the counts and each change, and "
            "the totals (also its XCom). It runs whatever the push tasks did.",
        )
        super().__init__(**kwargs)
        self.push_task_ids = list(push_task_ids)

    def execute(self, context: Context) -> dict[str, Any]:
        ti = context["ti"]
        totals: dict[str, int] = {}
        per_dimension: dict[str, Any] = {}
        for task_id in self.push_task_ids:
            diff = ti.xcom_pull(task_ids=task_id) or ti.xcom_pull(task_ids=task_id, key="diff")
            if not diff:
                per_dimension[task_id] = "skipped or not run"
                continue
            per_dimension[diff["dimension"]] = diff
            for action, count in diff["counts"].items():
                totals[action] = totals.get(action, 0) + count
        dry = any(isinstance(d, dict) and d.get("dry_run") for d in per_dimension.values())
        self.log.info(
            "Dimension push%s: %s",
            " (dry run: nothing written)" if dry else "",
            ", ".join(f"{k} {v}" for k, v in totals.items()) or "nothing pushed",
        )
        for name, diff in per_dimension.items():
            if not isinstance(diff, dict):
                self.log.info("%s: %s", name, diff)
                continue
            self.log.info("%s → %r: %s", name, diff["field"], diff["counts"])
            for change in diff["changes"]:
                self.log.info("  %s", change)
        return {"totals": totals, "dry_run": dry}
