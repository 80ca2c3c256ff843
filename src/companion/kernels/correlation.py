"""Input correlations ``rho = <x, x'> / (|x| |x'|)`` and ``1 -+ rho`` without cancellation.

Every kernel of this package is a function of one input correlation per pair (positive homogeneity,
``K(x, x') = |x| |x'| S k(rho)``), and near ``rho = 1`` the kernels change on the scale
``1 - rho ~ 1 / L^2`` (square-root kink, eq-arccos): ``1 - rho`` is needed with *relative*
accuracy. Formed as ``1 - <x, x'> / (|x| |x'|)`` from a Gram matrix it has an absolute error of
``~ sqrt(d) eps``, so two distinct inputs with ``1 - rho`` below ~1e-15 (float64) or ~1e-6
(float32) look identical, and deep kernels of near-duplicates come out wrong (possibly indefinite).

The identity used instead (this book's derivation, elementary)::

    1 - rho = |a - b|^2 / 2,     1 + rho = |a + b|^2 / 2,     a = x / |x|, b = x' / |x'|

has no cancellation: its relative error is ``~ eps |a| / |a - b|`` from the rounding of ``a`` and
``b`` (so the normalised kernel's error is ``~ depth * eps``, the recursion's own rounding level).
It costs O(d) per pair, so it is applied only to the pairs whose Gram correlation is within
:func:`threshold` of ``+-1`` (``min(1 - rho, 1 + rho) < threshold``; none for random inputs, a small
fraction for clustered data); the bulk keeps the O(n^2 d) Gram matrix (BLAS). Near ``rho = -1`` the
same holds for ``1 + rho`` by symmetry. The exact values are computed in float64 NumPy on the host
(whatever the JAX x64 setting), which also makes them exactly symmetric (``(a - b)^2 = (b - a)^2``).

Public helpers: :func:`check_correlations` (the one validated entry point for correlation arguments),
:func:`threshold`, :func:`unit_rows`, :func:`exact_uv`. The matrix-level function
:func:`companion.kernels.correlations` (in :mod:`.api`) combines them with the engine's Gram stage.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from companion.util import validate as check
from .precision import float64_scope, is_traced

#: rounding slack beyond ``[-1, 1]`` that is accepted (and clipped) in a correlation argument
SLACK = 1e-12


def threshold(dtype) -> float:
    """Pairs with ``min(1 - rho, 1 + rho)`` below this (from the Gram matrix in ``dtype``) get the
    exact ``|a -+ b|^2 / 2``. Chosen so that the Gram matrix's own rounding (``~ sqrt(d) eps``) moves
    the normalised kernels by less than ~1e-13 (float64) / ~1e-6 (float32) above it: the largest
    ``|dk / d(1 - rho)|`` above the threshold is ~7 (float64, 1/64) and ~2 (float32, 1/16) over
    FFNet/ResNet depths 1..10^4 (measured on the recursion; it peaks at depth ~30)."""
    return 1.0 / 64.0 if np.dtype(dtype) == np.float64 else 1.0 / 16.0


def check_correlations(rho, name: str = "rho"):
    """The validated correlation argument: returns a JAX array clipped to ``[-1, 1]``.

    Concrete values: real, finite, within ``[-1 - 1e-12, 1 + 1e-12]`` (rounding slack, clipped), else
    ``ValueError`` naming ``name``; dtype float32 kept, anything else as float64 (made inside
    :func:`float64_scope`, so float64 whatever the global JAX flag). Traced values (inside ``jit``,
    ``grad``...) are not checked: they are clipped with a straight-through derivative (the value is
    clipped, the derivative is that of the identity, so ``rho = +-1`` differentiates one-sidedly).
    """
    if is_traced(rho):
        r = jnp.asarray(rho)
        if not jnp.issubdtype(r.dtype, jnp.floating):
            r = r.astype(jnp.result_type(float))
        return r + jax.lax.stop_gradient(jnp.clip(r, -1.0, 1.0) - r)
    a = np.asarray(rho)
    if not np.issubdtype(a.dtype, np.number) or np.iscomplexobj(a) or a.dtype == np.bool_:
        raise check.fail(name, f"array of dtype {a.dtype}", "real correlations in [-1, 1]")
    if not np.all(np.isfinite(a)):
        raise check.fail(name, "array with non-finite entries", "finite correlations in [-1, 1]")
    if a.size and (a.min() < -1.0 - SLACK or a.max() > 1.0 + SLACK):
        raise check.fail(name, f"array with range [{a.min()!r}, {a.max()!r}]",
                         f"correlations in [-1, 1] (rounding slack {SLACK:g})")
    dt = np.float32 if a.dtype == np.float32 else np.float64
    a = np.clip(a.astype(dt), -1.0, 1.0)
    with float64_scope(dt == np.float64):
        return jnp.asarray(a, dt)


def unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows of ``x (n, d)`` divided by their norms, float64 NumPy (zero rows stay zero). Each row is first
    scaled by an exact power of two so that neither the norm nor the division under- or overflows."""
    x = np.asarray(x, np.float64)
    m = np.max(np.abs(x), axis=1)
    ok = m > 0
    s = np.ones_like(m)
    s[ok] = np.exp2(np.floor(np.log2(m[ok])))
    xs = x / s[:, None]
    r = np.sqrt(np.einsum("ij,ij->i", xs, xs))
    return np.where(ok[:, None], xs / np.where(ok, r, 1.0)[:, None], 0.0)


def exact_uv(a1: np.ndarray, a2: np.ndarray, i: np.ndarray, j: np.ndarray,
             block: int = 1 << 16) -> tuple[np.ndarray, np.ndarray]:
    """``(1 - rho, 1 + rho) = (|a1_i - a2_j|^2 / 2, |a1_i + a2_j|^2 / 2)`` for the index pairs ``(i, j)``
    (``a1 (n1, d)``, ``a2 (n2, d)`` unit rows from :func:`unit_rows`; float64, O(d) per pair)."""
    u = np.empty(len(i))
    v = np.empty(len(i))
    for s in range(0, len(i), block):
        p, q = a1[i[s : s + block]], a2[j[s : s + block]]
        dm, dp = p - q, p + q
        u[s : s + block] = 0.5 * np.einsum("ij,ij->i", dm, dm)
        v[s : s + block] = 0.5 * np.einsum("ij,ij->i", dp, dp)
    return u, v


def uv_from_gram(g, r1, r2):
    """``(1 - rho, 1 + rho, near)`` from a Gram block ``g (n1, n2)`` of rows with norms ``r1, r2`` (JAX,
    traceable). ``near`` marks the pairs within :func:`threshold` of ``rho = +-1`` (zero rows: never)."""
    nn = r1[:, None] * r2[None, :]
    rho = jnp.clip(g / jnp.where(nn > 0, nn, 1.0), -1.0, 1.0)
    u, v = 1.0 - rho, 1.0 + rho
    near = (jnp.minimum(u, v) < threshold(g.dtype)) & (nn > 0)
    return u, v, near
