"""Held-then-posted, foreign records, broken setup, a week's backfill, PostgreSQL, secrets."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from e2e_world import CARD, ROOT, SECRETS, logical_date_for, task_states, xcom

from intacct_hook.sync.ledger import Ledger

DAY = date(2026, 11, 17)


def test_unmapped_transaction_is_held_then_posted_once_a_rule_exists(world):
    mapped = world.add(DAY, 10.00)
    mystery = world.add(
        DAY, 7.25, gl=None, merchantName="Mystery Vendor", merchantCategoryCode="7399"
    )

    first = world.run_day(DAY)

    assert first.state == "success", task_states(first)
    assert [r["RECORDID"] for r in world.records()] == [mapped["uuid"]]
    assert xcom(first, "map")["unmapped"] == 1
    [row] = world.ledger().select_in_state(["unmapped"])
    assert (
        row.uuid == mystery["uuid"] and "no rule in mapping_rules.csv matches" in row.state_reason
    )

    with world.rules_path.open("a") as rules:
        rules.write("merchant,Mystery Vendor,6900,,,,,Added after the first run\n")
    lines = world.rules_path.read_text().splitlines()
    second = world.run_day(DAY)

    assert second.state == "success", task_states(second)
    records = {r["RECORDID"]: r for r in world.records()}
    assert set(records) == {mapped["uuid"], mystery["uuid"]}
    assert records[mystery["uuid"]]["lines"][0]["ACCOUNTNO"] == "6900"
    [line] = world.ledger().mapped_lines([mystery["uuid"]])[mystery["uuid"]]
    assert line.gl_account_rule == f"mapping_rules.csv line {len(lines)}"
    assert line.location_rule == "card default location"


def test_a_record_posted_by_someone_else_is_caught_by_reconcile(world):
    ours = world.add(DAY, 10.00)
    world.gw.add_cctransaction(
        card_id=CARD,
        date=DAY,
        reference_no="MANUAL-42",
        lines=[{"ACCOUNTNO": "6100", "AMOUNT": "42.00", "LOCATIONID": "100"}],
    )

    dr = world.run_day(DAY)

    states = task_states(dr)
    assert dr.state == "failed" and states["load"] == "success" and states["reconcile"] == "failed"
    [diff] = world.ledger().reconciliation_differences(dr.run_id)
    assert (diff["kind"], diff["divvy_uuid"]) == ("extra_in_intacct", "MANUAL-42")
    [recon] = [r for r in world.ledger().reconciliations(dr.run_id) if r["posting_date"] == DAY]
    assert (recon["divvy_count"], recon["intacct_count"], recon["status"]) == (1, 2, "differs")
    assert ours["uuid"] in {r["RECORDID"] for r in world.records()}

    world.configure(reconcile_mode="warn")
    assert world.run_day(DAY).state == "success"


def test_broken_setup_stops_the_run_before_anything_is_posted(world, capfd):
    world.add(DAY, 10.00)
    with world.gw.state.lock:
        world.gw.state.companies["ACME-DEMO"].authorized_senders.clear()

    dr = world.run_day(DAY)

    states = task_states(dr)
    assert states["preflight"] == "failed"
    assert {states[t] for t in ("extract", "stage", "map", "load", "recode", "reconcile")} == {
        "upstream_failed"
    }
    assert world.records() == []
    out = capfd.readouterr().out
    assert "setup.sender_authorized" in out
    assert "Web Services authorizations: add the sender ID 'bill.com'" in out


def test_closed_period_fails_that_record_only_and_posts_the_rest(world):
    with world.gw.state.lock:
        for row in world.gw.state.companies["ACME-DEMO"].objects["BOOKSCLOSED"]:
            row["CLOSEDTHROUGH"] = "11/16/2026"
    closed = world.add(DAY - timedelta(days=1), 5.00)
    open_ = world.add(DAY, 6.00)

    dr = world.run_day(DAY)

    assert task_states(dr)["load"] == "failed"
    assert [r["RECORDID"] for r in world.records()] == [open_["uuid"]]
    [failed] = world.ledger().select_in_state(["failed"])
    assert failed.uuid == closed["uuid"] and "closed period" in failed.last_error

    # The controller reopens November; the next run retries it with a new control ID.
    with world.gw.state.lock:
        for row in world.gw.state.companies["ACME-DEMO"].objects["BOOKSCLOSED"]:
            row["CLOSEDTHROUGH"] = "10/31/2026"
    again = world.run_day(DAY)
    assert again.state == "success", task_states(again)
    assert {r["RECORDID"] for r in world.records()} == {open_["uuid"], closed["uuid"]}
    [row] = [r for r in world.ledger().select_in_state(["posted"]) if r.uuid == closed["uuid"]]
    assert row.control_id == f"divvy-{closed['uuid']}#2"


def test_a_week_backfill_day_by_day_posts_each_transaction_once(world):
    from sandbox.divvy_api.generator import generate_week

    week = generate_week(date(2026, 11, 16), days=7, seed=11, per_day=12)
    # Parents before split children: the sandbox links a child to an existing parent.
    for row in sorted(week["transactions"], key=lambda t: bool(t.get("parentTransactionUuid"))):
        world.dv.state.add_transaction(row, bump=False)
    days = [date(2026, 11, 16) + timedelta(days=n) for n in range(7)]

    # A re-run of the same logical date re-uses its DAG run, so read each run's XCom at once.
    results = []
    for day in [*days, days[3]]:  # one day re-run after the backfill
        dr = world.run_day(day)
        results.append((dr.state, xcom(dr, "reconcile"), xcom(dr, "load")))

    assert [state for state, _, _ in results] == ["success"] * 8
    assert all(rec["matched"] for _, rec, _ in results)
    assert results[-1][2]["posted"] == 0
    refs = [r["RECORDID"] for r in world.records()]
    assert len(refs) == len(set(refs)) > 20
    assert sum(load["posted"] for _, _, load in results) == len(refs)
    assert {r.uuid for r in world.ledger().select_in_state(["posted"])} == set(refs)


@pytest.mark.postgres
def test_the_ledger_on_postgresql(world, pg_ledger_url):
    world.configure(ledger_conn_id="ledger_pg")
    charge = world.add(DAY, 10.00)
    refund = world.add(DAY, -2.50)

    first = world.run_day(DAY)
    second = world.run_day(DAY)

    assert (first.state, second.state) == ("success", "success")
    assert xcom(second, "load")["posted"] == 0
    ledger = Ledger.from_url(pg_ledger_url)
    try:
        posted = {r.uuid: r.amount for r in ledger.select_in_state(["posted"])}
    finally:
        ledger.engine.dispose()
    assert {k: str(v) for k, v in posted.items()} == {
        charge["uuid"]: "10.00",
        refund["uuid"]: "-2.50",
    }
    assert not world.ledger_path.exists()  # nothing went to the SQLite default


def test_no_secret_in_xcom_rendered_fields_or_logs(world, capfd):
    world.add(DAY, 10.00)
    world.add(DAY, 5.00, gl="7777")

    dr = world.run_day(DAY)

    assert dr.state == "success", task_states(dr)
    from airflow.models.renderedtifields import RenderedTaskInstanceFields as RTIF
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        xcoms = [
            XComModel.deserialize_value(x)
            for x in session.scalars(XComModel.get_many(run_id=dr.run_id, dag_ids=dr.dag_id))
        ]
        rendered = [
            r.rendered_fields
            for r in session.query(RTIF).filter(RTIF.dag_id == dr.dag_id, RTIF.run_id == dr.run_id)
        ]
    blob = json.dumps([xcoms, rendered], default=str) + capfd.readouterr().out
    assert xcoms and rendered
    for secret in SECRETS:
        assert secret not in blob
    # XComs are small: counts and totals, never payloads.
    assert all(len(json.dumps(x, default=str)) < 20_000 for x in xcoms)
    assert "rawMerchantName" not in json.dumps(xcoms, default=str)


def test_ledger_sql_is_rendered_from_include_sql(world):
    world.add(DAY, 10.00)
    dr = world.run_day(DAY)
    from airflow.models.renderedtifields import RenderedTaskInstanceFields as RTIF
    from airflow.utils.session import create_session

    from intacct_hook.operators import sync as ops

    with create_session() as session:
        fields = {
            r.task_id: r.rendered_fields
            for r in session.query(RTIF).filter(RTIF.dag_id == dr.dag_id, RTIF.run_id == dr.run_id)
        }
    stage = fields["stage"]["stage_transaction_sql"]
    assert "INSERT INTO divvy_transaction" in stage and "ON CONFLICT (uuid) DO UPDATE" in stage
    assert "SET state = 'posting'" in fields["load"]["claim_for_posting_sql"]
    assert "INSERT INTO reconciliation" in fields["reconcile"]["record_reconciliation_sql"]
    # One field per statement, each shown whole (Airflow truncates a long rendered field).
    tasks = {"extract": ops.DivvyExtractOperator, "stage": ops.StageTransactionsOperator,
             "map": ops.MapTransactionsOperator, "load": ops.IntacctLoadOperator,
             "reconcile": ops.IntacctReconcileOperator}  # fmt: skip
    for task_id, cls in tasks.items():
        for name in cls.ledger_statements:
            text = (ROOT / "include/sql" / f"{name}.sql").read_text()
            assert fields[task_id][f"{name}_sql"].strip() == text.strip(), (task_id, name)


def test_every_tasks_rendered_template_tab_shows_text_never_an_empty_value(world):
    # Preflight writes no ledger statement; its tab once showed a bare "{}" (an empty
    # ledger_sql dict, before each statement became its own field). It names the Variable and
    # the connections it used, like every task, and nothing empty.
    world.add(DAY, 10.00)
    dr = world.run_day(DAY)
    from airflow.models.renderedtifields import RenderedTaskInstanceFields as RTIF
    from airflow.utils.session import create_session

    with create_session() as session:
        fields = {
            r.task_id: r.rendered_fields
            for r in session.query(RTIF).filter(RTIF.dag_id == dr.dag_id, RTIF.run_id == dr.run_id)
        }
    assert set(fields) == {
        "preflight",
        "extract",
        "stage",
        "map",
        "load",
        "recode",
        "reconcile",
        "receipts",
    }
    for task_id, rendered in fields.items():
        for name, value in rendered.items():
            assert isinstance(value, str) and value.strip(), (task_id, name, value)
            assert value.strip() not in ("{}", "[]", "None"), (task_id, name, value)
    assert fields["preflight"] == {
        "settings_variable": "divvy_intacct_settings",
        "intacct_conn_id": "intacct_default",
        "divvy_conn_id": "divvy_default",
    }


def test_logical_date_helper_points_at_the_right_interval(world):
    dr = world.run_day(DAY)
    window = xcom(dr, "extract")["window"]
    assert (window["first_day"], window["last_day"], window["source"]) == (
        DAY.isoformat(),
        DAY.isoformat(),
        "data_interval",
    )
    # The run for Nov 17 is dated Nov 17: local midnight starting it.
    assert logical_date_for(DAY).isoformat() == "2026-11-17T00:00:00-06:00"


def test_a_malformed_divvy_record_fails_alone_named_and_the_rest_is_staged(world, capfd):
    good = world.add(DAY, 10.00)
    bad = world.add(DAY, 4.00)
    with world.dv.state.lock:  # Divvy sends something no accounting sync can post
        world.dv.state.transactions[bad["uuid"]]["amount"] = 4.005

    dr = world.run_day(DAY)

    states = task_states(dr)
    assert states["extract"] == "success" and states["stage"] == "failed"
    out = capfd.readouterr().out
    assert bad["uuid"] in out and "fractions of a cent" in out
    staged = {r.uuid for r in world.ledger().select_in_state(["ready"])}
    assert good["uuid"] in staged and bad["uuid"] not in staged


def test_bad_data_fails_alone_and_everything_else_posts(world):
    good = world.add(DAY, 10.00)
    dirty = world.add(DAY, 12.00, merchantName="Sta\x00ples\x0b" + "S" * 10_000, note="a\ud800b")
    huge = world.add(DAY, 1e26)
    euro = world.add(
        DAY,
        53.03,
        currencyData={
            "exponent": 2,
            "originalCurrencyAmount": "4500",
            "originalCurrencyCode": "EUR",
        },
    )

    dr = world.run_day(DAY)

    assert dr.state == "success", task_states(dr)
    records = {r["RECORDID"]: r for r in world.records()}
    assert set(records) == {good["uuid"], dirty["uuid"]}
    payee = records[dirty["uuid"]]["PAYEE"]
    assert payee.startswith("Sta ples SSS") and len(payee) == 80 and payee.endswith("…")
    held = {r.uuid: r.state_reason for r in world.ledger().select_in_state(["held"])}
    assert set(held) == {huge["uuid"], euro["uuid"]}
    assert "'amount'" in held[huge["uuid"]] and "allow_foreign_currency" in held[euro["uuid"]]
    assert xcom(dr, "stage")["held_bad_data"] == 1

    world.configure(allow_foreign_currency=True)
    again = world.run_day(DAY)

    assert again.state == "success", task_states(again)
    posted = {r["RECORDID"]: r for r in world.records()}[euro["uuid"]]
    assert posted["TOTALENTERED"] == "53.03"
    assert posted["lines"][0]["DESCRIPTION"].endswith("45.00 EUR")
