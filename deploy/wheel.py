"""The deployable unit: the package built as a wheel, installed into a virtualenv of its own.

A deployment installs ``divvy-intacct`` from its wheel (``pip install -c constraints.txt
divvy_intacct-<version>-py3-none-any.whl``), never from this source tree. ``make airflow`` and
the tests that check the wheel do the same, with one shortcut that keeps them offline and fast:
the new virtualenv gets the wheel installed by pip and every *other* distribution by a link to
this environment's site-packages (so Airflow and the dependencies are the ones the suite runs
on, at the versions of constraints.txt), never a second copy of this package.
"""

from __future__ import annotations

import pathlib
import shutil
import subprocess
import sys
import sysconfig
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[1]
# What a wheel is built from: the package (plugins/intacct_hook, whose sql/ links to
# include/sql) and its metadata.
SOURCES = ("pyproject.toml", "README.md")
SOURCE_TREES = ("plugins", "include")


class BuildError(RuntimeError):
    """pip could not build or install the wheel; the message holds the end of its output."""


def build_wheel(out_dir: pathlib.Path) -> pathlib.Path:
    """``pip wheel`` of a copy of the sources into ``out_dir``; the wheel's path.

    Built from a copy: an in-tree build would leave build/ behind, and a stale build/lib can put
    deleted modules into the next wheel. No build isolation: this environment's setuptools
    (a dev dependency) builds it, so no package index is needed.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("divvy_intacct-*.whl"):
        old.unlink()
    with tempfile.TemporaryDirectory(prefix="divvy-intacct-src-") as tmp:
        src = pathlib.Path(tmp)
        for name in SOURCES:
            shutil.copy2(ROOT / name, src / name)
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
        for name in SOURCE_TREES:
            shutil.copytree(ROOT / name, src / name, symlinks=True, ignore=ignore)
        done = subprocess.run(
            [
                *(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"),
                *("-q", "-w", str(out_dir), str(src)),
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
    if done.returncode != 0:
        raise BuildError(f"pip wheel failed:\n{done.stderr[-3000:]}")
    (built,) = out_dir.glob("divvy_intacct-*.whl")
    return built


def link_dependencies(folder: pathlib.Path) -> pathlib.Path:
    """``folder`` filled with links to this environment's installed distributions, minus
    divvy-intacct (here an editable install of some checkout)."""
    site_packages = pathlib.Path(sysconfig.get_paths()["purelib"])
    folder.mkdir(parents=True, exist_ok=True)
    for entry in site_packages.iterdir():
        name = entry.name.lower()
        if name.startswith(("divvy_intacct", "__editable__", "intacct_hook")) or name.endswith(
            ".pth"
        ):
            continue
        link = folder / entry.name
        if not link.is_symlink():
            link.symlink_to(entry)
    return folder


def virtualenv_with_wheel(venv: pathlib.Path, wheel: pathlib.Path) -> pathlib.Path:
    """A new virtualenv at ``venv`` (replacing one there) with ``wheel`` installed by pip and
    the dependencies linked from this environment; its python."""
    if venv.exists():
        shutil.rmtree(venv)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    done = subprocess.run(
        [
            *(sys.executable, "-m", "pip", "--python", str(python)),
            "install",
            "--no-deps",
            "-q",
            str(wheel),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode != 0:
        raise BuildError(f"pip install {wheel.name} failed:\n{done.stderr[-3000:]}")
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # Read after the virtualenv's own site-packages: the wheel's package comes first.
    deps = link_dependencies(venv / "linked-dependencies")
    (pathlib.Path(purelib) / "linked-dependencies.pth").write_text(f"{deps}\n")
    return python
