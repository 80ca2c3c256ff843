"""Kernel matrices from inputs: blocked over rows, sharded over every visible device.

Every kernel of this package is ``K(x, x') = |x| |x'| S k(rho0)`` (``rho0`` the input correlation,
``S`` the diagonal scale, ``k`` the normalised kernel), so one Gram matrix carries all the information
about the inputs. Rows of ``x1`` are processed in chunks of ``rows`` rows; each chunk is split over the
devices of a 1-D mesh (``jax.sharding.NamedSharding``, rows sharded, ``x2`` replicated) and evaluated
in three steps:

1. *Gram stage* (jitted): the Gram block of the rows (each scaled on the host by an exact power of two,
   so nothing over- or underflows in float32), ``1 - rho`` and ``1 + rho``, and a mask of the pairs
   within :func:`~.correlation.threshold` of ``rho = +-1``;
2. *exact stage* (only if the mask is not empty): ``1 -+ rho = |a -+ b|^2 / 2`` of the unit rows for those
   pairs, in float64 NumPy on the host (:func:`~.correlation.exact_uv`), scattered back;
3. *map stage* (jitted): the normalised map (recursion or depth-free table), times the row weights.

Chunks all have the same shape (the last one is zero-padded; a zero row gives a zero kernel row), so
each stage is compiled once per (shape, dtype, method). Depth, alpha and the table are traced.

Precision: ``dtype="float64"`` works in float64 (inside :func:`~.precision.float64_scope`, whatever
the global x64 flag). ``dtype="float32"`` with the depth-free table works in float32 throughout (Gram
matrix, a polynomial arctangent, and a lookup table of the depth-free map, :func:`lerp_table`, linear
in ``log2`` of the angle: 4 gathers per entry), with the exact ``1 -+ rho`` of the near pairs: that
is the fast path (about 2x the float32 Gram matrix alone, ``benchmarks/README.md``). ``dtype="float32"`` with the recursion runs the float64 recursion
and rounds the result (the recursion is the reference path).

Scales: entries are ``((w1_i w2_j) f) k_ij`` with row weights ``w = |x| 2^A`` (``A`` an integer, ``|x|``
itself carried as ``r 2^e``, :mod:`.products`), so an entry is finite whenever its value is, even
where ``S`` itself or one input's own kernel would overflow, and is the same number however the
exponents are balanced. With ``x2 = None`` the diagonal is ``D = ((r r) f) 2^(2 e + E)``, the closed
form ``|x|^2 S`` within two roundings and exactly what a copy of the row gets off the diagonal.
Every entry then obeys Cauchy-Schwarz against these diagonals exactly
(:func:`~.products.cauchy_schwarz`). The range check is done by the caller (:mod:`.api`) before
anything is computed.

Output placement: if the whole result fits in one chunk it stays on the devices (a ``jax.Array``
sharded by rows); otherwise chunks are copied to host memory as they finish (NumPy arrays), which is
what lets n = 70,000 run on one 80 GB GPU (the float64 pair of outputs alone is 78 GB).
"""

from __future__ import annotations

import functools
import math
import os
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from . import correlation, depthfree, products, recursion
from .precision import float64_scope
from .recursion import Spec

MAX_PIECES = 96  # tables are padded to this many pieces so that a new depth does not recompile


def _gram_stage(xs1, xs2, row0, *, same):
    """``(u, v, near, count)`` for one chunk of pre-scaled rows (see the module doc, step 1)."""
    r1 = jnp.sqrt(jnp.sum(xs1 * xs1, axis=1))
    r2 = jnp.sqrt(jnp.sum(xs2 * xs2, axis=1))
    g = jnp.matmul(xs1, xs2.T, precision=jax.lax.Precision.HIGHEST)
    u, v, near = correlation.uv_from_gram(g, r1, r2)
    if same:  # the diagonal is set to the closed form in the map stage
        rows = row0 + jnp.arange(xs1.shape[0])
        near = near & (rows[:, None] != jnp.arange(xs2.shape[0])[None, :])
    return u, v, near, jnp.sum(near)


@functools.partial(jax.jit, static_argnames="size")
def _near_indices(near, size):
    return jnp.nonzero(near, size=size, fill_value=-1)


@jax.jit
def _scatter(u, v, i, j, eu, ev):
    # padded indices are -1, which would wrap around (NumPy semantics): send them out of range, where
    # mode="drop" ignores them
    i = jnp.where(i < 0, u.shape[0], i)
    j = jnp.where(j < 0, u.shape[1], j)
    return u.at[i, j].set(eu, mode="drop"), v.at[i, j].set(ev, mode="drop")


def _map_stage(u, v, w1, w2, dg, dn1, g1, dn2, g2, row0, coef, tparams, fac, depth, a2, *, arch, trained, method, same,
               out_dtype, normalized):
    """``(nngp, ntk)`` of one chunk from ``u, v`` (step 3). ``w1 (rows, 2)``, ``w2 (n2, 2)``: row weights
    of the nngp and ntk, ``fac (2,)`` their factors (:func:`weights`); ``dg (rows, 2)``: the rows' own
    diagonal values ``D`` in the output dtype (put on the diagonal when ``same``); ``dn1, g1 (rows, 2)``,
    ``dn2, g2 (n2, 2)``: the Cauchy-Schwarz factors of rows and columns (:func:`~.products.bound_factors`)."""
    odt = jnp.dtype(out_dtype)
    if method == "recursion":
        k_nngp, k_ntk = recursion._normalized(u, v, depth, a2, arch=arch, trained=trained)
    elif u.dtype == jnp.float32:  # the fast path: polynomial arctangent, then the lookup table
        s, right = depthfree.angle_sides(u, v)
        k_nngp, k_ntk = lerp_eval(coef, tparams[4], tparams[5], tparams[0], tparams[1], s, right)
    else:
        theta = 2.0 * jnp.arctan2(jnp.sqrt(u), jnp.sqrt(v))
        k_nngp, k_ntk = depthfree.evaluate_raw(tparams[0], tparams[1], tparams[2], tparams[3], coef, theta)
    outs = []
    for q, k in enumerate((k_nngp, k_ntk)):
        if normalized:
            val = jnp.where((w1[:, q, None] > 0) & (w2[None, :, q] > 0), k, 0.0)  # zero rows: 0
        else:
            val = ((w1[:, q, None] * w2[None, :, q]) * fac[q]) * k
        val = val.astype(odt)
        if same:
            rows = row0 + jnp.arange(u.shape[0])
            diag = rows[:, None] == jnp.arange(u.shape[1])[None, :]
            val = jnp.where(diag, dg[:, q, None], val)
        # rounding of the weights' products can break |K_ij| <= sqrt(K_ii K_jj) by an ulp: restored here
        # (elementwise, fused with the map: a few operations per entry)
        outs.append(products.cauchy_schwarz(val, dn1[:, q], g1[:, q], dn2[:, q], g2[:, q], u == 0))
    return outs[0], outs[1]


@functools.lru_cache(maxsize=64)
def _compiled(arch, trained, method, same, out_dtype, normalized, devices):
    """The jitted, sharded stage functions (cached: one trace per configuration and shape)."""
    mesh = Mesh(np.asarray(devices), ("rows",))
    row_sh = NamedSharding(mesh, P("rows", None))
    rep = NamedSharding(mesh, P())
    gram = jax.jit(partial(_gram_stage, same=same), in_shardings=(row_sh, rep, rep),
                   out_shardings=(row_sh, row_sh, row_sh, rep))
    fn = partial(_map_stage, arch=arch, trained=trained, method=method, same=same, out_dtype=out_dtype,
                 normalized=normalized)
    mapped = jax.jit(fn, in_shardings=(row_sh, row_sh, row_sh, rep, row_sh, row_sh, row_sh, rep, rep) + (rep,) * 6,
                     out_shardings=(row_sh, row_sh))
    return gram, mapped, row_sh, rep


LERP_POINTS = 1 << 15  # points per side of the float32 lookup table
LERP_ZMIN = -24.0  # below s = h 2^-24 the value is held (its change there is ~ depth * h 2^-24 < 1e-7)


@functools.lru_cache(maxsize=64)
def lerp_table(spec: Spec) -> tuple[np.ndarray, float, float, float]:
    """The float32 fast path's lookup table: ``(values (2, 2 * LERP_POINTS), zmax_left, zmax_right, error)``.

    The depth-free table (:mod:`.depthfree`) evaluated, in float64, on a uniform grid in ``z = log2(s / h)``
    (``s`` the angle's distance to the nearer end, ``h`` that side's first piece width) from
    ``LERP_ZMIN`` to ``log2(pi / 2 / h)``, left side then right side. In ``z`` the boundary layer at
    ``s ~ 1 / L_eff`` has width O(1), so linear interpolation on 2^15 points is accurate to ~1e-7; the
    error returned is the largest difference between the interpolant and the table at the midpoints
    of the grid (where linear interpolation errs most), plus the hold below ``LERP_ZMIN``. Per entry
    this costs 4 gathers instead of the Clenshaw sums' ``2 (degree + 1)``.
    """
    table = depthfree.build_table(spec)
    vals, zmax, err = [], [], 0.0
    for side, hh in enumerate((table.h, table.hr)):
        zm = math.log2(math.pi / 2 / hh)
        z = np.linspace(LERP_ZMIN, zm, LERP_POINTS)
        mid = (z[:-1] + z[1:]) / 2
        with float64_scope():
            def ev(zz):
                sv = hh * np.exp2(zz)
                th = sv if side == 0 else math.pi - sv
                return np.stack([np.asarray(k) for k in depthfree.evaluate(table, None, jnp.asarray(th))])
            v, vm = ev(z), ev(mid)
            v0 = ev(np.array([LERP_ZMIN]))
            end = ev(np.array([-60.0]))  # s = h 2^-60: the held value's distance to the limit s -> 0
        err = max(err, float(np.max(np.abs((v[:, :-1] + v[:, 1:]) / 2 - vm))), float(np.max(np.abs(v0 - end))))
        vals.append(v)
        zmax.append(zm)
    return np.concatenate(vals, axis=1), zmax[0], zmax[1], err + table.error_bound


def lerp_eval(tab, zl, zr, h, hr, s, right):
    """Linear interpolation in :func:`lerp_table` at ``(s, right)`` (traceable, float32)."""
    m = tab.shape[1] // 2
    hh = jnp.where(right, hr, h)
    zmax = jnp.where(right, zr, zl)
    z = jnp.log2(jnp.maximum(s / hh, jnp.finfo(s.dtype).tiny))
    pos = (jnp.clip(z, LERP_ZMIN, zmax) - LERP_ZMIN) / (zmax - LERP_ZMIN) * (m - 1)
    i = jnp.clip(jnp.floor(pos), 0.0, m - 2.0)
    f = pos - i
    idx = i.astype(jnp.int32) + jnp.where(right, m, 0)
    out = []
    for q in range(2):
        a = jnp.take(tab[q], idx, mode="clip")
        b = jnp.take(tab[q], idx + 1, mode="clip")
        out.append(a + f * (b - a))
    return out[0], out[1]


def _padded(table: depthfree.Table) -> np.ndarray:
    """Coefficients padded to ``MAX_PIECES`` pieces (right-side pieces moved to the end of the array)."""
    coef = table.coef
    kl, kr = table.kl, table.pieces - table.kl
    if table.pieces > MAX_PIECES:
        raise RuntimeError(f"table has {table.pieces} pieces > {MAX_PIECES}")
    out = np.zeros((2, MAX_PIECES, coef.shape[2]))
    out[:, :kl] = coef[:, :kl]
    out[:, kl : kl + kr] = coef[:, kl:]
    return out


def available_memory(device) -> float:
    """Bytes free on ``device``: the allocator's limit on accelerators, free host RAM on CPU."""
    try:
        stats = device.memory_stats() or {}
    except Exception:  # noqa: BLE001 - backends without memory_stats
        stats = {}
    if "bytes_limit" in stats:
        return float(stats["bytes_limit"] - stats.get("bytes_in_use", 0))
    try:
        free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        free = 4e9
    return float(free) / max(1, len(jax.devices(device.platform)))


def bytes_per_entry(method: str, itemsize: int) -> int:
    """Rough peak bytes per kernel entry of a chunk while it is computed (inputs, temporaries, outputs)."""
    return 16 * 8 if method == "recursion" else 12 * itemsize


def chunk_rows(n1: int, n2: int, method: str, itemsize: int, ndev: int, budget: float | None = None) -> int:
    """Rows per chunk so that one chunk's temporaries use at most half of the free device memory."""
    if budget is None:
        budget = 0.5 * available_memory(jax.devices()[0])
    per_dev = max(1, int(budget // (n2 * bytes_per_entry(method, itemsize))))
    rows = per_dev * ndev
    rows = min(rows, -(-n1 // ndev) * ndev)
    return max(ndev, rows - rows % ndev)


def row_logs(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Host, float64: ``(xs, log|x|, |x|^2)`` with ``xs`` the rows scaled by exact powers of two (largest
    ``|entry|`` in ``[1, 2)``), ``log|x|`` (``-inf`` for a zero row) and ``|x|^2`` (may under/overflow)."""
    xs, r, e = products.row_parts(x)
    with np.errstate(over="ignore", under="ignore"):
        sq = np.ldexp(np.einsum("ij,ij->i", xs, xs), 2 * e)  # sum(x^2), scaled exactly
    return xs, products.row_log(r, e), sq


def weights(r1: np.ndarray, e1: np.ndarray, r2: np.ndarray, e2: np.ndarray, log_s: float, s: float, dtype
            ) -> tuple[np.ndarray, np.ndarray, float]:
    """Row weights and a factor, ``(w1, w2, f)`` (float64), with ``w1_i w2_j f = |x1_i| |x2_j| S``, so that an
    entry ``(w1_i w2_j) f k`` is finite whenever its value is. ``|x| = r 2^e`` (:func:`~.products.row_parts`).
    Normally ``w = |x|`` and ``f = S``; where ``S`` or ``|x1| |x2|`` is out of ``dtype``'s range,
    ``S = f 2^E`` and the exponent ``E`` is split (in whole powers of two) between the two sides to
    balance their maxima. The weights are the norms times exact powers of two, so an entry's value
    does not depend on the split (:mod:`.products`); ``w1_i w2_j`` is symmetric bit for bit when
    ``x2 = x1``."""
    if log_s == -math.inf:
        return np.zeros_like(r1), np.zeros_like(r2), 0.0
    big = math.log(np.finfo(dtype).max) - 1.0
    tiny = math.log(np.finfo(dtype).tiny) + 1.0
    log1, log2 = products.row_log(r1, e1), products.row_log(r2, e2)
    fin1, fin2 = log1[np.isfinite(log1)], log2[np.isfinite(log2)]
    m1 = float(fin1.max()) if fin1.size else 0.0
    m2 = float(fin2.max()) if fin2.size else 0.0
    lo = min(float(fin1.min()) if fin1.size else 0.0, 0.0) + min(float(fin2.min()) if fin2.size else 0.0, 0.0)
    with np.errstate(over="ignore", under="ignore"):
        if math.isfinite(s) and abs(log_s) < big and max(m1, m2, m1 + m2) < big and lo > tiny:
            return np.ldexp(r1, e1), np.ldexp(r2, e2), float(s)
        f, big_e = products.scale_parts(log_s, s)
        a1 = round((log_s + m2 - m1) / 2.0 / math.log(2.0))
        return np.ldexp(r1, e1 + a1), np.ldexp(r2, e2 + (big_e - a1)), f


def evaluate(x1, x2, spec: Spec, *, method: str, dtype, rows: int | None = None, out: str = "auto",
             normalized: bool = False, what: str = "kernels"):
    """Kernel matrices ``(nngp, ntk)`` of ``spec`` for inputs ``x1 (n1, d)`` and ``x2 (n2, d)``.

    ``x2 is None`` means ``x2 = x1`` with an exact diagonal. ``method``: "recursion" or "depthfree".
    ``rows``: rows per chunk (default from free memory). ``out``: "auto", "device" (one chunk, results
    stay on the devices; an error if ``rows`` is smaller than ``n1``) or "host" (NumPy arrays).
    ``normalized``: return ``k(rho)`` (1 on the diagonal, 0 for zero rows) instead of ``K``.
    ``what="uv"``: return ``(1 - rho, 1 + rho)`` (after the exact stage) instead of the kernels.
    Returns ``(nngp, ntk, table, exact_pairs)`` with ``table`` the depth-free table used (or ``None``)
    and ``exact_pairs`` the number of pairs whose ``1 -+ rho`` was recomputed exactly.
    """
    dt = np.dtype(dtype)
    wdt = np.dtype(np.float64) if (dt == np.float64 or method == "recursion") else np.dtype(np.float32)
    with float64_scope(wdt == np.float64):
        return _evaluate(x1, x2, spec, method, dt, wdt, rows, out, normalized, what)


def _evaluate(x1, x2, spec, method, dt, wdt, rows, out, normalized, what):
    same = x2 is None
    xs1, r1, e1 = products.row_parts(x1)
    xs2, r2, e2 = (xs1, r1, e1) if same else products.row_parts(x2)
    n1, n2 = xs1.shape[0], xs2.shape[0]
    devices = tuple(jax.devices())
    ndev = len(devices)

    log_sc = recursion.log_scales(spec)
    sc = recursion.scales(spec)
    w1 = np.zeros((n1, 2))
    w2 = np.zeros((n2, 2))
    fac = np.ones(2)
    dg = np.zeros((n1, 2))  # each row's own diagonal value (and the Cauchy-Schwarz bound's factors)
    d2 = np.zeros((n2, 2))
    for q in range(2):
        if normalized:
            w1[:, q], w2[:, q] = (r1 > 0), (r2 > 0)
            dg[:, q], d2[:, q] = (r1 > 0), (r2 > 0)
        else:
            w1[:, q], w2[:, q], fac[q] = weights(r1, e1, r2, e2, log_sc[q], sc[q], wdt)
            f, big_e = products.scale_parts(log_sc[q], sc[q])
            dg[:, q] = products.diagonal_values(r1, e1, f, big_e)
            d2[:, q] = dg[:, q] if same else products.diagonal_values(r2, e2, f, big_e)
    dn1, g1 = products.bound_factors(dg, dt)
    dn2, g2 = products.bound_factors(d2, dt)
    dg = dg.astype(dt)

    table = None
    if method == "depthfree" and what == "kernels":
        table = depthfree.build_table(spec)
        if wdt == np.float32:
            coef, zl, zr, _ = lerp_table(spec)
            tparams = np.array([table.h, table.hr, table.kl, table.pieces - table.kl, zl, zr])
        else:
            coef = _padded(table)
            tparams = np.array([table.h, table.hr, table.kl, table.pieces - table.kl])
    else:
        coef = np.zeros((2, 1, 2))
        tparams = np.ones(4)

    if rows is None:
        rows = chunk_rows(n1, n2, method, wdt.itemsize, ndev)
    rows = max(ndev, -(-rows // ndev) * ndev)
    rows = min(rows, -(-n1 // ndev) * ndev)
    nchunks = -(-n1 // rows)
    if out == "device" and nchunks > 1:
        raise ValueError(
            f"out='device' is invalid here: the result needs {nchunks} chunks of {rows} rows; "
            "allowed: out='host' or 'auto' for this size, or a larger rows="
        )
    on_device = nchunks == 1 and out != "host"

    arch, trained = (spec.arch, spec.trained) if method == "recursion" else (None, None)
    gram, mapped, row_sh, rep = _compiled(arch, trained, method, same, dt.name, normalized, devices)
    x2_dev = jax.device_put(xs2.astype(wdt), rep)
    consts = [jax.device_put(np.asarray(a, wdt), rep) for a in (coef, tparams, fac)]
    consts.append(jax.device_put(np.asarray(spec.depth, np.int32), rep))
    consts.append(jax.device_put(np.asarray(spec.alpha**2, wdt), rep))
    w2_dev = jax.device_put(w2.astype(wdt), rep)
    d2_dev, g2_dev = jax.device_put(dn2, rep), jax.device_put(g2, rep)
    units = {}  # unit rows for the exact stage, made on first use
    exact_pairs = 0

    def pad(a, start):
        block = a[start : start + rows]
        if block.shape[0] < rows:
            block = np.concatenate([block, np.zeros((rows - block.shape[0],) + a.shape[1:], a.dtype)])
        return block

    def run(start):
        nonlocal exact_pairs
        xb = jax.device_put(pad(xs1, start).astype(wdt), row_sh)
        r0 = jax.device_put(np.asarray(start, np.int32), rep)
        u, v, near, count = gram(xb, x2_dev, r0)
        count = int(count)
        if count:
            if not units:
                units[1] = correlation.unit_rows(xs1)
                units[2] = units[1] if same else correlation.unit_rows(xs2)
            size = 1 << max(4, (count - 1).bit_length())  # power-of-two buckets: few compilations
            i, j = (np.asarray(a)[:count] for a in _near_indices(near, size))
            eu, ev = correlation.exact_uv(units[1], units[2], i + start, j)
            pad_i = np.full(size, -1, np.int32)
            pad_j = np.full(size, -1, np.int32)
            pad_i[:count], pad_j[:count] = i, j
            fu = np.zeros(size, wdt)
            fv = np.zeros(size, wdt)
            fu[:count], fv[:count] = eu, ev
            u, v = _scatter(u, v, pad_i, pad_j, fu, fv)
            exact_pairs += count
        if what == "uv":
            return u, v
        w1b = jax.device_put(pad(w1, start).astype(wdt), row_sh)
        dgb, dnb, g1b = (jax.device_put(pad(a, start), row_sh) for a in (dg, dn1, g1))
        return mapped(u, v, w1b, w2_dev, dgb, dnb, g1b, d2_dev, g2_dev, r0, *consts)

    if on_device:
        a, b = run(0)
        if rows != n1:
            a, b = a[:n1], b[:n1]
        return a, b, table, exact_pairs
    res_n = np.empty((n1, n2), dt)
    res_k = np.empty((n1, n2), dt)
    pending = None
    for start in range(0, n1, rows):
        nxt = (start, run(start))  # the map stage runs asynchronously while the previous chunk is copied
        if pending is not None:
            _copy(pending, res_n, res_k)
        pending = nxt
    _copy(pending, res_n, res_k)
    return res_n, res_k, table, exact_pairs


def _copy(pending, res_n, res_k):
    start, (a, b) = pending
    stop = min(start + a.shape[0], res_n.shape[0])
    res_n[start:stop] = np.asarray(a)[: stop - start]
    res_k[start:stop] = np.asarray(b)[: stop - start]
