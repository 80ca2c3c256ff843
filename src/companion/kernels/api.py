"""Public entry points: kernel matrices from inputs, and normalised kernels of one correlation."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from companion.util import validate as check
from . import depthfree, gram
from .arccos import _rho
from .recursion import Spec, normalized_from_uv

METHODS = ("auto", "recursion", "depthfree")
OUTS = ("auto", "device", "host")


@dataclasses.dataclass(frozen=True)
class Kernels:
    """A pair of kernels: ``nngp`` (the GP kernel of the readout's input) and ``ntk``.

    Unpacks as ``nngp, ntk = k``. ``method`` says how they were computed ("recursion", "depthfree" or
    "closed-form"); ``error_bound`` bounds the depth-free table's error in *normalised* units
    (``|k - k_recursion| <= error_bound * sqrt(K(x, x) K(x', x'))``, float64; 0 for the recursion,
    whose error is rounding only, about ``1e-16 sqrt(depth)``).
    """

    nngp: Any
    ntk: Any
    method: str = "recursion"
    error_bound: float = 0.0

    def __iter__(self):
        yield self.nngp
        yield self.ntk


def _depth(depth) -> int:
    return check.integer("depth", depth, minimum=0)


def _alpha(alpha) -> float:
    return check.real("alpha", alpha, minimum=0.0)


def _dtype(dtype) -> np.dtype:
    dt = check.dtype("dtype", dtype)
    if dt == np.float64 and not jax.config.jax_enable_x64:
        raise check.fail("dtype", "float64", "float32, or float64 after jax.config.update('jax_enable_x64', True)")
    return dt


def _inputs(x1, x2):
    a = check.matrix("x1", x1)
    b = None if x2 is None else check.matrix("x2", x2, features=a.shape[1], other="x1")
    if b is not None and b is a:
        b = None
    return a, b


def choose_method(spec: Spec, n1: int, n2: int) -> str:
    """The cheaper exact path: recursion costs ``n1 n2 L`` steps, the depth-free path ``~3 n1 n2`` plus
    (once per configuration, cached) ``points * L`` to build its table."""
    if not isinstance(spec, Spec):
        raise check.fail("spec", spec, "a companion.kernels.recursion.Spec")
    n1 = check.integer("n1", n1, minimum=1)
    n2 = check.integer("n2", n2, minimum=1)
    if spec.depth <= 2:
        return "recursion"
    cached = spec in _cached_specs()
    o = depthfree._octaves(spec)
    points = (2 + (o[0] + o[1] - 2) * depthfree.SUB) * (16 + depthfree.CHECKS_PER_PIECE)
    cost_rec = n1 * n2 * spec.depth
    cost_df = 3 * n1 * n2 + (0 if cached else points * spec.depth)
    return "recursion" if cost_rec <= cost_df else "depthfree"


def _cached_specs():
    # lru_cache keeps no public key list; track builds here.
    return _BUILT


_BUILT: set = set()


def _log_max_norm(x: np.ndarray) -> float:
    """``log max_i |x_i|`` without overflow or underflow (``-inf`` if every row is zero)."""
    m = np.max(np.abs(x), axis=1)
    ok = m > 0
    if not ok.any():
        return -math.inf
    xs = x[ok] / m[ok, None]  # rows scaled to max |entry| = 1: their norms are in [1, sqrt(d)]
    return float(np.max(np.log(m[ok]) + np.log(np.linalg.norm(xs, axis=1))))


def _check_range(a: np.ndarray, b: np.ndarray | None, spec: Spec, dt: np.dtype) -> None:
    """The largest kernel entry, ``max |x|^2 * K(u, u)`` for unit ``u``, must be finite in ``dt``."""
    from .recursion import log_scales

    log_s = max(log_scales(spec))
    limit = math.log(np.finfo(dt).max) - 1.0
    if log_s == -math.inf or log_s > limit:
        return  # an identically zero kernel; or the scale itself overflows (gram.evaluate names alpha and depth)
    for name, x in (("x1", a), ("x2", b)):
        if x is None:
            continue
        big = float(np.max(np.abs(x)))
        if big == 0 or 2.0 * (math.log(big) + 0.5 * math.log(x.shape[1])) + log_s <= limit:
            continue  # the quick bound |x| <= max|x_ij| sqrt(d) already suffices
        log_norm = _log_max_norm(x)
        if 2.0 * log_norm + log_s > limit:
            raise check.fail(
                name, f"inputs with norms up to exp({log_norm:.4g})",
                f"norms with |x|^2 * K(u, u) below the largest {np.dtype(dt).name} (|x| < exp({(limit - log_s) / 2:.4g}) "
                "here): the kernel is homogeneous, so rescale the inputs",
            )


def _kernels(x1, x2, spec: Spec, method, dtype, block_rows, out) -> Kernels:
    check.choice("method", method, METHODS)
    check.choice("out", out, OUTS)
    dt = _dtype(dtype)
    if block_rows is not None:
        block_rows = check.integer("block_rows", block_rows, minimum=1)
    a, b = _inputs(x1, x2)
    _check_range(a, b, spec, dt)
    n2 = a.shape[0] if b is None else b.shape[0]
    if method == "auto":
        method = choose_method(spec, a.shape[0], n2)
    nngp, ntk, table = gram.evaluate(a, b, spec, method=method, dtype=dt, rows=block_rows, out=out)
    if table is not None:
        _BUILT.add(spec)
    return Kernels(nngp, ntk, method, 0.0 if table is None else table.error_bound)


def ffnet_kernels(x1, x2=None, *, depth: int, method: str = "auto", dtype="float64",
                  block_rows: int | None = None, out: str = "auto") -> Kernels:
    """NNGP and NTK matrices of the FFNet (Arora et al. form, all ``L + 1`` weight matrices trained).

    Args:
      x1: inputs ``(n1, d)``, any norms (the kernels are positively homogeneous; a zero row gives a zero
        kernel row).
      x2: inputs ``(n2, d)``; ``None`` means ``x1`` (the diagonal is then the exact closed form).
      depth: ``L >= 0`` hidden layers. ``L = 0`` is the linear model ``f = v^T x``: both kernels are
        ``<x, x'>``.
      method: "recursion" (layer by layer, ``L`` passes over the Gram matrix), "depthfree" (one pass,
        through a cached table of the depth-L map, see :mod:`.depthfree`) or "auto" (the cheaper).
      dtype: "float64" (default) or "float32" (within 1e-5 of float64 relative to the diagonal scale).
      block_rows: rows of ``x1`` per chunk (default: from free device memory).
      out: "auto" (device arrays if one chunk suffices, else NumPy), "device" or "host".

    Returns:
      :class:`Kernels` with ``nngp`` (``Sigma_L``; ``|x|^2`` on the diagonal) and ``ntk`` (``Theta_L``;
      ``(L + 1) |x|^2`` on the diagonal), arrays of shape ``(n1, n2)``.
    """
    return _kernels(x1, x2, Spec("ffnet", _depth(depth)), method, dtype, block_rows, out)


def resnet_kernels(x1, x2=None, *, depth: int, alpha: float, trained: str = "hidden", method: str = "auto",
                   dtype="float64", block_rows: int | None = None, out: str = "auto") -> Kernels:
    """NNGP and NTK matrices of the ResNet "model H" with branch scaling ``alpha``.

    Args:
      x1, x2, method, dtype, block_rows, out: as in :func:`ffnet_kernels`.
      depth: ``L >= 0`` residual blocks. ``L = 0``: the NNGP is ``<x, x'>``; the NTK is 0 for
        ``trained="hidden"`` (nothing trained) and ``2 <x, x'>`` for ``trained="all"`` (``A`` and ``v``).
      alpha: branch scaling ``>= 0`` (the papers use ``alpha = L**-gamma``).
      trained: "hidden" (only ``W_l, V_l``, the papers' setting) or "all" (also input ``A`` and readout
        ``v``, neural-tangents' default).

    Returns:
      :class:`Kernels`; on the diagonal ``nngp = (1 + alpha^2)^L |x|^2`` and ``ntk = 2 L alpha^2
      (1 + alpha^2)^(L-1) |x|^2`` (hidden) or that plus ``2 (1 + alpha^2)^L |x|^2`` (all). Raises
      ``ValueError`` if ``(1 + alpha^2)^L`` overflows the dtype (use :func:`resnet_normalized`).
    """
    spec = Spec("resnet", _depth(depth), _alpha(alpha), check.choice("trained", trained, check.TRAINED))
    return _kernels(x1, x2, spec, method, dtype, block_rows, out)


def _normalized(rho, spec: Spec, method: str) -> Kernels:
    check.choice("method", method, ("recursion", "depthfree"))
    r = _rho(rho)
    if method == "recursion":
        wd = jnp.float64 if jax.config.jax_enable_x64 else jnp.float32
        r = r.astype(wd)
        a, b = normalized_from_uv(1.0 - r, 1.0 + r, spec)
        return Kernels(a.astype(r.dtype), b.astype(r.dtype), "recursion", 0.0)
    table = depthfree.build_table(spec)
    _BUILT.add(spec)
    theta = 2.0 * jnp.arctan2(jnp.sqrt(1.0 - r), jnp.sqrt(1.0 + r))
    a, b = depthfree.evaluate(table, jnp.asarray(table.coef, r.dtype), theta)
    return Kernels(a, b, "depthfree", table.error_bound)


def ffnet_normalized(rho, depth: int, *, method: str = "recursion") -> Kernels:
    """Normalised FFNet kernels ``K(x, x') / sqrt(K(x, x) K(x', x'))`` as functions of ``rho = <x, x'>``
    for unit inputs (any array shape, values in ``[-1, 1]``); both are 1 at ``rho = 1``.

    ``nngp = rho_L = kappa1^L(rho)``; ``ntk = Theta_L / (L + 1)``, which tends to 1/4 for ``rho < 1``.
    """
    return _normalized(rho, Spec("ffnet", _depth(depth)), method)


def resnet_normalized(rho, depth: int, alpha: float, trained: str = "hidden", *,
                      method: str = "recursion") -> Kernels:
    """Normalised ResNet kernels as functions of the input correlation ``rho`` (see
    :func:`ffnet_normalized`). Finite for every depth (no ``(1 + alpha^2)^L`` factor). For
    ``alpha = 0`` the hidden NTK is normalised by its ``alpha -> 0`` limit, the depth-1 kernel
    ``(kappa1 + rho kappa0) / 2``. ``depth = 0`` with ``trained="hidden"`` is rejected (that NTK is
    identically zero and has no normalised form).
    """
    depth = _depth(depth)
    trained = check.choice("trained", trained, check.TRAINED)
    if depth == 0 and trained == "hidden":
        raise check.fail("depth", 0, "depth >= 1 for trained='hidden' (the depth-0 hidden NTK is identically 0)")
    return _normalized(rho, Spec("resnet", depth, _alpha(alpha), trained), method)


def diagonal(arch: str, depth: int, alpha: float = 0.0, trained: str = "all") -> tuple[float, float]:
    """Exact ``(NNGP(x, x), NTK(x, x))`` for a unit-norm ``x`` (closed forms; ``inf`` on overflow).

    FFNet: ``(1, L + 1)``. ResNet: ``((1 + a^2)^L, 2 L a^2 (1 + a^2)^(L-1) [+ 2 (1 + a^2)^L if all])``.
    """
    from .recursion import scales

    arch = check.choice("arch", arch, ("ffnet", "resnet"))
    depth = _depth(depth)
    if arch == "ffnet":
        return scales(Spec("ffnet", depth))
    return scales(Spec("resnet", depth, _alpha(alpha), check.choice("trained", trained, check.TRAINED)))
