"""Colab, emulated: a chapter's Colab notebook runs top to bottom in a fresh Python environment.

Colab gives a Python with its own Jupyter and a newer JAX, and nothing of this repository. The
emulation: a new venv with only a Jupyter kernel and papermill in it (Colab's own Jupyter), then the
Colab notebook ``notebooks/01_models.ipynb`` itself executed at smoke scale, its first cell forced to
install as it does in Colab (``COMPANION_FORCE_INSTALL=1``) but from this checkout instead of GitHub
(``COMPANION_INSTALL_SPEC=file://<repo>``). Afterwards the venv must hold the pinned JAX and the
companion installed as a package, not this checkout's sources.

Needs PyPI (pip downloads jax 0.5.3 and the dependencies; pip's own cache makes reruns faster).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from companion.book import colab

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
CHAPTER = "01_models"
# Colab's own Jupyter, at the versions the locked environment uses (papermill drives it here).
JUPYTER = ["papermill==2.7.0", "ipykernel==7.4.0", "jupyter_client==8.10.0", "nbformat==5.11.1"]


def _clean_env(venv: Path, **extra: str) -> dict[str, str]:
    """The environment of a fresh machine with ``venv`` activated: nothing from this repository's venv."""
    drop = {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "JUPYTER_PATH", "JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR",
            "IPYTHONDIR", "COMPANION_OUTPUT", "COMPANION_BOOK", "MPLBACKEND"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    path = [p for p in env.get("PATH", "").split(os.pathsep) if not p.startswith(str(ROOT / ".venv"))]
    env["PATH"] = os.pathsep.join([str(venv / "bin")] + path)
    env["VIRTUAL_ENV"] = str(venv)
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env.update(extra)
    return env


def _run(cmd: list[str], env: dict[str, str], cwd: Path, timeout: int) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(cmd[:4])} ... failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}"
    return proc


@pytest.mark.timeout(1200)
def test_colab_notebook_runs_in_a_fresh_environment(tmp_path):
    notebook = colab.path(CHAPTER)
    assert notebook.exists() and not colab.stale(), "Colab notebooks out of date: run `make colab`"
    first = json.loads(notebook.read_text())["cells"][0]
    assert "colab-install" in first["metadata"]["tags"]

    timings = {}
    start = time.perf_counter()
    venv = tmp_path / "colab-venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    py = venv / "bin" / "python"
    env = _clean_env(venv)
    _run([str(py), "-m", "pip", "install", "-q", *JUPYTER], env, tmp_path, timeout=600)
    timings["venv + jupyter"] = time.perf_counter() - start

    # The Colab notebook itself: its install cell installs the companion and JAX, then the chapter runs.
    t = time.perf_counter()
    run_env = _clean_env(venv, COMPANION_FORCE_INSTALL="1", COMPANION_INSTALL_SPEC=ROOT.as_uri())
    out = tmp_path / f"{CHAPTER}.executed.ipynb"
    _run(
        [str(venv / "bin" / "papermill"), str(notebook), str(out), "-p", "scale", "smoke",
         "-k", "python3", "--cwd", str(tmp_path), "--no-progress-bar"],
        run_env, tmp_path, timeout=900,
    )
    timings["notebook (install + run)"] = time.perf_counter() - t

    executed = json.loads(out.read_text())
    outputs = [o for c in executed["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    install_out = "".join(
        "".join(o.get("text", "")) for o in executed["cells"][0].get("outputs", []) if o.get("output_type") == "stream"
    )
    assert "installed companion" in install_out and "with jax 0.5.3" in install_out, install_out
    # The chapter wrote its figures and its claims next to the notebook, as in Colab.
    produced = tmp_path / "companion_output"
    assert list((produced / "figures").glob("fig-01-*.png")), "no figure written"
    assert (produced / "results" / f"claims_{CHAPTER}.csv").is_file()

    probe = _run(
        [str(py), "-c", "import jax, jaxlib, companion; print(jax.__version__, jaxlib.__version__, companion.__file__)"],
        env, tmp_path, timeout=120,
    ).stdout.split()
    assert probe[:2] == [colab.JAX_VERSION, colab.JAX_VERSION], probe
    assert Path(probe[2]).resolve().is_relative_to(venv.resolve()), f"companion imported from {probe[2]}, not the venv"
    print("colab emulation: " + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items()))
