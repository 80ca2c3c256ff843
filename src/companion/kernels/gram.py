"""Kernel matrices from inputs: blocked over rows, sharded over every visible device.

Every kernel of this package is ``K(x, x') = |x| |x'| S k(rho0)`` (``rho0`` the input correlation,
``S`` the diagonal scale, ``k`` the normalised kernel), so one Gram matrix carries all the information
about the inputs. Rows of ``x1`` are processed in chunks of ``rows`` rows; each chunk is split over the
devices of a 1-D mesh (``jax.sharding.NamedSharding``, rows sharded, ``x2`` replicated) and evaluated
by one jitted function: Gram block, correlations, then the normalised map (recursion or depth-free
table), then the scales. Chunks all have the same shape (the last one is zero-padded; a zero row
gives a zero kernel row), so the function is compiled once per (shape, dtype, method).

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

from . import depthfree
from . import recursion
from .recursion import Spec

MAX_PIECES = 96  # tables are padded to this many pieces so that a new depth does not recompile


def _uv_from_gram(g, n1, n2, snap):
    """``(1 - rho, 1 + rho, |x||x'|)`` from a Gram block; ``1 - rho < snap`` is set to 0 (see below)."""
    nn = n1[:, None] * n2[None, :]
    rho = g / jnp.where(nn > 0, nn, 1.0)
    rho = jnp.clip(rho, -1.0, 1.0)
    u = 1.0 - rho
    return jnp.where(u < snap, 0.0, u), 1.0 + rho, nn


def scaled_rows(x):
    """``(xs, r, s)`` with ``x = s * xs`` row by row, ``s`` a power of two near the row's largest
    ``|entry|`` (so the scaling is exact) and ``r = |xs|``: norms and correlations that neither
    underflow nor overflow (``|x|^2`` of a row of 1e-182s is 0 in float64, its correlations are not).
    A zero row gives ``s = 1, r = 0``."""
    m = jnp.max(jnp.abs(x), axis=1)
    s = jnp.where(m > 0, jnp.exp2(jnp.floor(jnp.log2(jnp.where(m > 0, m, 1.0)))), 1.0)
    xs = x / s[:, None]
    return xs, jnp.sqrt(jnp.sum(xs * xs, axis=1)), s


def _chunk(x1b, xs2, r2, s2, row0, coef, tparams, scales, depth, a2, *, arch, trained, method, same, out_dtype):
    """One row chunk: ``(nngp, ntk)`` of shape ``(rows, n2)`` in ``out_dtype``.

    The Gram block, the correlations and the angles are computed in the inputs' (working) dtype,
    float64 whenever x64 is enabled, also for float32 output: the kernels have a square-root kink
    at ``rho = 1``, so float32 rounding of the Gram matrix (~1e-7 in ``rho``) would become ~3e-4 in
    the kernel of nearly aligned pairs. Pairs with ``1 - rho`` below the Gram matrix's own rounding
    level (``4 sqrt(d) eps``) are treated as identical directions (the exact closed form); this
    changes nothing for distinguishable pairs and makes ``K(x, c x)`` exact.
    """
    wd = x1b.dtype
    odt = jnp.dtype(out_dtype)
    xs1, r1, s1 = scaled_rows(x1b)
    g = jnp.matmul(xs1, xs2.T, precision=jax.lax.Precision.HIGHEST)
    snap = 4.0 * math.sqrt(x1b.shape[1]) * float(jnp.finfo(wd).eps)
    u0, v0, _ = _uv_from_gram(g, r1, r2, snap)
    nn = (s1 * r1)[:, None] * (s2 * r2)[None, :]
    if method == "recursion":
        k_nngp, k_ntk = recursion._normalized(u0, v0, depth, a2, arch=arch, trained=trained)
    else:
        theta = (2.0 * jnp.arctan2(jnp.sqrt(u0), jnp.sqrt(v0))).astype(odt)
        tp = tparams.astype(odt)
        k_nngp, k_ntk = depthfree.evaluate_raw(tp[0], tp[1], tp[2], tp[3], coef.astype(odt), theta)
    if same:  # identical inputs: the diagonal is exactly the closed form
        rows = row0 + jnp.arange(x1b.shape[0])
        diag = rows[:, None] == jnp.arange(xs2.shape[0])[None, :]
        k_nngp = jnp.where(diag, 1.0, k_nngp)
        k_ntk = jnp.where(diag, 1.0, k_ntk)
        sq1 = (s1 * s1) * jnp.sum(xs1 * xs1, axis=1)  # = sum(x^2) exactly (power-of-two scaling)
        nn = jnp.where(diag, sq1[:, None], nn)  # |x|^2 itself, not sqrt(|x|^2)^2
    nn = nn.astype(odt)
    return nn * scales[0].astype(odt) * k_nngp.astype(odt), nn * scales[1].astype(odt) * k_ntk.astype(odt)


_prep = jax.jit(scaled_rows)


@functools.lru_cache(maxsize=32)
def _compiled(arch, trained, method, same, out_dtype, devices):
    """The jitted, sharded chunk function (cached: one trace per configuration and shape)."""
    mesh = Mesh(np.asarray(devices), ("rows",))
    row_sh = NamedSharding(mesh, P("rows", None))
    rep = NamedSharding(mesh, P())
    fn = partial(_chunk, arch=arch, trained=trained, method=method, same=same, out_dtype=out_dtype)
    return jax.jit(fn, in_shardings=(row_sh,) + (rep,) * 9, out_shardings=(row_sh, row_sh)), row_sh, rep


def _padded(table: depthfree.Table) -> np.ndarray:
    """Coefficients padded to ``MAX_PIECES`` pieces: right-side pieces moved to the end of the array."""
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
    return 16 * 8 if method == "recursion" else 10 * itemsize


def chunk_rows(n1: int, n2: int, method: str, itemsize: int, ndev: int, budget: float | None = None) -> int:
    """Rows per chunk so that one chunk's temporaries use at most half of the free device memory."""
    if budget is None:
        budget = 0.5 * available_memory(jax.devices()[0])
    per_dev = max(1, int(budget // (n2 * bytes_per_entry(method, itemsize))))
    rows = per_dev * ndev
    rows = min(rows, -(-n1 // ndev) * ndev)
    return max(ndev, rows - rows % ndev)


def evaluate(x1, x2, spec: Spec, *, method: str, dtype, rows: int | None = None, out: str = "auto"):
    """Kernel matrices ``(nngp, ntk)`` of ``spec`` for inputs ``x1 (n1, d)`` and ``x2 (n2, d)``.

    ``x2 is None`` means ``x2 = x1`` with an exact diagonal. ``method``: "recursion" or "depthfree".
    ``rows``: rows per chunk (default from free memory). ``out``: "auto", "device" (one chunk, results
    stay on the devices; an error if ``rows`` is smaller than ``n1``) or "host" (NumPy arrays).
    Returns ``(nngp, ntk, table)`` with ``table`` the depth-free table used (or ``None``).
    """
    dt = jnp.dtype(dtype)
    work = "float64" if jax.config.jax_enable_x64 else "float32"
    wdt = np.dtype(work)
    same = x2 is None
    x1 = np.asarray(x1, wdt)
    x2 = x1 if same else np.asarray(x2, wdt)
    n1, n2 = x1.shape[0], x2.shape[0]
    devices = tuple(jax.devices())
    ndev = len(devices)

    _log_scales_checked(spec, dt)
    scales = np.array(recursion.scales(spec))
    table = None
    if method == "depthfree":
        table = depthfree.build_table(spec)
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

    # Depth, alpha, the table and the scales are traced: one compilation per architecture and shape.
    arch, trained = (spec.arch, spec.trained) if method == "recursion" else (None, None)
    fn, row_sh, rep = _compiled(arch, trained, method, same, dt.name, devices)
    x2_prep = _prep(jax.device_put(x2, rep))  # (xs2, r2, s2), replicated
    consts = [jax.device_put(np.asarray(a, dtype=np.float64 if work == "float64" else np.float32), rep)
              for a in (coef, tparams, scales)]
    consts.append(jax.device_put(np.asarray(spec.depth, np.int32), rep))
    consts.append(jax.device_put(np.asarray(spec.alpha**2, wdt), rep))

    def run(start):
        block = x1[start : start + rows]
        if block.shape[0] < rows:
            block = np.concatenate([block, np.zeros((rows - block.shape[0], x1.shape[1]), wdt)])
        xb = jax.device_put(block, row_sh)
        r0 = jax.device_put(np.asarray(start, np.int64 if work == "float64" else np.int32), rep)
        return fn(xb, *x2_prep, r0, *consts)

    if on_device:
        a, b = run(0)
        if rows != n1:
            a, b = a[:n1], b[:n1]
        return a, b, table
    res_n = np.empty((n1, n2), dt)
    res_k = np.empty((n1, n2), dt)
    pending = None
    for start in range(0, n1, rows):
        nxt = (start, run(start))  # dispatched asynchronously while the previous chunk is copied
        if pending is not None:
            _copy(pending, res_n, res_k)
        pending = nxt
    _copy(pending, res_n, res_k)
    return res_n, res_k, table


def _copy(pending, res_n, res_k):
    start, (a, b) = pending
    stop = min(start + a.shape[0], res_n.shape[0])
    res_n[start:stop] = np.asarray(a)[: stop - start]
    res_k[start:stop] = np.asarray(b)[: stop - start]


def _log_scales_checked(spec: Spec, dt) -> tuple[float, float]:
    from .recursion import log_scales

    lsn, lsk = log_scales(spec)
    limit = math.log(np.finfo(dt).max) - 1.0
    if max(lsn, lsk) > limit:
        raise ValueError(
            f"alpha={spec.alpha!r}, depth={spec.depth!r} is invalid for dtype {np.dtype(dt).name}: "
            f"the kernel's scale (1 + alpha^2)^depth = exp({lsn:.4g}) overflows; allowed: "
            f"depth * log(1 + alpha^2) < {limit:.4g} (the normalised kernel, resnet_normalized, has no limit)"
        )
    return lsn, lsk
