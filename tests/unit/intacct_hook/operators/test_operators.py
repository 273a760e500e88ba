"""Each sync operator on its own: its templated fields, the pool the DAG gives it, and what it
hands the step. The steps are tested in ``unit/intacct_hook/sync``; the operators working
together in real Airflow in ``integration/e2e``. Here an operator's ``execute`` runs with a
minimal context, the settings Variable from the environment, a SQLite ledger and, where it
talks to Intacct, the in-memory Intacct of ``tests.fake_intacct``.
"""

from __future__ import annotations

import ast
import datetime as dt
import importlib.util
import inspect
import json
import pathlib
import re
import textwrap
from types import SimpleNamespace
from typing import Any

import pytest
from airflow.sdk import DAG
from airflow.sdk.exceptions import AirflowFailException

from intacct_hook.hooks.intacct import IntacctHook
from intacct_hook.hooks.read_only import ReadOnlyIntacctHook
from intacct_hook.operators import sync as ops
from intacct_hook.operators.base import SETTINGS_VARIABLE, SyncStepOperator
from intacct_hook.paths import sql_dir
from intacct_hook.sync import steps
from intacct_hook.sync.ledger import Ledger
from intacct_hook.sync.settings import SyncSettings
from tests.divvy_factories import txn_json
from tests.fake_intacct import DAY, FakeIntacct, LostAnswer, ready

ROOT = pathlib.Path(__file__).resolve().parents[4]
RUN_ID = "scheduled__2026-08-01T06:00:00+00:00"

OPERATORS = {
    "preflight": (ops.IntacctPreflightOperator, "run_preflight"),
    "extract": (ops.DivvyExtractOperator, "extract"),
    "stage": (ops.StageTransactionsOperator, "stage"),
    "map": (ops.MapTransactionsOperator, "map_transactions"),
    "load": (ops.IntacctLoadOperator, "load"),
    "recode": (ops.IntacctRecodeOperator, "recode"),
    "reconcile": (ops.IntacctReconcileOperator, "reconcile"),
    "receipts": (ops.IntacctReceiptsOperator, "attach_receipts"),
}


@pytest.fixture
def ledger_path(tmp_path, monkeypatch) -> pathlib.Path:
    """The settings Variable, as a deployment sets it, naming a fresh SQLite ledger."""
    path = tmp_path / "ledger.db"
    monkeypatch.setenv(
        f"AIRFLOW_VAR_{SETTINGS_VARIABLE.upper()}",
        json.dumps({"ledger_path": str(path), "timezone": "UTC", "batch_size": 2}),
    )
    return path


@pytest.fixture
def ledger(ledger_path) -> Ledger:
    led = Ledger.sqlite(ledger_path)
    led.ensure_schema()
    yield led
    led.engine.dispose()


def context(*, try_number: int = 1, conf: dict[str, Any] | None = None) -> dict[str, Any]:
    """What an operator reads of Airflow's context: the run, its day, the task attempt."""
    pushed: dict[str, Any] = {}
    start = dt.datetime.combine(DAY, dt.time(), dt.UTC)
    return {
        "run_id": RUN_ID,
        "params": {},
        "data_interval_start": start,
        "data_interval_end": start + dt.timedelta(days=1),
        "dag_run": SimpleNamespace(run_after=start + dt.timedelta(days=1), conf=conf or {}),
        "ti": SimpleNamespace(
            try_number=try_number, xcom_push=lambda key, value: pushed.update({key: value})
        ),
        "pushed": pushed,
    }


def built(cls: type[SyncStepOperator], ctx: dict[str, Any], **kwargs: Any) -> SyncStepOperator:
    """The operator as a DAG defines it, its templated fields rendered as a worker renders them
    (the ledger statements from the package's SQL folder, the DAG's ``template_searchpath``)."""
    with DAG("unit", schedule=None, template_searchpath=[str(sql_dir())]):
        operator = cls(task_id=cls.__name__, **kwargs)
    operator.render_template_fields(ctx)
    return operator


def with_intacct(operator: SyncStepOperator, intacct: Any) -> SyncStepOperator:
    # The operator's one way to Intacct; the fake satisfies what the steps ask of it.
    operator.intacct_hook = lambda **kwargs: intacct  # type: ignore[method-assign]
    return operator


# --- wiring -------------------------------------------------------------------------------------


@pytest.mark.parametrize("task_id", OPERATORS)
def test_templated_fields_are_the_connections_the_variable_and_each_ledger_statement(task_id):
    cls, _ = OPERATORS[task_id]
    operator = cls(task_id=task_id)
    sql_fields = [f"{name}_sql" for name in cls.ledger_statements]

    assert list(cls.template_fields) == [
        "settings_variable",
        "intacct_conn_id",
        "divvy_conn_id",
        *sql_fields,
    ]
    assert cls.template_fields_renderers == dict.fromkeys(sql_fields, "sql")
    for name in cls.ledger_statements:
        # Rendered from the package's SQL folder: the file must exist to be shown and run.
        assert getattr(operator, f"{name}_sql") == f"{name}.sql"
        assert (sql_dir() / f"{name}.sql").is_file(), name
    assert operator.doc_md == cls.step_doc and cls.step_doc.lstrip().startswith(
        f"**{task_id.title()}.**"
    )


def test_the_ledger_statements_are_the_ones_each_step_writes_with():
    assert {k: v[0].ledger_statements for k, v in OPERATORS.items()} == {
        "preflight": (),
        "extract": (
            "clear_run_landing",
            "clear_run_manifest",
            "land_transaction",
            "record_extracted",
        ),
        "stage": ("stage_transaction", "stage_payload", "stage_map_input", "clear_mapped_lines"),
        "map": ("update_mapping_state", "delete_mapped_lines", "insert_mapped_line"),
        "load": (
            "take_over_claims",
            "adopt_posted",
            "hold_posted_elsewhere",
            "claim_for_posting",
            "mark_posted",
            "mark_failed",
            "release_claim",
            "closed_period_hold",
            "closed_period_release",
            "closed_period_redate",
            "closed_period_annotate",
            "closed_period_unannotate",
        ),
        "recode": (
            "recoding_open",
            "recoding_reversed",
            "recoding_refused",
            "recoding_replaced",
            "recoding_waiting",
            "recoding_dates",
            "recoding_redated",
            "recoding_revised",
            "recode_transaction",
            "recode_reversed_transaction",
            "recode_unchanged",
            "recode_examined",
            "delete_mapped_lines",
            "insert_mapped_line",
        ),
        "reconcile": (
            "record_reconciliation",
            "delete_reconciliation_differences",
            "insert_reconciliation_difference",
            "purge_landing",
            "purge_extract_manifest",
        ),
        "receipts": ("record_receipt_attachment", "record_receipt_check"),
    }


def test_the_recode_step_shows_the_statements_its_domain_module_writes_with():
    from intacct_hook.sync.recoding import STATEMENTS

    assert ops.IntacctRecodeOperator.ledger_statements == STATEMENTS


def test_every_statement_that_writes_the_ledger_is_shown_by_the_step_that_runs_it():
    # What the Rendered Template tab shows is what runs: a new INSERT/UPDATE/DELETE file the
    # steps use must be one of their ledger statements (schema is applied by ensure_schema).
    listed = {name for cls, *_ in OPERATORS.values() for name in cls.ledger_statements}
    writes = {
        path.stem
        for path in sql_dir().glob("*.sql")
        if path.stem != "schema"
        and re.match(
            r"\s*(INSERT|UPDATE|DELETE)\b",
            re.sub(r"--[^\n]*", "", path.read_text(encoding="utf-8")),
            re.IGNORECASE,
        )
    }
    assert writes - listed == set()


def test_preview_is_fixed_when_the_dag_is_defined_not_a_template():
    assert "preview" not in ops.IntacctLoadOperator.template_fields
    with pytest.raises(TypeError, match="True or False"):
        ops.IntacctLoadOperator(task_id="load", preview="{{ params.preview }}")


def test_a_preview_step_talks_to_intacct_through_the_hook_that_refuses_writes():
    assert type(ops.IntacctLoadOperator(task_id="load", preview=True).intacct_hook()) is (
        ReadOnlyIntacctHook
    )
    assert type(ops.IntacctLoadOperator(task_id="load").intacct_hook()) is IntacctHook


def test_each_task_holds_the_pool_of_the_api_it_calls():
    # The pools are the DAG file's choice; the operators set none of their own.
    spec = importlib.util.spec_from_file_location("dag_file", ROOT / "dags/divvy_intacct_sync.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for dag in (module.sync, module.preview):
        assert {t.task_id: t.pool for t in dag.tasks} == {
            "preflight": "intacct_api",
            "extract": "divvy_api",
            "stage": "default_pool",
            "map": "intacct_api",
            "load": "intacct_api",
            "recode": "intacct_api",
            "reconcile": "intacct_api",
            # Mostly Divvy reads, but its writes go to Intacct, whose concurrency is the scarce one.
            "receipts": "divvy_api",
        }
        assert dag.get_task("load").max_active_tis_per_dag == 1
    assert ops.IntacctLoadOperator(task_id="load").pool == "default_pool"


@pytest.mark.parametrize("task_id", OPERATORS)
def test_each_execute_is_thin_one_call_of_its_step_and_no_loop_over_records(task_id):
    cls, step = OPERATORS[task_id]
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls.execute)))
    called = [
        n.func.attr if isinstance(n.func, ast.Attribute) else getattr(n.func, "id", None)
        for n in ast.walk(tree)
        if isinstance(n, ast.Call)
    ]
    assert called.count(step) == 1, called
    # Loops only over what the step returned, to log it; never over ledger rows or payloads.
    for loop in (n for n in ast.walk(tree) if isinstance(n, ast.For | ast.While)):
        assert isinstance(loop, ast.For), "no retry or polling loop in an operator"
        assert ast.unparse(loop.iter).startswith(("report", "result")), ast.unparse(loop.iter)


# --- what each operator hands its step ----------------------------------------------------------


def test_the_real_dag_refuses_a_run_that_asks_for_a_preview_before_anything_runs():
    asked = context(conf={"dry_run": True})
    with pytest.raises(AirflowFailException, match="dry_run=True"):
        ops.IntacctLoadOperator(task_id="load").refuse_preview_request(asked)
    ops.IntacctLoadOperator(task_id="load", preview=True).refuse_preview_request(asked)


def test_stage_stages_this_runs_landing_and_names_an_unreadable_record(ledger):
    ledger.land(RUN_ID, [{"transaction": txn_json(uuid="txr_a"), "children": []}])
    ledger.land("another-run", [{"transaction": txn_json(uuid="txr_other"), "children": []}])

    ctx = context()
    result = built(ops.StageTransactionsOperator, ctx).execute(ctx)

    assert result["inserted"] == 1 and result["by_state"] == {"ready": 1}
    assert ledger.states(["txr_a", "txr_other"]) == {"txr_a": "ready"}

    ledger.land(RUN_ID, [{"transaction": {"uuid": "txr_bad", "amount": "x"}, "children": []}])
    with pytest.raises(AirflowFailException, match="txr_bad"):
        built(ops.StageTransactionsOperator, ctx).execute(ctx)


def test_load_posts_through_the_step_and_returns_its_summary(ledger):
    ready(ledger, "txr_a", "txr_b", "txr_c")
    intacct = FakeIntacct()
    ctx = context()

    summary = with_intacct(built(ops.IntacctLoadOperator, ctx), intacct).execute(ctx)

    assert summary["posted"] == 3 and summary["preview"] is False
    assert [refs for kind, refs in intacct.events if kind == "record"] == [
        ("txr_a", "txr_b"),  # batch_size from the Variable
        ("txr_c",),
    ]
    # The fake gives no RECORD_URL, so no link is offered; closed periods have their own key.
    assert set(ctx["pushed"]) == {"closed_periods"}
    assert ctx["pushed"]["closed_periods"] == summary["closed_periods"]
    assert summary["closed_periods"]["policy"] == "fail"


def test_load_hands_the_step_the_task_attempt_so_a_retry_recovers_its_own_claims(ledger):
    ready(ledger, "txr_a")
    intacct = FakeIntacct()
    intacct.lose_answer_after_commit = True
    with pytest.raises(LostAnswer):
        steps.load(intacct, ledger, SyncSettings(timezone="UTC"), RUN_ID, try_number=1)
    intacct.lose_answer_after_commit = False

    ctx = context(try_number=2)
    summary = with_intacct(built(ops.IntacctLoadOperator, ctx), intacct).execute(ctx)

    # Attempt 2 of the same run takes its attempt 1's claim over at once (no lease wait).
    assert summary["resolved_unknown"] == 1
    assert intacct.sent() == ["txr_a"]
    assert ledger.states(["txr_a"]) == {"txr_a": "posted"}


def test_load_fails_the_task_naming_each_refused_record_after_posting_the_others(ledger):
    ready(ledger, "txr_a", "txr_b")
    intacct = FakeIntacct()
    intacct.refuse["txr_b"] = "BL03000130 The period is closed."

    ctx = context()
    with pytest.raises(AirflowFailException, match=r"txr_b: .*period is closed"):
        with_intacct(built(ops.IntacctLoadOperator, ctx), intacct).execute(ctx)
    assert ledger.states(["txr_a", "txr_b"]) == {"txr_a": "posted", "txr_b": "failed"}


def test_a_preview_load_is_a_dry_run_of_the_step(ledger):
    ready(ledger, "txr_a", "txr_b")
    intacct = FakeIntacct()

    ctx = context()
    operator = with_intacct(built(ops.IntacctLoadOperator, ctx, preview=True), intacct)
    summary = operator.execute(ctx)

    assert (summary["preview"], summary["would_post"], summary["posted"]) == (True, 2, 0)
    assert intacct.events == []
    assert ledger.states(["txr_a", "txr_b"]) == {"txr_a": "ready", "txr_b": "ready"}


def test_reconcile_fails_on_a_difference_unless_the_settings_say_warn(ledger, monkeypatch):
    ready(ledger, "txr_a", "txr_b")
    intacct = FakeIntacct()
    steps.load(intacct, ledger, SyncSettings(timezone="UTC"), RUN_ID)
    del intacct.records["txr_b"]  # e.g. deleted in Intacct by hand

    ctx = context()
    with pytest.raises(AirflowFailException, match="differ on 1 record"):
        with_intacct(built(ops.IntacctReconcileOperator, ctx), intacct).execute(ctx)

    monkeypatch.setenv(
        f"AIRFLOW_VAR_{SETTINGS_VARIABLE.upper()}",
        json.dumps(
            {
                "ledger_path": str(ledger.engine.url.database),
                "timezone": "UTC",
                "reconcile_mode": "warn",
            }
        ),
    )
    ctx = context()
    summary = with_intacct(built(ops.IntacctReconcileOperator, ctx), intacct).execute(ctx)
    assert summary["preview"] is False
    assert summary["differences"] == {"missing_in_intacct": 1}
    # The reconciliation is stored for this run.
    assert any(r["status"] != "matched" for r in ledger.reconciliations(RUN_ID))


def _accounts_variable(monkeypatch, tmp_path, accounts) -> None:
    monkeypatch.setenv(
        f"AIRFLOW_VAR_{SETTINGS_VARIABLE.upper()}",
        json.dumps({"ledger_path": str(tmp_path / "ledger.db"), "accounts": accounts}),
    )


def test_an_accounts_step_works_with_its_connections_entity_and_ledger(monkeypatch, tmp_path):
    from intacct_hook.sync.accounts import DivvyAccount

    west = {"name": "west", "intacct_conn_id": "intacct_west", "entity_id": "E200"}
    _accounts_variable(monkeypatch, tmp_path, [west | {"divvy_conn_id": "divvy_w"}])
    # As the DAG file builds it from the Variable it parsed.
    task = ops.IntacctLoadOperator(
        task_id="load", account=DivvyAccount("west", "divvy_w", "intacct_west", "E200")
    )
    assert (task.intacct_conn_id, task.divvy_conn_id, task.entity_id) == (
        "intacct_west",
        "divvy_w",
        "E200",
    )
    # The Variable changed since the parse: the step follows the Variable, not the parse.
    _accounts_variable(monkeypatch, tmp_path, [west | {"divvy_conn_id": "divvy_west2"}])
    settings = task.load_settings()
    assert settings.account.name == "west" and task.divvy_conn_id == "divvy_west2"
    assert task.intacct_hook()._entity_override == "E200"
    ledger = task.open_ledger(settings)
    try:
        assert pathlib.Path(ledger.engine.url.database) == tmp_path / "ledger.west.db"
    finally:
        ledger.engine.dispose()


def test_a_step_of_no_account_refuses_to_run_once_the_settings_list_accounts(monkeypatch, tmp_path):
    _accounts_variable(
        monkeypatch, tmp_path, [{"name": "east"}, {"name": "west", "card_account_id": "W"}]
    )
    task = ops.IntacctLoadOperator(task_id="load")
    task.dag = DAG("divvy_intacct_sync", schedule=None)
    with pytest.raises(
        AirflowFailException, match="divvy_intacct_sync__east, divvy_intacct_sync__west"
    ):
        task.load_settings()


def test_several_accounts_on_a_ledger_connection_that_is_not_postgresql_fail_at_once(
    monkeypatch, tmp_path
):
    monkeypatch.setenv("AIRFLOW_CONN_LEDGER_LITE", f"sqlite:///{tmp_path / 'shared.db'}")
    monkeypatch.setenv(
        f"AIRFLOW_VAR_{SETTINGS_VARIABLE.upper()}",
        json.dumps({"ledger_conn_id": "ledger_lite", "accounts": [{"name": "east"}]}),
    )
    from intacct_hook.sync.accounts import DivvyAccount

    task = ops.IntacctLoadOperator(task_id="load", account=DivvyAccount("east", "divvy_east"))
    with pytest.raises(AirflowFailException, match="'ledger_lite' is sqlite, but with several"):
        task.open_ledger(task.load_settings())
