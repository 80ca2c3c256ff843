"""The reproducible environment: pins agree, and the package core stays free of neural-tangents."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^\s*-?\s*([A-Za-z0-9_.\-]+)==([^\s#]+)")


def _pins(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        m = PIN.match(line)
        if m and not line.lstrip().startswith("#"):
            out[m.group(1).lower().replace("_", "-")] = m.group(2)
    return out


def test_environment_yml_matches_lock():
    lock = _pins(ROOT / "requirements" / "lock.txt")
    env = _pins(ROOT / "environment.yml")
    assert len(lock) > 50
    assert env == lock


def test_key_pins():
    lock = _pins(ROOT / "requirements" / "lock.txt")
    assert lock["jax"] == "0.5.3" and lock["jaxlib"] == "0.5.3"
    assert lock["neural-tangents"] == "0.6.5"
    assert lock["jupyter-book"].startswith("1.")


def test_installed_versions_match_lock():
    from importlib.metadata import version

    lock = _pins(ROOT / "requirements" / "lock.txt")
    for name in ("jax", "jaxlib", "numpy", "scipy", "matplotlib", "jupyter-book", "neural-tangents"):
        assert version(name) == lock[name], name


def test_core_does_not_import_neural_tangents():
    code = (
        "import sys, pkgutil, importlib, companion\n"
        "mods = [m.name for m in pkgutil.walk_packages(companion.__path__, 'companion.')]\n"
        "for m in mods:\n"
        "    if m not in ('companion.book.build', 'companion.book.colab', 'companion.book.pages', 'companion.book.cli'):\n"
        "        importlib.import_module(m)\n"
        "bad = [m for m in sys.modules if m.startswith(('neural_tangents', 'tensorflow'))]\n"
        "assert not bad, bad\n"
        "print(len(mods))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert int(out.stdout.strip().splitlines()[-1]) >= 5
