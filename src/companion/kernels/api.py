"""Public entry points: kernel matrices from inputs, normalised kernels of one correlation, and the
input correlations themselves.

Precision policy (no global JAX setting is changed): ``dtype="float64"`` results are computed in
float64 inside a scoped x64 context (:func:`~.precision.float64_scope`) whatever ``jax_enable_x64``
is; ``dtype="float32"`` results are within 1e-5 (normalised units) of float64. When x64 is off in the
caller's context, float64 results are returned as NumPy arrays (a float64 ``jax.Array`` would be
silently demoted by the caller's next ``jnp`` operation).

Differentiation (forward and reverse mode): :func:`ffnet_normalized`, :func:`resnet_normalized`
(in ``rho`` and ``alpha``), :func:`ffnet_kernels`, :func:`resnet_kernels`,
:func:`normalized_kernels` (in the inputs and ``alpha``) and :func:`.arccos.kappa0`/``kappa1``.
Traced arguments skip the value checks and run in their traced dtype on one block (no chunking);
their entries are formed as on the eager path (:mod:`.products`: norms and scale carried as
mantissa and power of two), so an entry whose value is finite comes out finite and equal to the
eager one within rounding, and so do its derivatives. Overflow under tracing: with ``alpha`` and
``depth`` concrete (Python values, as usual even under ``jit``) a scale that alone exceeds the
bound raises the named ``ValueError`` at trace time (:func:`check_scale`); an entry that overflows
because of the inputs' norms (which cannot be checked while tracing) is ``inf``, as is every
overflowing entry when ``alpha`` itself is traced (its scale is formed as
``depth * log1p(alpha^2)``, never as ``(1 + alpha^2)^depth``).
the depth-free path evaluates its table and takes its derivative from the recursion (O(depth) per
entry); a traced ``alpha`` with ``method="depthfree"`` raises :class:`NotDifferentiableError`
(the table is built for one concrete alpha). The normalised NTK's derivative in ``rho`` is
infinite at ``rho = +-1`` (its square-root kink, eq-arccos) and is returned as ``+-inf``
there; the NNGP's is finite everywhere.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from companion.util import validate as check
from . import depthfree, gram, products, recursion
from .correlation import check_correlations, threshold
from .precision import float64_scope, is_traced, x64_enabled
from .recursion import Spec, log_scales

METHODS = ("auto", "recursion", "depthfree")
OUTS = ("auto", "device", "host")
MAX_DEPTH = 2**31 - 1  # the layer loop's trip count is an int32
ALPHA_MAX = math.sqrt(np.finfo(np.float64).max)  # alpha^2 must be a finite float64 (1.34e154)


class NotDifferentiableError(TypeError):
    """A traced (differentiated, jitted) argument that a path cannot follow, e.g. ``alpha`` into a
    depth-free table built for one concrete alpha. The message names the argument and the path to use."""


@dataclasses.dataclass(frozen=True)
class Kernels:
    """A pair of kernels: ``nngp`` (the GP kernel of the readout's input) and ``ntk``.

    Unpacks as ``nngp, ntk = k``. ``method`` says how they were computed ("recursion", "depthfree" or
    "closed-form"); ``error_bound`` bounds the depth-free table's error in *normalised* units
    (``|k - k_recursion| <= error_bound * sqrt(K(x, x) K(x', x'))``; 0 for the recursion, whose error
    is rounding only, about ``1e-16 sqrt(depth)``; float32 adds its rounding, below 1e-5).
    ``exact_pairs``: how many pairs had ``1 -+ rho`` recomputed from the rows (see :mod:`.correlation`).
    """

    nngp: Any
    ntk: Any
    method: str = "recursion"
    error_bound: float = 0.0
    exact_pairs: int = 0

    def __iter__(self):
        yield self.nngp
        yield self.ntk


@dataclasses.dataclass(frozen=True)
class Correlations:
    """Input correlations of every pair: ``rho``, ``u = 1 - rho`` and ``v = 1 + rho``, each ``(n1, n2)``.

    ``u`` and ``v`` have relative accuracy (``u`` near ``rho = 1``, ``v`` near ``-1``): that is the
    representation the kernel engine maps (``k = k(u, v)``, eq-arccos), and what chapter code
    should pass on (e.g. ``normalized_from_uv``) instead of recomputing ``1 - rho`` from a Gram matrix.
    ``exact_pairs``: pairs recomputed as ``|a -+ b|^2 / 2``. Zero rows: ``rho = 0``.
    """

    rho: np.ndarray
    u: np.ndarray
    v: np.ndarray
    exact_pairs: int = 0


# ------------------------------------------------------------------------------------ validation
def check_depth(depth) -> int:
    """``depth``: an integer in ``[0, 2^31 - 1]`` (the layer loop's trip count is an int32)."""
    return check.integer("depth", depth, minimum=0, maximum=MAX_DEPTH)


def check_alpha(alpha):
    """``alpha``: a finite real ``>= 0`` with ``alpha^2`` finite in float64 (``alpha <= 1.34e154``).
    A traced alpha is returned unchecked (differentiation in alpha)."""
    if is_traced(alpha):
        return alpha
    a = check.real("alpha", alpha, minimum=0.0)
    if a > ALPHA_MAX:
        raise ValueError(
            f"alpha={a!r} is invalid: alpha^2 = exp({2 * math.log(a):.4g}) overflows float64 (largest "
            f"exp({math.log(np.finfo(np.float64).max):.4g})); allowed: a finite real number >= 0 and "
            f"<= {ALPHA_MAX:.4g}"
        )
    return a


def _dtype(dtype) -> np.dtype:
    return check.dtype("dtype", dtype)


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

_FORMULAS = {
    ("ffnet", 0): "1", ("ffnet", 1): "depth + 1",
    ("resnet", 0): "(1 + alpha^2)^depth",
    ("resnet", 1, "hidden"): "2 depth alpha^2 (1 + alpha^2)^(depth - 1)",
    ("resnet", 1, "all"): "2 depth alpha^2 (1 + alpha^2)^(depth - 1) + 2 (1 + alpha^2)^depth",
}


def _log_max_norm(x: np.ndarray) -> float:
    """``log max_i |x_i|`` without overflow or underflow (``-inf`` if every row is zero)."""
    return float(np.max(gram.row_logs(x)[1])) if x.size else -math.inf


def _scale_what(spec: Spec, q: int, dt) -> tuple[str, str]:
    """``(formula, description)`` of the unit-input diagonal ``q`` (0 NNGP, 1 NTK) of ``spec``."""
    key = (spec.arch, q) if spec.arch == "ffnet" or q == 0 else (spec.arch, q, spec.trained)
    ls = log_scales(spec)[q]
    kind = ("NNGP", "NTK")[q]
    return _FORMULAS[key], f"the {kind} diagonal for a unit input, {_FORMULAS[key]} = exp({ls:.4g})"


def _bound_words(dt) -> tuple[float, str]:
    name = np.dtype(dt).name
    limit = math.log(np.finfo(dt).max) - 1.0
    return limit, f"the bound exp({limit:.4g}) on kernel entries in {name} (the largest {name} divided by e)"


def check_range(a: np.ndarray, b: np.ndarray | None, spec: Spec, dt: np.dtype) -> None:
    """Refuse, before computing, a kernel whose largest entry is not below ``largest(dt) / e``.

    The largest entry is ``max|x1| max|x2| S`` (``S`` = the unit-input diagonal, :func:`diagonal`;
    ``|k| <= 1``), compared in log space, so nothing overflows while checking; the one e-fold of
    headroom covers the entries' rounding and keeps sums of a few entries finite. A cross kernel
    whose entries are all below the bound is computed even where ``S`` or one input's own kernel
    (``|x1|^2 S``) would overflow. The error names what overflows: the scale (``alpha, depth``) when
    it alone exceeds the bound, otherwise the input with the larger norm.
    """
    limit, bound = _bound_words(dt)
    name = np.dtype(dt).name
    m1 = _log_max_norm(a)
    m2 = m1 if b is None else _log_max_norm(b)
    for q in range(2):
        ls = log_scales(spec)[q]
        if ls == -math.inf or m1 == -math.inf or m2 == -math.inf:
            continue  # an identically zero kernel
        top = m1 + m2 + ls
        if top <= limit:
            continue
        formula, scale = _scale_what(spec, q, dt)
        what = f"{scale}, times the largest |x1| |x2| = exp({m1 + m2:.4g}), is exp({top:.4g}): it overflows {bound}"
        if ls > limit and spec.arch == "resnet":
            raise ValueError(
                f"alpha={spec.alpha!r}, depth={spec.depth!r} is invalid for dtype {name} with these "
                f"inputs: {what}; allowed: log({formula}) + log|x1| + log|x2| <= {limit:.4g}: smaller "
                f"inputs (the kernel is homogeneous), {'float64, ' if dt == np.float32 else ''}or the normalised "
                "kernels (normalized_kernels, resnet_normalized), which have no such limit"
            )
        nm, mx = ("x1", m1) if (b is None or m1 >= m2) else ("x2", m2)
        raise check.fail(
            nm, f"inputs with norms up to exp({mx:.4g})",
            f"inputs whose largest kernel entry stays below the bound: {what}; rescale the inputs (the kernel "
            f"is homogeneous of degree 2) so that log|x1| + log|x2| <= {limit - ls:.4g}",
        )


def check_scale(spec: Spec, dt) -> None:
    """The part of :func:`check_range` that needs no input values, for traced inputs (``jit``, ``grad``,
    ``vmap``): refuse at trace time a scale ``S`` (the unit-input diagonal) that alone exceeds
    ``largest(dt) / e``. The inputs' norms are not known while tracing, so a kernel of small
    enough traced inputs is refused too (the eager call, which sees the norms, computes it); below
    the bound, entries that overflow because of the inputs' norms come out ``inf``.
    Raises ``ValueError`` naming ``alpha, depth``, the quantity, its logarithm and the bound.
    """
    limit, bound = _bound_words(dt)
    name = np.dtype(dt).name
    for q in range(2):
        ls = log_scales(spec)[q]
        if ls <= limit:
            continue
        formula, scale = _scale_what(spec, q, dt)
        raise ValueError(
            f"alpha={spec.alpha!r}, depth={spec.depth!r} is invalid for dtype {name} with traced inputs: "
            f"{scale} overflows {bound} (the traced inputs' norms are not known while tracing, so the "
            f"scale is checked alone); allowed: log({formula}) <= {limit:.4g}: "
            f"{'float64, ' if np.dtype(dt) == np.float32 else ''}the normalised kernels (normalized_kernels, "
            "resnet_normalized), which have no such limit, or an eager call, which checks the entries"
        )


# ------------------------------------------------------------------------------------ matrices
def _kernels(x1, x2, spec: Spec, method, dtype, block_rows, out, normalized=False) -> Kernels:
    check.choice("method", method, METHODS)
    check.choice("out", out, OUTS)
    dt = _dtype(dtype)
    if block_rows is not None:
        block_rows = check.integer("block_rows", block_rows, minimum=1)
    a, b = _inputs(x1, x2)
    if not normalized:
        check_range(a, b, spec, dt)
    n2 = a.shape[0] if b is None else b.shape[0]
    if method == "auto":
        method = choose_method(spec, a.shape[0], n2)
    if dt == np.float64 and not x64_enabled() and out == "auto":
        out = "host"  # a float64 jax.Array would be demoted by the caller's next jnp operation
    nngp, ntk, table, exact = gram.evaluate(a, b, spec, method=method, dtype=dt, rows=block_rows, out=out,
                                            normalized=normalized)
    bound = 0.0
    if table is not None:
        _BUILT.add(spec)
        bound = table.error_bound
        if dt == np.float32:
            bound = max(bound, gram.lerp_table(spec)[3])
    return Kernels(nngp, ntk, method, bound, exact)


def _traced_kernels(x1, x2, arch, depth, alpha, trained, method, dtype, normalized) -> Kernels:
    """One-block, fully traced evaluation (inputs or alpha are tracers): differentiable in both.

    ``1 -+ rho`` of the near pairs come from the dense ``|a -+ b|^2 / 2`` (O(n1 n2 d) memory here).
    Entries are formed as in the blocked engine (:mod:`.products`): ``((r_i r_j) f) k`` times one exact
    power of two, so an entry is finite whenever its value is, equals the blocked engine's within its
    rounding, and the derivative never forms a product larger than the entry itself. The scale's
    overflow is checked at trace time where ``alpha`` is concrete (:func:`check_scale`).
    """
    x1 = jnp.asarray(x1)
    same = x2 is None
    x2 = x1 if same else jnp.asarray(x2)
    if x1.ndim != 2 or x2.ndim != 2 or x1.shape[1] != x2.shape[1]:
        raise check.fail("x1", f"arrays of shapes {x1.shape}, {x2.shape}", "(n1, d) and (n2, d) arrays")
    # dtype="float64" (the default) computes in float64 whenever JAX can (x64 on), float32 inputs included,
    # as the eager path does; with x64 off a traced computation can only be float32
    dt = jnp.float64 if np.dtype(dtype) == np.float64 and x64_enabled() else jnp.result_type(x1, x2, float)
    odt = np.dtype(np.float32) if np.dtype(dtype) == np.float32 else np.dtype(dt)
    traced_alpha = is_traced(alpha)
    if not normalized and not traced_alpha:
        check_scale(_spec(arch, depth, alpha, trained), odt)

    xs1, r1, e1 = products.traced_row_parts(x1.astype(dt))
    xs2, r2, e2 = (xs1, r1, e1) if same else products.traced_row_parts(x2.astype(dt))

    def unit(xs, r):
        ok = r > 0
        return jnp.where(ok[:, None], xs / jnp.where(ok, r, 1.0)[:, None], 0.0)

    a, b = unit(xs1, r1), unit(xs2, r2)
    g = a @ b.T
    um, vm = 1.0 - g, 1.0 + g
    dm, dp = a[:, None, :] - b[None, :, :], a[:, None, :] + b[None, :, :]
    tau = threshold(dt)
    u = jnp.where(um < tau, 0.5 * jnp.sum(dm * dm, axis=-1), um)
    v = jnp.where(vm < tau, 0.5 * jnp.sum(dp * dp, axis=-1), vm)
    diag = jnp.eye(a.shape[0], b.shape[0], dtype=bool) if same else jnp.zeros(u.shape, bool)
    # the diagonal is the closed form; its u is replaced by a harmless value so that the kink's infinite
    # derivative at u = 0 cannot reach the inputs' gradient (0 * inf) through the unselected branch
    # Coinciding (u = 0) or opposite (v = 0) directions of distinct rows: the kernel has a cone-shaped
    # kink there (k ~ 1 - c |a - b|), whose derivative in x is taken as 0 (the symmetric subgradient);
    # the map gets a harmless stand-in and the exact end value is selected afterwards.
    ue = diag | (u <= 0)
    ve = ~ue & (v <= 0)
    u_in = jnp.where(ue, 0.5, jnp.where(ve, 1.5, jnp.clip(u, 0.0, 2.0)))
    v_in = jnp.where(ue, 1.5, jnp.where(ve, 0.5, jnp.clip(v, 0.0, 2.0)))
    a2 = jnp.asarray(alpha, dt) ** 2
    kn, kk = _normalized_map(u_in, v_in, arch, depth, alpha, a2, trained, method)
    en, ek = _normalized_map(jnp.full((1,), 2.0, dt), jnp.zeros((1,), dt), arch, depth, alpha, a2, trained, method)
    zero = (r1[:, None] == 0) | (r2[None, :] == 0)
    outs = []
    for k, end, q in ((kn, en[0], 0), (kk, ek[0], 1)):
        k = jnp.where(ue, 1.0, jnp.where(ve, end, jnp.where(zero, 0.0, k)))
        if normalized:
            k, d1, d2 = k.astype(odt), (r1 > 0).astype(odt), (r2 > 0).astype(odt)
        else:
            if traced_alpha:
                ls = products.traced_log_scales(arch, depth, a2, trained)[q]
                f, big_e = products.traced_scale_parts(ls, dt)
            else:
                spec = _spec(arch, depth, alpha, trained)
                f, big_e = products.scale_parts(log_scales(spec)[q], recursion.scales(spec)[q])
                f, big_e = jnp.asarray(f, dt), jnp.asarray(big_e, jnp.int32)
            # ((r_i r_j) f) k 2^(e_i + e_j + E), the blocked engine's products (module .products)
            k = products.ldexp(((r1[:, None] * r2[None, :]) * f) * k, e1[:, None] + e2[None, :] + big_e)
            d1 = products.ldexp((r1 * r1) * f, 2 * e1 + big_e)  # the entry of a row with itself
            d2 = d1 if same else products.ldexp((r2 * r2) * f, 2 * e2 + big_e)
            k, d1, d2 = k.astype(odt), d1.astype(odt), d2.astype(odt)
        dn1, g1 = products.traced_bound_factors(d1)
        dn2, g2 = products.traced_bound_factors(d2)
        outs.append(products.cauchy_schwarz(k, dn1, g1, dn2, g2, ue, straight_through=True))
    return Kernels(outs[0], outs[1], method, 0.0, 0)


def _spec(arch, depth, alpha, trained) -> Spec:
    return Spec("ffnet", depth) if arch == "ffnet" else Spec("resnet", depth, float(alpha), trained)


def _dispatch(x1, x2, arch, depth, alpha, trained, method, dtype, block_rows, out, normalized) -> Kernels:
    if is_traced(x1, x2, alpha):
        check.choice("method", method, METHODS)
        check.choice("trained", trained, check.TRAINED)
        if method == "auto":
            method = "recursion"
        if method == "depthfree" and is_traced(alpha):
            raise NotDifferentiableError(
                "alpha is traced (differentiated or jitted) but method='depthfree' builds its table for one "
                "concrete alpha; allowed: method='recursion' or 'auto' for derivatives in alpha")
        return _traced_kernels(x1, x2, arch, depth, alpha, trained, method, _dtype(dtype), normalized)
    if arch == "ffnet":
        spec = Spec("ffnet", depth)
    else:
        spec = Spec("resnet", depth, alpha, check.choice("trained", trained, check.TRAINED))
    return _kernels(x1, x2, spec, method, dtype, block_rows, out, normalized)


def ffnet_kernels(x1, x2=None, *, depth: int, method: str = "auto", dtype="float64",
                  block_rows: int | None = None, out: str = "auto") -> Kernels:
    """NNGP and NTK matrices of the FFNet (Arora et al. 2019 form, all ``L + 1`` weight matrices trained;
    the recursion eq-ffnet-ntk of chapter 2, after Huang et al. 2020, Sec. 3).

    Args:
      x1: inputs ``(n1, d)``, any norms (the kernels are positively homogeneous; a zero row gives a zero
        kernel row).
      x2: inputs ``(n2, d)``; ``None`` means ``x1`` (the diagonal is then the exact closed form).
      depth: ``0 <= L <= 2^31 - 1`` hidden layers. ``L = 0`` is the linear model ``f = v^T x``: both
        kernels are ``<x, x'>``.
      method: "recursion" (layer by layer, ``L`` passes over the Gram matrix), "depthfree" (one pass,
        through a cached table of the depth-L map, see :mod:`.depthfree`) or "auto" (the cheaper).
      dtype: "float64" (default; computed in float64 whatever the JAX x64 flag, NumPy output when the
        flag is off) or "float32" (within 1e-5 of float64 in normalised units; the fast path).
      block_rows: rows of ``x1`` per chunk (default: from free device memory).
      out: "auto" (device arrays if one chunk suffices, else NumPy), "device" or "host".

    Returns:
      :class:`Kernels` with ``nngp`` (``Sigma_L``; ``|x|^2`` on the diagonal) and ``ntk`` (``Theta_L``;
      ``(L + 1) |x|^2`` on the diagonal), arrays of shape ``(n1, n2)``. Nearly aligned pairs get
      ``1 - rho`` without cancellation (:mod:`.correlation`).

    Every returned matrix obeys Cauchy-Schwarz exactly in its floating-point values,
    ``|K_ij| <= sqrt(K_ii K_jj)`` against the inputs' own diagonals, and a row paired with a copy of
    itself gets exactly its diagonal value (:mod:`.products`: the rounding of the products is
    corrected by at most ~8 ulps; not applied where a diagonal over- or underflows).

    Raises:
      ValueError naming the argument for a bad depth, method, dtype, out, block_rows or input array;
      for inputs whose largest kernel entry would exceed ``largest(dtype) / e`` (:func:`check_range`).
      Differentiable in ``x1, x2`` (traced inputs: one block, no value checks; an entry that
      overflows because of the traced inputs' norms is ``inf``, never NaN; entries whose value is
      finite are finite, with finite derivatives, also for rows of norms 1e300 and 1e-300).
    """
    return _dispatch(x1, x2, "ffnet", check_depth(depth), 0.0, "all", method, dtype, block_rows, out, False)


def resnet_kernels(x1, x2=None, *, depth: int, alpha: float, trained: str = "hidden", method: str = "auto",
                   dtype="float64", block_rows: int | None = None, out: str = "auto") -> Kernels:
    """NNGP and NTK matrices of the ResNet "model H" with branch scaling ``alpha`` (Huang et al. 2020,
    Sec. 3, as reconstructed in this book: recursions eq-resnet-nngp and eq-resnet-ntk of chapter 2).

    Args:
      x1, x2, method, dtype, block_rows, out: as in :func:`ffnet_kernels`.
      depth: ``0 <= L <= 2^31 - 1`` residual blocks. ``L = 0``: the NNGP is ``<x, x'>``; the NTK is 0 for
        ``trained="hidden"`` (nothing trained) and ``2 <x, x'>`` for ``trained="all"`` (``A`` and ``v``).
      alpha: branch scaling, ``0 <= alpha <= 1.34e154`` (``alpha^2`` a finite float64; the papers use
        ``alpha = L**-gamma``). Differentiable (traced alpha: recursion path).
      trained: "hidden" (only ``W_l, V_l``, the papers' setting) or "all" (also input ``A`` and readout
        ``v``, neural-tangents' default).

    Returns:
      :class:`Kernels`; on the diagonal ``nngp = (1 + alpha^2)^L |x|^2`` and ``ntk = 2 L alpha^2
      (1 + alpha^2)^(L-1) |x|^2`` (hidden) or that plus ``2 (1 + alpha^2)^L |x|^2`` (all).

    Raises:
      ValueError as :func:`ffnet_kernels`; naming ``alpha, depth`` when the unit-input diagonal of the
      NNGP or NTK alone exceeds ``largest(dtype) / e`` for these inputs (use smaller inputs, float64 or
      :func:`normalized_kernels`); naming ``alpha`` when ``alpha^2`` overflows float64.
      Traced inputs (``jit``, ``grad``, ``vmap``) with concrete ``alpha, depth``: the same error at
      trace time when that diagonal alone exceeds the bound, whatever the inputs' norms (they are not
      known while tracing; an eager call computes a cross kernel of small enough inputs); below it,
      entries that overflow because of the norms are ``inf``. Traced ``alpha``: nothing can be
      checked at trace time; the scale is formed in log space (``depth * log1p(alpha^2)``) and
      overflowing entries are ``inf``.
    """
    return _dispatch(x1, x2, "resnet", check_depth(depth), check_alpha(alpha), trained, method, dtype,
                     block_rows, out, False)


def normalized_kernels(x1, x2=None, *, arch: str, depth: int, alpha: float = 0.0, trained: str = "hidden",
                       method: str = "auto", dtype="float64", block_rows: int | None = None,
                       out: str = "auto") -> Kernels:
    """Normalised kernel matrices ``K(x, x') / sqrt(K(x, x) K(x', x'))`` from inputs (eq-03-normalised).

    The same engine as :func:`ffnet_kernels` / :func:`resnet_kernels` without the scale ``S`` and the
    norms, so it has no overflow limit (any depth and alpha): ``k(rho)`` of every pair, with
    ``1 - rho`` from :func:`correlations`' representation. 1 on the diagonal when ``x2 is None``; 0 in
    the rows and columns of zero inputs. ``arch``: "ffnet" (``alpha``, ``trained`` ignored) or
    "resnet". Other arguments, errors and differentiability as in :func:`resnet_kernels`.
    Returns :class:`Kernels` of shape ``(n1, n2)`` arrays (dimensionless).
    """
    arch = check.choice("arch", arch, ("ffnet", "resnet"))
    depth = check_depth(depth)
    if arch == "ffnet":
        return _dispatch(x1, x2, "ffnet", depth, 0.0, "all", method, dtype, block_rows, out, True)
    trained = check.choice("trained", trained, check.TRAINED)
    if depth == 0 and trained == "hidden":
        raise check.fail("depth", 0, "depth >= 1 for trained='hidden' (the depth-0 hidden NTK is identically 0)")
    return _dispatch(x1, x2, "resnet", depth, check_alpha(alpha), trained, method, dtype, block_rows, out, True)


def correlations(x1, x2=None, *, dtype="float64", block_rows: int | None = None) -> Correlations:
    """Input correlations ``rho_ij = <x1_i, x2_j> / (|x1_i| |x2_j|)`` with ``1 - rho`` and ``1 + rho`` free
    of cancellation (this book's derivation, :mod:`.correlation`): the representation the kernel
    engine maps.

    Args:
      x1: ``(n1, d)``; x2: ``(n2, d)`` or ``None`` (then ``x1``, with ``rho = 1`` exactly on the diagonal).
      dtype: "float64" or "float32": the Gram matrix's dtype (the near pairs are recomputed in float64
        either way, so ``u, v`` below :func:`~.correlation.threshold` are float64-accurate).
      block_rows: rows per chunk (default from free memory).

    Returns:
      :class:`Correlations` of NumPy arrays ``(n1, n2)`` in ``dtype`` (dimensionless). Zero rows give
      ``rho = 0``.

    Raises:
      ValueError naming ``x1``/``x2`` (shape, non-finite entries, feature mismatch) or ``dtype``.
    """
    dt = _dtype(dtype)
    a, b = _inputs(x1, x2)
    rows = None if block_rows is None else check.integer("block_rows", block_rows, minimum=1)
    method = "depthfree" if dt == np.float32 else "recursion"  # selects the Gram stage's dtype only
    spec = Spec("ffnet", 0)
    with float64_scope():
        u, v, _, exact = gram.evaluate(a, b, spec, method=method, dtype=dt, rows=rows, out="host", what="uv")
        u, v = np.asarray(u, dt), np.asarray(v, dt)
    if b is None:
        nz = np.max(np.abs(a), axis=1) > 0
        idx = np.flatnonzero(nz)
        u[idx, idx], v[idx, idx] = 0.0, 2.0
    rho = np.where(u <= 1.0, 1.0 - u, v - 1.0).astype(dt)
    return Correlations(rho, u, v, exact)


# ------------------------------------------------------------------------------------ one correlation
def _table_eval(u, v, coef, tp, depth, a2, arch, trained):
    theta = 2.0 * jnp.arctan2(jnp.sqrt(u), jnp.sqrt(v))  # inside: its infinite derivative is never formed
    return depthfree.evaluate_raw(tp[0], tp[1], tp[2], tp[3], coef, theta)


_table_map = jax.custom_jvp(_table_eval, nondiff_argnums=(6, 7))


def _table_map_jvp(arch, trained, primals, tangents):
    # the table's values with the recursion's derivative (the table is not differentiated: its
    # derivative near theta = 0 would be 0 * inf); O(depth) per entry, only when differentiating
    from jax.custom_derivatives import SymbolicZero

    u, v, coef, tp, depth, a2 = primals
    tu, tv = (None if isinstance(t, SymbolicZero) else t for t in tangents[:2])
    out = _table_eval(u, v, coef, tp, depth, a2, arch, trained)
    return out, recursion.jvp_terms(u, v, depth, a2, arch, trained, tu, tv)


_table_map.defjvp(_table_map_jvp, symbolic_zeros=True)


def _normalized_map(u, v, arch, depth, alpha, a2, trained, method):
    """``(nngp, ntk)`` normalised, from arrays ``u, v`` (traceable; differentiable in ``u, v``, and in
    ``alpha`` on the recursion path)."""
    dt = u.dtype
    d = jnp.asarray(depth, jnp.int32)
    if method == "recursion":
        return recursion._normalized(u, v, d, jnp.asarray(a2, dt), arch=arch, trained=trained)
    spec = Spec(arch, depth, float(alpha), trained) if arch == "resnet" else Spec("ffnet", depth)
    table = depthfree.build_table(spec)
    _BUILT.add(spec)
    tp = jnp.asarray([table.h, table.hr, table.kl, table.pieces - table.kl], dt)
    return _table_map(u, v, jnp.asarray(table.coef, dt), tp, d, jnp.asarray(a2, dt), arch, trained)


def _normalized(rho, arch, depth, alpha, trained, method) -> Kernels:
    check.choice("method", method, ("recursion", "depthfree"))
    r = check_correlations(rho)
    traced = is_traced(r, alpha)
    if traced and method == "depthfree" and is_traced(alpha):
        raise NotDifferentiableError(
            "alpha is traced (differentiated or jitted) but method='depthfree' builds its table for one "
            "concrete alpha; allowed: method='recursion' for derivatives in alpha")
    with float64_scope(not traced):
        # concrete input: float64 work (float32 input is rounded at the end); traced: the traced dtype
        w = r if traced else r.astype(jnp.float64)
        a2 = (jnp.asarray(alpha, w.dtype) ** 2) if traced else alpha * alpha
        a, b = _normalized_map(1.0 - w, 1.0 + w, arch, depth, alpha, a2, trained, method)
        a, b = a.astype(r.dtype), b.astype(r.dtype)
    bound = 0.0
    if method == "depthfree":
        spec = Spec(arch, depth, float(alpha), trained) if arch == "resnet" else Spec("ffnet", depth)
        bound = depthfree.build_table(spec).error_bound
    return Kernels(a, b, method, bound)


def ffnet_normalized(rho, depth: int, *, method: str = "recursion") -> Kernels:
    """Normalised FFNet kernels ``K(x, x') / sqrt(K(x, x) K(x', x'))`` as functions of ``rho = <x, x'>``
    for unit inputs (eq-03-normalised; any array shape, values in ``[-1, 1]``); both are 1 at ``rho = 1``.

    ``nngp = rho_L = kappa1^L(rho)``; ``ntk = Theta_L / (L + 1)``, which tends to 1/4 for ``rho < 1``.
    Output dtype: that of ``rho`` (float64 for Python floats, computed in float64 whatever the x64
    flag). Differentiable in ``rho`` (forward and reverse mode; ``+-inf`` NTK derivative at
    ``rho = +-1``, see the module doc). Raises ``ValueError`` naming ``rho``, ``depth`` or ``method``.
    """
    return _normalized(rho, "ffnet", check_depth(depth), 0.0, "all", method)


def resnet_normalized(rho, depth: int, alpha: float, trained: str = "hidden", *,
                      method: str = "recursion") -> Kernels:
    """Normalised ResNet kernels as functions of the input correlation ``rho`` (see
    :func:`ffnet_normalized`). Finite for every depth (no ``(1 + alpha^2)^L`` factor). For
    ``alpha = 0`` the hidden NTK is normalised by its ``alpha -> 0`` limit, the depth-1 kernel
    ``(kappa1 + rho kappa0) / 2``. ``depth = 0`` with ``trained="hidden"`` is rejected (that NTK is
    identically zero and has no normalised form). Differentiable in ``rho`` and in ``alpha``
    (``method="recursion"``; a traced alpha with ``"depthfree"`` raises :class:`NotDifferentiableError`).
    """
    depth = check_depth(depth)
    trained = check.choice("trained", trained, check.TRAINED)
    if depth == 0 and trained == "hidden":
        raise check.fail("depth", 0, "depth >= 1 for trained='hidden' (the depth-0 hidden NTK is identically 0)")
    return _normalized(rho, "resnet", depth, check_alpha(alpha), trained, method)


def diagonal(arch: str, depth: int, alpha: float = 0.0, trained: str = "all") -> tuple[float, float]:
    """Exact ``(NNGP(x, x), NTK(x, x))`` for a unit-norm ``x`` (closed forms; ``inf`` where the value
    exceeds the largest float64, never an OverflowError).

    FFNet: ``(1, L + 1)``. ResNet: ``((1 + a^2)^L, 2 L a^2 (1 + a^2)^(L-1) [+ 2 (1 + a^2)^L if all])``.
    Raises ``ValueError`` naming ``arch``, ``depth``, ``alpha`` (including ``alpha^2`` overflowing) or
    ``trained``.
    """
    from .recursion import scales

    arch = check.choice("arch", arch, ("ffnet", "resnet"))
    depth = check_depth(depth)
    if arch == "ffnet":
        return scales(Spec("ffnet", depth))
    return scales(Spec("resnet", depth, check_alpha(alpha), check.choice("trained", trained, check.TRAINED)))
