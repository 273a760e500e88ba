"""The built wheel is the deployable unit: what it holds, and that it runs the DAG installed in
a virtualenv of its own, without this repository on the path."""

from __future__ import annotations

import configparser
import pathlib
import shutil
import subprocess
import sys
import zipfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "plugins" / "intacct_hook"

pytestmark = pytest.mark.wheel


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> pathlib.Path:
    """``pip wheel`` of a copy of the sources: an in-tree build would leave build/ behind, and a
    stale build/lib can put deleted modules into the next wheel."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in ("plugins", "include"):
        shutil.copytree(ROOT / name, src / name, symlinks=True, ignore=ignore)
    out = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp / "dist"), src],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    (built,) = (tmp / "dist").glob("divvy_intacct-*.whl")
    return built


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
