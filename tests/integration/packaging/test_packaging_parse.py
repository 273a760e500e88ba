"""Parsing the DAG file imports nothing heavy.

Airflow parses every DAG file again and again (the DAG processor in a loop, each worker before
each task), so its guidance is to keep top-level imports light. pandas (with numpy) is the
mapping step's tool, lxml the Intacct hook's; they are imported when a task runs, not when the
file is parsed.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[3]
HEAVY = ("pandas", "numpy", "lxml")

# Parsed the way the DAG processor does it: a DagBag over the DAGs folder, in a fresh process.
PARSE = """
import json, sys
from airflow.dag_processing.dagbag import DagBag
before = {name for name in HEAVY if name in sys.modules}
bag = DagBag(dag_folder=DAGS)
print(json.dumps({
    "errors": {k: str(v) for k, v in bag.import_errors.items()},
    "dags": sorted(bag.dag_ids),
    "before": sorted(before),
    "heavy": sorted(name for name in HEAVY if name in sys.modules),
    "intacct_hook": sys.modules["intacct_hook"].__file__,
}))
"""


def test_parsing_the_dag_file_imports_no_pandas_numpy_or_lxml(airflow_db):
    env = dict(os.environ)
    # This checkout's package, not whatever an editable install elsewhere points at.
    env["PYTHONPATH"] = str(ROOT / "plugins")
    script = f"HEAVY = {HEAVY!r}\nDAGS = {str(ROOT / 'dags')!r}\n{PARSE}"
    out = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["errors"] == {}
    assert "divvy_intacct_sync" in result["dags"]
    assert result["intacct_hook"].startswith(str(ROOT / "plugins"))
    assert result["before"] == []  # Airflow itself did not bring them in
    assert result["heavy"] == []
