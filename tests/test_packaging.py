"""The package as installed from a wheel: every subpackage is in it (an editable install hides this)."""

from pathlib import Path

import pytest
from setuptools import find_packages

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

ROOT = Path(__file__).parents[1]


def test_every_subpackage_is_packaged():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    include = config["packages"]["find"]["include"]
    packaged = set(find_packages(where=str(ROOT), include=include))
    on_disk = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "bayeswd").rglob("__init__.py")}
    assert on_disk <= packaged, f"not packaged: {sorted(on_disk - packaged)}"
    assert {"bayeswd", "bayeswd.infer", "bayeswd.report", "bayeswd.selection", "bayeswd.solvers"} <= on_disk
