"""The package core runs on current JAX too (the GPU machines and Colab ship newer JAX than the pinned 0.5.3).

A fresh venv gets the newest JAX from the package index and the package without neural-tangents; the core
modules import and compute a kernel, a finite network and a regression there.
"""

from __future__ import annotations

import subprocess
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow

SCRIPT = r"""
import sys, jax, numpy as np
import companion
from companion.networks import models
from companion.learning import regression
from companion.kernels import ffnet_kernels, resnet_kernels
assert not any(m.startswith(("neural_tangents", "tensorflow")) for m in sys.modules)
x = np.random.default_rng(0).normal(size=(5, 4)); x /= np.linalg.norm(x, axis=1, keepdims=True)
k = resnet_kernels(x, depth=1000, alpha=1000 ** -1.0)
assert np.allclose(np.diag(np.asarray(k.ntk)), 2 * 1000 * 1e-6 * (1 + 1e-6) ** 999)
f = ffnet_kernels(x, depth=10)
assert np.allclose(np.diag(np.asarray(f.ntk)), 11.0)
assert not jax.config.jax_enable_x64 and np.asarray(f.ntk).dtype == np.float64  # no global switch, float64 kernels
jax.config.update("jax_enable_x64", True)  # float64 networks are the caller's choice
net = models.resnet(3, 16, 0.5)
out = net.apply(net.init(jax.random.PRNGKey(0), 4), x)
assert out.shape == (5,) and np.all(np.isfinite(np.asarray(out)))
print("jax", jax.__version__)
"""


def test_core_runs_on_current_jax(tmp_path):
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    py = env_dir / "bin" / "python"
    pip = [str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run(pip + ["jax", "numpy", "scipy", "matplotlib", "tqdm", "platformdirs"], check=True, timeout=900)
    subprocess.run(pip + ["--no-deps", str(ROOT)], check=True, timeout=600)
    out = subprocess.run([str(py), "-c", SCRIPT], capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-4000:]
    version = out.stdout.strip().split()[-1]
    major, minor = (int(v) for v in version.split(".")[:2])
    assert (major, minor) > (0, 5), f"expected a JAX newer than the pinned 0.5.3, got {version}"
