"""Intacct dimensions → Divvy custom fields, through real Airflow (``dag.test()``) against both
sandboxes: a dry run writes nothing, a run makes Divvy match, a second run changes nothing, and
after Intacct changes (a rename, a record made inactive, a new record) the next run renames,
retires and creates exactly that. The DAG uses no ledger."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from e2e_world import SECRETS, World, log_records, task_states, xcom

DAG_ID = "divvy_intacct_dimensions"
PUSH_TASKS = [f"push_{d}" for d in ("gl_account", "location", "department", "class", "project")]
CLOCK = datetime(2026, 11, 18, 11, tzinfo=UTC)


def divvy_values(world: World, field: str, *, retired: bool = False) -> list[str]:
    state = world.dv.state
    with state.lock:
        cfield = next((f for f in state.custom_fields.values() if f["name"] == field), None)
        if cfield is None:
            return []
        rows = state.custom_field_values[cfield["uuid"]]
        return sorted(v["value"] for v in rows if v["deleted"] == retired)


def writes(world: World) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in world.dv.requests if r.method != "GET"]


def run(world: World, n: int, **conf: Any) -> Any:
    dr = world.run(logical_date=None, run_after=CLOCK + timedelta(minutes=n), dag_id=DAG_ID,
                   conf=conf or None)  # fmt: skip
    assert dr.state == "success", task_states(dr)
    return dr


def counts(dr: Any) -> dict[str, dict[str, int]]:
    return {t: xcom(dr, t)["counts"] for t in PUSH_TASKS}


def intacct_row(world: World, obj: str, key: str, value: str) -> dict[str, str]:
    return world.gw.state.companies["ACME-DEMO"].find(obj, key, value)


def test_dimension_push_dry_run_then_match_then_nothing_then_changes(world: World, capfd) -> None:
    # Divvy has no "Class" field yet; its projects carry old names; "7777 - Unknown" was typed
    # by hand (no such Intacct account).
    state = world.dv.state
    with state.lock:
        cls = next(u for u, f in state.custom_fields.items() if f["name"] == "Class")
        del state.custom_fields[cls]
    before = {f: divvy_values(world, f) for f in ("GL Account", "Location", "Project")}

    dry = run(world, 0, dry_run=True)
    assert writes(world) == []  # nothing written
    assert {f: divvy_values(world, f) for f in before} == before
    planned = xcom(dry, "push_project")
    assert planned["dry_run"] is True and planned["applied"] is False
    assert [(c["action"], c.get("old"), c["value"]) for c in planned["changes"]] == [
        ("rename", "P-100 - Website", "P-100 - Website Relaunch"),
        ("rename", "P-200 - Mobile App", "P-200 - Client Onboarding"),
    ]
    assert xcom(dry, "push_class")["counts"]["create_field"] == 1
    assert xcom(dry, "report")["dry_run"] is True

    first = run(world, 1)
    assert counts(first)["push_class"] == {
        "create_field": 1, "create": 2, "rename": 0, "retire": 0, "unchanged": 0,
    }  # fmt: skip
    assert counts(first)["push_project"]["rename"] == 2
    assert counts(first)["push_gl_account"] == {
        "create_field": 0, "create": 0, "rename": 0, "retire": 0, "unchanged": 8,
    }  # fmt: skip
    gl = xcom(first, "push_gl_account")
    assert gl["unmatched"] == ["7777 - Unknown"]
    assert divvy_values(world, "Class") == ["C1 - Core", "C2 - Growth"]
    assert divvy_values(world, "Project") == [
        "P-100 - Website Relaunch", "P-200 - Client Onboarding",
    ]  # fmt: skip
    # The sandbox offers no PATCH of a value by default: renamed by create + retire.
    assert divvy_values(world, "Project", retired=True) == ["P-100 - Website", "P-200 - Mobile App"]
    # 2150 (the card's offset account, balance sheet) is never offered; 7777 stays.
    assert "7777 - Unknown" in divvy_values(world, "GL Account")
    assert not any(v.startswith("2150") for v in divvy_values(world, "GL Account"))

    n_writes = len(writes(world))
    second = run(world, 2)
    assert len(writes(world)) == n_writes  # a second run changes nothing
    assert all(
        sum(v for k, v in c.items() if k != "unchanged") == 0 for c in counts(second).values()
    ), counts(second)
    assert xcom(second, "report")["totals"]["unchanged"] == 8 + 3 + 3 + 2 + 2

    # A past transaction coded with the location about to be retired keeps its value.
    txn = world.add(datetime(2026, 11, 16).date(), 12.0, customFields={
        "GL Account": "6100 - Office Supplies", "Location": "300 - Field Office",
    })  # fmt: skip
    with world.gw.state.lock:
        intacct_row(world, "DEPARTMENT", "DEPARTMENTID", "20")["TITLE"] = "Engineering & IT"
        intacct_row(world, "LOCATION", "LOCATIONID", "300")["STATUS"] = "inactive"
        world.gw.state.companies["ACME-DEMO"].records("CLASS").append(
            {"RECORDNO": "77", "CLASSID": "C3", "NAME": "Labs", "PARENTID": "", "STATUS": "active"}
        )
    state.value_patch = True  # this time Divvy renames in place (the other unverified answer)
    dept_uuids = {v["uuid"] for v in state.custom_field_values["tty_department00000000000000003"]}

    third = run(world, 3)
    changes = {t: xcom(third, t)["changes"] for t in PUSH_TASKS}
    assert changes["push_department"] == [
        {"action": "rename", "value": "20 - Engineering & IT", "old": "20 - Engineering"}
    ]
    assert changes["push_location"] == [
        {"action": "retire", "value": "300 - Field Office", "reason": "inactive in Intacct"}
    ]
    assert changes["push_class"] == [{"action": "create", "value": "C3 - Labs"}]
    assert changes["push_gl_account"] == changes["push_project"] == []
    assert divvy_values(world, "Department") == [
        "10 - Sales", "20 - Engineering & IT", "30 - Operations",
    ]  # fmt: skip
    assert {v["uuid"] for v in state.custom_field_values["tty_department00000000000000003"]} == (
        dept_uuids  # renamed in place: no new value
    )
    assert divvy_values(world, "Location") == ["100 - Headquarters", "200 - Remote"]
    assert divvy_values(world, "Location", retired=True) == ["300 - Field Office"]
    kept = world.dv.state.get_transaction(txn["uuid"])
    assert [
        s["value"] for f in kept["customFields"] if f["name"] == "Location"
        for s in f["selectedValues"]
    ] == ["300 - Field Office"]  # fmt: skip

    n_writes = len(writes(world))
    run(world, 4)
    assert len(writes(world)) == n_writes

    # The diff is in the task log, one line per change; no secret is anywhere in the logs.
    captured = capfd.readouterr()
    logged = "\n".join(r.text for r in log_records(captured.out + captured.err))
    assert "rename  '20 - Engineering' → '20 - Engineering & IT'" in logged
    assert "retire  '300 - Field Office' (inactive in Intacct)" in logged
    assert "left alone (no such Intacct ID): '7777 - Unknown'" in logged
    assert "Dry run: nothing was written to Divvy." in logged
    for secret in SECRETS:
        assert secret not in captured.out + captured.err


def test_dimension_push_settings_select_dimensions_and_accounts(world: World) -> None:
    world.configure(
        dimension_push={
            "dimensions": ["gl_account"],
            "gl_accounts": {"accounts": ["6100", "6200"]},
        }
    )
    dr = run(world, 10, dry_run=True)
    states = task_states(dr)
    assert states["push_gl_account"] == "success" and states["report"] == "success"
    assert {states[t] for t in PUSH_TASKS[1:]} == {"skipped"}
    retired = [c["value"] for c in xcom(dr, "push_gl_account")["changes"]]
    assert retired == [
        "6250 - Travel - Client", "6300 - Meals", "6400 - Software", "6500 - Advertising",
        "6600 - Fuel & Auto", "6900 - Miscellaneous",
    ]  # fmt: skip
    # by category (Intacct's CATEGORY, read with readByQuery): the travel ones only
    world.configure(
        dimension_push={"gl_accounts": {"categories": ["travel & entertainment"]}},
        custom_field_names={"location": None, "department": None, "class": None, "project": None},
    )
    dr = run(world, 11, dry_run=True)
    gl = xcom(dr, "push_gl_account")
    assert [c["value"] for c in gl["changes"]] == [
        "6100 - Office Supplies", "6400 - Software", "6500 - Advertising",
        "6600 - Fuel & Auto", "6900 - Miscellaneous",
    ]  # fmt: skip
    assert {c["reason"] for c in gl["changes"]} == {
        "category 'Operating Expenses' not in gl_accounts.categories"
    }
    assert gl["counts"]["unchanged"] == 3  # 6200, 6250, 6300
    assert writes(world) == []


def test_dimension_push_fails_visibly_when_divvy_refuses(world: World) -> None:
    state = world.dv.state
    state.value_delete_in_use = "refuse"  # the other unverified answer for a value in use
    world.add(datetime(2026, 11, 16).date(), 5.0, customFields={
        "GL Account": "6100 - Office Supplies", "Location": "300 - Field Office",
        "Project": "P-100 - Website",
    })  # fmt: skip
    with world.gw.state.lock:
        intacct_row(world, "LOCATION", "LOCATIONID", "300")["STATUS"] = "inactive"
        intacct_row(world, "LOCATION", "LOCATIONID", "200")["STATUS"] = "inactive"
    dr = run(world, 20)
    location = xcom(dr, "push_location")
    # refused (in use) is reported and kept; the unused one is retired; the task succeeds
    assert len(location["refused"]) == 1 and "300 - Field Office" in location["refused"][0]
    assert divvy_values(world, "Location") == ["100 - Headquarters", "300 - Field Office"]
    # a rename by create + delete whose delete is refused: the new value is there, the old kept
    project = xcom(dr, "push_project")
    assert len(project["refused"]) == 1 and "P-100 - Website" in project["refused"][0]
    assert divvy_values(world, "Project") == [
        "P-100 - Website", "P-100 - Website Relaunch", "P-200 - Client Onboarding",
    ]  # fmt: skip
    again = run(world, 21)  # the old one is retired as replaced, refused again: nothing breaks
    assert [c["action"] for c in xcom(again, "push_project")["changes"]] == ["retire"]
    assert len(xcom(again, "push_project")["refused"]) == 1
    # a retired Divvy field blocks its task (red in the UI), the others still run
    with state.lock:
        next(f for f in state.custom_fields.values() if f["name"] == "Department")["retired"] = True
    dr = world.run(logical_date=None, run_after=CLOCK + timedelta(minutes=22), dag_id=DAG_ID)
    states = task_states(dr)
    assert states["push_department"] == "failed"
    assert states["push_location"] == states["push_class"] == "success"
    assert states["report"] == "success"
    assert "is retired" in xcom(dr, "push_department", key="diff")["blocked"]
