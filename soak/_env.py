"""The process the soak runs in: this checkout's code first, Airflow quiet, connections in env.

Airflow reads its configuration when first imported, so :func:`prepare` runs before anything
imports ``airflow`` (the hooks do). Nothing is written into the repository tree.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import pathlib
import shutil
import sys
import tempfile
from collections.abc import Iterator
from typing import Any

from sandbox.intacct_gateway.testing import default_connection

ROOT = pathlib.Path(__file__).resolve().parents[1]

# The sandboxes' default seeds hold these test credentials; they go into the environment only.
INTACCT_CONN_ID = "intacct_soak"
DIVVY_CONN_ID = "divvy_soak"

_prepared = False


def prepare(*, own_airflow_home: bool) -> None:
    """Put this checkout ahead of any installed copy and keep Airflow's logging quiet.

    ``own_airflow_home``: use a throw-away ``AIRFLOW_HOME`` (the command line; under pytest the
    suite's conftest has already chosen one).
    """
    global _prepared
    if _prepared:
        return
    _prepared = True
    for path in (ROOT / "plugins", ROOT):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))
    if own_airflow_home:
        home = pathlib.Path(tempfile.mkdtemp(prefix="divvy-intacct-soak-airflow-"))
        atexit.register(shutil.rmtree, home, ignore_errors=True)
        os.environ["AIRFLOW_HOME"] = str(home)
        os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(ROOT / "dags")
        os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(ROOT / "plugins")
        os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
        os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "False")
        os.environ.setdefault(
            "INTACCT_XSD_PATH", str(ROOT.parent / "shared/reference/intacct/api.xsd")
        )
        # Thousands of retries and page lines are expected here; only the soak's report
        # matters. Only in the soak's own process: under pytest, quiet() scopes it to the test.
        os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "ERROR")
        quiet_logs()


_QUIET = ("airflow", "intacct_hook", "sandbox", "urllib3", "sqlalchemy")


def quiet_logs() -> None:
    for name in _QUIET:
        logging.getLogger(name).setLevel(logging.CRITICAL)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Quiet logs for the block only, as a test in a shared pytest process needs: the levels
    are restored after, so later tests still see the package's warnings."""
    before = {name: logging.getLogger(name).level for name in _QUIET}
    quiet_logs()
    try:
        yield
    finally:
        for name, level in before.items():
            logging.getLogger(name).setLevel(level)


def connect(intacct_url: str, divvy_url: str, divvy_token: str) -> dict[str, str]:
    """Environment variables for the two connections (the hooks read them without a DB)."""
    intacct = default_connection(intacct_url)
    divvy: dict[str, Any] = {
        "conn_type": "divvy",
        "host": divvy_url,
        "password": divvy_token,
        "extra": {"timeout": 10},
    }
    return {
        f"AIRFLOW_CONN_{INTACCT_CONN_ID.upper()}": json.dumps(intacct),
        f"AIRFLOW_CONN_{DIVVY_CONN_ID.upper()}": json.dumps(divvy),
    }
