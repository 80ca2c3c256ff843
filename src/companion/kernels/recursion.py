"""Layer recursions of the NNGP and NTK, in normalised form, carried in ``u = 1 - rho``.

Every kernel here is positively homogeneous, ``K(x, x') = |x| |x'| S k(rho0)`` with ``rho0`` the input
correlation, ``S`` a scale that depends only on the architecture (:func:`scales`) and ``k`` the
*normalised* kernel (``k(1) = 1``). This module computes ``k`` for the NNGP and the NTK by the layer
recursions of chapter 2 (eq-ffnet-ntk, eq-resnet-nngp, eq-resnet-ntk), with a compiled loop over depth (see below).

FFNet (Arora et al. form), unit inputs: ``rho_h = kappa1(rho_{h-1})``, ``Theta_0 = rho0``,
``Theta_h = Theta_{h-1} kappa0(rho_{h-1}) + rho_h``; ``k_nngp = rho_L``, ``k_ntk = Theta_L / (L + 1)``.

ResNet model H, ``c = 1 + alpha^2`` and everything divided by ``c^l`` (so nothing overflows; the code
carries ``c tau`` and uses only ``alpha^2 / c`` and ``1 / c``, so that any finite ``alpha^2`` works)::

    rho_l = (rho_{l-1} + alpha^2 kappa1(rho_{l-1})) / c
    tau_l = (tau_{l-1} (1 + alpha^2 kappa0(rho_{l-1})) + kappa1(rho_{l-1}) + rho_{l-1} kappa0(rho_{l-1})) / c
    p_l   = p_{l-1} (1 + alpha^2 kappa0(rho_{l-1})) / c,       tau_0 = 0, p_0 = 1

so that ``Theta_hidden = |x||x'| alpha^2 c^L tau_L`` (the forward form of chapter 2's backward
sum over ``P_l``) and ``Theta_all = |x||x'| c^L (alpha^2 tau_L + rho_L + p_L rho0)``. On the diagonal
``tau_L = 2 L / c`` and ``p_L = 1``, which give the closed forms ``2 L alpha^2 (1 + alpha^2)^(L-1)`` and
``2 L alpha^2 (1 + alpha^2)^(L-1) + 2 (1 + alpha^2)^L``. Dividing ``tau`` (not ``Theta``) by ``alpha^2``
keeps ``alpha = 0`` well defined: the normalised hidden NTK is then the depth-1 kernel.

Carrying ``u_l = 1 - rho_l`` (not ``rho_l``) keeps full relative accuracy when ``rho_l -> 1``, which is
where every deep recursion ends up (``1 - rho_l ~ 9 pi^2 / (2 l^2)`` for the FFNet): with ``rho`` carried
the angle would lose half its digits and ``kappa0`` products over 10^4 layers would drift by 1e-4.

The layer loop is a ``jax.lax.fori_loop`` with a *traced* trip count (a ``while`` loop, like
``jax.lax.scan`` without its static length): the body is compiled once, so compile time does not
grow with depth, and neither a new depth nor a new ``alpha`` triggers a recompilation.
"""

from __future__ import annotations

import dataclasses
import math
from functools import partial

import jax
import jax.numpy as jnp

from .arccos import sin_minus_tcos


@dataclasses.dataclass(frozen=True)
class Spec:
    """Which kernel: architecture, depth, residual scaling and trained parameters (hashable)."""

    arch: str  # "ffnet" or "resnet"
    depth: int
    alpha: float = 0.0  # ResNet only
    trained: str = "all"  # ResNet: "hidden" or "all"; FFNet: always "all"

    @property
    def effective_depth(self) -> float:
        """How many 'FFNet layers' of angle contraction the map applies (sets the table's resolution)."""
        if self.arch == "ffnet":
            return float(self.depth)
        a2 = self.alpha * self.alpha  # finite: alpha is validated (api.check_alpha)
        return self.depth * a2 / (1.0 + a2)


def log_scales(spec: Spec) -> tuple[float, float]:
    """Natural logs of the diagonal scales ``(S_nngp, S_ntk)`` for unit inputs (``-inf`` for a zero NTK).

    FFNet: ``(0, log(L + 1))``. ResNet: ``S_nngp = c^L``; ``S_ntk = 2 L alpha^2 c^(L-1)`` (hidden) or that
    plus ``2 c^L`` (all).
    """
    L = spec.depth
    if spec.arch == "ffnet":
        return 0.0, math.log(L + 1.0)
    a2 = spec.alpha**2
    lc = L * math.log1p(a2)
    hidden = math.log(2.0 * L * a2) + lc - math.log1p(a2) if L > 0 and a2 > 0 else -math.inf
    if spec.trained == "hidden":
        return lc, hidden
    return lc, lc + math.log(2.0 * L * a2 / (1.0 + a2) + 2.0)


def scales(spec: Spec) -> tuple[float, float]:
    """Diagonal values ``(NNGP(x, x), NTK(x, x))`` for a unit-norm ``x`` (``inf`` if they overflow).

    Computed with ``pow`` (correctly rounded up to an ulp or two), not ``exp(log(.))``.
    """
    L = spec.depth
    if spec.arch == "ffnet":
        return 1.0, L + 1.0
    a2 = spec.alpha**2
    c = 1.0 + a2
    try:
        cL = c**L
    except OverflowError:
        cL = math.inf
    hidden = 0.0 if L == 0 or a2 == 0 else 2.0 * L * a2 * (cL / c)
    return cL, (hidden if spec.trained == "hidden" else hidden + 2.0 * cL)


# The accumulators are carried as *deficits* from their diagonal values (all terms non-negative, so no
# cancellation when the pair is nearly aligned): with e0 = 1 - kappa0 = theta / pi, d = 1 - kappa1,
#   FFNet:  D_h = (h + 1) - Theta_h = h e0 + D_{h-1} (1 - e0) + d = D_{h-1} + d + (h - D_{h-1}) e0
#   ResNet: delta_l = 2 l / c - tau_l = (2 - g + 2 (l - 1) a2 e0 / c + delta_{l-1} (1 + a2 kappa0)) / c,
#           2 - g = d + u + e0 (1 - u);   pi_l = 1 - p_l = pi_{l-1} (1 - a2 e0 / c) + a2 e0 / c.
# Rounding then perturbs the deficit relatively, i.e. the kernel by eps * (1 - k), not eps * depth.
# Each accumulator is updated through one "mix" A + w (B - A) e0 = A (1 - w e0) + B w e0 (FFNet:
# D_h = D + (h - D) e0 + d; ResNet: delta_l = (d + u + delta + [a2 delta + ((1 - u) + 2 (l-1) a2 / c
# - a2 delta) e0]) / c, pi_l = pi + (a2 / c)(1 - pi) e0). e0 has an infinite derivative at u = 0 or
# v = 0 (rho = +-1), and so do the accumulators after the first layer there; the mix's derivative
# A' (1 - w e0) + B' w e0 + w' (B - A) e0 + w (B - A) e0' keeps each infinite term behind one finite
# coefficient of definite sign (no inf - inf), and takes 0 * inf as 0 where a factor is exactly 0.


def _angle(u, v):
    return 2.0 * jnp.arctan2(jnp.sqrt(u), jnp.sqrt(v))


@jax.custom_jvp
def _relu_mix(u, v, mixes):
    """``(d, tuple(A + w (B - A) e0 for (A, B, w) in mixes))``, ``d = 1 - kappa1``, ``e0 = theta / pi``."""
    theta = _angle(u, v)
    d = jnp.clip((jnp.pi * u - sin_minus_tcos(theta, u, v)) / jnp.pi, 0.0, 1.0)
    e0 = theta / jnp.pi
    return d, tuple(a + w * (b - a) * e0 for a, b, w in mixes)


def _safe_mul(p, q):
    return jnp.where((p == 0) | (q == 0), 0.0, p * q)


@_relu_mix.defjvp
def _relu_mix_jvp(primals, tangents):
    # Forward mode only (evaluated inside jvp_terms, never transposed), so selects on tangent values
    # are allowed.
    u, v, mixes = primals
    du, dv, dmixes = tangents
    e0 = _angle(u, v) / jnp.pi
    d, outs = _relu_mix(u, v, mixes)
    dx = (du - dv) / 2.0  # u + v = 2 on exact inputs: both move the angle the same way
    dd = _safe_mul(1.0 - e0, dx)  # d (1 - kappa1) / du = kappa0: finite at both ends
    uv = u * v
    slope = jnp.where(uv > 0, 1.0 / (jnp.pi * jnp.sqrt(jnp.where(uv > 0, uv, 1.0))), jnp.inf)  # d e0 / du
    de0 = _safe_mul(slope, dx)
    douts = []
    for (a, b, w), (da, db, dw) in zip(mixes, dmixes):
        douts.append(_safe_mul(da, 1.0 - w * e0) + _safe_mul(db, w * e0) + _safe_mul(dw * (b - a), e0)
                     + _safe_mul(w * (b - a), de0))
    return (d, outs), (dd, tuple(douts))


def _ffnet_step(carry, _):
    u, v, deficit, h = carry  # h = index of the layer being computed (1..L)
    one = jnp.ones_like(u)
    d, (mixed,) = _relu_mix(u, v, ((deficit, h + jnp.zeros_like(u), one),))
    return (d, 2.0 - d, mixed + d, h + 1.0), None


def _resnet_step(b, ic, carry, _):
    # b = alpha^2 / c and ic = 1 / c (both in [0, 1]: no product with alpha^2 itself, so any finite
    # alpha works); dt = c delta, the deficit in units of 1 / c (also bounded: dt_l <= 2 l)
    u, v, dt, pdef, l1 = carry  # l1 = l - 1
    one = jnp.ones_like(u)
    b_dt = jnp.where(b == 0, 0.0, b * dt)  # 0, not 0 * inf, in the derivative at rho = +-1
    mixes = ((b_dt, (1.0 - u) + 2.0 * l1 * b, one), (pdef, one, b + jnp.zeros_like(u)))
    d, (md, mp) = _relu_mix(u, v, mixes)
    dt = d + u + dt * ic + md
    return (u * ic + b * d, v * ic + b * (2.0 - d), dt, mp, l1 + 1.0), None


def _clip01(x, hi):
    # value clipped, derivative of the identity (a clip's derivative is 1/2 or 0 on its boundary)
    return x + jax.lax.stop_gradient(jnp.clip(x, 0.0, hi) - x)


def _loop(u0, v0, depth, a2, arch, trained):
    """The recursion with traced ``depth`` (loop trip count) and ``a2 = alpha^2``."""
    u0 = _clip01(u0, 2.0)
    v0 = _clip01(v0, 2.0)
    dt = u0.dtype
    a2 = a2.astype(dt)
    L = depth.astype(dt)
    zero = jnp.zeros_like(u0)

    def loop(step, init):
        return jax.lax.fori_loop(0, depth, lambda _, carry: step(carry, None)[0], init)

    if arch == "ffnet":
        u, _, deficit, _ = loop(_ffnet_step, (u0, v0, u0, zero + 1.0))
        return 1.0 - u, 1.0 - deficit / (L + 1.0)
    ic = 1.0 / (1.0 + a2)
    b = a2 * ic  # = a2 / c, without forming c * anything
    u, _, dt, pdef, _ = loop(partial(_resnet_step, b, ic), (u0, v0, zero, zero, zero))
    if trained == "hidden":
        norm = jnp.where(depth > 0, 2.0 * L, 1.0)
        ntk = jnp.where(depth > 0, 1.0 - dt / norm, zero)
    else:
        norm = 2.0 * L * b + 2.0
        # a2 = 0: the NTK is the linear kernel; the select keeps 0 * (infinite derivative of dt) out
        ntk = 1.0 - (jnp.where(b == 0, 0.0, b * dt) + u + u0 + pdef * (1.0 - u0)) / norm
    return 1.0 - u, ntk


@partial(jax.custom_jvp, nondiff_argnums=(4, 5))
def _map(u0, v0, depth, a2, arch, trained):
    return _loop(u0, v0, depth, a2, arch, trained)


def jvp_terms(u0, v0, depth, a2, arch, trained, tu=None, tv=None, ta=None):
    """Tangents ``(d nngp, d ntk)`` of the normalised map for input tangents ``tu, tv`` (arrays like
    ``u0``) and ``ta`` (scalar, of ``a2``); ``None`` means zero and is skipped, not multiplied (an
    infinite derivative at ``rho = +-1`` times a zero tangent would be NaN).

    A fori_loop with a traced trip count has a forward-mode derivative but no transpose (reverse mode).
    The map is elementwise in (u0, v0) and has one scalar a2, so its Jacobian is three arrays, computed
    here by forward mode with unit tangents; the result ``J . t`` is linear in the input tangents, so
    JAX can transpose it (``jax.grad``, ``jax.vjp`` work).
    """
    which = tuple(name for name, t in zip("uva", (tu, tv, ta)) if t is not None)
    if not which:
        return jnp.zeros_like(u0), jnp.zeros_like(u0)
    jac = _jacobian(u0, v0, depth, a2, arch=arch, trained=trained, which=which)
    ts = [t for t in (tu, tv, ta) if t is not None]
    t_n = sum(jn * t for (jn, _), t in zip(jac, ts))
    t_k = sum(jk * t for (_, jk), t in zip(jac, ts))
    return t_n, t_k


@partial(jax.jit, static_argnames=("arch", "trained", "which"))
def _jacobian(u0, v0, depth, a2, *, arch, trained, which):
    """``((d nngp, d ntk) / d w for w in which)``, ``which`` a subset of "u", "v", "a" (jitted: compiled
    once per shape, dtype and configuration, also when called while differentiating)."""
    f = lambda u, v, a: _loop(u, v, depth, a, arch, trained)  # noqa: E731
    zu, za = jnp.zeros_like(u0), jnp.zeros_like(a2)
    basis = {"u": (jnp.ones_like(u0), zu, za), "v": (zu, jnp.ones_like(u0), za), "a": (zu, zu, jnp.ones_like(a2))}
    # all directions in one loop (tangents batched by vmap): one while loop to compile, not one per direction
    stacked = tuple(jnp.stack([basis[w][i] for w in which]) for i in range(3))
    jn, jk = jax.vmap(lambda tu, tv, ta: jax.jvp(f, (u0, v0, a2), (tu, tv, ta))[1])(*stacked)
    return tuple((jn[i], jk[i]) for i in range(len(which)))


def _map_jvp(arch, trained, primals, tangents):
    from jax.custom_derivatives import SymbolicZero

    u0, v0, depth, a2 = primals
    tu, tv, _, ta = (None if isinstance(t, SymbolicZero) else t for t in tangents)
    out = _loop(u0, v0, depth, a2, arch, trained)
    return out, jvp_terms(u0, v0, depth, a2, arch, trained, tu, tv, ta)


_map.defjvp(_map_jvp, symbolic_zeros=True)


def normalized_from_u(u0: jax.Array, spec: Spec) -> tuple[jax.Array, jax.Array]:
    """Normalised ``(nngp, ntk)`` from ``u0 = 1 - rho0`` alone (``1 + rho0`` taken as ``2 - u0``)."""
    u0 = jnp.clip(u0, 0.0, 2.0)
    return normalized_from_uv(u0, 2.0 - u0, spec)


def normalized_from_uv(u0: jax.Array, v0: jax.Array, spec: Spec) -> tuple[jax.Array, jax.Array]:
    """Normalised ``(nngp, ntk)`` at ``spec.depth`` from ``u0 = 1 - rho0`` and ``v0 = 1 + rho0``.

    Any shape, float32 or float64 (the dtype of ``u0``; float64 needs ``jax_enable_x64`` on in the
    calling context, as the public functions arrange with :func:`~.precision.float64_scope`).
    Passing both ``1 - rho`` and ``1 + rho`` (each accurate in absolute terms, e.g. from
    :func:`~.correlation.exact_uv`) keeps the angle, hence ``kappa0``, accurate at both ends; the
    recursion carries both (``v_l = 1 + rho_l``: FFNet ``2 - u_l``, ResNet ``(v + alpha^2 (1 + kappa1)) / c``).
    Both outputs are exactly 1 where ``u0 = 0`` (identical directions: every step keeps ``u`` and the
    deficits exactly 0, i.e. the diagonal closed forms). For ResNet ``trained="hidden"`` at depth 0
    the NTK is identically zero and its normalised value is returned as 0.

    Depth and ``alpha`` are traced, not static: one compilation serves every depth and every alpha
    (per architecture, trained setting, shape and dtype), and compile time does not depend on depth.
    Differentiable in ``u0``, ``v0`` (forward and reverse mode, custom JVP); first derivatives only.
    """
    u0 = jnp.asarray(u0)
    dt = u0.dtype if u0.dtype in (jnp.float32, jnp.float64) else jnp.float64
    return _normalized(
        u0.astype(dt), jnp.asarray(v0, dt), jnp.asarray(spec.depth, jnp.int32),
        jnp.asarray(spec.alpha**2, dt), arch=spec.arch, trained=spec.trained,
    )


@partial(jax.jit, static_argnames=("arch", "trained"))
def _normalized(u0, v0, depth, a2, *, arch, trained):
    """Jitted :func:`_map`: ``depth`` (int32) and ``a2 = alpha^2`` traced, differentiable in u0, v0, a2."""
    return _map(u0, v0, depth, a2, arch, trained)
