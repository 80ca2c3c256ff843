"""Depth-free evaluation: tabulate the depth-L map once in the angle, then apply it to any Gram matrix.

At a fixed depth both normalised kernels are functions of one variable, the input angle
``theta0 = arccos(rho0)`` in ``[0, pi]``. As functions of ``rho0`` they have a square-root kink at
``rho0 = 1``, but as functions of ``theta0`` they are analytic on ``[0, pi]``: the one-layer maps are
analytic in the angle. Their nearest singularities lie on the negative ``theta`` axis at about
``-3 pi / l`` (l = 1..L, the pre-images of a singularity under the parabolic fixed point at
``theta = 0``), so the function has a boundary layer of width ``~ 1 / L_eff`` next to ``theta = 0``.

The table is therefore *piecewise* Chebyshev on a geometrically graded mesh::

    [0, h], [h, 2h], [2h, 4h], ..., [pi/4, pi/2],      h = pi / 2^K,  2^K >= 2 L_eff

(and, for the ResNet with small alpha, mirrored towards ``pi``, see :class:`Table`). On each piece the nearest singularity is at least three half-widths from the piece's centre, so a
degree-N interpolant converges like ``(3 + sqrt 8)^-N`` whatever the depth; ``N`` is doubled until the
error, measured against the recursion at check points between the nodes and estimated from the
Chebyshev tail, is below the tolerance. The piece holding a given angle is found arithmetically
(``floor(log2(theta / h))``), so evaluation is a handful of flops plus a Clenshaw sum per entry.

Cost: building a table runs the recursion once on ``pieces * (N + 4)`` angles (O(L) small steps,
independent of the number of inputs); applying it costs O(1) per Gram entry whatever the depth.
Tables are cached per (architecture, depth, alpha, trained).
"""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from .precision import float64_scope
from .recursion import Spec, normalized_from_uv

DEGREES = (20, 28, 40, 64, 96)
SUB = 2  # pieces per octave: the nearest singularity is >= 6 half-widths away, degree ~14 suffices
CHECKS_PER_PIECE = 4


def rounding(depth: int) -> float:
    """Rounding level of the float64 recursion added to every bound (a random walk of a few ``eps`` per
    layer; systematic rounding, e.g. ``alpha = 0`` adding the same term ``L`` times, is seen by the
    check points and the tail and so is already in the measured part of the bound)."""
    eps = np.finfo(np.float64).eps
    return 4 * eps * math.sqrt(depth + 1.0)


def tolerance(depth: int) -> float:
    """Target absolute error of the normalised table: 1e-13, widened by the recursion's own rounding."""
    return 1e-13 + 1e-15 * math.sqrt(depth) + 2.5e-16 * depth


@dataclasses.dataclass(frozen=True)
class Table:
    """Piecewise-Chebyshev table of the normalised ``(nngp, ntk)`` as functions of the angle.

    The mesh is graded geometrically towards both ends of ``[0, pi]``, in the distance
    ``s = min(theta, pi - theta)`` to the nearer end: on the left side pieces ``[0, h]``,
    ``[h, 2h]``, ..., ``[pi/4, pi/2]`` (``h = pi / 2^kl``, ``kl`` pieces), on the right side the mirror
    image with ``hr = pi / 2^kr``. The left grading resolves the boundary layer of width ``~ 1 / L_eff``
    at ``theta = 0``; the right one (ResNet only) the branch points of ``kappa0`` near ``theta = pi``,
    at distance ``~ sqrt(2) alpha`` in the complex plane.

    Attributes:
      spec: the kernel it tabulates.
      h, hr: width of the first piece on the left / right side.
      coef: array ``(2, kl + kr, N)`` of Chebyshev coefficients (nngp, ntk) per piece, left pieces
        first, each in the local variable ``x = 2 (s - lo) / width - 1``.
      error_bound: bound on ``|table - recursion|`` in normalised units (both kernels, float64): twice
        the larger of the error at check points between the nodes and the size of the Chebyshev tail,
        plus the recursion's rounding level :func:`rounding`.
      check_error: the largest error seen at the check points.
    """

    spec: Spec
    h: float
    hr: float
    kl: int
    coef: np.ndarray
    error_bound: float
    check_error: float

    @property
    def pieces(self) -> int:
        return self.coef.shape[1]

    @property
    def degree(self) -> int:
        return self.coef.shape[2] - 1

    @property
    def points(self) -> int:
        """How many angles the recursion ran on to build this table (its cost is ``points * depth``)."""
        return self.pieces * (self.coef.shape[2] + CHECKS_PER_PIECE)


def _octaves(spec: Spec) -> tuple[int, int]:
    leff = max(spec.effective_depth, 1.0)
    kl = int(min(60, max(1, math.ceil(math.log2(leff)) + 2)))
    kr = 1
    if spec.arch == "resnet" and spec.depth > 0 and 0.0 < spec.alpha < 1.0:
        kr = int(min(30, max(1, math.ceil(math.log2(1.0 / spec.alpha)) + 2)))
    return kl, kr


def _side_bounds(octaves: int) -> tuple[float, np.ndarray, np.ndarray]:
    """Pieces of ``s`` in ``[0, pi/2]``: ``[0, h]``, then ``SUB`` pieces per octave up to ``pi/2``,
    ``[h 2^((j-1)/SUB), h 2^(j/SUB)]``, with ``h = pi / 2^octaves``."""
    h = math.pi / 2.0**octaves
    k = 1 + (octaves - 1) * SUB
    j = np.arange(1, k)
    lo = np.concatenate([[0.0], h * 2.0 ** ((j - 1) / SUB)])
    hi = np.concatenate([[h], h * 2.0 ** (j / SUB)])
    hi[-1] = math.pi / 2
    return h, lo, hi


def _lobatto(N: int) -> np.ndarray:
    return np.cos(np.pi * np.arange(N) / (N - 1))


def _values_to_coef(vals: np.ndarray) -> np.ndarray:
    """Chebyshev coefficients from values at Chebyshev-Lobatto points (last axis, DCT-I by matrix)."""
    N = vals.shape[-1]
    j = np.arange(N)
    C = np.cos(np.pi * np.outer(j, j) / (N - 1))
    w = np.ones(N)
    w[0] = w[-1] = 0.5
    coef = (vals * w) @ C.T * (2.0 / (N - 1))
    coef[..., 0] *= 0.5
    coef[..., -1] *= 0.5
    return coef


def _clenshaw_np(coef: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Evaluate series ``coef[..., k]`` at points ``x[..., i]`` (leading axes broadcast)."""
    b1 = np.zeros_like(x)
    b2 = np.zeros_like(x)
    for k in range(coef.shape[-1] - 1, 0, -1):
        b1, b2 = 2.0 * x * b1 - b2 + coef[..., k, None], b1
    return x * b1 - b2 + coef[..., 0, None]


def _u_of_theta(theta: np.ndarray) -> np.ndarray:
    return 2.0 * np.sin(theta / 2.0) ** 2


# Check points: fixed, irregular positions strictly inside each piece (never on a node).
_CHECKS = np.array([-0.8137, -0.2911, 0.3519, 0.8763])


@functools.lru_cache(maxsize=64)
def build_table(spec: Spec) -> Table:
    """Tabulate ``spec``'s normalised kernels (cached; float64, whatever the JAX x64 flag). Raises
    ``RuntimeError`` (naming ``method='recursion'`` as the way out) if no degree in ``DEGREES`` meets
    :func:`tolerance`."""
    ol, or_ = _octaves(spec)
    h, lo_l, hi_l = _side_bounds(ol)
    hr, lo_r, hi_r = _side_bounds(or_)
    kl, kr = lo_l.size, lo_r.size
    lo = np.concatenate([lo_l, lo_r])
    hi = np.concatenate([hi_l, hi_r])
    right = np.arange(kl + kr) >= kl
    tol = tolerance(spec.depth)
    xc = _CHECKS[:CHECKS_PER_PIECE]
    best = None
    for N in DEGREES:
        xs = np.concatenate([_lobatto(N), xc])
        s = (lo[:, None] + hi[:, None]) / 2 + (hi - lo)[:, None] / 2 * xs[None, :]
        # u = 1 - cos(theta): left side theta = s, right side theta = pi - s (u = 2 - 2 sin^2(s/2)).
        a, b = _u_of_theta(s), 2.0 - _u_of_theta(s)  # 1 -+ cos(s), both accurate
        u = np.where(right[:, None], b, a)
        v = np.where(right[:, None], a, b)
        # flattened and padded to a power of two: one compilation serves every depth and alpha
        size = 1 << max(10, (u.size - 1).bit_length())
        uf = np.pad(u.ravel(), (0, size - u.size))
        vf = np.pad(v.ravel(), (0, size - u.size), constant_values=2.0)
        with float64_scope():  # the table is built in float64 whatever the caller's x64 setting
            nngp, ntk = normalized_from_uv(jnp.asarray(uf), jnp.asarray(vf), spec)
        vals = np.stack([np.asarray(nngp)[: u.size], np.asarray(ntk)[: u.size]]).reshape((2,) + u.shape)
        coef = _values_to_coef(vals[..., :N])
        check = np.max(np.abs(_clenshaw_np(coef, np.broadcast_to(xc, vals[..., N:].shape)) - vals[..., N:]))
        tail = np.max(np.abs(coef[..., -3:]))
        bound = 2.0 * max(check, tail) + rounding(spec.depth)
        best = Table(spec, h, hr, kl, coef, float(bound), float(check))
        if bound <= tol:
            return best
    raise RuntimeError(
        f"depth-free table for {spec} did not reach tolerance {tol:.1e} (bound {best.error_bound:.1e}); "
        "use method='recursion'"
    )


def evaluate(table: Table, coef: jax.Array | None, theta: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Apply ``table`` to angles ``theta`` (traceable); ``coef`` overrides ``table.coef`` (e.g. cast)."""
    coef = table.coef if coef is None else coef
    return evaluate_raw(table.h, table.hr, table.kl, table.pieces - table.kl, coef, theta)


def evaluate_raw(h, hr, kl, kr, coef, theta):
    """Piecewise Clenshaw sum; ``h, hr, kl, kr`` may be traced, ``coef`` may have padding pieces.

    ``coef[:, :kl]`` are the left pieces, ``coef[:, kl:kl + kr]`` the right ones. The piece comes from
    ``log2(s / h)`` with ``s`` the distance to the nearer end of ``[0, pi]``; a rounding slip at a piece
    boundary only moves the local variable a few ulps past ``+-1``, where neighbouring interpolants
    agree to the tolerance.
    """
    right = theta > jnp.pi / 2
    return evaluate_sides(h, hr, kl, kr, coef, jnp.where(right, jnp.pi - theta, theta), right)


def angle_sides(u, v):
    """``(s, right)``: the angle's distance ``s`` in ``[0, pi/2]`` to the nearer end of ``[0, pi]`` and
    whether that end is ``pi``, from ``u = 1 - rho``, ``v = 1 + rho``: ``s = 2 atan(sqrt(min / max))``.

    The arctangent is a polynomial (Cephes ``atanf``: one reduction at ``tan(pi/8)``, then degree 9,
    relative error < 2e-7 on ``[0, 1]``) rather than ``jnp.arctan2``, which XLA evaluates on CPU about
    as slowly as a d = 784 Gram matrix entry; float32 only (float64 uses :func:`evaluate_raw`).
    """
    right = u > v
    t = jnp.sqrt(jnp.minimum(u, v) / jnp.maximum(jnp.maximum(u, v), jnp.finfo(u.dtype).tiny))
    big = t > 0.41421356
    tr = jnp.where(big, (t - 1.0) / (t + 1.0), t)
    z = tr * tr
    p = (((8.05374449538e-2 * z - 1.38776856032e-1) * z + 1.99777106478e-1) * z - 3.33329491539e-1) * z * tr + tr
    return 2.0 * (jnp.where(big, jnp.pi / 4, 0.0) + p), right


def evaluate_sides(h, hr, kl, kr, coef, s, right):
    """:func:`evaluate_raw` from ``(s, right)`` (see :func:`angle_sides`)."""
    dt = s.dtype
    hh = jnp.where(right, jnp.asarray(hr, dt), jnp.asarray(h, dt))
    k = jnp.where(right, jnp.asarray(kr, dt), jnp.asarray(kl, dt))
    ratio = jnp.maximum(s / hh, jnp.asarray(np.finfo(dt).tiny, dt))
    j = jnp.clip(jnp.floor(SUB * jnp.log2(ratio)) + 1.0, 0.0, k - 1.0)
    lo = jnp.where(j > 0, hh * jnp.exp2((j - 1.0) / SUB), 0.0)
    width = jnp.where(j > 0, lo * (2.0 ** (1.0 / SUB) - 1.0), hh)
    width = jnp.where(j == k - 1, jnp.pi / 2 - lo, width)
    x = jnp.clip(2.0 * (s - lo) / width - 1.0, -1.0, 1.0)
    jj = (j + jnp.where(right, jnp.asarray(kl, dt), 0.0)).astype(jnp.int32)
    out = []
    for q in range(2):
        cq = coef[q]
        b1 = jnp.zeros_like(s)
        b2 = jnp.zeros_like(s)
        for kk in range(cq.shape[1] - 1, 0, -1):
            b1, b2 = 2.0 * x * b1 - b2 + jnp.take(cq[:, kk], jj, mode="clip"), b1
        out.append(x * b1 - b2 + jnp.take(cq[:, 0], jj, mode="clip"))
    return out[0], out[1]
