"""The package's design, checked: layer and independence contracts (import-linter, configured in
``pyproject.toml``), no module over 600 lines, no module named like a standard-library module."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "companion"
MAX_LINES = 600


def test_import_contracts_hold():
    from importlinter.cli import lint_imports

    # Runs every contract of [tool.importlinter]; imports inside functions count as imports.
    assert lint_imports(config_filename=str(ROOT / "pyproject.toml")) == 0, "run `lint-imports pyproject.toml`"


def test_a_violating_import_breaks_a_contract(tmp_path, monkeypatch):
    """Counterfactual: the same contract type rejects a library module that imports the book layer."""
    from importlinter.cli import lint_imports

    pkg = tmp_path / "layered"
    for sub in ("book", "kernels"):
        (pkg / sub).mkdir(parents=True)
        (pkg / sub / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "kernels" / "api.py").write_text("def f():\n    from layered.book import x  # inside a function\n")
    (pkg / "book" / "x.py").write_text("")
    cfg = tmp_path / "contracts.toml"
    cfg.write_text('[tool.importlinter]\nroot_package = "layered"\n\n[[tool.importlinter.contracts]]\n'
                   'name = "layers"\ntype = "layers"\nlayers = ["layered.book", "layered.kernels"]\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    assert lint_imports(config_filename=str(cfg)) != 0


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_is_short(path):
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(ROOT)} has {lines} lines (at most {MAX_LINES}): split it"


def test_no_module_shadows_the_standard_library():
    names = {p.stem for p in PACKAGE.rglob("*.py")} | {p.name for p in PACKAGE.rglob("*") if p.is_dir()}
    clash = sorted(names & set(sys.stdlib_module_names))
    assert not clash, f"modules named like standard-library modules: {clash}"
