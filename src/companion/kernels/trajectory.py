"""The infinite-width forward recursion layer by layer: the NNGP scale ``q_l`` and correlation ``rho_l``
of two unit inputs for ``l = 0..L`` (chapter 1's signal propagation, chapter 3's approach of rho_l to 1).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from companion.util import validate as check
from .arccos import relu_step
from .precision import float64_scope


def two_inputs(rho0: float, dim: int = 16) -> np.ndarray:
    """Two unit vectors in ``R^dim`` with inner product ``rho0``; shape ``(2, dim)``."""
    rho0 = check.real("rho0", rho0, minimum=-1.0, maximum=1.0)
    dim = check.integer("dim", dim, minimum=2)
    x = np.zeros((2, dim))
    x[0, 0] = 1.0
    x[1, 0], x[1, 1] = rho0, np.sqrt(1.0 - rho0**2)
    return x


def nngp_trajectory(arch: str, depth: int, rho0: float, alpha: float = 0.0) -> dict[str, np.ndarray]:
    """Infinite-width ``q_l`` and ``rho_l`` for ``l = 0..depth`` (unit inputs), each of shape ``(depth + 1,)``."""
    check.choice("arch", arch, ("ffnet", "resnet"))
    depth = check.integer("depth", depth, minimum=0)
    rho0 = check.real("rho0", rho0, minimum=-1.0, maximum=1.0)
    a2 = check.real("alpha", alpha, minimum=0.0) ** 2
    if arch == "resnet" and depth * math.log1p(a2) > math.log(np.finfo(np.float64).max):
        raise check.fail("alpha", alpha, f"alpha with (1 + alpha^2)^depth finite in float64 at depth={depth} "
                         "(q_L overflows; the correlations alone: companion.kernels.resnet_normalized)")

    # Carry u = 1 - rho (accurate near rho = 1, where the FFNet goes); relu_step gives 1 - kappa1(rho).
    def step(u, _):
        _, _, one_minus_k1 = relu_step(u)
        new = one_minus_k1 if arch == "ffnet" else (u + a2 * one_minus_k1) / (1.0 + a2)
        return new, new

    with float64_scope():  # float64 whatever jax_enable_x64 is (importing companion changes no setting)
        _, us = jax.lax.scan(step, jnp.float64(1.0 - rho0), None, length=depth)
        us = np.asarray(us)
    rho = np.concatenate([[rho0], 1.0 - us])
    q = np.ones(depth + 1) if arch == "ffnet" else (1.0 + a2) ** np.arange(depth + 1)
    return {"q": q, "rho": rho}
