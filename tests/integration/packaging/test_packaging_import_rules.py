"""The import rules in pyproject.toml bite, and their exemptions hold.

``make test`` runs ``ruff check``, which enforces two rules of the package's shape: no ``airflow``
in the wire formats and the sync domain (TID251), and no pandas, numpy or lxml at module level
where the DAG file's parse could reach it (TID253). A rule that is misconfigured passes silently,
so each is shown failing on a probe: source handed to ruff on stdin under the path it would
have, so the per-file configuration applies as it would to a real file.
"""

from __future__ import annotations

import ast
import json
import pathlib
import subprocess
import sys
import tomllib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
DAG_FILE = ROOT / "dags" / "divvy_intacct_sync.py"
PLUGINS = ROOT / "plugins"

AIRFLOW_IMPORTS = (
    "from airflow.sdk import BaseHook\n",
    "import airflow.sdk\n",
    # Even for annotations: these layers must not need Airflow to be understood.
    "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from airflow.sdk import Context\n",
)
HEAVY_IMPORTS = ("import pandas as pd\n", "from lxml import etree\n", "import numpy\n")


def ruff_codes(path: str, source: str) -> set[str]:
    """The rule codes ``ruff check`` reports for ``source`` as if it were the file ``path``."""
    out = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--output-format=json", f"--stdin-filename={path}"],
        input=source,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode in (0, 1), out.stderr
    return {finding["code"] for finding in json.loads(out.stdout)}


@pytest.mark.parametrize("layer", ["intacct", "divvy", "sync"])
@pytest.mark.parametrize("source", AIRFLOW_IMPORTS)
def test_airflow_is_refused_in_the_wire_formats_and_the_sync_domain(layer, source):
    assert "TID251" in ruff_codes(f"plugins/intacct_hook/{layer}/probe.py", source)


@pytest.mark.parametrize("layer", ["hooks", "operators"])
def test_airflow_is_allowed_in_hooks_and_operators(layer):
    assert "TID251" not in ruff_codes(f"plugins/intacct_hook/{layer}/probe.py", AIRFLOW_IMPORTS[0])


@pytest.mark.parametrize(
    "path",
    [
        "dags/probe.py",
        "plugins/intacct_hook/operators/probe.py",
        "plugins/intacct_hook/sync/probe.py",
        "plugins/intacct_hook/hooks/probe.py",
    ],
)
@pytest.mark.parametrize("source", HEAVY_IMPORTS)
def test_heavy_imports_are_refused_at_module_level(path, source):
    assert "TID253" in ruff_codes(path, source)


def test_heavy_imports_inside_a_function_or_for_annotations_pass():
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    import pandas as pd\n\n\n"
        "def frame() -> pd.DataFrame:\n"
        "    import pandas as pd\n\n"
        "    return pd.DataFrame()\n"
    )
    assert "TID253" not in ruff_codes("plugins/intacct_hook/operators/probe.py", source)


def heavy_import_exemptions() -> set[pathlib.Path]:
    """The package files pyproject.toml lets import pandas, numpy or lxml at module level."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    ignores = config["tool"]["ruff"]["lint"]["per-file-ignores"]
    return {
        (ROOT / pattern).resolve()
        for pattern, codes in ignores.items()
        if "TID253" in codes and pattern.startswith(("plugins/", "dags/"))
    }


def parse_time_imports(start: pathlib.Path) -> set[pathlib.Path]:
    """The package files importing ``start`` imports before any task runs: module-level imports,
    followed through ``intacct_hook`` (``if TYPE_CHECKING:`` blocks and function bodies are not
    run at import)."""

    def module_file(name: str) -> pathlib.Path | None:
        base = PLUGINS.joinpath(*name.split("."))
        for candidate in (base / "__init__.py", base.with_suffix(".py")):
            if candidate.is_file():
                return candidate.resolve()
        return None

    def imported(body: list[ast.stmt]) -> list[str]:
        names = []
        for node in body:
            if isinstance(node, ast.Import):
                names += [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names += [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.If):
                if not (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"):
                    names += imported(node.body) + imported(node.orelse)
            elif isinstance(node, ast.Try):
                names += imported(node.body) + imported(node.orelse) + imported(node.finalbody)
                for handler in node.handlers:
                    names += imported(handler.body)
        return names

    seen: set[pathlib.Path] = set()
    todo = [start.resolve()]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in imported(ast.parse(path.read_text(), str(path)).body):
            parts = name.split(".")
            if parts[0] != "intacct_hook":
                continue
            # Importing a.b.c runs a/__init__, a/b/__init__ and a/b/c.
            todo += [f for i in range(1, len(parts) + 1) if (f := module_file(".".join(parts[:i])))]
    return seen


def test_the_heavy_import_exemptions_stay_out_of_dag_parsing():
    exempt = heavy_import_exemptions()
    assert exempt, "pyproject.toml names no exempt package files: is this test reading it?"
    assert all(path.is_file() for path in exempt), sorted(map(str, exempt))
    parsed = parse_time_imports(DAG_FILE)
    assert PLUGINS.joinpath("intacct_hook", "operators", "sync.py").resolve() in parsed
    assert not exempt & parsed, "imported when the DAG file is parsed: " + ", ".join(
        str(p.relative_to(ROOT)) for p in sorted(exempt & parsed)
    )
