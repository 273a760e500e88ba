"""Dependencies: ranges in the package, exact versions in constraints.txt, each one used.

The package is installed into Airflow deployments that have their own versions of everything, so
its metadata says what it works with (ranges); constraints.txt is the one known-good resolve the
suite and the demo run on (``pip install -c constraints.txt -e '.[dev]'``).
"""

from __future__ import annotations

import ast
import functools
import importlib.metadata as md
import importlib.util
import pathlib
import sys
import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = pathlib.Path(__file__).resolve().parents[3]
PACKAGE = ROOT / "plugins" / "intacct_hook"
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]

# Declared but never imported: Airflow loads them by connection type. A ledger_conn_id
# connection is opened with get_hook(), which needs the provider of its type installed.
LOADED_BY_CONNECTION_TYPE = {
    "apache-airflow-providers-postgres": "a PostgreSQL ledger (ledger_conn_id of type postgres)",
    "apache-airflow-providers-sqlite": "a SQLite ledger named by a connection of type sqlite",
}


def declared() -> dict[str, Requirement]:
    reqs = [Requirement(r) for r in PROJECT["dependencies"]]
    return {canonicalize_name(r.name): r for r in reqs}


def all_requirements() -> list[Requirement]:
    extras = [r for group in PROJECT["optional-dependencies"].values() for r in group]
    return [Requirement(r) for r in [*PROJECT["dependencies"], *extras]]


def constraints() -> dict[str, Version]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: {line!r} is not an exact pin (name==version)"
            pins[canonicalize_name(name)] = Version(version)
    return pins


def imported_modules() -> set[str]:
    """Every module outside the standard library the package imports, by its full name."""
    names = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module)
    skip = {*sys.stdlib_module_names, "intacct_hook", "__future__"}
    return {n for n in names if n.split(".")[0] not in skip}


@functools.cache
def owners() -> dict[str, str]:
    """Installed file -> the distribution whose RECORD lists it."""
    owned = {}
    for dist in md.distributions():
        for file in dist.files or []:
            owned[str(pathlib.Path(dist.locate_file(file)).resolve())] = canonicalize_name(
                dist.metadata["Name"]
            )
    return owned


def owner_of(module: str) -> str:
    """The distribution that installed ``module``'s file (``airflow`` alone is spread over
    core, the task SDK and every provider, so whole names are looked up, not top-level ones)."""
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin, f"{module} is imported but not installed"
    return owners()[str(pathlib.Path(spec.origin).resolve())]


def direct_requirements(dist: str) -> set[str]:
    """What installing ``dist`` installs first-hand (its extras left out)."""
    reqs = [Requirement(r) for r in md.requires(dist) or []]
    first_hand = [r for r in reqs if r.marker is None or r.marker.evaluate({"extra": ""})]
    return {canonicalize_name(r.name) for r in first_hand}


def is_meta(dist: str) -> bool:
    """A distribution with no modules of its own, only requirements (apache-airflow)."""
    return not [f for f in md.files(dist) or [] if f.suffix == ".py"]


def test_every_requirement_is_a_range_not_a_pin():
    for req in all_requirements():
        operators = {spec.operator for spec in req.specifier}
        assert operators, f"{req}: give a lower bound (>=) of what was tested"
        assert not operators & {"==", "==="}, f"{req}: a pin belongs in constraints.txt"


def test_airflow_is_the_tested_minor_release():
    # The package reaches into airflow.sdk.execution_time (links.py), which is not a public
    # interface: the next minor release is taken deliberately, after running this suite on it.
    airflow = declared()["apache-airflow"]
    assert airflow.specifier == ">=3.3.2,<3.4"
    assert constraints()["apache-airflow"] in airflow.specifier


def test_every_requirement_is_pinned_in_constraints_within_its_range():
    pins = constraints()
    for req in all_requirements():
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is not pinned in constraints.txt"
        assert pins[name] in req.specifier, f"constraints.txt {name}=={pins[name]} not in {req}"


def test_constraints_pin_exactly_what_the_requirements_install():
    # The closure of the requirements (with the dev extra) as installed here: a pin nothing
    # needs is a leftover, a needed package without a pin is resolved afresh on every install.
    needed: set[str] = set()
    todo = [(r, frozenset(r.extras)) for r in all_requirements()]
    seen: set[tuple[str, frozenset[str]]] = set()
    while todo:
        req, extras = todo.pop()
        name = canonicalize_name(req.name)
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        needed.add(name)
        for text in md.requires(name) or []:
            sub = Requirement(text)
            envs = [{"extra": e} for e in extras] or [{"extra": ""}]
            if sub.marker is None or any(sub.marker.evaluate(env) for env in envs):
                todo.append((sub, frozenset(sub.extras)))
    pins = set(constraints())
    assert sorted(pins - needed) == [], "pinned in constraints.txt but required by nothing"
    assert sorted(needed - pins) == [], "required but not pinned in constraints.txt"


def test_every_third_party_import_is_a_declared_dependency():
    deps = set(declared())
    # apache-airflow holds no module: it is how airflow-core and the task SDK are required.
    through_meta = {r for d in deps if is_meta(d) for r in direct_requirements(d)}
    for module in sorted(imported_modules()):
        owner = owner_of(module)
        assert owner in deps | through_meta, f"the package imports {module} ({owner}) undeclared"


def test_every_declared_dependency_is_used():
    used = {owner_of(m) for m in imported_modules()}
    for name in declared():
        assert (
            name in used
            or (is_meta(name) and direct_requirements(name) & used)
            or name in LOADED_BY_CONNECTION_TYPE
        ), (
            f"{name} is declared but the package neither imports it nor loads it by "
            "connection type: drop it from pyproject.toml and constraints.txt"
        )


def test_the_build_backend_floor_can_read_this_pyproject():
    # project.license is an SPDX expression (PEP 639), which setuptools reads from 77.0 on;
    # 68 to 76 refuse the whole file ("project.license must be valid exactly by one
    # definition"), so a build environment holding one of them could not build the wheel.
    build = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
    (setuptools,) = [r for r in map(Requirement, build) if r.name == "setuptools"]
    assert isinstance(PROJECT["license"], str)
    assert "76.1.0" not in setuptools.specifier
    assert "77.0.3" in setuptools.specifier
