"""The sync's operators, one per step of ``divvy_intacct_sync``.

Each is thin: it reads settings, window and ledger through :class:`SyncStepOperator`, calls the
step in :mod:`intacct_hook.sync.steps` with the hooks, logs a readable summary and returns a
small XCom (counts and totals; never payloads or secrets).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow.sdk import Context
from airflow.sdk.exceptions import AirflowFailException

from intacct_hook.links import (
    RECORD_URL_XCOM_KEY,
    IntacctReconciliationLink,
    IntacctRecordsLink,
    trusted_record_url,
)
from intacct_hook.operators.base import SyncStepOperator
from intacct_hook.sync import closed_periods, recoding, steps
from intacct_hook.sync.preflight import (
    CodingTarget,
    check_accounts_apart,
    read_posting_facts,
    run_preflight,
)
from intacct_hook.sync.report import (
    format_table,
    ledger_summary,
    would_post_rows,
)
from intacct_hook.sync.rules import RulesError, RuleSet, load_rules
from intacct_hook.sync.settings import SyncSettings
from intacct_hook.sync.states import WAITING_STATES
from intacct_hook.sync.targets import coding_targets

if TYPE_CHECKING:
    from intacct_hook.hooks.intacct import IntacctHook

# The hooks (requests, lxml) are imported inside execute(): the DAG file imports this module
# every time it is parsed, and Airflow's guidance is to keep what that imports light.


def _rules(settings: SyncSettings) -> RuleSet:
    try:
        return load_rules(settings.mapping_path())
    except RulesError as exc:
        raise AirflowFailException(f"The mapping rules file is invalid:\n{exc}") from exc


class IntacctPreflightOperator(SyncStepOperator):
    """Check the Intacct setup described in the setup guide before anything is posted.

    Fails (without retrying: a retry cannot fix a setup) when any check fails; the log lists every
    problem with the Intacct screen and field to change.
    """

    step_doc = """
**Preflight.** Signs in to Intacct as the Web Services user and checks, without writing:
the sender authorization, the user's sign-in and permissions, the entity, the *Divvy GL Account*
(Balance Sheet, Credit, Non-Closing, Active, direct posting allowed, no required dimensions), the
credit card account (exists, active, not expiring, offsets to the Divvy GL Account, has a default
location), every GL account and dimension the mapping can produce, and closed periods.
Only what it read and found wrong fails it; what it could not read (a field Intacct names
otherwise) is a warning saying what it looked for, and the run goes on.

*When it fails:* read the log; each problem says which Intacct screen and field to change.
Fix it in Intacct, then clear this task.
"""

    def execute(self, context: Context) -> dict[str, Any]:

        settings = self.load_settings()
        window = self.resolve_window(context, settings)
        self.log.info("Settings: %s", settings.to_public_dict())
        self.log.info("Window: %s", window.to_public_dict())
        targets: Sequence[CodingTarget] = coding_targets(
            _rules(settings), settings, self.divvy_hook()
        )
        intacct = self.intacct_hook()
        report = run_preflight(intacct, settings, window, targets)
        if settings.account is not None:
            check_accounts_apart(report, settings.account.name, self.account_facts(settings))
        log_at = {"error": self.log.error, "warning": self.log.warning}
        for finding in report.findings:
            # The record's level is the severity; the text does not repeat it.
            log_at.get(finding.severity, self.log.info)("%s", finding.text())
        summary = report.summary() | {"window": window.to_public_dict()}
        if not report.errors:
            warning = steps.new_ledger_warning(
                intacct, self.open_ledger(settings), settings, window
            )
            if warning:
                self.log.warning("%s", warning)
            summary["ledger_warning"] = warning
        if report.errors:
            raise AirflowFailException(
                f"Preflight found {len(report.errors)} problem(s) in the Intacct setup; nothing "
                "was posted. Fix them in Intacct (see each 'fix:' line above), then clear this "
                "task."
            )
        return summary


class DivvyExtractOperator(SyncStepOperator):
    """Read the window's Divvy transactions into the ledger's landing table."""

    ledger_statements = (
        "clear_run_landing",
        "clear_run_manifest",
        "land_transaction",
        "record_extracted",
    )

    step_doc = """
**Extract.** Reads Divvy transactions whose purchase time falls in the run's days plus the
lookback, and those updated in that time (late clears, late completions). Pages of at most 50,
at most 60 calls a minute. The raw JSON lands in the ledger for the stage step.

*When it fails:* a Divvy outage or rate limit retries by itself; a 401 means the API token in
the `divvy_default` connection is wrong or revoked.
"""

    def execute(self, context: Context) -> dict[str, Any]:

        settings = self.load_settings()
        window = self.resolve_window(context, settings)
        ledger = self.open_ledger(settings)
        divvy = self.divvy_hook()
        result = steps.extract(divvy, ledger, window, context["run_id"], settings=settings)
        self.log.info("Extracted %d Divvy transactions: %s", result["extracted"], result["by_type"])
        return result | {"window": window.to_public_dict()}


class StageTransactionsOperator(SyncStepOperator):
    """Decide each extracted transaction (post, hold, skip) and upsert it into the ledger."""

    ledger_statements = (
        "stage_transaction",
        "stage_payload",
        "stage_map_input",
        "clear_mapped_lines",
    )

    step_doc = """
**Stage.** Applies the posting rules to each extracted transaction: only CLEAR records post
(positive = charge, negative = refund); authorizations, declines and other records are skipped;
incomplete ones are held; ones Divvy's own accounting sync already handled are skipped. Each is
upserted by uuid into the ledger (the SQL is on the Rendered Template tab): re-staging updates,
never duplicates, and never touches a transaction already posted.
"""

    def execute(self, context: Context) -> dict[str, Any]:
        settings = self.load_settings()
        window = self.resolve_window(context, settings)
        ledger = self.open_ledger(settings)
        try:
            result = steps.stage(ledger, settings, window, context["run_id"])
        except steps.StepError as exc:
            raise AirflowFailException(str(exc)) from exc
        self.log.info("Staged: %s", result)
        return result


class MapTransactionsOperator(SyncStepOperator):
    """Code every postable line with its Intacct GL account and dimensions."""

    ledger_statements = ("update_mapping_state", "delete_mapped_lines", "insert_mapped_line")

    step_doc = """
**Map.** Gives each line its Intacct coding: the Divvy custom fields (`GL Account`, `Location`,
`Department`, `Class`, `Project`; values start with the Intacct ID), then the rules in
`mapping_rules.csv`, then the default account; location falls back to the card's default
location. IDs that are not active in Intacct are refused, and a line without a dimension its
GL account requires in Intacct is held (Intacct would refuse it).

*Unmapped transactions are held, not failed*: the log and XCom list why. Add a rule or fix the
Divvy coding; the next run maps and posts them.
"""

    def execute(self, context: Context) -> dict[str, Any]:

        settings = self.load_settings()
        ledger = self.open_ledger(settings)
        facts = read_posting_facts(self.intacct_hook(), settings)
        result = steps.map_transactions(
            ledger,
            settings,
            _rules(settings),
            **facts.coding_kwargs(),
        )
        self.log.info("Mapped %d, unmapped %d", result["mapped"], result["unmapped"])
        for reason, count in result["unmapped_reasons"].items():
            self.log.warning("Unmapped (%d): %s", count, reason)
        return result


class IntacctLoadOperator(SyncStepOperator):
    """Record the ready transactions in Intacct as credit card transactions, exactly once."""

    operator_extra_links = (IntacctReconciliationLink(), IntacctRecordsLink())
    ledger_statements = (
        "take_over_claims",
        "adopt_posted",
        "hold_posted_elsewhere",
        "claim_for_posting",
        "mark_posted",
        "mark_failed",
        "release_claim",
        # closed periods (sync/closed_periods.py), before the claim and on Intacct's refusals
        "closed_period_hold",
        "closed_period_release",
        "closed_period_redate",
        "closed_period_annotate",
        "closed_period_unannotate",
    )

    step_doc = """
**Load.** Records each ready transaction with `record_cctransaction` on the card account, in
batches: reference number = Divvy uuid, control ID derived from it with `uniqueid=true`, the
ledger marked *posting* before each batch and *posted* (with the Intacct RECORDNO) after.
Anything left in *posting* by an interrupted run is looked up in Intacct before any retry, so
nothing is posted twice.

*Closed periods:* before anything is sent, transactions dated on or before Intacct's
books-closed date follow `closed_period_policy`: `fail` sends them (Intacct refuses them),
`hold` holds them until the period reopens, `post_to_first_open_day` posts them on the day after
it with the purchase date in the description. The log and XCom `closed_periods` give the counts
and dates.

*When it fails:* a record Intacct refuses (closed period, inactive account) fails alone with
Intacct's message; all the others are posted first. Fix the cause; the next run retries it.
In the preview DAG it only lists what would be posted, held and skipped: its Intacct hook
refuses every write.
"""

    def execute(self, context: Context) -> dict[str, Any]:

        settings = self.load_settings()
        window = self.resolve_window(context, settings)
        ledger = self.open_ledger(settings)
        intacct = self.intacct_hook()
        closed_plan = self._closed_periods(intacct, ledger, settings)
        report = steps.load(
            intacct,
            ledger,
            settings,
            context["run_id"],
            dry_run=self.preview,
            try_number=context["ti"].try_number,
        )
        summary = report.summary() | {"preview": self.preview}
        del summary["closed_period_refusals"]
        summary["closed_periods"] = closed_periods.run_summary(closed_plan, report.closed_period)
        # Its own key too: pushed even when the task fails below (refusals under 'fail').
        context["ti"].xcom_push(key="closed_periods", value=summary["closed_periods"])
        for refusal in report.closed_period:
            self.log.warning(
                "Closed period: Intacct refused %s dated %s (first open day %s): %s",
                refusal.uuid,
                refusal.refused_date,
                refusal.first_open or "not named",
                refusal.action,
            )
        if self.preview:
            self.log.info(
                "PREVIEW: nothing written to Intacct.\n%s",
                format_table(would_post_rows(ledger, window), title="Would-post diff"),
            )
        self.log.info("Load: %s", summary)
        if report.last_posted:
            # The link is a convenience read after the real work is committed: whatever goes
            # wrong with it (Intacct down, a refused read) must not fail, or retry, a load
            # whose postings are done.
            try:
                self._push_record_link(context, intacct, settings, report.last_posted)
            except Exception as exc:
                self.log.warning(
                    "Could not read the posted record's link from Intacct (%s: %s); the "
                    "postings are done, only the task's 'Intacct: last record posted' link "
                    "stays empty",
                    type(exc).__name__,
                    exc,
                )
        if report.failed:
            closed = summary["closed_periods"]
            in_closed = (
                f" {closed['failed']} of them dated in a closed period "
                f"({', '.join(closed['refused_dates'])}; closed_period_policy "
                f"'{settings.closed_period_policy}')."
                if closed["failed"]
                else ""
            )
            raise AirflowFailException(
                f"{report.failed} transaction(s) were refused by Intacct (all others were "
                f"posted).{in_closed}\n" + "\n".join(report.failures)
            )
        return summary

    def _closed_periods(
        self, intacct: IntacctHook, ledger: Any, settings: SyncSettings
    ) -> closed_periods.ClosedPeriodPlan:
        """closed_period_policy, before the load claims anything
        (:func:`closed_periods.plan_before_load`)."""
        plan = closed_periods.plan_before_load(intacct, ledger, settings, dry_run=self.preview)
        for level, message in plan.messages():
            self.log.log(level, "%s", message)
        return plan

    def _push_record_link(
        self,
        context: Context,
        intacct: IntacctHook,
        settings: SyncSettings,
        last_posted: tuple[str, date],
    ) -> None:
        url = steps.record_url(intacct, settings, *last_posted)
        if not url:
            return
        if trusted_record_url(url, intacct.conn_params.url) is None:
            try:
                parts = urlsplit(url)
                where = f"scheme {parts.scheme!r}, host {parts.hostname!r}"
            except ValueError:
                where = "not a URL"
            # The value itself is not logged: it is response-chosen text (script, or a query
            # that may carry more than a record number).
            self.log.warning(
                "Intacct returned a RECORD_URL (%s) that does not lead into Intacct or the "
                "configured gateway; it is not offered as the task's link",
                where,
            )
            return
        context["ti"].xcom_push(key=RECORD_URL_XCOM_KEY, value=url)


class IntacctReceiptsOperator(SyncStepOperator):
    """Attach the Divvy receipts of posted transactions in Intacct (opt-in: receipts_enabled)."""

    ledger_statements = ("record_receipt_attachment", "record_receipt_check")

    step_doc = """
**Receipts.** Off unless the settings say `receipts_enabled: true`. For each transaction posted
in the run's days and the lookback that is due (never asked, changed in Divvy since, asked
`receipts_recheck_days` ago or more, or holding a failed receipt; at most `receipts_max_checks`
a run, least recently asked first), asks Divvy for its receipts, downloads the new ones (never
sending the Divvy token to the file's host), checks them against `receipts_max_mb` and
`receipts_allowed_types`, puts them in one Intacct supporting document in the folder
`receipts_folder` and links it from the credit card transaction (`supdocid`). The ledger's
`receipt_attachment` table records each receipt: attached (once), rejected (too large or a
type not allowed: the log says which, and it is not tried again) or failed (tried again by
the next run). Receipts added in Divvy after posting are attached by a later run.
Runs in the `divvy_api` pool: its calls are mostly Divvy's.

Runs after load whatever load's outcome, beside reconcile: a receipt never blocks posting.
*When it fails:* some receipts could not be downloaded or Intacct refused them; the log names
each one, and the next run tries them again. In the preview DAG it only counts the receipts
it would attach.
"""

    def execute(self, context: Context) -> dict[str, Any]:
        from intacct_hook.sync.receipts import attach_receipts

        settings = self.load_settings()
        if not settings.receipts_enabled:
            self.log.info("Receipts are off (settings: receipts_enabled is false); nothing done.")
            return {"enabled": False}
        window = self.resolve_window(context, settings)
        ledger = self.open_ledger(settings)
        report = attach_receipts(
            self.divvy_hook(),
            None if self.preview else self.intacct_hook(),
            ledger,
            settings,
            window,
            dry_run=self.preview,
            logger=self.log,
        )
        summary = report.summary() | {"window": window.to_public_dict()}
        for text in report.warnings:
            self.log.warning("%s", text)
        self.log.info("Receipts: %s", {k: v for k, v in summary.items() if k != "messages"})
        if report.failed and not self.preview:
            raise AirflowFailException(
                f"{len(report.failed)} receipt(s) could not be attached (the next run tries "
                f"them again; postings are not affected):\n" + "\n".join(report.failed)
            )
        return summary


class IntacctReconcileOperator(SyncStepOperator):
    """Compare Divvy's and Intacct's count and total per posting day, read back from Intacct."""

    ledger_statements = (
        "record_reconciliation",
        "delete_reconciliation_differences",
        "insert_reconciliation_difference",
        "purge_landing",
        "purge_extract_manifest",
    )

    step_doc = """
**Reconcile.** For every day of the window, Divvy's postable transactions against the credit
card transactions Intacct holds on the card account (read from Intacct, not from the ledger),
with each difference: missing in Intacct, extra in Intacct (posted by someone else), amount or
date differs. Stored in the ledger's `reconciliation` tables.

*When it fails:* there is a difference (see the table in the log). `reconcile_mode: "warn"` in
the settings makes differences a warning instead.
"""

    def execute(self, context: Context) -> dict[str, Any]:

        settings = self.load_settings()
        window = self.resolve_window(context, settings)
        ledger = self.open_ledger(settings)
        intacct = self.intacct_hook()
        # A preview compares only what was really posted: what it would post is not "missing".
        result = steps.reconcile(
            intacct, ledger, settings, window, context["run_id"], dry_run=self.preview
        )
        summary = result.summary() | {
            "ledger": ledger_summary(ledger, window),
            "preview": self.preview,
        }
        self.log.info(
            "\n%s",
            format_table(
                [
                    {
                        "day": d.posting_date.isoformat(),
                        "divvy": d.divvy_count,
                        "divvy_total": d.divvy_total,
                        "intacct": d.intacct_count,
                        "intacct_total": d.intacct_total,
                        "status": d.status,
                    }
                    for d in result.days
                    if d.divvy_count or d.intacct_count
                ],
                title="Reconciliation per posting day",
            ),
        )
        self.log.info("\n%s", format_table(summary["ledger"]["by_state"], title="Ledger"))
        waiting = would_post_rows(ledger, window, WAITING_STATES)
        self.log.info("\n%s", format_table(waiting, title="Held, unmapped or failed (and why)"))
        for diff in result.differences:
            self.log.warning("%s %s: %s", diff.posting_date, diff.kind, diff.detail)
        if result.shifts:
            # Closed periods: compared on the day posted; listed so totals tie back to Divvy's.
            self.log.info(
                "\n%s",
                format_table(
                    [
                        {
                            "divvy_uuid": s.uuid,
                            "purchased": s.purchase_date.isoformat(),
                            "posted": s.posted_date.isoformat(),
                            "amount": s.amount,
                        }
                        for s in result.shifts
                    ],
                    title="Re-dated: posted on the first open day (closed periods)",
                ),
            )
        if result.differences and settings.reconcile_mode == "fail":
            raise AirflowFailException(
                f"Divvy and Intacct differ on {len(result.differences)} record(s): "
                f"{result.summary()['differences']}. See the log for each one."
            )
        return summary


class IntacctRecodeOperator(SyncStepOperator):
    """Re-coding after posting: posted transactions Divvy changed since (sync/recoding.py)."""

    ledger_statements = recoding.STATEMENTS

    step_doc = """
**Recode.** Finds posted transactions whose coding (GL account, dimensions), amount or date
Divvy changed after they were posted, or that Divvy declined since. `recode_policy`
`reverse_and_repost` (default) reverses the Intacct record (on its own date when that period is
open, else on the day of the change) and posts the new version under the reference
`<uuid>:v2` (`:v3`…); a declined one is reversed only, and so is one deleted in Divvy (a
posted transaction of the window the extract no longer returned, for which Divvy's GET by id
answers 404; at most 100 are looked up per run, and none when more are missing).
`report_only` lists them and changes nothing. The ledger table `recoding` keeps each chain:
original → reversal → replacement.

*When it fails:* Intacct refused a reversal or a replacement (the log names it and why); the
next run resumes exactly where it stopped, never reversing twice.
"""

    def execute(self, context: Context) -> dict[str, Any]:
        from intacct_hook.sync.coding import StoredMapper
        from intacct_hook.sync.recoding import recode

        settings = self.load_settings()
        ledger = self.open_ledger(settings)
        intacct = self.intacct_hook()

        def coder() -> StoredMapper:
            # The map step's coder with Intacct's facts: read only when a posted one changed.
            facts = read_posting_facts(intacct, settings)
            return StoredMapper(
                _rules(settings),
                field_names=settings.custom_field_names,
                default_gl_account=settings.default_gl_account,
                **facts.coding_kwargs(),
            )

        # This run's extract completed for the window (this task runs after it): the posted
        # transactions of the window it did not land are looked up in Divvy (deleted there?).
        report = recode(
            intacct,
            ledger,
            settings,
            context["run_id"],
            mapper=coder,
            dry_run=self.preview,
            divvy=self.divvy_hook(),
            window=self.resolve_window(context, settings),
        )
        for line in report.warnings + report.left:
            self.log.warning("%s", line)
        summary = report.summary()
        for line in report.reposted + report.reversed:
            self.log.info("Re-posted after a change in Divvy: %s", line)
        if report.failures:
            # As the load does: the closed-period counts and dates stay readable in XCom when
            # the task fails under closed_period_policy 'fail'.
            context["ti"].xcom_push(key="closed_periods", value=summary.get("closed_periods"))
            raise AirflowFailException(
                f"{len(report.failures)} change(s) after posting could not be applied in "
                "Intacct; the next run resumes them:\n" + "\n".join(report.failures)
            )
        return summary
