"""Arc-cosine kernels of the ReLU and the numerically stable one-layer maps (eq-arccos, chapter 2).

For ``rho = cos(theta)`` in ``[-1, 1]`` (Cho & Saul's arc-cosine kernels, normalised so that
``kappa1(1) = kappa0(1) = 1``)::

    kappa0(rho) = (pi - theta) / pi
    kappa1(rho) = (sin(theta) + (pi - theta) cos(theta)) / pi

``2 E[relu(u) relu(u')] = sqrt(q q') kappa1(rho)`` and ``2 E[relu'(u) relu'(u')] = kappa0(rho)`` for a
centred Gaussian pair with variances ``q, q'`` and correlation ``rho``; ``d kappa1 / d rho = kappa0``.

Near ``rho = 1`` kappa0 has a square-root kink (``kappa0(1 - e) = 1 - sqrt(2 e) / pi + ...``) and kappa1
does not (``kappa1(1 - e) = 1 - e + (2 sqrt 2 / (3 pi)) e^(3/2) + ...``); near ``rho = -1`` both vanish
(``kappa0(-1 + e) = sqrt(2 e) / pi``, ``kappa1(-1 + e) = (2 sqrt 2 / (3 pi)) e^(3/2)``). So the
recursions carry ``u = 1 - rho`` instead of ``rho``: ``theta = 2 atan2(sqrt(u), sqrt(2 - u))`` is
accurate to a few ulps for every ``u`` in ``[0, 2]`` and ``1 - kappa1`` is computed without
cancellation (``sin(theta) - theta cos(theta)`` by its Taylor series for small ``theta``). Near
``rho = -1`` the same series in the angle from the antipode, ``phi = pi - theta``, gives
``kappa1 = (sin(phi) - phi cos(phi)) / pi`` with full relative accuracy. ``arccos`` is never called,
so no argument can leave ``[-1, 1]``.

Precision: concrete float64 (or Python float) arguments are computed in float64 whatever the global
``jax_enable_x64`` flag (inside :func:`~.precision.float64_scope`); float32 arguments in float32;
traced arguments in their traced dtype.

Derivatives (forward and reverse mode, ``jax.custom_jvp``): ``kappa1' = kappa0`` everywhere, so
``kappa1'(1) = 1`` and ``kappa1'(-1) = 0`` exactly (the formula's own derivative is 0/0 there).
``kappa0'(rho) = 1 / (pi sqrt(1 - rho^2))`` is returned as ``+inf`` at ``rho = +-1``: that is the
true one-sided derivative (vertical tangents), not a rounding artefact. Like any infinite
derivative, multiplying it by a zero tangent gives NaN.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from .correlation import check_correlations
from .precision import float64_scope, is_traced

# sin(t) - t cos(t) = sum_{k>=1} (-1)^(k+1) 2k t^(2k+1) / (2k+1)!  -- coefficients of t^3 * poly(t^2).
_S_SERIES = tuple((-1) ** (k + 1) * 2 * k / math.factorial(2 * k + 1) for k in range(1, 13))
# below: series (12 terms, truncation < 1e-26 relative at t = 1); above: direct, whose cancellation is
# then at most half a digit (sin 1 - cos 1 = 0.30 from terms of 0.84). At 0.25 with 8 terms (before)
# kappa1 near rho = -0.9 lost ~1.2 digits in the direct form.
_S_SWITCH = 1.0


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


@jax.custom_jvp
def _kappa0(r):
    u, v = 1.0 - r, 1.0 + r  # exact (Sterbenz) in the half where each is small
    theta = 2.0 * jnp.arctan2(jnp.sqrt(u), jnp.sqrt(v))
    phi = 2.0 * jnp.arctan2(jnp.sqrt(v), jnp.sqrt(u))  # pi - theta, with relative accuracy near rho = -1
    return jnp.where(r < 0, phi / jnp.pi, 1.0 - theta / jnp.pi)


@_kappa0.defjvp
def _kappa0_jvp(primals, tangents):
    (r,), (dr,) = primals, tangents
    uv = (1.0 - r) * (1.0 + r)
    slope = jnp.where(uv > 0, 1.0 / (jnp.pi * jnp.sqrt(jnp.where(uv > 0, uv, 1.0))), jnp.inf)
    return _kappa0(r), slope * dr


@jax.custom_jvp
def _kappa1(r):
    u, v = 1.0 - r, 1.0 + r
    theta = 2.0 * jnp.arctan2(jnp.sqrt(u), jnp.sqrt(v))
    phi = 2.0 * jnp.arctan2(jnp.sqrt(v), jnp.sqrt(u))
    # rho >= 0: 1 - (1 - kappa1), the deficit accurate near rho = 1; rho < 0: (sin phi - phi cos phi) / pi
    # with cos(phi) = -rho, i.e. 1 - cos(phi) = v and 1 + cos(phi) = u: accurate to ~e^1.5 near rho = -1.
    upper = 1.0 - (jnp.pi * u - sin_minus_tcos(theta, u, v)) / jnp.pi
    lower = sin_minus_tcos(phi, v, u) / jnp.pi
    return jnp.where(r >= 0, upper, jnp.maximum(lower, 0.0))


@_kappa1.defjvp
def _kappa1_jvp(primals, tangents):
    (r,), (dr,) = primals, tangents
    return _kappa1(r), _kappa0(r) * dr  # d kappa1 / d rho = kappa0: finite at both ends


def _apply(fn, rho):
    r = check_correlations(rho)
    with float64_scope(not is_traced(r) and r.dtype == np.float64):
        return fn(r)


def kappa0(rho):
    """Arc-cosine kernel of degree 0 (eq-arccos, chapter 2): ``(pi - arccos rho) / pi`` for ``rho`` in ``[-1, 1]``.

    ``kappa0(rho) = 2 E[relu'(u) relu'(u')]`` for standard Gaussians with correlation ``rho`` (Cho & Saul
    2009; normalised so that kappa1(1) = 1, chapter 2). Any array shape; same shape out, float64 for float64 or
    Python input (whatever the x64 flag), float32 for float32. Relative accuracy a few ulps, also
    near ``rho = -1`` (``kappa0(-1 + e) = sqrt(2 e) / pi``). Raises ``ValueError`` naming ``rho`` for
    non-real, non-finite or out-of-range entries (beyond 1e-12). Traceable (inside ``jax.jit`` values
    are clipped, not checked). Derivative ``1 / (pi sqrt(1 - rho^2))``, ``+inf`` at ``rho = +-1``.
    """
    return _apply(_kappa0, rho)


def kappa1(rho):
    """Arc-cosine kernel of degree 1 (eq-arccos, chapter 2): ``(sqrt(1 - rho^2) + (pi - arccos rho) rho) / pi``.

    ``kappa1(rho) = 2 E[relu(u) relu(u')]`` for standard Gaussians with correlation ``rho`` (Cho & Saul
    2009). Shapes, dtypes and errors as :func:`kappa0`. Relative accuracy a few ulps on all of
    ``[-1, 1]``, including ``rho = -1 + e`` where the value is ``(2 sqrt 2 / (3 pi)) e^1.5``.
    Derivative ``kappa0(rho)`` (custom JVP, forward and reverse mode): 1 at ``rho = 1``, 0 at ``-1``.
    """
    return _apply(_kappa1, rho)
