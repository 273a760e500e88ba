"""Where the package finds its files, run from the repository or installed from a wheel.

**Ledger SQL.** Every ledger statement is a file in ``include/sql/``, the one copy developers
edit. It ships inside the package as ``intacct_hook/sql/``: in the repository that folder is a
symbolic link to ``include/sql/``, and a built wheel holds the files themselves.
:func:`sql_dir` is the one place that says where they are, for the ledger and for the DAG's
Jinja ``template_searchpath`` (the operators' ``<name>_sql`` fields are rendered from it).

**Relative paths in the settings** (``mapping_file``, ``ledger_path``) resolve against
:func:`base_dir`:

- the folder holding ``plugins/`` when the package is imported from a ``plugins/`` folder (this
  repository, an editable install, or a deployment that copies ``plugins/`` and ``include/``);
- otherwise ``$AIRFLOW_HOME`` (``~/airflow`` when unset, as in Airflow): an installed wheel. The
  mapping rules and the SQLite ledger are the deployment's data, never files inside
  site-packages, so the defaults become ``$AIRFLOW_HOME/include/mapping_rules.csv`` and
  ``$AIRFLOW_HOME/var/divvy_intacct_ledger.db``.

Absolute paths in the settings are used as they are.
"""

from __future__ import annotations

import importlib.resources
import os
import pathlib
from collections.abc import Mapping

#: The folder of the imported ``intacct_hook`` package.
PACKAGE_DIR = pathlib.Path(__file__).resolve().parent


def sql_dir() -> pathlib.Path:
    """The folder holding the ledger's ``<name>.sql`` files (a resource of the package)."""
    folder = importlib.resources.files("intacct_hook") / "sql"
    # Jinja's FileSystemLoader needs a real folder; pip installs wheels unpacked, so it is one
    # unless the package was imported from a zip file, which this package does not support.
    if not isinstance(folder, pathlib.Path) or not (folder / "schema.sql").is_file():
        raise FileNotFoundError(
            f"the ledger SQL files are missing from the installed package ({folder}); "
            "reinstall divvy-intacct from a wheel built with 'pip wheel .', or, in a checkout, "
            "restore the link plugins/intacct_hook/sql -> ../../include/sql"
        )
    return folder.resolve()


def base_dir(
    package_dir: pathlib.Path = PACKAGE_DIR, environ: Mapping[str, str] = os.environ
) -> pathlib.Path:
    """The folder relative paths in the settings resolve against (see the module doc).

    ``package_dir`` and ``environ`` default to the imported package and the process
    environment; they are parameters so the installed layout can be checked anywhere.
    """
    if package_dir.parent.name == "plugins":
        return package_dir.parent.parent
    return pathlib.Path(environ.get("AIRFLOW_HOME") or "~/airflow").expanduser()


#: The ledger SQL folder, resolved once at import (a missing folder fails the import, loudly).
SQL_DIR = sql_dir()
