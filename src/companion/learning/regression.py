"""Kernel ridge regression and early-stopped (gradient-flow) kernel regression.

Everything here takes kernel matrices (NumPy or JAX arrays), never a network, so it works with any
kernel (NTK, NNGP, empirical NTK).

Conventions (chosen so that a ridge or a stopping time means the same thing at every sample size n,
which is what lets a value chosen on a validation split be reused on the full training set):

* **Kernel ridge** with ``ridge`` = lambda minimises ``(1/n) sum_i (f(x_i) - y_i)^2 + lambda |f|_H^2``::

      f(x) = K(x, X) (K + n lambda I)^{-1} y.

* **Gradient flow** on ``(1/(2n)) sum_i (f(x_i) - y_i)^2`` from ``f = 0`` for time ``t`` (what training
  an infinitely wide network with learning rate ``eta`` for ``s`` steps does, with ``t = eta s``)::

      f_t(x) = K(x, X) K^{-1} (I - exp(-K t / n)) y.

  ``t = 0`` gives ``f = 0``; ``t = inf`` gives the minimum-norm interpolant ``K(x, X) K^+ y`` (the
  ridgeless limit, ``ridge = 0``). Roughly, ``t`` plays the role of ``1 / lambda``.

Both are spectral filters of the training kernel ``K = V diag(s) V^T``: ``f(x) = K(x, X) V diag(g(s)) V^T y``
with ``g(s) = 1/(s + n lambda)`` or ``g(s) = (1 - exp(-s t/n)) / s`` (computed with ``expm1``; it tends to
``t/n`` as ``s -> 0``). :class:`KernelRegression` does one eigendecomposition and then evaluates a whole
grid of ridges or stopping times for about the cost of one: the dual coefficients for all grid values
are ``V @ (G * (V^T y))`` (``n^2 J`` flops) and the predictions ``K_test @ coefficients``.
:func:`kernel_ridge` solves a single ridge by Cholesky.

Rounding can make the smallest eigenvalues of a PSD kernel matrix slightly negative; they are set to
zero (a warning is issued if one is more negative than ``1e-6 |s|_max``, ``1e-3`` in float32: then the
matrix is not PSD).
For interpolation, eigenvalues below ``n * eps * s_max`` are treated as zero (pseudo-inverse).

Model selection (:func:`companion.learning.selection.select`, :func:`~companion.learning.selection.evaluate`) follows common practice: a random validation split
of the *training* set picks the ridge / stopping time from the grid (lowest validation error; ties by
validation MSE, then the earlier grid value), and the model is then refitted on the full training set
with that value (with the normalised conventions above the value carries over from ``n_fit`` to
``n``). The test set is used only for the reported numbers; the oracle (best test value) is reported
separately and labelled as such.

Targets: ``y`` of shape ``(n,)`` (regression, or +-1 labels for two classes) or ``(n, C)`` (one-hot).
Predictions for a grid have a leading grid axis: ``(J, m)`` or ``(J, m, C)``.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Callable, Sequence

import numpy as np

from companion.util import validate as check

__all__ = [
    "METHODS",
    "KernelRegression",
    "kernel_ridge",
    "gradient_flow",
    "kernel_matrix",
    "spectral_filter",
]

METHODS = ("ridge", "flow")


# ---------------------------------------------------------------------------------------------------
# backend helpers: NumPy in, NumPy out; JAX in, JAX out (so a GPU does the work when K lives there)
def _is_jax(a: Any) -> bool:
    try:
        import jax
    except ImportError:  # pragma: no cover - jax is a dependency
        return False
    return isinstance(a, jax.Array)


def _xp(a: Any):
    if _is_jax(a):
        import jax.numpy as jnp

        return jnp
    return np


def _as_float(name: str, a: Any, dt: np.dtype | None):
    """Return ``a`` as a float array of dtype ``dt`` (default: float64 unless it is float32 already)."""
    xp = _xp(a)
    if not _is_jax(a):
        a = np.asarray(a)
    if a.dtype.kind not in "fiu" or a.dtype.kind == "c":
        raise check.fail(name, f"array of dtype {a.dtype}", "a real numeric array")
    target = dt if dt is not None else (a.dtype if a.dtype == np.float32 else np.dtype("float64"))
    return xp.asarray(a, dtype=target)


def _finite(name: str, a: Any) -> None:
    xp = _xp(a)
    if not bool(xp.all(xp.isfinite(a))):
        raise check.fail(name, "array with non-finite entries", "finite entries only (no NaN or inf)")


def _check_kernel(name: str, K: Any, dt) -> Any:
    K = _as_float(name, K, dt)
    if K.ndim != 2 or K.shape[0] != K.shape[1] or K.shape[0] < 1:
        raise check.fail(name, f"array of shape {tuple(K.shape)}", "a square (n, n) kernel matrix, n >= 1")
    _finite(name, K)
    # symmetry via one random probe: K v = K^T v (a full K - K^T would double the memory of a 60k kernel).
    # |K_ij| <= max_i K_ii for a PSD matrix, so max(diag) |v|_1 bounds the entries of K v.
    n = K.shape[0]
    xp = _xp(K)
    v = xp.asarray(np.random.default_rng(0).standard_normal(n), dtype=K.dtype)
    diff = float(xp.max(xp.abs(K @ v - K.T @ v)))
    scale = max(float(xp.max(xp.abs(xp.diagonal(K)))), float(np.finfo(np.float64).tiny)) * float(xp.sum(xp.abs(v)))
    if diff > (1e-4 if K.dtype == np.float32 else 1e-9) * scale:
        raise check.fail(name, "a non-symmetric matrix", "a symmetric kernel matrix K(X, X)")
    return K


def _check_targets(name: str, y: Any, n: int, dt, xp) -> Any:
    y = _as_float(name, y, dt)
    if y.ndim not in (1, 2) or y.shape[0] != n:
        raise check.fail(name, f"array of shape {tuple(y.shape)}", f"shape ({n},) or ({n}, C), matching the kernel")
    _finite(name, y)
    return xp.asarray(y)


def _check_cross(name: str, K: Any, n: int, dt) -> Any:
    K = _as_float(name, K, dt)
    if K.ndim != 2 or K.shape[1] != n or K.shape[0] < 1:
        raise check.fail(name, f"array of shape {tuple(K.shape)}", f"shape (m, {n}): K(X_test, X_train)")
    _finite(name, K)
    return K


def _check_grid(method: str, values: Any) -> np.ndarray:
    check.choice("method", method, METHODS)
    try:
        arr = np.atleast_1d(np.asarray(values, dtype=float))
    except (TypeError, ValueError):
        raise check.fail("values", values, "a non-empty 1-D sequence of ridges or stopping times") from None
    if arr.ndim != 1 or arr.size < 1:
        raise check.fail("values", values, "a non-empty 1-D sequence of ridges or stopping times")
    what = "ridge values" if method == "ridge" else "stopping times"
    if np.any(np.isnan(arr)) or np.any(arr < 0):
        raise check.fail("values", values, f"{what} >= 0 (inf allowed)")
    return arr


def _dtype(dtype: Any):
    return None if dtype is None else check.dtype("dtype", dtype)


# ---------------------------------------------------------------------------------------------------
def spectral_filter(eigenvalues: Any, method: str, values: Any, n: int, *, rcond: float | None = None):
    """The filter ``g`` of shape ``(J, n_eig)`` for each grid value (rows) and eigenvalue (columns).

    ``ridge``: ``1 / (s + n*lambda)``; ``flow``: ``(1 - exp(-s t / n)) / s`` (``t/n`` at ``s = 0``).
    ``lambda = 0`` and ``t = inf`` give the pseudo-inverse ``1/s`` for ``s > rcond * s_max``, else 0
    (``rcond`` default ``n * eps``). ``lambda = inf`` and ``t = 0`` give 0. ``eigenvalues`` are those of
    a PSD kernel (``>= 0``).

    A ridge below the kernel's rounding level, ``n*lambda <= rcond * s_max``, cannot be told apart from
    0 in the dtype and is treated as 0 (the pseudo-inverse), and likewise a time with
    ``t / n >= 1 / (rcond * s_max)`` as ``inf``: otherwise the filter's ``1 / (n*lambda)`` on the
    rounding-level eigenvalues multiplies the rounding noise of ``K_test`` into huge or infinite
    predictions (e.g. ``1e284`` instead of the training mean for a rank-one kernel and ``lambda = 1e-300``).
    Grid values above these levels are not affected. A denominator below ``1 / max`` of the dtype (a
    zero kernel with an underflowing ridge) also gives 0, so the filter is always finite.
    """
    vals = _check_grid(method, values)
    n = check.integer("n", n, minimum=1)
    s = _as_float("eigenvalues", eigenvalues, None)
    if s.ndim != 1 or s.shape[0] < 1:
        raise check.fail("eigenvalues", f"array of shape {tuple(s.shape)}", "a non-empty 1-D array")
    _finite("eigenvalues", s)
    xp = _xp(s)
    if bool(xp.any(s < 0)):
        raise check.fail("eigenvalues", f"array with minimum {float(xp.min(s))!r}", "eigenvalues >= 0 of a PSD kernel")
    dt = s.dtype
    eps = float(np.finfo(dt).eps)
    big = float(np.finfo(dt).max)
    rcond = n * eps if rcond is None else check.real("rcond", rcond, minimum=0.0)

    def recip(den):  # 1 / den where that is representable, else 0 (see the docstring)
        ok = den > 1.0 / big
        return xp.where(ok, 1.0 / xp.where(ok, den, 1.0), 0.0)

    smax = xp.max(s)
    floor = rcond * float(smax)  # the kernel's rounding level
    pinv = xp.where(s > floor, recip(s), 0.0)
    rows = []
    for v in map(float, vals):  # Python floats: the checks below may overflow to inf, quietly
        if method == "ridge":
            if v == 0 or n * v <= floor:
                g = pinv
            elif math.isinf(v) or n * v > big:
                g = xp.zeros_like(s)
            else:
                g = recip(s + n * v)
        else:
            if math.isinf(v) or v / n > big or (v / n) * floor >= 1.0:
                g = pinv
            elif v == 0:
                g = xp.zeros_like(s)
            else:
                x = s * (v / n)
                safe = xp.where(x > 0, s, 1.0)
                g = xp.where(x > 0, -xp.expm1(-x) / safe, v / n)
        rows.append(xp.asarray(g, dtype=dt))
    return xp.stack(rows)


class KernelRegression:
    """One eigendecomposition of the training kernel; predictions for whole grids of ridges/times.

    Args:
      K_train: the ``(n, n)`` kernel matrix ``K(X, X)`` (NumPy or JAX; JAX input gives JAX output).
      y_train: targets ``(n,)`` or ``(n, C)``.
      dtype: ``None`` (float64, or float32 if ``K_train`` is float32), ``"float64"`` or ``"float32"``.

    Attributes: ``eigenvalues`` (ascending, clipped at 0), ``eigenvectors``, ``projected`` (``V^T y``),
    ``n``.
    """

    def __init__(self, K_train: Any, y_train: Any, *, dtype: Any = None):
        dt = _dtype(dtype)
        K = _check_kernel("K_train", K_train, dt)
        xp = _xp(K)
        self.n = int(K.shape[0])
        self.y = _check_targets("y_train", y_train, self.n, K.dtype, xp)
        s, V = xp.linalg.eigh(K)
        smax = float(xp.max(xp.abs(s)))
        smin = float(xp.min(s))
        if smin < -(1e-3 if K.dtype == np.float32 else 1e-6) * smax:
            warnings.warn(
                f"K_train is not positive semi-definite: smallest eigenvalue {smin:.3g} vs largest {smax:.3g}; "
                "negative eigenvalues are set to 0",
                RuntimeWarning,
                stacklevel=2,
            )
        self.eigenvalues = xp.maximum(s, 0.0)
        self.eigenvectors = V
        self.projected = V.T @ self.y
        self._xp = xp

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.eigenvalues.dtype)

    def filters(self, method: str, values: Sequence[float]):
        """The spectral filter ``(J, n)`` of :func:`spectral_filter` for this kernel."""
        return spectral_filter(self.eigenvalues, method, values, self.n)

    def coefficients(self, method: str, values: Sequence[float]):
        """Dual coefficients ``alpha`` with ``f(x) = K(x, X) alpha``: shape ``(J, n)`` or ``(J, n, C)``."""
        G = self.filters(method, values)  # (J, n)
        return self._combine(G)

    def _combine(self, G):
        b = self.projected
        if b.ndim == 1:
            return (G * b[None, :]) @ self.eigenvectors.T  # (J, n)
        return self.eigenvectors @ (G[:, :, None] * b[None, :, :])  # (J, n, C), batched GEMM

    def predict(self, K_test: Any, method: str, values: Sequence[float]):
        """Predictions ``(J, m)`` or ``(J, m, C)`` at test points from ``K_test = K(X_test, X_train)``."""
        K_test = _check_cross("K_test", K_test, self.n, self.dtype)
        alpha = self.coefficients(method, values)
        if self._xp is np:
            K_test = np.asarray(K_test)
        return alpha @ K_test.T if alpha.ndim == 2 else K_test @ alpha

    def predict_train(self, method: str, values: Sequence[float]):
        """Predictions on the training points (``K alpha``), computed from the eigendecomposition."""
        return self._combine(self.filters(method, values) * self.eigenvalues[None, :])

    def predict_kernel(
        self,
        kernel: Callable[[Any, Any], Any],
        x_test: Any,
        x_train: Any,
        method: str,
        values: Sequence[float],
        *,
        block_rows: int = 2048,
    ):
        """Predictions from a kernel function ``kernel(x1, x2) -> (m1, m2)``, in row blocks of ``x_test``.

        ``K(X_test, X_train)`` is never held in full: each block of ``block_rows`` test points is formed,
        multiplied by the dual coefficients and dropped (memory ``block_rows * n``). Returns NumPy arrays.
        """
        block_rows = check.integer("block_rows", block_rows, minimum=1)
        alpha = np.asarray(self.coefficients(method, values))
        m = len(x_test)
        out = []
        for start in range(0, m, block_rows):
            Kb = _check_cross("kernel(x_test block, x_train)", np.asarray(kernel(x_test[start:start + block_rows], x_train)),
                              self.n, self.dtype)
            out.append(alpha @ Kb.T if alpha.ndim == 2 else Kb @ alpha)
        return np.concatenate(out, axis=1)


def gradient_flow(K_train: Any, y_train: Any, K_test: Any, t: float | Sequence[float], *, dtype: Any = None):
    """Early-stopped kernel regression ``K_test K^{-1} (I - exp(-K t/n)) y`` (see the module docstring).

    ``t`` a number gives ``(m,)`` / ``(m, C)``; a sequence gives a leading grid axis.
    """
    scalar = np.ndim(t) == 0
    out = KernelRegression(K_train, y_train, dtype=dtype).predict(K_test, "flow", np.atleast_1d(t))
    return out[0] if scalar else out


def kernel_ridge(K_train: Any, y_train: Any, K_test: Any, ridge: float, *, dtype: Any = None):
    """Kernel ridge regression ``K_test (K + n ridge I)^{-1} y`` for ONE ridge, by Cholesky.

    For a grid of ridges, or ``ridge = 0`` with a singular kernel, use :class:`KernelRegression`.
    """
    ridge = check.real("ridge", ridge, minimum=0.0)
    dt = _dtype(dtype)
    K = _check_kernel("K_train", K_train, dt)
    n = K.shape[0]
    y = _check_targets("y_train", y_train, n, K.dtype, _xp(K))
    Kt = _check_cross("K_test", K_test, n, K.dtype)
    msg = str(check.fail("ridge", ridge, "a ridge for which K_train + n*ridge*I is positive definite (it is "
                         "not positive definite here): ridge > 0, or KernelRegression(...).predict(K_test, 'ridge', "
                         "[0.0]) for the pseudo-inverse interpolant"))
    if _is_jax(K):
        import jax.numpy as jnp
        import jax.scipy.linalg as jsl

        c = jsl.cho_factor(K + n * ridge * jnp.eye(n, dtype=K.dtype), lower=True)
        if not bool(jnp.all(jnp.isfinite(c[0]))):
            raise ValueError(msg)
        alpha = jsl.cho_solve(c, y)
    else:
        import scipy.linalg as sl

        A = K + n * ridge * np.eye(n, dtype=K.dtype)
        try:
            c = sl.cho_factor(A, lower=True, overwrite_a=True, check_finite=False)
        except np.linalg.LinAlgError:
            raise ValueError(msg) from None
        alpha = sl.cho_solve(c, y, check_finite=False)
    return Kt @ alpha


def kernel_matrix(
    kernel: Callable[[Any, Any], Any],
    x1: Any,
    x2: Any | None = None,
    *,
    block_rows: int = 2048,
    dtype: Any = "float64",
    progress: bool = False,
) -> np.ndarray:
    """Assemble ``kernel(x1, x2)`` as a NumPy array in blocks of ``block_rows`` rows (of columns too
    when ``x2`` is None: then only the blocks on and above the diagonal are computed and mirrored).

    ``kernel(a, b)`` must return the ``(len(a), len(b))`` matrix (NumPy or JAX). Peak extra memory is one
    block, so a 60k x 60k float64 train kernel (29 GB) is feasible on a large host.
    """
    block_rows = check.integer("block_rows", block_rows, minimum=1)
    dt = check.dtype("dtype", dtype)
    sym = x2 is None
    x2 = x1 if sym else x2
    m1, m2 = len(x1), len(x2)
    for name, m in (("x1", m1), ("x2", m2)):
        if m < 1:
            raise check.fail(name, f"{m} inputs", "at least one input (row)")
    out = np.empty((m1, m2), dtype=dt)
    starts = range(0, m1, block_rows)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(starts), desc="kernel blocks", unit="block")
    for i in starts:
        a = x1[i:i + block_rows]
        if sym:
            for j in range(i, m2, block_rows):
                b = x2[j:j + block_rows]
                blk = np.asarray(kernel(a, b), dtype=dt)
                if blk.shape != (len(a), len(b)):  # a wrong shape would be broadcast into place silently
                    raise check.fail("kernel", f"a function that returned shape {blk.shape}",
                                     f"a function returning kernel(a, b) of shape (len(a), len(b)) = ({len(a)}, {len(b)})")
                out[i:i + len(a), j:j + blk.shape[1]] = blk
                if j != i:
                    out[j:j + blk.shape[1], i:i + len(a)] = blk.T
        else:
            blk = np.asarray(kernel(a, x2), dtype=dt)
            if blk.shape != (len(a), m2):
                raise check.fail("kernel", f"a function that returned shape {blk.shape}",
                                 f"a function returning kernel(a, b) of shape (len(a), len(b)) = ({len(a)}, {m2})")
            out[i:i + len(a)] = blk
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    return out


