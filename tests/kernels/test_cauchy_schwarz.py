"""Every kernel matrix obeys Cauchy-Schwarz, ``|K_ij| <= sqrt(K_ii K_jj)``, exactly in the returned
floating-point numbers, and a row paired with a copy of itself gets exactly the diagonal.

The kind (final review): two nearly identical rows of norm ~1e150 had an off-diagonal NNGP ~9e-14 above
``sqrt(K_ii K_jj)`` (one ulp at norm ~1e5): the row weights were ``exp(log|x|)`` against the exact
diagonal. Members tried here: random clusters of near-duplicates (perturbations 10^U(-17, -8) relative,
rescaled copies, exact copies) at random norm scales 10^U(-150, 150), FFNet and ResNet (both trained
settings), every method, float64 and float32, blocked and one-block evaluation, eager and jit.
The inequality is checked in exact rational arithmetic (``fractions``), so that the check itself
does not round.
"""

from __future__ import annotations

from fractions import Fraction

import jax
import numpy as np
import pytest

from companion.kernels import ffnet_kernels, normalized_kernels, resnet_kernels


def violations(K, d1, d2) -> int:
    """How many entries break ``K_ij^2 <= d1_i d2_j`` exactly (diagonals out of the normal range bound nothing)."""
    K, d1, d2 = (np.asarray(a).astype(np.float64) for a in (K, d1, d2))
    tiny = np.finfo(np.asarray(K).dtype).tiny
    bad = 0
    for i in range(K.shape[0]):
        for j in range(K.shape[1]):
            a, b = d1[i], d2[j]
            if not (np.isfinite(a) and np.isfinite(b) and a >= tiny and b >= tiny):
                continue
            bad += Fraction(float(K[i, j])) ** 2 > Fraction(float(a)) * Fraction(float(b))
    return bad


def cluster(rng, n, d, log_scale):
    """Near-duplicates of one random direction: perturbed, rescaled by 1 + tiny, and exact copies."""
    c = rng.normal(size=d)
    x = np.empty((n, d))
    for i in range(n):
        kind = rng.integers(0, 3)
        if kind == 0:
            x[i] = c + 10.0 ** rng.uniform(-17, -8) * np.linalg.norm(c) * rng.normal(size=d)
        elif kind == 1:
            x[i] = c * (1 + 10.0 ** rng.uniform(-16, -10) * rng.choice([-1, 1]))
        else:
            x[i] = c
    return x / np.linalg.norm(c) * 10.0**log_scale


def kernels(arch, depth, alpha, trained, x, y=None, **kw):
    if arch == "ffnet":
        return ffnet_kernels(x, y, depth=depth, **kw)
    return resnet_kernels(x, y, depth=depth, alpha=alpha, trained=trained, **kw)


# ------------------------------------------------------------------------------ the given members
@pytest.mark.parametrize("scale", [1e150, 1e5])
def test_issue_near_duplicates_with_huge_norms(scale):
    rng = np.random.default_rng(0)
    v = rng.normal(size=5)
    v *= scale / np.linalg.norm(v)
    for x in (np.stack([v, v * (1 + 1e-13)]), np.stack([v, v + scale * 1e-16 * rng.normal(size=5)])):
        for k in (ffnet_kernels(x, depth=3), jax.jit(lambda a: tuple(ffnet_kernels(a, depth=3)))(x)):
            for K in k:
                K = np.asarray(K)
                assert violations(K, np.diag(K), np.diag(K)) == 0  # was 9e-14 relative above (1e150)
                assert K[0, 1] == K[1, 0]


# ------------------------------------------------------------------------------ random clusters
CONFIGS = [("ffnet", 0, 0.0, "all"), ("ffnet", 7, 0.0, "all"), ("ffnet", 200, 0.0, "all"),
           ("resnet", 5, 0.7, "hidden"), ("resnet", 40, 40**-0.5, "all"), ("resnet", 1, 2.0, "hidden")]


@pytest.mark.parametrize("seed", range(6))
def test_random_clusters_eager(seed):
    rng = np.random.default_rng(seed)
    arch, depth, alpha, trained = CONFIGS[seed]
    for rep in range(3):
        dtype = "float32" if rep == 2 else "float64"
        log_scale = rng.uniform(-15, 15) if dtype == "float32" else rng.uniform(-150, 150)
        n, d = int(rng.integers(3, 8)), int(rng.integers(1, 20))
        x = cluster(rng, n, d, log_scale)
        method = ["recursion", "depthfree", "auto"][rep]
        kw = dict(dtype=dtype, method=method)
        full = kernels(arch, depth, alpha, trained, x, **kw)
        blocked = kernels(arch, depth, alpha, trained, x, block_rows=2, out="host", **kw)
        copy = kernels(arch, depth, alpha, trained, x, x.copy(), **kw)
        head = kernels(arch, depth, alpha, trained, x[:2], x.copy(), **kw)
        for K, B, C, H in zip(full, blocked, copy, head):
            K, B, C, H = (np.asarray(a) for a in (K, B, C, H))
            dg = np.diag(K)
            assert violations(K, dg, dg) == 0 and violations(B, dg, dg) == 0
            assert violations(C, dg, dg) == 0 and violations(H, dg[:2], dg) == 0
            np.testing.assert_array_equal(B, K)  # blocked = one block, bit for bit
            np.testing.assert_array_equal(np.diag(C), dg)  # a row with a copy of itself: the diagonal
            np.testing.assert_array_equal(np.diag(H), dg[:2])
            np.testing.assert_array_equal(K, K.T)
        kn = normalized_kernels(x, arch=arch, depth=max(depth, 1), alpha=alpha, trained=trained, **kw)
        for k in kn:
            k = np.asarray(k)
            assert np.all(np.abs(k) <= 1.0) and np.all(np.diag(k) == 1.0)


@pytest.mark.parametrize("seed", range(4))
def test_random_clusters_jit(seed):
    rng = np.random.default_rng(50 + seed)
    arch, depth, alpha, trained = CONFIGS[(2 * seed + 1) % len(CONFIGS)]
    for dtype, lo, hi in (("float64", -150, 150), ("float32", -15, 15)):
        n, d = int(rng.integers(3, 7)), int(rng.integers(1, 12))
        x = cluster(rng, n, d, rng.uniform(lo, hi))
        if dtype == "float32":
            x = x.astype(np.float32)
        f = jax.jit(lambda a, b: tuple(kernels(arch, depth, alpha, trained, a, b, dtype=dtype)))  # noqa: B023
        g = jax.jit(lambda a: tuple(kernels(arch, depth, alpha, trained, a, dtype=dtype)))  # noqa: B023
        own, copy = g(x), f(x, x.copy())
        eager = kernels(arch, depth, alpha, trained, x, dtype=dtype)
        for K, C, E in zip(own, copy, eager):
            K, C, E = np.asarray(K), np.asarray(C), np.asarray(E)
            dg = np.diag(K)
            assert violations(K, dg, dg) == 0 and violations(C, dg, dg) == 0
            np.testing.assert_array_equal(np.diag(C), dg)
            np.testing.assert_array_equal(K, K.T)
            # jit forms 1 - rho of the near pairs in JAX, eager in NumPy: their rounding differs, and deep
            # kernels amplify it near rho = 1 (~ depth eps, test_near_duplicates); float32: the documented 1e-5
            tol = 1e-13 if dtype == "float64" else 2e-5
            assert np.all(np.abs(K - E) <= tol * np.outer(np.sqrt(dg), np.sqrt(dg)))


@pytest.mark.parametrize("seed", range(3))
def test_parallel_rows_of_generic_norms_keep_the_matrix_symmetric(seed):
    """Rows in one direction with norm ratios 10^U(-1, 1) sit exactly on the bound, so the bound itself must
    be symmetric (the margin applied to the product of square roots): ``K == K.T`` bit for bit, eager,
    blocked and jit, float64 and float32, and each entry within 8 ulps below ``sqrt(K_ii K_jj)``.
    (A bound that put the margin on one factor made 160 of 160 such matrices asymmetric.)"""
    rng = np.random.default_rng(100 + seed)
    c = rng.normal(size=6)
    x = np.stack([c * 10 ** rng.uniform(-1, 1) for _ in range(5)] + [rng.normal(size=6)])
    calls = [
        lambda: ffnet_kernels(x, depth=int(rng.integers(1, 50))),
        lambda: resnet_kernels(x, depth=int(rng.integers(1, 50)), alpha=float(rng.uniform(0.1, 1)), trained="all"),
        lambda: ffnet_kernels(x, depth=7, block_rows=2, out="host"),
        lambda: resnet_kernels(x, depth=4, alpha=0.5, dtype="float32"),
        lambda: jax.jit(lambda a: resnet_kernels(a, depth=4, alpha=0.5).ntk)(x),
        lambda: jax.jit(lambda a: ffnet_kernels(a, depth=3).nngp)(x),
    ]
    for call in calls:
        out = call()
        for M in ((out,) if not hasattr(out, "ntk") else (out.nngp, out.ntk)):
            M = np.asarray(M)
            assert np.array_equal(M, M.T), "asymmetric"
            d = np.diag(M).astype(np.float64)
            gm = np.sqrt(np.outer(d, d))[:5, :5]
            assert np.all(np.asarray(M, np.float64)[:5, :5] <= gm * (1 + 1e-15))
            assert np.all(np.asarray(M, np.float64)[:5, :5] >= gm * (1 - 16 * np.finfo(M.dtype).eps))
            assert violations(M, np.diag(M), np.diag(M)) == 0
