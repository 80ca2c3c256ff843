"""Kernel entries ``|x| |x'| S k`` formed without overflow, and the Cauchy-Schwarz bound on them.

Every kernel of this package is ``K(x, x') = |x| |x'| S k(rho)`` (:mod:`.gram`). The norms and the
scale span far more than the float range (``|x|`` from 1e-300 to 1e300, ``S = (1 + alpha^2)^L``
beyond 1e308), so they are carried in binary floating-point form (this book's derivation, elementary):

* a row ``x`` is ``xs 2^e`` with ``2^e`` the power of two at or below its largest ``|entry|`` (so
  ``xs`` is exact and ``r = |xs|`` lies in ``[1, 2 sqrt(d))``): ``|x| = r 2^e``;
* the scale is ``S = f 2^E`` with ``f`` in ``[1, 2)`` (:func:`scale_parts`);
* an entry is ``K_ij = (((r_i r_j) f) k_ij) 2^(e_i + e_j + E)``.

Multiplying by a power of two commutes with rounding (away from the subnormal range), so an entry
is the same floating-point number however the exponent is distributed (the blocked engine balances
it between row and column weights, the traced path applies it once with :func:`ldexp`); it is
finite whenever its value is (nothing but the final product can overflow); it depends on its own
two rows only; and a row paired with a copy of itself gives exactly the diagonal
``D_i = ((r_i r_i) f) 2^(2 e_i + E)`` (:func:`diagonal_values`).

Cauchy-Schwarz. The exact kernels are Gram matrices of features, so ``|K_ij| <= sqrt(K_ii K_jj)``
with equality for parallel inputs (``k = 1``). Rounded, ``(r_i r_j) f`` and the geometric mean of
``(r_i r_i) f`` and ``(r_j r_j) f`` differ by an ulp or two, so a pair of nearly parallel rows can
exceed the bound by that much. :func:`cauchy_schwarz` enforces the bound: every entry is limited to
``B_ij = (sqrt(D_i) sqrt(D_j)) (1 - 8 u)`` (``u`` the unit roundoff; the margin is applied to the product, so
``B_ij = B_ji`` and a symmetric matrix stays symmetric; with its own four roundings
``B_ij <= sqrt(D_i D_j) (1 - 4 u)``, so ``|K_ij| <= sqrt(K_ii K_jj)`` holds exactly, and also when the
bound is itself evaluated in floating point with a few roundings), or ``B_ij = D_i`` where
``D_i = D_j``; and an entry of two rows with exactly the same direction (``1 - rho = 0``) and the
same diagonal is that diagonal. This is a mathematically guaranteed inequality restored after
rounding, not a limit on the inputs: it moves an entry by at most ~8 ulps (parallel rows of
different norms, whose exact entry is at the bound, come out up to that much below it), and only
where rounding broke the inequality or left no margin. It is applied where both diagonals are
normal floating-point numbers: a diagonal that over- or underflows (a cross kernel of a 1e300 and
a 1e-300 input has finite entries) bounds nothing, and the entry keeps its value. In the subnormal
range XLA on CPU flushes values to zero.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

_LN2 = math.log(2.0)


# ------------------------------------------------------------------------------ host (NumPy, float64)
def row_parts(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Host, float64: ``(xs, r, e)`` with ``x = xs 2^e`` row by row (``e`` int64, the exponent of the row's
    largest ``|entry|``, so the scaling is exact and ``max |xs|`` is in ``[1, 2)``) and ``r = |xs|``.
    A zero row gives ``e = 0, r = 0``."""
    x = np.asarray(x, np.float64)
    m = np.max(np.abs(x), axis=1) if x.shape[1] else np.zeros(x.shape[0])
    _, ex = np.frexp(m)
    e = np.where(m > 0, ex.astype(np.int64) - 1, 0)
    xs = np.ldexp(x, -e[:, None])
    return xs, np.sqrt(np.einsum("ij,ij->i", xs, xs)), e


def row_log(r: np.ndarray, e: np.ndarray) -> np.ndarray:
    """``log |x| = log r + e log 2`` (``-inf`` for a zero row), from :func:`row_parts`."""
    with np.errstate(divide="ignore"):
        return np.where(r > 0, np.log(np.where(r > 0, r, 1.0)) + e * _LN2, -np.inf)


def scale_parts(log_s: float, s: float) -> tuple[float, int]:
    """``(f, E)`` with ``S = f 2^E`` and ``f`` in ``[1, 2)`` (``(0, 0)`` for ``S = 0``).

    ``s`` is the scale as computed directly (``pow``, correctly rounded up to an ulp, or ``inf``),
    ``log_s`` its natural logarithm: where ``s`` is a normal finite float64 the split is exact
    (``frexp``); otherwise (``S`` beyond the float64 range) ``f = exp(log_s - E log 2)``, whose relative
    error is that of ``log_s`` in absolute terms (~``|log_s| * 1e-16``).
    """
    if log_s == -math.inf or s == 0.0:
        return 0.0, 0
    if math.isfinite(s) and s >= np.finfo(np.float64).tiny:
        mant, ex = math.frexp(s)
        return 2.0 * mant, ex - 1
    big_e = math.floor(log_s / _LN2)
    f = math.exp(log_s - big_e * _LN2)
    if f >= 2.0:  # the floor of a rounded quotient can be one off
        f, big_e = f / 2.0, big_e + 1
    elif f < 1.0:
        f, big_e = f * 2.0, big_e - 1
    return f, big_e


def diagonal_values(r: np.ndarray, e: np.ndarray, f: float, big_e: int) -> np.ndarray:
    """Host, float64: ``D = ((r r) f) 2^(2 e + E)``, each row's kernel with itself (``inf`` or 0 where it
    over- or underflows), the value a pair of identical rows gets off the diagonal too."""
    with np.errstate(over="ignore", under="ignore"):
        expo = np.clip(2 * e + big_e, -4000, 4000)  # beyond: 0 or inf either way (r r f < 2^5 d)
        return np.ldexp((r * r) * f, expo.astype(np.int64))


def bound_factors(d: np.ndarray, dtype) -> tuple[np.ndarray, np.ndarray]:
    """Host: ``(Dn, sqrt(D))`` in ``dtype`` for :func:`cauchy_schwarz` from the float64
    diagonal values ``d``, rounded to ``dtype`` first (the bound is the one the output's own diagonals
    set; NumPy's square root is correctly rounded). Rows whose diagonal is not a normal finite number
    (0, subnormal or inf after rounding) get ``Dn = NaN`` and infinite factors: no bound from them."""
    dt = np.dtype(dtype)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        dd = np.asarray(d).astype(dt)
        ok = (dd >= np.finfo(dt).tiny) & (dd < np.inf)
        g = np.where(ok, np.sqrt(np.where(ok, dd, 1.0)).astype(dt), np.inf).astype(dt)
        return np.where(ok, dd, np.nan).astype(dt), g


def margin(dtype) -> np.ndarray:
    """``1 - 8 u`` in ``dtype`` (``u`` = half the machine epsilon; exactly representable)."""
    dt = np.dtype(dtype)
    return np.asarray(1.0 - 4.0 * float(np.finfo(dt).eps), dt)


# ------------------------------------------------------------------------------ traceable (JAX)
def _exp_range(dtype) -> tuple[int, int]:
    fi = jnp.finfo(dtype)
    return int(fi.minexp), int(fi.maxexp) - 1  # normal exponents: [-1022, 1023] (float64), [-126, 127]


def pow2(e, dtype):
    """``2^e`` exactly (bit pattern), for integer ``e`` in the normal exponent range of ``dtype``."""
    if jnp.dtype(dtype) == jnp.float64:
        bits = (e.astype(jnp.int64) + 1023) << 52
        return jax.lax.bitcast_convert_type(bits, jnp.float64)
    bits = (e.astype(jnp.int32) + 127) << 23
    return jax.lax.bitcast_convert_type(bits, jnp.float32)


def ldexp(m, e):
    """``m 2^e`` for integer arrays ``e`` of any size (``jnp.ldexp`` forms ``2^e`` in floating point,
    which overflows for ``e > 1023`` although ``m 2^e`` may be finite). The exponent is applied as two
    exact powers of two of the same sign (so no intermediate leaves the range unless the result
    does); differentiable in ``m`` (the derivative is the same scaling)."""
    lo, hi = _exp_range(m.dtype)
    e = jnp.clip(e, 2 * lo, 2 * hi)  # beyond: the result is 0 or inf either way
    e1 = jnp.floor_divide(e, 2)
    return (m * pow2(e1, m.dtype)) * pow2(e - e1, m.dtype)


def traced_row_parts(x):
    """Traceable :func:`row_parts`: ``(xs, r, e)`` (``e`` int32; derivatives flow through ``xs`` and
    ``r``, the exponent is piecewise constant)."""
    m = jax.lax.stop_gradient(jnp.max(jnp.abs(x), axis=1))
    ok = m > 0
    _, ex = jnp.frexp(jnp.where(ok, m, 1.0))
    e = jnp.where(ok, ex - 1, 0).astype(jnp.int32)
    xs = ldexp(x, -e[:, None])
    sq = jnp.sum(xs * xs, axis=1)
    r = jnp.where(ok, jnp.sqrt(jnp.where(ok, sq, 1.0)), 0.0)  # no derivative through sqrt(0)
    return xs, r, e


def traced_bound_factors(d):
    """Traceable :func:`bound_factors` of diagonal values ``d`` already in the output dtype (no
    derivative: the bound only corrects rounding)."""
    d = jax.lax.stop_gradient(d)
    ok = (d >= jnp.finfo(d.dtype).tiny) & (d < jnp.inf)
    g = jnp.where(ok, jnp.sqrt(jnp.where(ok, d, 1.0)), jnp.inf)
    return jnp.where(ok, d, jnp.nan), g


def traced_scale_parts(log_s, dtype):
    """Traceable :func:`scale_parts` from a traced ``log S`` (``-inf`` for ``S = 0``): ``(f, E)``, ``f``
    differentiable (its derivative is ``f d log S``; ``E`` is piecewise constant)."""
    zero = log_s == -jnp.inf
    ls = jnp.where(zero, 0.0, log_s)
    big_e = jax.lax.stop_gradient(jnp.floor(ls / _LN2))
    f = jnp.exp(ls - big_e * _LN2)
    lo, hi = _exp_range(dtype)
    big_e = jnp.clip(big_e, 4 * lo, 4 * hi).astype(jnp.int32)  # beyond: every entry is 0 or inf
    return jnp.where(zero, 0.0, f).astype(dtype), jnp.where(zero, 0, big_e)


def traced_log_scales(arch: str, depth: int, a2, trained: str):
    """``(log S_nngp, log S_ntk)`` of a traced ``a2 = alpha^2`` (``-inf`` for a zero scale), with finite
    derivatives (at ``alpha = 0`` too: the hidden NTK's ``log(a2)`` is selected away there)."""
    L = float(depth)
    if arch == "ffnet":
        return jnp.zeros_like(a2), jnp.zeros_like(a2) + math.log(L + 1.0)
    lc = jnp.log1p(a2)
    log_n = L * lc
    if trained == "all":  # S = 2 c^(L-1) (L a2 + c)
        return log_n, math.log(2.0) + (L - 1.0) * lc + jnp.log(L * a2 + 1.0 + a2)
    pos = a2 > 0
    if depth == 0:
        return log_n, jnp.full_like(a2, -jnp.inf)
    hidden = math.log(2.0 * L) + jnp.log(jnp.where(pos, a2, 1.0)) + (L - 1.0) * lc
    return log_n, jnp.where(pos, hidden, -jnp.inf)


def cauchy_schwarz(val, dn1, g1, dn2, g2, same_dir, straight_through: bool = False):
    """Entries limited to the Cauchy-Schwarz bound (module doc), traceable, any float dtype.

    ``val (n1, n2)``: the entries; ``dn1 (n1,)``, ``dn2 (n2,)``: the rows' diagonal values ``D`` (NaN
    where not a normal number), ``g1 = sqrt(D1)``, ``g2 = sqrt(D2)`` (:func:`bound_factors`); the bound is
    ``(g1 g2) (1 - 8 u)``, the margin applied after the product, so that the bound of ``(i, j)`` and of
    ``(j, i)`` are the same number and a symmetric matrix stays symmetric;
    ``same_dir (n1, n2)``: pairs with exactly the same direction. ``straight_through``: the value is
    bounded, the derivative stays that of ``val``. Where a diagonal over- or underflows (a cross
    kernel of a huge and a tiny input, whose entries are finite) the rounded diagonals cannot bound
    the entry, and it keeps its value. A NaN entry stays NaN.
    """
    eq = dn1[:, None] == dn2[None, :]  # False for NaN: no bound from a diagonal out of range
    # never NaN: g1, g2 are positive or inf, and dn1 is selected only where it equals dn2 (not NaN)
    bound = jnp.where(eq, dn1[:, None], (g1[:, None] * g2[None, :]) * jnp.asarray(margin(val.dtype), val.dtype))
    out = jnp.copysign(jnp.minimum(jnp.abs(val), bound), val)
    out = jnp.where(eq & same_dir, dn1[:, None], out)
    if straight_through:
        # out - val is exact (Sterbenz: within a factor 2), so the sum is out; 0 where nothing changed
        # (an infinite entry stays inf, not inf - inf)
        return val + jax.lax.stop_gradient(jnp.where(out == val, 0.0, out - val))
    return out
