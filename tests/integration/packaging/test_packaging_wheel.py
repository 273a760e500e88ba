"""The built wheel is the deployable unit: what it holds, and that it runs the DAG installed in
a virtualenv of its own, without this repository on the path."""

from __future__ import annotations

import configparser
import json
import os
import pathlib
import shutil
import sqlite3
import subprocess
import zipfile
from datetime import UTC, date, datetime

import pytest

from deploy.wheel import build_wheel, virtualenv_with_wheel

ROOT = pathlib.Path(__file__).resolve().parents[3]
PACKAGE = ROOT / "plugins" / "intacct_hook"

pytestmark = pytest.mark.wheel


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> pathlib.Path:
    return build_wheel(tmp_path_factory.mktemp("wheel") / "dist")


def test_the_wheel_holds_the_ledger_sql_and_the_provider_entry_point(wheel):
    with zipfile.ZipFile(wheel) as whl:
        names = set(whl.namelist())
        for sql in sorted((ROOT / "include" / "sql").glob("*.sql")):
            assert whl.read(f"intacct_hook/sql/{sql.name}") == sql.read_bytes(), sql.name
        (dist_info,) = {n.split("/")[0] for n in names if ".dist-info/" in n}
        entry_points = configparser.ConfigParser()
        entry_points.read_string(whl.read(f"{dist_info}/entry_points.txt").decode())
    assert dict(entry_points["apache_airflow_provider"]) == {
        "provider_info": "intacct_hook.provider_info:get_provider_info"
    }
    modules = {f"intacct_hook/{p.relative_to(PACKAGE).as_posix()}" for p in PACKAGE.rglob("*.py")}
    assert modules <= names
    # The package and its metadata only: no tests, sandboxes, demo or deployment data (the
    # mapping rules are the accountants' file, read from the deployment, see the README).
    assert {n.split("/")[0] for n in names} == {"intacct_hook", dist_info}
    assert not [n for n in names if n.endswith(".csv")]


# --- installed into a virtualenv of its own ---------------------------------------------------

DAY = date(2026, 11, 17)
# A scheduled run's logical date for DAY: 06:00 Chicago (12:00 UTC in November) the day after.
LOGICAL_DATE = datetime(2026, 11, 18, 12, tzinfo=UTC)

# Runs inside the new virtualenv, from a folder outside the repository.
RUN = """
import importlib.metadata as md, json, pathlib, sys
from datetime import datetime

import intacct_hook
from intacct_hook import paths

from airflow.dag_processing.dagbag import DagBag
from airflow.models.xcom import XComModel
from airflow.providers_manager import ProvidersManager
from airflow.utils.session import create_session

bag = DagBag(dag_folder=DAGS)
heavy_at_parse = sorted(m for m in ("pandas", "numpy", "lxml") if m in sys.modules)
dag = bag.get_dag("divvy_intacct_sync")
when = datetime.fromisoformat(LOGICAL_DATE)
dr = dag.test(run_after=when, logical_date=when)

def xcom(task_id):
    with create_session() as session:
        row = session.scalars(XComModel.get_many(
            run_id=dr.run_id, dag_ids=dr.dag_id, task_ids=task_id, key="return_value")).first()
        return None if row is None else XComModel.deserialize_value(row)

providers = ProvidersManager()
print("RESULT " + json.dumps({
    "import_errors": {k: str(v) for k, v in bag.import_errors.items()},
    "heavy_at_parse": heavy_at_parse,
    "package": intacct_hook.__file__,
    "distribution": str(md.distribution("divvy-intacct").locate_file("")),
    "distributions": [d.metadata["Name"] for d in md.distributions()
                      if d.metadata["Name"] == "divvy-intacct"],
    "provider": providers.providers["divvy-intacct"].version,
    "connection_types": sorted(t for t in ("intacct", "divvy") if t in providers.hooks),
    "sys_path": sys.path,
    "sql_dir": str(paths.sql_dir()),
    "template_searchpath": list(dag.template_searchpath),
    "base_dir": str(paths.base_dir()),
    "state": str(dr.state),
    "tasks": {ti.task_id: str(ti.state) for ti in dr.get_task_instances()},
    "load": xcom("load"),
    "reconcile_matched": (xcom("reconcile") or {}).get("matched"),
}, default=str))
"""


def _airflow_home(tmp: pathlib.Path, airflow_db: pathlib.Path) -> pathlib.Path:
    home = tmp / "airflow-home"
    home.mkdir()
    # A consistent copy of the migrated metadata DB (sqlite's backup, not a file copy).
    with sqlite3.connect(airflow_db) as src, sqlite3.connect(home / "airflow.db") as dst:
        src.backup(dst)
    # The default settings read the rules from $AIRFLOW_HOME/include/ when installed.
    (home / "include").mkdir()
    shutil.copy2(ROOT / "include" / "mapping_rules.csv", home / "include" / "mapping_rules.csv")
    return home


def _divvy_seed_with_one_clear() -> tuple[dict, dict]:
    seed = json.loads((ROOT / "sandbox/divvy_api/seeds/default.json").read_text())
    clear = {
        "uuid": "txr_wheel0000000000000000000001",
        "transactionType": "CLEAR",
        "amount": 42.17,
        "complete": True,
        "merchantName": "Staples",
        "merchantCategoryCode": "5943",
        "occurredTime": datetime(2026, 11, 17, 15, tzinfo=UTC).isoformat(timespec="milliseconds"),
        "userUuid": "usr_member000000000000000000002",
        "budgetUuid": "bgt_operations00000000000000001",
        "cardUuid": "crd_jane000000000000000000000001",
        "customFields": {"GL Account": "6100 - Office Supplies"},
    }
    seed["transactions"] = []
    return seed, clear


def test_the_wheel_installed_in_a_fresh_virtualenv_runs_the_dag(
    wheel, tmp_path, pristine_airflow_db
):
    from sandbox.divvy_api.testing import running_divvy
    from sandbox.intacct_gateway.testing import running_gateway

    python = virtualenv_with_wheel(tmp_path / "venv", wheel)
    home = _airflow_home(tmp_path, pristine_airflow_db)
    dags = tmp_path / "dags"
    shutil.copytree(ROOT / "dags", dags, ignore=shutil.ignore_patterns("__pycache__"))
    no_plugins = tmp_path / "no-plugins"
    no_plugins.mkdir()
    script = tmp_path / "run_dag.py"
    script.write_text(f"DAGS = {str(dags)!r}\nLOGICAL_DATE = {LOGICAL_DATE.isoformat()!r}\n{RUN}")

    seed, clear = _divvy_seed_with_one_clear()
    with running_gateway() as gw, running_divvy(seed, calls_per_minute=100_000) as dv:
        dv.state.add_transaction(clear)
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("AIRFLOW", "PYTHON", "VIRTUAL_ENV"))
        }
        env |= {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(no_plugins),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "DIVVY_INTACCT_TASK_RETRIES": "0",
            # Every setting at its default: ledger and rules resolve against AIRFLOW_HOME.
            "AIRFLOW_VAR_DIVVY_INTACCT_SETTINGS": "{}",
            "AIRFLOW_CONN_INTACCT_DEFAULT": json.dumps(
                {
                    "conn_type": "intacct",
                    "host": gw.url,
                    "login": "Divvy",
                    "password": "ws-user-pass-0001",
                    "extra": {
                        "company_id": "ACME-DEMO",
                        "sender_id": "bill.com",
                        "sender_password": "sender-pass-0001",
                        "entity_id": "E100",
                        "timeout": 10,
                    },
                }
            ),
            "AIRFLOW_CONN_DIVVY_DEFAULT": json.dumps(
                {
                    "conn_type": "divvy",
                    "host": dv.url,
                    "password": dv.token,
                    "extra": {"timeout": 10, "rate_limit_window": 1},
                }
            ),
        }
        out = subprocess.run(
            [python, script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
        )
        assert out.returncode == 0, (out.stdout + out.stderr)[-5000:]
        (line,) = [ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")]
        result = json.loads(line.removeprefix("RESULT "))
        records = gw.cctransactions()

    installed = pathlib.Path(python).parent.parent
    # The package, its SQL and its metadata come from the virtualenv, never from this checkout.
    assert pathlib.Path(result["package"]).is_relative_to(installed)
    assert pathlib.Path(result["distribution"]).is_relative_to(installed)
    assert result["distributions"] == ["divvy-intacct"]
    assert pathlib.Path(result["sql_dir"]).is_relative_to(installed)
    assert result["sql_dir"] in result["template_searchpath"]
    on_path = [pathlib.Path(p).resolve() for p in result["sys_path"] if p]
    in_checkout = [p for p in on_path if p.is_relative_to(ROOT)]
    assert in_checkout == []
    assert result["provider"] == "0.1.0"
    assert result["connection_types"] == ["divvy", "intacct"]
    assert result["import_errors"] == {}
    assert result["heavy_at_parse"] == []

    # The DAG ran every step and posted the day's charge, with every setting at its default.
    assert result["state"] == "success", result["tasks"]
    assert set(result["tasks"].values()) == {"success"}
    assert (result["load"]["posted"], result["load"]["failed"]) == (1, 0)
    assert result["reconcile_matched"] is True
    assert [(r["RECORDID"], r["TOTALENTERED"]) for r in records] == [(clear["uuid"], "42.17")]
    assert result["base_dir"] == str(home)
    assert (home / "var" / "divvy_intacct_ledger.db").is_file()
