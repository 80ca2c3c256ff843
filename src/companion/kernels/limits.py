"""Closed-form depth limits of the normalised kernels (chapter 3's eq-03-limits, chapter 4's eq-04-ode).

Normalised means ``K(x, x') / sqrt(K(x, x) K(x', x'))`` for an input correlation ``rho0``; every
function here takes ``rho0`` (any array shape, values in ``[-1, 1]``) and returns :class:`Kernels`
with the limits of the normalised NNGP and NTK.

=======================================  =============================  ======================
regime                                   NTK limit                      NNGP limit
=======================================  =============================  ======================
FFNet; ResNet with alpha constant or     1/4 off the diagonal           1
``alpha = L^-gamma``, ``gamma < 1/2``    (1 at ``rho0 = 1``)
ResNet, ``gamma = 1/2``                  ``Theta_ODE(rho0)``            ``rho_ODE(1)``
ResNet, ``gamma > 1/2``, hidden          ``(kappa1 + rho0 kappa0)/2``   ``rho0``
ResNet, ``gamma > 1/2``, all             ``rho0``                       ``rho0``
=======================================  =============================  ======================

``Theta_ODE`` solves ``d rho / dt = kappa1(rho) - rho`` on ``[0, 1]`` from ``rho(0) = rho0`` and
``Theta_ODE = (1 / 2e) int_0^1 exp(t + int_t^1 kappa0(rho(s)) ds) [kappa1 + rho kappa0](rho(t)) dt``
(the ``alpha^2 = 1 / L`` recursion with ``l / L -> t``); with ``trained="all"`` the limit is
``(2e Theta_ODE + e rho(1) + exp(int_0^1 kappa0) rho0) / (4e)``.
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np
from scipy.integrate import solve_ivp

from companion.util import validate as check
from .api import Kernels
from .arccos import kappa0, kappa1
from .correlation import check_correlations


def _np_rho(rho0) -> np.ndarray:
    """The validated ``rho0`` (:func:`~.correlation.check_correlations`) as float64 NumPy."""
    return np.asarray(check_correlations(rho0, "rho0"), dtype=np.float64)


def ffnet_limit(rho0) -> Kernels:
    """FFNet (and ResNet with ``gamma < 1/2``) as depth -> infinity: NTK 1/4 off the diagonal and 1 at
    ``rho0 = 1`` ("constant + nugget"); NNGP 1 everywhere (eq-03-limits, chapter 3)."""
    r = _np_rho(rho0)
    return Kernels(np.ones_like(r), np.where(r >= 1.0, 1.0, 0.25), "closed-form", 0.0)


def depth1_limit(rho0, trained: str = "hidden") -> Kernels:
    """ResNet with ``gamma > 1/2`` as depth -> infinity: hidden NTK ``(kappa1(rho0) + rho0 kappa0(rho0)) / 2``
    (a one-hidden-layer bias-free ReLU net), ``trained="all"`` NTK ``rho0``; NNGP ``rho0`` (eq-03-limits,
    chapter 3)."""
    trained = check.choice("trained", trained, check.TRAINED)
    r = _np_rho(rho0)
    if trained == "all":
        return Kernels(r.copy(), r.copy(), "closed-form", 0.0)
    ntk = (np.asarray(kappa1(r)) + r * np.asarray(kappa0(r))) / 2.0
    return Kernels(r.copy(), ntk, "closed-form", 0.0)


def _s_of_u(u: np.ndarray) -> np.ndarray:
    """``kappa1(rho) - rho = (sin t - t cos t) / pi`` at ``u = 1 - rho`` (float64 NumPy, stable)."""
    u = np.clip(u, 0.0, 2.0)
    theta = 2.0 * np.arctan2(np.sqrt(u), np.sqrt(2.0 - u))
    t2 = theta * theta
    series = np.zeros_like(theta)
    for k in range(8, 0, -1):
        series = series * t2 + (-1) ** (k + 1) * 2 * k / math.factorial(2 * k + 1)
    series = series * t2 * theta
    direct = np.sqrt(np.maximum(u * (2.0 - u), 0.0)) - theta * (1.0 - u)
    return np.where(theta < 0.25, series, direct) / np.pi


def _ode(r: np.ndarray, rtol: float = 1e-13) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Solve the gamma = 1/2 ODE for every ``rho0`` in ``r``: returns ``(rho(1), I(1), J(1))`` with
    ``I = int_0^1 kappa0``, ``J = int_0^1 exp(t - I(t)) g(rho(t)) dt``, plus ``Theta_ODE``."""
    n = r.size

    def rhs(t, y):
        u, I = y[:n], y[n : 2 * n]
        rho = 1.0 - u
        theta = 2.0 * np.arctan2(np.sqrt(np.clip(u, 0, 2)), np.sqrt(np.clip(2.0 - u, 0, 2)))
        k0 = 1.0 - theta / np.pi
        k1 = rho + _s_of_u(u)
        return np.concatenate([-_s_of_u(u), k0, np.exp(t - I) * (k1 + rho * k0)])

    y0 = np.concatenate([1.0 - r, np.zeros(n), np.zeros(n)])
    sol = solve_ivp(rhs, (0.0, 1.0), y0, method="DOP853", rtol=rtol, atol=1e-15)
    if not sol.success:  # pragma: no cover - DOP853 on this smooth system does not fail
        raise RuntimeError(f"ODE limit: {sol.message}")
    y = sol.y[:, -1]
    u1, I1, J1 = y[:n], y[n : 2 * n], y[2 * n :]
    theta_ode = np.exp(I1) * J1 / (2.0 * math.e)
    return 1.0 - u1, I1, J1, theta_ode


def ode_limit(rho0, trained: str = "hidden") -> Kernels:
    """ResNet with ``alpha = L^-1/2`` as depth -> infinity: ``Theta_ODE(rho0)`` (see the module doc),
    computed by an adaptive 8th-order Runge-Kutta solve (DOP853, rtol 1e-13) of the ODE in
    ``u = 1 - rho``; NNGP ``rho_ODE(1)``. Both are 1 at ``rho0 = 1`` (eq-04-ode, chapter 4; this book's
    derivation)."""
    trained = check.choice("trained", trained, check.TRAINED)
    r = _np_rho(rho0)
    flat = r.ravel()
    rho1, I1, _, theta = _ode(flat)
    if trained == "all":
        theta = (2.0 * math.e * theta + math.e * rho1 + np.exp(I1) * flat) / (4.0 * math.e)
    return Kernels(rho1.reshape(r.shape), theta.reshape(r.shape), "closed-form", 0.0)


def resnet_limit(rho0, gamma: float, trained: str = "hidden") -> Kernels:
    """Depth limit of the ResNet with ``alpha = L^-gamma`` (``gamma = 0``: alpha constant)."""
    gamma = check.real("gamma", gamma, minimum=0.0)
    trained = check.choice("trained", trained, check.TRAINED)
    if gamma < 0.5:
        return ffnet_limit(rho0)
    if gamma == 0.5:
        return ode_limit(rho0, trained)
    return depth1_limit(rho0, trained)


__all__ = ["depth1_limit", "ffnet_limit", "ode_limit", "resnet_limit", "jnp"]
