"""Where the package finds its files, in the repository and installed from a wheel.

The ledger SQL is a resource of the package (``intacct_hook/sql``; in the repository a link to
``include/sql/``, the one copy developers edit). Relative paths in the settings resolve against
the folder holding ``plugins/`` when the package runs from one, else against ``$AIRFLOW_HOME``.
"""

from __future__ import annotations

import importlib.resources
import pathlib

import sqlalchemy as sa

from intacct_hook import paths
from intacct_hook.sync.ledger import SQL_DIR, Ledger
from intacct_hook.sync.settings import SyncSettings

ROOT = pathlib.Path(__file__).resolve().parents[3]


def test_the_ledger_sql_is_a_resource_of_the_package():
    resource = importlib.resources.files("intacct_hook") / "sql"
    assert paths.sql_dir() == pathlib.Path(str(resource)).resolve()
    # In the repository the package's folder is include/sql itself, not a copy of it.
    assert paths.sql_dir() == ROOT / "include" / "sql"
    assert sorted(p.name for p in paths.sql_dir().glob("*.sql")) == sorted(
        p.name for p in (ROOT / "include" / "sql").glob("*.sql")
    )


def test_the_ledger_and_the_dag_read_the_same_folder(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    assert paths.sql_dir() == SQL_DIR
    assert Ledger(sa.create_engine("sqlite://")).sql_dir == paths.sql_dir()
    dag = DagBag(dag_folder=str(ROOT / "dags")).get_dag("divvy_intacct_sync")
    assert str(paths.sql_dir()) in dag.template_searchpath


def test_relative_paths_resolve_beside_plugins_when_run_from_a_plugins_folder(tmp_path):
    package = tmp_path / "deploy" / "plugins" / "intacct_hook"
    assert paths.base_dir(package, {"AIRFLOW_HOME": str(tmp_path / "home")}) == (
        tmp_path / "deploy"
    )
    # This checkout runs the package from plugins/: the repository root.
    assert paths.base_dir() == ROOT


def test_relative_paths_resolve_against_airflow_home_when_installed(tmp_path):
    package = tmp_path / "venv/lib/python3.11/site-packages/intacct_hook"
    home = tmp_path / "airflow-home"
    assert paths.base_dir(package, {"AIRFLOW_HOME": str(home)}) == home
    # Airflow's own default when AIRFLOW_HOME is not set.
    assert paths.base_dir(package, {}) == pathlib.Path("~/airflow").expanduser()


def test_settings_resolve_relative_paths_against_the_base_folder(tmp_path):
    s = SyncSettings.from_variable({"ledger_path": str(tmp_path / "l.db")})
    assert s.mapping_path() == paths.base_dir() / "include" / "mapping_rules.csv"
    assert s.sqlite_ledger_path() == tmp_path / "l.db"
    defaults = SyncSettings()
    assert defaults.sqlite_ledger_path(tmp_path) == tmp_path / "var/divvy_intacct_ledger.db"
