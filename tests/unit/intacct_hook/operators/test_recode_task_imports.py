"""The recode task in a fresh process, as a worker runs it: with nothing re-coded it must not
import pandas (the map step's ``mapping`` module does), whose import alone was about 0.3 s of
CPU, the task's whole fixed cost in a run with nothing to re-code (benchmarks/README.md)."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[4]

RECODE_IN_A_FRESH_PROCESS = """
import datetime as dt, json, os, sys
from types import SimpleNamespace
from airflow.sdk import DAG
from intacct_hook.operators import sync as ops
from intacct_hook.paths import sql_dir
from intacct_hook.sync.ledger import Ledger
from tests.fake_intacct import DAY, FakeIntacct

Ledger.sqlite(sys.argv[1]).ensure_schema()
start = dt.datetime.combine(DAY, dt.time(), dt.UTC)
ctx = {
    "run_id": "scheduled__2026-08-01T06:00:00+00:00",
    "params": {},
    "data_interval_start": start,
    "data_interval_end": start + dt.timedelta(days=1),
    "dag_run": SimpleNamespace(run_after=start + dt.timedelta(days=1), conf={}),
    "ti": SimpleNamespace(try_number=1, xcom_push=lambda key, value: None),
}
with DAG("unit", schedule=None, template_searchpath=[str(sql_dir())]):
    operator = ops.IntacctRecodeOperator(task_id="recode")
operator.render_template_fields(ctx)
operator.intacct_hook = lambda **kwargs: FakeIntacct()
operator.divvy_hook = lambda **kwargs: None
before = "pandas" in sys.modules
summary = operator.execute(ctx)
print(json.dumps([before, "pandas" in sys.modules, summary["examined"]]))
"""


def test_the_recode_task_imports_no_pandas(tmp_path):
    ledger = tmp_path / "ledger.db"
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "plugins")]),
        AIRFLOW_VAR_DIVVY_INTACCT_SETTINGS=json.dumps(
            {"ledger_path": str(ledger), "timezone": "UTC"}
        ),
    )
    out = subprocess.run(
        [sys.executable, "-c", RECODE_IN_A_FRESH_PROCESS, str(ledger)],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [False, False, 0]
