"""Several Divvy accounts in one deployment (issue 11, part 5), through real Airflow.

Two Divvy accounts, each its own local Divvy API, post into one Intacct company on their own
cards: ``east`` with the default connections' card and the card's default location, ``west``
through its own Intacct connection, entity and card, with its own default location. The DAG
file builds one set of DAGs per account; both run for the same day (so under the same run id).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from e2e_world import World, empty_divvy_seed, logical_date_for, task_states, xcom

from intacct_hook.sync.ledger import Ledger
from sandbox.divvy_api.testing import running_divvy
from sandbox.intacct_gateway.testing import default_connection

DAY = date(2026, 11, 17)
EAST_CARD, WEST_CARD = "Divvy CC Object", "Divvy CC West"
EAST_SYNC, WEST_SYNC = "divvy_intacct_sync__east", "divvy_intacct_sync__west"
ACCOUNTS = [
    {"name": "east", "divvy_conn_id": "divvy_east"},
    {
        "name": "west",
        "divvy_conn_id": "divvy_west",
        "intacct_conn_id": "intacct_west",
        # The connection names an entity that does not exist: only the account's is used.
        "entity_id": "E100",
        "card_account_id": WEST_CARD,
        "default_location": "300",
    },
]


def _divvy_connection(dv: Any, token: str | None = None) -> str:
    return json.dumps(
        {
            "conn_type": "divvy",
            "host": dv.url,
            "password": token or dv.token,
            "extra": {"timeout": 10, "rate_limit_window": 1},
        }
    )


def _add_west_card(world: World) -> None:
    """A second credit card object, as the setup guide's step 7 makes one per Divvy account."""
    with world.gw.state.lock:
        cards = world.gw.state.companies["ACME-DEMO"].records("CREDITCARD")
        west = dict(cards[0], CARDID=WEST_CARD, DESCRIPTION="Divvy West cards", LOCATION="200")
        cards.append(west)


@pytest.fixture
def west(world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """The second account's Divvy API (``world`` is the first's); both accounts configured."""
    seed = empty_divvy_seed()
    # Another Divvy account: its own API token (preflight refuses two accounts on one token).
    seed["tokens"] = [dict(t, token=f"{t['token']}-west") for t in seed["tokens"]]
    with running_divvy(seed, calls_per_minute=100_000) as dv:
        _add_west_card(world)
        monkeypatch.setenv("AIRFLOW_CONN_DIVVY_EAST", _divvy_connection(world.dv))
        monkeypatch.setenv("AIRFLOW_CONN_DIVVY_WEST", _divvy_connection(dv))
        monkeypatch.setenv(
            "AIRFLOW_CONN_INTACCT_WEST",
            json.dumps(default_connection(world.gw.url, entity_id="E999")),
        )
        world.configure(accounts=ACCOUNTS)
        yield World(world.gw, dv, world.tmp, monkeypatch)


def _on_card(world: World, card: str) -> dict[str, dict[str, Any]]:
    return {r["RECORDID"]: r for r in world.records() if r["FINANCIALENTITY"] == card}


def _run(world: World, dag_id: str) -> Any:
    return world.run(logical_date=logical_date_for(DAY), dag_id=dag_id)


def test_each_account_has_its_own_dags_and_nothing_else(world, west):
    from airflow.dag_processing.dagbag import DagBag
    from e2e_world import ROOT

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert bag.import_errors == {}
    assert set(bag.dag_ids) == {
        f"divvy_intacct_{kind}__{name}"
        for kind in ("sync", "preview", "dimensions")
        for name in ("east", "west")
    }
    load = bag.get_dag(WEST_SYNC).get_task("load")
    # What the Rendered Template tab shows: the account's own connections.
    assert (load.intacct_conn_id, load.divvy_conn_id) == ("intacct_west", "divvy_west")
    # Both share the Intacct pool (one slot: one caller into the company at a time).
    assert {bag.get_dag(d).get_task("load").pool for d in (EAST_SYNC, WEST_SYNC)} == {"intacct_api"}
    assert "account:west" in bag.get_dag(WEST_SYNC).tags


def test_two_accounts_post_on_their_own_cards_into_their_own_ledgers(world, west):
    e1, e2 = world.add(DAY, 10.00), world.add(DAY, -2.50)
    w1 = west.add(DAY, 33.00, gl="6300")

    east_run, west_run = _run(world, EAST_SYNC), _run(world, WEST_SYNC)

    assert (east_run.state, west_run.state) == ("success", "success"), (
        task_states(east_run),
        task_states(west_run),
    )
    # The same day, so the same run id in both DAGs: their ledgers cannot collide.
    assert east_run.run_id == west_run.run_id
    east_records, west_records = _on_card(world, EAST_CARD), _on_card(world, WEST_CARD)
    assert set(east_records) == {e1["uuid"], e2["uuid"]}
    assert set(west_records) == {w1["uuid"]}
    # Lines without a mapped location: the card's default for east, the account's for west.
    assert {line["LOCATIONID"] for r in east_records.values() for line in r["lines"]} == {"100"}
    assert [line["LOCATIONID"] for line in west_records[w1["uuid"]]["lines"]] == ["300"]
    assert xcom(west_run, "preflight")["card_default_location"] == "300"
    for run in (east_run, west_run):
        assert xcom(run, "reconcile")["matched"], xcom(run, "reconcile")
    # Each account's ledger holds its own transactions only; the single-account file is unused.
    east_ledger = Ledger.sqlite(world.tmp / "ledger.east.db", create=False)
    west_ledger = Ledger.sqlite(world.tmp / "ledger.west.db", create=False)
    assert {r.uuid for r in east_ledger.select_in_state(["posted"])} == {e1["uuid"], e2["uuid"]}
    assert {r.uuid for r in west_ledger.select_in_state(["posted"])} == {w1["uuid"]}
    # Each line says where its location came from: the card's default, or the account's.
    [east_line] = east_ledger.mapped_lines([e1["uuid"]])[e1["uuid"]]
    [west_line] = west_ledger.mapped_lines([w1["uuid"]])[w1["uuid"]]
    assert (east_line.location_rule, west_line.location_rule) == (
        "card default location",
        "setting default_location",
    )
    assert not world.ledger_path.exists()

    # A second run of each changes nothing.
    again = [_run(world, EAST_SYNC), _run(world, WEST_SYNC)]
    assert [r.state for r in again] == ["success", "success"]
    assert [xcom(r, "load")["posted"] for r in again] == [0, 0]
    assert len(world.records()) == 3


def test_one_accounts_failure_never_blocks_another(world, west, monkeypatch):
    e1 = world.add(DAY, 10.00)
    west.add(DAY, 20.00)
    # West's Divvy token is revoked: its run fails; east is not concerned.
    monkeypatch.setenv("AIRFLOW_CONN_DIVVY_WEST", _divvy_connection(west.dv, "revoked-token"))

    west_run = _run(world, WEST_SYNC)
    east_run = _run(world, EAST_SYNC)

    assert west_run.state == "failed"
    assert task_states(west_run)["preflight"] == "failed"  # it reads Divvy's custom fields
    assert east_run.state == "success", task_states(east_run)
    assert set(_on_card(world, EAST_CARD)) == {e1["uuid"]}
    assert _on_card(world, WEST_CARD) == {}

    # West fixed: it catches up on its own; east posts nothing again.
    monkeypatch.setenv("AIRFLOW_CONN_DIVVY_WEST", _divvy_connection(west.dv))
    assert _run(world, WEST_SYNC).state == "success"
    assert len(_on_card(world, WEST_CARD)) == 1 and len(_on_card(world, EAST_CARD)) == 1


def test_an_account_dag_left_over_from_an_older_variable_fails_clearly(world, west):
    # The Variable no longer lists west, but its DAG was parsed before: its run reads nothing.
    bag_dag = _parsed(WEST_SYNC)
    world.configure(accounts=ACCOUNTS[:1])
    run = bag_dag.test(run_after=_runs_at(DAY), logical_date=logical_date_for(DAY), run_conf=None)
    assert run.state == "failed"
    assert task_states(run)["preflight"] == "failed"
    assert world.records() == []


@pytest.mark.postgres
def test_the_accounts_share_one_postgresql_ledger_each_in_its_schema(world, west, pg_ledger_url):
    import sqlalchemy as sa

    url = pg_ledger_url
    ledgers: list[Ledger] = []
    try:
        world.configure(accounts=ACCOUNTS, ledger_conn_id="ledger_pg")
        e1 = world.add(DAY, 10.00)
        w1 = west.add(DAY, 20.00)

        runs = [_run(world, EAST_SYNC), _run(world, WEST_SYNC)]
        again = [_run(world, EAST_SYNC), _run(world, WEST_SYNC)]

        assert [r.state for r in runs + again] == ["success"] * 4
        assert [xcom(r, "load")["posted"] for r in again] == [0, 0]
        for schema, expected in (("divvy_intacct_east", e1), ("divvy_intacct_west", w1)):
            ledger = Ledger.from_url(url, schema=schema)
            ledgers.append(ledger)
            assert [r.uuid for r in ledger.select_in_state(["posted"])] == [expected["uuid"]]
        # Nothing in the database's default schema: no statement ran outside an account's.
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            public = conn.execute(
                sa.text(
                    "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
                )
            ).scalar()
        engine.dispose()
        assert public == 0
        assert not any(world.tmp.glob("ledger*.db"))
    finally:
        for ledger in ledgers:
            ledger.engine.dispose()


def _parsed(dag_id: str) -> Any:
    from airflow.dag_processing.dagbag import DagBag
    from e2e_world import ROOT

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert bag.import_errors == {}
    return bag.get_dag(dag_id)


def _runs_at(day: date) -> Any:
    from e2e_world import TZ

    from intacct_hook.timetables import LocalDayTimetable

    timetable = LocalDayTimetable(TZ)
    return timetable.runs_at(timetable.day_of(logical_date_for(day)))


def test_a_bad_variable_never_drops_dags_silently(world, west, capfd):
    from airflow.dag_processing.dagbag import DagBag
    from e2e_world import ROOT

    # One entry cannot be read: the other accounts keep their DAGs (a DAG file that fails to
    # import would have every DAG of it marked stale, its schedule stopped without an alert),
    # and a DAG that fails until the Variable is fixed says what is missing.
    world.configure(accounts=[{"name": "East"}, ACCOUNTS[1]])
    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert bag.import_errors == {}
    assert set(bag.dag_ids) == {
        "divvy_intacct_sync__west",
        "divvy_intacct_preview__west",
        "divvy_intacct_dimensions__west",
        "divvy_intacct_settings_invalid",
    }
    check = bag.get_dag("divvy_intacct_settings_invalid")
    assert check.is_paused_upon_creation is False  # it alerts from its first day
    run = world.run(logical_date=logical_date_for(DAY), dag_id="divvy_intacct_settings_invalid")
    assert run.state == "failed"
    assert "accounts[0].name must be 1-30 lower-case letters" in capfd.readouterr().out
    # The Variable is not JSON at all: the single-account DAGs are built (their first task
    # fails naming the problem: nothing is read or posted), and the check DAG fails too.
    world.monkeypatch.setenv("AIRFLOW_VAR_DIVVY_INTACCT_SETTINGS", '{"accounts": [,]}')
    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert "divvy_intacct_settings_invalid" in bag.dag_ids
    run = world.run(logical_date=logical_date_for(DAY))
    assert run.state == "failed"
    assert task_states(run)["preflight"] == "failed"
    assert world.records() == []
    # Fixed: the check DAG is gone at the next parse.
    world.configure(accounts=ACCOUNTS)
    assert "divvy_intacct_settings_invalid" not in DagBag(dag_folder=str(ROOT / "dags")).dag_ids


def test_one_accounts_bad_setting_stops_that_account_only(world, west, capfd):
    e1 = world.add(DAY, 10.00)
    west.add(DAY, 20.00)
    world.configure(accounts=[ACCOUNTS[0], {**ACCOUNTS[1], "lookback_days": "five"}])

    west_run, east_run = _run(world, WEST_SYNC), _run(world, EAST_SYNC)

    assert (west_run.state, east_run.state) == ("failed", "success"), task_states(east_run)
    assert set(_on_card(world, EAST_CARD)) == {e1["uuid"]} and _on_card(world, WEST_CARD) == {}
    out = capfd.readouterr().out
    assert "accounts[west]: 'lookback_days' must be a whole number" in out
    # East's preflight says it, as a warning that does not stop east.
    assert "Another Divvy account's settings are invalid (this account is not affected)" in out


def test_moving_to_accounts_on_a_new_card_never_posts_a_transaction_twice(world, west):
    # A single-account deployment posts on the setup guide's card ...
    world.configure()
    before = world.add(DAY, 10.00)
    assert world.run(logical_date=logical_date_for(DAY)).state == "success"
    # ... then lists its Divvy account as 'east' on a card of its own, with a new ledger (the
    # README says to keep the old one; this is the mistake it warns about).
    with world.gw.state.lock:
        cards = world.gw.state.companies["ACME-DEMO"].records("CREDITCARD")
        cards.append(dict(cards[0], CARDID="Divvy CC East"))
    world.configure(accounts=[{**ACCOUNTS[0], "card_account_id": "Divvy CC East"}, ACCOUNTS[1]])
    after = world.add(DAY, 5.00)

    run = _run(world, EAST_SYNC)

    # The new one is posted on the new card; the old one is found on the old card and held
    # with the reason, not posted a second time.
    assert set(_on_card(world, "Divvy CC East")) == {after["uuid"]}
    assert set(_on_card(world, EAST_CARD)) == {before["uuid"]}
    assert xcom(run, "load")["held_elsewhere"] == 1
    east = Ledger.sqlite(world.tmp / "ledger.east.db", create=False)
    held = {r.uuid: r.state_reason for r in east.select_in_state(["held"])}
    assert list(held) == [before["uuid"]]
    assert "on the credit card account 'Divvy CC Object'" in held[before["uuid"]]
    # A second run holds it again and posts nothing.
    assert xcom(_run(world, EAST_SYNC), "load")["posted"] == 0
    assert len(world.records()) == 2


def test_an_accounts_wrong_entity_is_named_where_it_is_set(world, west, capfd):
    world.configure(accounts=[ACCOUNTS[0], {**ACCOUNTS[1], "entity_id": "E404"}])

    run = _run(world, WEST_SYNC)

    assert task_states(run)["preflight"] == "failed"
    out = capfd.readouterr().out
    assert "Sign-in into entity 'E404' (accounts[west].entity_id in the settings) failed" in out
    # The fix is the account's key; the shared connection is left alone.
    assert "copy the Entity ID of this Divvy account into accounts[west].entity_id" in out


def test_an_accounts_preview_writes_nothing_and_reads_its_own_divvy(world, west):
    west.add(DAY, 20.00)
    world.add(DAY, 10.00)

    run = _run(world, "divvy_intacct_preview__west")

    assert run.state == "success", task_states(run)
    load = xcom(run, "load")
    assert (load["would_post"], load["would_post_total"]) == (1, "20.00")  # west's only
    assert world.records() == []


def test_two_accounts_reading_one_divvy_account_through_two_connections_post_once(
    world, west, monkeypatch, capfd
):
    # West's connection is another id holding east's token (the same Divvy account): the
    # settings cannot see it; preflight compares the tokens' hashes.
    monkeypatch.setenv("AIRFLOW_CONN_DIVVY_WEST", _divvy_connection(world.dv))
    e1 = world.add(DAY, 10.00)

    east_run, west_run = _run(world, EAST_SYNC), _run(world, WEST_SYNC)

    assert east_run.state == "success", task_states(east_run)  # listed first: goes on
    assert task_states(west_run)["preflight"] == "failed"  # listed later: stops
    assert set(_on_card(world, EAST_CARD)) == {e1["uuid"]} and _on_card(world, WEST_CARD) == {}
    out = capfd.readouterr().out
    assert "The accounts 'east' and 'west' read Divvy with the same API token" in out
    assert world.dv.token not in out


def test_the_same_card_is_refused_whether_the_entity_is_named_or_inherited(world, west):
    # West names entity E100 (east inherits it from intacct_default) and east's card.
    world.configure(
        accounts=[ACCOUNTS[0], {**ACCOUNTS[1], "card_account_id": EAST_CARD, "entity_id": "E100"}]
    )
    world.monkeypatch.setenv(
        "AIRFLOW_CONN_INTACCT_WEST", json.dumps(default_connection(world.gw.url))
    )
    e1 = world.add(DAY, 10.00)

    east_run, west_run = _run(world, EAST_SYNC), _run(world, WEST_SYNC)

    assert east_run.state == "success", task_states(east_run)
    assert task_states(west_run)["preflight"] == "failed"
    assert set(_on_card(world, EAST_CARD)) == {e1["uuid"]}
