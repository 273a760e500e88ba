"""The process environment every benchmark runs in: an isolated Airflow home in a temp dir.

Airflow reads its configuration when first imported, so :func:`prepare` must run before anything
imports ``airflow`` (the hooks do). Nothing is written into the repository tree.
"""

from __future__ import annotations

import atexit
import os
import pathlib
import shutil
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[1]
DEFAULT_PG_DSN = "postgresql://postgres@127.0.0.1:5432/test"

_workdir: pathlib.Path | None = None


def prepare() -> pathlib.Path:
    """Set the Airflow variables (as tests/conftest.py does) and return the temp work dir."""
    global _workdir
    if _workdir is not None:
        return _workdir
    _workdir = pathlib.Path(tempfile.mkdtemp(prefix="divvy-intacct-bench-"))
    atexit.register(shutil.rmtree, _workdir, ignore_errors=True)
    # Overwrite, not setdefault: `make bench` exports AIRFLOW_HOME=<repo>/.airflow, and a
    # benchmark must not leave an airflow.cfg or a metadata DB in the checkout.
    os.environ["AIRFLOW_HOME"] = str(_workdir / "airflow")
    os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(ROOT / "dags")
    os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(ROOT / "plugins")
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "False")
    # Per-page INFO lines from the hooks would flood the table and cost time in the loop.
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
    # The gateway validates requests against the real schema when it is there (as in tests).
    os.environ.setdefault("INTACCT_XSD_PATH", str(ROOT.parent / "shared/reference/intacct/api.xsd"))
    return _workdir


def workdir() -> pathlib.Path:
    """The temp dir for this run's files (SQLite ledgers, rules files)."""
    return prepare()


def pg_dsn() -> str:
    return os.environ.get("DIVVY_INTACCT_TEST_PG_DSN", DEFAULT_PG_DSN)
