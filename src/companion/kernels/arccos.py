"""Arc-cosine kernels of the ReLU and the numerically stable one-layer maps.

For ``rho = cos(theta)`` in ``[-1, 1]`` (Cho & Saul's arc-cosine kernels, normalised so that
``kappa1(1) = kappa0(1) = 1``)::

    kappa0(rho) = (pi - theta) / pi
    kappa1(rho) = (sin(theta) + (pi - theta) cos(theta)) / pi

``2 E[relu(u) relu(u')] = sqrt(q q') kappa1(rho)`` and ``2 E[relu'(u) relu'(u')] = kappa0(rho)`` for a
centred Gaussian pair with variances ``q, q'`` and correlation ``rho``.

Near ``rho = 1`` both maps have a square-root kink (``kappa0(1 - e) = 1 - sqrt(2 e) / pi + ...``), so the
recursions carry ``u = 1 - rho`` instead of ``rho``: ``theta = 2 atan2(sqrt(u), sqrt(2 - u))`` is
accurate to a few ulps for every ``u`` in ``[0, 2]`` and ``1 - kappa1`` is computed without cancellation
(``sin(theta) - theta cos(theta)`` by its Taylor series for small ``theta``). ``arccos`` is never
called, so no argument can leave ``[-1, 1]``.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from companion.util import validate as check

# sin(t) - t cos(t) = sum_{k>=1} (-1)^(k+1) 2k t^(2k+1) / (2k+1)!  -- coefficients of t^3 * poly(t^2).
_S_SERIES = tuple((-1) ** (k + 1) * 2 * k / math.factorial(2 * k + 1) for k in range(1, 9))
_S_SWITCH = 0.25  # below: series (truncation < 1e-22 relative); above: direct (no cancellation left)


def theta_from_u(u):
    """Angle ``theta`` in ``[0, pi]`` from ``u = 1 - cos(theta)`` in ``[0, 2]`` (accurate at both ends)."""
    u = jnp.clip(u, 0.0, 2.0)
    return 2.0 * jnp.arctan2(jnp.sqrt(u), jnp.sqrt(2.0 - u))


def sin_minus_tcos(theta, u, v=None):
    """``sin(theta) - theta cos(theta)`` (``~ theta^3 / 3`` near 0) from ``theta``, ``u = 1 - cos`` and
    ``v = 1 + cos`` (default ``2 - u``)."""
    v = 2.0 - u if v is None else v
    t2 = theta * theta
    series = jnp.zeros_like(theta) + _S_SERIES[-1]
    for c in reversed(_S_SERIES[:-1]):
        series = series * t2 + c
    series = series * t2 * theta
    direct = jnp.sqrt(jnp.maximum(u * v, 0.0)) - theta * (1.0 - u)
    return jnp.where(theta < _S_SWITCH, series, direct)


def relu_step(u, v=None):
    """One ReLU layer on a unit-variance pair: from ``u = 1 - rho`` return ``(theta, kappa0, 1 - kappa1)``.

    ``1 - kappa1 = (pi u - (sin(theta) - theta cos(theta))) / pi`` has no cancellation near ``u = 0``.
    ``v = 1 + rho`` (default ``2 - u``) may be passed separately so that the angle keeps full accuracy
    near ``rho = -1`` too: ``theta = 2 atan2(sqrt(u), sqrt(v))``.
    """
    u = jnp.clip(u, 0.0, 2.0)
    v = 2.0 - u if v is None else jnp.clip(v, 0.0, 2.0)
    theta = 2.0 * jnp.arctan2(jnp.sqrt(u), jnp.sqrt(v))
    k0 = 1.0 - theta / jnp.pi
    d = (jnp.pi * u - sin_minus_tcos(theta, u, v)) / jnp.pi
    return theta, k0, jnp.clip(d, 0.0, 1.0)


def _rho(rho, name: str = "rho"):
    try:
        a = np.asarray(rho)
    except jax.errors.TracerArrayConversionError:  # inside jit/vmap/grad: no value checks, just clip
        return jnp.clip(rho, -1.0, 1.0)
    if not np.issubdtype(a.dtype, np.number) or np.iscomplexobj(a):
        raise check.fail(name, f"array of dtype {a.dtype}", "real correlations in [-1, 1]")
    if not np.all(np.isfinite(a)):
        raise check.fail(name, "array with non-finite entries", "finite correlations in [-1, 1]")
    if a.size and (a.min() < -1.0 - 1e-12 or a.max() > 1.0 + 1e-12):
        raise check.fail(name, f"array with range [{a.min()!r}, {a.max()!r}]", "correlations in [-1, 1]")
    dt = a.dtype if a.dtype in (np.float32, np.float64) else np.float64
    return jnp.clip(jnp.asarray(a, dt), -1.0, 1.0)


def kappa0(rho):
    """Arc-cosine kernel of degree 0: ``(pi - arccos rho) / pi`` for ``rho`` in ``[-1, 1]``.

    ``kappa0(rho) = 2 E[relu'(u) relu'(u')]`` for standard Gaussians with correlation ``rho``.
    Accepts any array shape; raises ``ValueError`` for entries outside ``[-1, 1]`` (beyond 1e-12).
    Traceable (inside ``jax.jit`` the values are clipped to ``[-1, 1]`` instead of checked).
    """
    r = _rho(rho)
    theta = 2.0 * jnp.arctan2(jnp.sqrt(1.0 - r), jnp.sqrt(1.0 + r))
    return 1.0 - theta / jnp.pi


def kappa1(rho):
    """Arc-cosine kernel of degree 1: ``(sqrt(1 - rho^2) + (pi - arccos rho) rho) / pi``.

    ``kappa1(rho) = 2 E[relu(u) relu(u')]`` for standard Gaussians with correlation ``rho``.
    Accepts any array shape; raises ``ValueError`` for entries outside ``[-1, 1]`` (beyond 1e-12).
    """
    r = _rho(rho)
    theta, _, d = relu_step(1.0 - r)
    # 1 - d is accurate near rho = 1; the direct form keeps relative accuracy near rho = -1 (~ e^1.5).
    direct = (jnp.sqrt(jnp.maximum((1.0 - r) * (1.0 + r), 0.0)) + (jnp.pi - theta) * r) / jnp.pi
    return jnp.where(r > 0, 1.0 - d, jnp.maximum(direct, 0.0))
