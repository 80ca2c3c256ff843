"""Kernel engine: closed forms, properties, limits, validation, depth-free tables (fast tests)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import companion  # noqa: F401  (enables float64)
from companion.kernels import (
    constant_kernel_distance,
    degeneracy_report,
    depth1_limit,
    diagonal,
    effective_rank,
    ffnet_kernels,
    ffnet_limit,
    ffnet_normalized,
    gram_spectrum,
    kappa0,
    kappa1,
    normalize_kernel,
    ode_limit,
    resnet_kernels,
    resnet_limit,
    resnet_normalized,
)
from companion.kernels import depthfree
from companion.kernels.arccos import relu_step
from companion.kernels.recursion import Spec, normalized_from_uv

RHO = np.array([-0.9, -0.5, 0.0, 0.5, 0.9, 0.99])
SPEC_ODE = np.array([-0.0144, 0.0473, 0.1928, 0.4399, 0.7895, 0.9469])
SPEC_DEPTH1 = np.array([-0.0598, -0.0288, 0.1592, 0.4712, 0.8402, 0.9678])


def sphere(n, d, seed=0):
    x = np.random.default_rng(seed).normal(size=(n, d))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


# ---- naive float64 reference recursions straight from the specification (rho carried, arccos) ----
def _k0(r):
    return (np.pi - np.arccos(np.clip(r, -1, 1))) / np.pi


def _k1(r):
    r = np.clip(r, -1, 1)
    return (np.sqrt(1 - r * r) + (np.pi - np.arccos(r)) * r) / np.pi


def naive_ffnet(r0, L):
    rho, th = r0, r0
    for _ in range(L):
        th = th * _k0(rho) + _k1(rho)
        rho = _k1(rho)
    return rho, th


def naive_resnet(r0, L, a, trained):
    c, rhos = 1 + a * a, [r0]
    for _ in range(L):
        rhos.append((rhos[-1] + a * a * _k1(rhos[-1])) / c)
    P, th = 1.0, 0.0
    for l in range(L, 0, -1):
        r = rhos[l - 1]
        th = th + a * a * P * c ** (l - 1) * (_k1(r) + r * _k0(r))
        P = P * (1 + a * a * _k0(r))
    K_L = c**L * rhos[-1]
    return K_L, (th if trained == "hidden" else th + K_L + P * r0)


# ------------------------------------------------------------------ arc-cosine maps
def test_kappa_values_and_ends():
    r = np.linspace(-1, 1, 201)
    np.testing.assert_allclose(np.asarray(kappa0(r)), _k0(r), atol=2e-16, rtol=0)
    np.testing.assert_allclose(np.asarray(kappa1(r)), _k1(r), atol=4e-16, rtol=0)
    assert float(kappa0(1.0)) == 1.0 and float(kappa1(1.0)) == 1.0
    assert float(kappa0(-1.0)) == 0.0 and abs(float(kappa1(-1.0))) < 1e-16
    # near rho = 1: kappa1(1 - e) = 1 - e + (2 sqrt 2 / (3 pi)) e^1.5 + O(e^2.5)
    # (the internal step returns 1 - kappa1 from u = 1 - rho with full relative accuracy)
    e = 1e-10
    theta, _, d = relu_step(np.array(e))
    assert abs(float(d) - (e - 2 * math.sqrt(2) / (3 * math.pi) * e**1.5)) < 1e-24
    assert float(theta) == pytest.approx(2 * math.asin(math.sqrt(e / 2)), rel=1e-15)


def test_kappa_rejects_out_of_range():
    with pytest.raises(ValueError, match="rho"):
        kappa1(np.array([0.2, 1.5]))
    with pytest.raises(ValueError, match="rho"):
        kappa0(np.nan)


# ------------------------------------------------------------------ recursion = naive formulas
@pytest.mark.parametrize("L", [0, 1, 2, 7, 30])
def test_recursion_matches_specification(L):
    x = sphere(6, 5, seed=L)
    r0 = np.clip(x @ x.T, -1, 1)[np.triu_indices(6, 1)]
    xs = x * np.array([0.5, 1, 2, 3, 1.5, 0.7])[:, None]
    nrm = np.linalg.norm(xs, axis=1)
    scale = np.outer(nrm, nrm)[np.triu_indices(6, 1)]
    k = ffnet_kernels(xs, depth=L, method="recursion")
    n, t = naive_ffnet(r0, L)
    iu = np.triu_indices(6, 1)
    np.testing.assert_allclose(np.asarray(k.nngp)[iu], scale * n, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(np.asarray(k.ntk)[iu], scale * t, rtol=1e-12, atol=1e-14)
    for a in (0.0, 0.3, 1.0):
        for tr in ("hidden", "all"):
            k = resnet_kernels(xs, depth=L, alpha=a, trained=tr, method="recursion")
            n, t = naive_resnet(r0, L, a, tr)
            np.testing.assert_allclose(np.asarray(k.nngp)[iu], scale * n, rtol=1e-12, atol=1e-14)
            np.testing.assert_allclose(np.asarray(k.ntk)[iu], scale * t, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("method", ["recursion", "depthfree"])
@pytest.mark.parametrize("L", [0, 1, 3, 50, 1000])
def test_diagonal_closed_forms(L, method):
    x = sphere(5, 4) * np.array([1.0, 2.0, 0.5, 3.0, 1.0])[:, None]
    sq = np.sum(x * x, axis=1)
    if not (method == "depthfree" and L == 0):
        k = ffnet_kernels(x, depth=L, method=method)
        np.testing.assert_allclose(np.diag(np.asarray(k.nngp)), sq, rtol=1e-15)
        np.testing.assert_allclose(np.diag(np.asarray(k.ntk)), (L + 1) * sq, rtol=1e-15)
    for a in (0.0, 0.5, L ** -0.5 if L else 1.0):
        c = 1 + a * a
        for tr in ("hidden", "all"):
            if method == "depthfree" and L == 0:
                continue
            k = resnet_kernels(x, depth=L, alpha=a, trained=tr, method=method)
            hid = 2 * L * a * a * c ** (L - 1)
            want = hid if tr == "hidden" else hid + 2 * c**L
            np.testing.assert_allclose(np.diag(np.asarray(k.nngp)), c**L * sq, rtol=1e-13)
            np.testing.assert_allclose(np.diag(np.asarray(k.ntk)), want * sq, rtol=1e-13)
    assert diagonal("ffnet", 10) == (1.0, 11.0)
    assert diagonal("resnet", 4, 1.0, "hidden") == pytest.approx((16.0, 2 * 4 * 8.0))


def test_depth_zero_meaning():
    x = sphere(4, 3) * 2.0
    g = x @ x.T
    for m in ("recursion", "auto"):
        k = ffnet_kernels(x, depth=0, method=m)
        np.testing.assert_allclose(k.nngp, g, rtol=1e-14)
        np.testing.assert_allclose(k.ntk, g, rtol=1e-14)
    k = resnet_kernels(x, depth=0, alpha=0.7, trained="hidden")
    np.testing.assert_allclose(k.nngp, g, rtol=1e-14)
    assert np.all(np.asarray(k.ntk) == 0)
    k = resnet_kernels(x, depth=0, alpha=0.7, trained="all")
    np.testing.assert_allclose(k.ntk, 2 * g, rtol=1e-14)


# ------------------------------------------------------------------ properties
@pytest.mark.parametrize("arch", ["ffnet", "resnet"])
def test_symmetry_psd_homogeneity(arch):
    x = np.random.default_rng(3).normal(size=(40, 6))
    f = (lambda a, b=None, **kw: ffnet_kernels(a, b, depth=12, **kw)) if arch == "ffnet" else (
        lambda a, b=None, **kw: resnet_kernels(a, b, depth=12, alpha=0.4, **kw))
    for m in ("recursion", "depthfree"):
        k = f(x, method=m)
        for K in (np.asarray(k.nngp), np.asarray(k.ntk)):
            np.testing.assert_allclose(K, K.T, rtol=1e-13, atol=1e-13)
            lam = np.linalg.eigvalsh(K)
            assert lam.min() > -1e-10 * lam.max()
        # homogeneity: K(a x, b x') = a b K(x, x')
        k2 = f(2.5 * x, 0.3 * x[:7], method=m)
        np.testing.assert_allclose(np.asarray(k2.ntk), 0.75 * np.asarray(k.ntk)[:, :7], rtol=1e-12, atol=1e-14)
        # cross kernel = block of the full kernel (off-diagonal blocks agree)
        k3 = f(x[:10], x[10:], method=m)
        np.testing.assert_allclose(np.asarray(k3.nngp), np.asarray(k.nngp)[:10, 10:], rtol=1e-13, atol=1e-14)


def test_zero_rows_give_zero_rows():
    x = sphere(5, 4)
    x[2] = 0.0
    for m in ("recursion", "depthfree"):
        for k in (ffnet_kernels(x, depth=6, method=m), resnet_kernels(x, depth=6, alpha=0.5, trained="all", method=m),
                  ffnet_kernels(x, x[1:3], depth=6, method=m)):
            for K in (np.asarray(k.nngp), np.asarray(k.ntk)):
                assert np.all(np.isfinite(K))
            assert np.all(np.asarray(k.ntk)[2] == 0)


def test_identical_directions_exact():
    # u = 0 is a fixed point: the normalised recursion returns exactly 1 (the closed forms).
    for spec in (Spec("ffnet", 1000), Spec("resnet", 1000, 0.3, "hidden"), Spec("resnet", 77, 1.0, "all")):
        a, b = normalized_from_uv(np.zeros(3), np.full(3, 2.0), spec)
        assert np.all(np.asarray(a) == 1.0) and np.all(np.asarray(b) == 1.0)


def test_finite_at_depth_100000():
    r = np.array([-1.0, -0.3, 0.5, 1 - 1e-12, 1.0])
    k = ffnet_normalized(r, 100_000)
    assert np.all(np.isfinite(k.ntk)) and np.all(np.isfinite(k.nngp))
    np.testing.assert_allclose(np.asarray(k.ntk)[:3], 0.25, atol=5e-4)
    k = resnet_normalized(r, 100_000, 100_000 ** -0.5, "hidden")
    assert np.all(np.isfinite(k.ntk))


def test_ffnet_monotone_approach_to_quarter():
    depths = [50, 100, 200, 400, 800, 1600, 3200]
    r = np.linspace(-0.95, 0.995, 9)
    gaps = np.array([np.asarray(ffnet_normalized(r, L).ntk) - 0.25 for L in depths])
    assert np.all(gaps > 0)
    assert np.all(np.diff(gaps, axis=0) < 0)
    # ~ O(1/L): the gap halves (roughly) when L doubles
    ratio = gaps[-1] / gaps[-2]
    assert np.all((ratio > 0.4) & (ratio < 0.75))
    # the specification's L = 1000 range 0.253 - 0.267 for rho0 in [-0.9, 0.99]
    k = np.asarray(ffnet_normalized(RHO, 1000).ntk)
    assert k.min() > 0.2525 and k.max() < 0.2675


# ------------------------------------------------------------------ limits
def test_ode_limit_matches_specification_values():
    k = ode_limit(RHO)
    np.testing.assert_allclose(k.ntk, SPEC_ODE, atol=5e-5)
    np.testing.assert_allclose(depth1_limit(RHO).ntk, SPEC_DEPTH1, atol=5e-5)
    assert ode_limit(np.array([1.0])).ntk[0] == pytest.approx(1.0, abs=1e-13)


def test_ode_limit_is_the_deep_recursion():
    # alpha^2 = 1/L: the recursion converges to the ODE limit with an O(1/L) error
    errs = []
    for L in (1000, 10000):
        for tr in ("hidden", "all"):
            rec = resnet_normalized(RHO, L, L**-0.5, tr)
            lim = ode_limit(RHO, tr)
            e = max(np.abs(np.asarray(rec.ntk) - lim.ntk).max(), np.abs(np.asarray(rec.nngp) - lim.nngp).max())
            errs.append(e)
    assert errs[2] < 2e-4 and errs[3] < 2e-4
    assert errs[2] < 0.15 * errs[0]  # O(1/L)
    # at L = 10 within 0.01 (specification)
    assert np.abs(np.asarray(resnet_normalized(RHO, 10, 10**-0.5).ntk) - SPEC_ODE).max() < 0.01


def test_gamma_above_half_limits():
    L = 20000
    a = L ** -0.75  # error ~ L^(1 - 2 gamma) = L^-0.5
    for tr in ("hidden", "all"):
        rec = resnet_normalized(RHO, L, a, tr)
        lim = resnet_limit(RHO, 0.75, tr)
        assert np.abs(np.asarray(rec.ntk) - lim.ntk).max() < 3 * L**-0.5
        np.testing.assert_allclose(np.asarray(rec.nngp), lim.nngp, atol=3 * L**-0.5)
    assert np.all(resnet_limit(RHO, 0.25).ntk == 0.25)
    np.testing.assert_array_equal(ffnet_limit(np.array([0.3, 1.0])).ntk, [0.25, 1.0])


def test_alpha_zero_hidden_is_depth_one_kernel():
    k = resnet_normalized(RHO, 9, 0.0, "hidden")
    np.testing.assert_allclose(np.asarray(k.ntk), depth1_limit(RHO).ntk, atol=1e-15)
    np.testing.assert_allclose(np.asarray(k.nngp), RHO, atol=1e-15)


# ------------------------------------------------------------------ depth-free tables
@pytest.mark.parametrize(
    "spec",
    [Spec("ffnet", 3), Spec("ffnet", 100), Spec("ffnet", 5000), Spec("resnet", 100, 0.1, "hidden"),
     Spec("resnet", 1000, 1000**-0.25, "all"), Spec("resnet", 300, 0.01, "hidden"), Spec("resnet", 64, 2.0, "all")],
    ids=str,
)
def test_depthfree_error_bound_holds(spec):
    tab = depthfree.build_table(spec)
    assert tab.error_bound <= depthfree.tolerance(spec.depth)
    rng = np.random.default_rng(1)
    theta = np.concatenate([rng.uniform(0, np.pi, 2000), np.exp(rng.uniform(-30, 0, 500)),
                            np.pi - np.exp(rng.uniform(-30, 0, 500)), [0.0, np.pi, np.pi / 2]])
    s = np.minimum(theta, np.pi - theta)
    a = 2 * np.sin(s / 2) ** 2
    u = np.where(theta > np.pi / 2, 2 - a, a)
    v = np.where(theta > np.pi / 2, a, 2 - a)
    ref = normalized_from_uv(u, v, spec)
    got = depthfree.evaluate(tab, None, theta)
    for g, r in zip(got, ref):
        assert np.abs(np.asarray(g) - np.asarray(r)).max() <= tab.error_bound


def test_depthfree_matches_recursion_on_gram():
    x = np.random.default_rng(5).normal(size=(60, 8))
    x[7] = x[3] * 2.0  # identical direction, different norm
    for f in (lambda **kw: ffnet_kernels(x, x[:30], depth=200, **kw),
              lambda **kw: resnet_kernels(x, depth=200, alpha=0.2, trained="all", **kw)):
        a, b = f(method="recursion"), f(method="depthfree")
        assert b.method == "depthfree" and b.error_bound < 1e-12
        for p, q in ((a.nngp, b.nngp), (a.ntk, b.ntk)):
            p, q = np.asarray(p), np.asarray(q)
            scale = np.sqrt(np.outer(np.abs(np.diag(p[:30, :30])).max(), 1.0))
            assert np.abs(p - q).max() <= 1e-12 * np.abs(p).max()


def test_auto_method_choice():
    x = sphere(8, 3)
    assert ffnet_kernels(x, depth=2).method == "recursion"
    assert ffnet_kernels(sphere(3, 3), depth=333).method == "recursion"  # table not built yet
    assert ffnet_kernels(sphere(400, 3), depth=333).method == "depthfree"
    assert ffnet_kernels(sphere(3, 3), depth=333).method == "depthfree"  # table cached: O(n^2) only


def test_float32_within_1e5_of_float64():
    x = np.random.default_rng(2).normal(size=(64, 10))
    for L in (1, 10, 100, 1000, 10000):
        for f in (lambda **kw: ffnet_kernels(x, depth=L, **kw),
                  lambda **kw: resnet_kernels(x, depth=L, alpha=L**-0.5, trained="hidden", **kw),
                  lambda **kw: resnet_kernels(x, depth=L, alpha=0.05, trained="all", **kw)):
            for m in ("recursion", "depthfree"):
                if m == "recursion" and L > 1000:
                    continue
                k64, k32 = f(method=m), f(method=m, dtype="float32")
                assert np.asarray(k32.ntk).dtype == np.float32
                for p, q in ((k64.nngp, k32.nngp), (k64.ntk, k32.ntk)):
                    p, q = np.asarray(p), np.asarray(q, np.float64)
                    d = np.sqrt(np.abs(np.diag(p)))
                    assert np.abs(p - q).max() / (d.max() ** 2) < 1e-5


# ------------------------------------------------------------------ degeneracy measures
def test_degeneracy_measures():
    n, c = 30, 0.25
    K = c * np.ones((n, n)) + (1 - c) * np.eye(n)
    assert constant_kernel_distance(3.0 * K) < 1e-15
    assert effective_rank(K, "participation") == pytest.approx(n**2 / (n * (1 + (n - 1) * c * c)), rel=1e-12)
    lam = gram_spectrum(K)
    assert lam[0] == pytest.approx((1 + (n - 1) * c) / n) and lam.sum() == pytest.approx(1.0)
    assert effective_rank(np.eye(n)) == pytest.approx(n)
    x = sphere(60, 5)
    deep = degeneracy_report(ffnet_kernels(x, depth=1000).ntk)
    shallow = degeneracy_report(ffnet_kernels(x, depth=2).ntk)
    res = degeneracy_report(resnet_kernels(x, depth=1000, alpha=1000**-0.5).ntk)
    assert deep["distance"] < 0.01 < res["distance"] and deep["distance"] < shallow["distance"]
    assert deep["constant"] == pytest.approx(0.25, abs=0.02)
    Kn = normalize_kernel(np.diag([4.0, 0.0]) + 0.0)
    assert Kn[0, 0] == 1.0 and Kn[1, 1] == 0.0


# ------------------------------------------------------------------ validation
@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(depth=-1, alpha=0.5), "depth"),
        (dict(depth=2.0, alpha=0.5), "depth"),
        (dict(depth=True, alpha=0.5), "depth"),
        (dict(depth=3, alpha=-0.1), "alpha"),
        (dict(depth=3, alpha=float("nan")), "alpha"),
        (dict(depth=3, alpha=float("inf")), "alpha"),
        (dict(depth=3, alpha=0.5, trained="first"), "trained"),
        (dict(depth=3, alpha=0.5, dtype="float16"), "dtype"),
        (dict(depth=3, alpha=0.5, dtype="int32"), "dtype"),
        (dict(depth=3, alpha=0.5, method="fast"), "method"),
        (dict(depth=3, alpha=0.5, out="gpu"), "out"),
        (dict(depth=3, alpha=0.5, block_rows=0), "block_rows"),
    ],
)
def test_invalid_arguments(kwargs, name):
    x = sphere(4, 3)
    with pytest.raises(ValueError, match=rf"^{name}=.*allowed"):
        resnet_kernels(x, **kwargs)


def test_invalid_inputs():
    x = sphere(4, 3)
    bad = x.copy()
    bad[1, 1] = np.nan
    with pytest.raises(ValueError, match="^x1=.*non-finite"):
        ffnet_kernels(bad, depth=2)
    with pytest.raises(ValueError, match="^x2=.*features"):
        ffnet_kernels(x, sphere(4, 5), depth=2)
    with pytest.raises(ValueError, match="^x1="):
        ffnet_kernels(np.ones(3), depth=2)
    with pytest.raises(ValueError, match="^depth="):
        ffnet_kernels(x, depth=1.5)
    with pytest.raises(ValueError, match="overflow"):
        resnet_kernels(x, depth=2000, alpha=1.0)
    with pytest.raises(ValueError, match="^depth="):
        resnet_normalized(RHO, 0, 0.5, "hidden")
    with pytest.raises(ValueError, match="^gamma="):
        resnet_limit(RHO, -1.0)


def test_kappa_traceable_and_derivative():
    import jax

    # d kappa1 / d rho = kappa0 (the arc-cosine kernels' defining relation), through jit and grad
    for r in (-0.7, 0.0, 0.3, 0.9):
        assert float(jax.grad(lambda z: kappa1(z))(r)) == pytest.approx(float(kappa0(r)), abs=1e-12)
    out = jax.jit(lambda z: kappa0(z) + kappa1(z))(np.array([0.3, 1.0]))
    assert float(out[1]) == 2.0


def test_tiny_and_huge_norms_keep_correlations():
    # |x|^2 of a row of 1e-182s underflows to 0 in float64; its correlations must not be lost
    x = np.array([[1.0], [5.6e-182]])
    for L in (0, 3):
        K = np.asarray(ffnet_kernels(x, depth=L).ntk)
        assert K[0, 1] == K[1, 0] == pytest.approx((L + 1) * 5.6e-182, rel=1e-14)
    y = np.array([[3e150, 4e150], [6e-150, 8e-150]])  # |x| = 5e150 and 1e-149: product 50
    K = np.asarray(resnet_kernels(y, depth=4, alpha=0.5, trained="all").ntk)
    assert K[0, 1] == pytest.approx(diagonal("resnet", 4, 0.5, "all")[1] * 50.0, rel=1e-13)
