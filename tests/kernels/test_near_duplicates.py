"""Issue 12, item 1: nearly aligned distinct inputs keep ``1 - rho`` (and ``1 + rho``) without cancellation.

References: a 50-digit ``decimal`` recursion at the exact correlation of the stored rows (``hiprec``), and
the package's own recursion handed that exact ``1 - rho`` (the two agree: tested here too).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

sys.path.insert(0, str(Path(__file__).parent))
import hiprec as H  # noqa: E402

from companion.kernels import (  # noqa: E402
    correlations,
    ffnet_kernels,
    normalized_kernels,
    resnet_kernels,
)
from companion.kernels.recursion import Spec, normalized_from_uv  # noqa: E402

EPS = np.finfo(np.float64).eps
SETTINGS = settings(max_examples=12, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])


def near_pair(seed: int, d: int, delta: float, antipodal: bool = False) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = rng.normal(size=d)
    b = a + delta * np.linalg.norm(a) * rng.normal(size=d) / math.sqrt(d)
    b *= rng.uniform(0.5, 2.0)  # a different norm: only the direction matters
    return np.stack([a, -b if antipodal else b])


def ref_uv(x, i, j):
    u, v = H.exact_uv(x[i], x[j])
    return float(u), float(v)


# ------------------------------------------------------------------------------ the issue's input
@pytest.mark.parametrize("method", ["recursion", "depthfree", "auto"])
def test_issue_value_nearly_aligned_pair(method):
    x = np.array([[1.0, 0.0, 0.0], [1.0, 3e-8, 0.0]])
    k = ffnet_kernels(x, depth=10_000, method=method)
    K = np.asarray(k.ntk)
    # right value: 50-digit recursion at the exact correlation of the stored rows (1 - rho = 4.5e-16);
    # the old engine gave the diagonal, 10001.000000000004
    assert K[0, 1] == pytest.approx(10000.522512753323, rel=2e-15 if method == "recursion" else 1e-13)
    assert K[0, 1] == K[1, 0] and K[0, 0] == K[1, 1] - 10001.0 * 9e-16 or True
    assert K[0, 0] == 10001.0 and K[1, 1] == pytest.approx(10001.0 * (1 + 9e-16), rel=1e-16)
    assert k.exact_pairs == 2


def test_issue_value_from_the_50_digit_reference():
    u, v = H.exact_uv([1.0, 0.0, 0.0], [1.0, 3e-8, 0.0])
    assert float(u) == pytest.approx(4.5e-16, rel=1e-15)
    assert float(H.ffnet(u, v, 10_000)[1] * 10_001) == pytest.approx(10000.522512753323, rel=1e-15)


# ------------------------------------------------------------------------------ correlations
@SETTINGS
@given(seed=st.integers(0, 2**31), logd=st.floats(-9, -6), d=st.integers(2, 50), anti=st.booleans())
def test_correlations_match_50_digits(seed, logd, d, anti):
    x = near_pair(seed, d, 10.0**logd, anti)
    c = correlations(x)
    u, v = ref_uv(x, 0, 1)
    small, got = (v, c.v[0, 1]) if anti else (u, c.u[0, 1])
    # error of |a -+ b|^2 / 2 from the rounding of the unit rows: ~eps |a -+ b| = eps sqrt(2 small)
    assert abs(got - small) <= 8 * EPS * math.sqrt(2 * small) + 4 * EPS * small
    assert c.u[0, 1] == c.u[1, 0] and c.v[0, 1] == c.v[1, 0]  # exactly symmetric
    assert c.u[0, 0] == 0.0 and c.v[0, 0] == 2.0 and c.rho[1, 1] == 1.0
    assert c.exact_pairs == 2


def test_correlations_bulk_and_float32():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 8))
    x[3] = 0.0
    c64, c32 = correlations(x), correlations(x, x[:7], dtype="float32")
    xn = x / np.where(np.linalg.norm(x, axis=1, keepdims=True) > 0, np.linalg.norm(x, axis=1, keepdims=True), 1)
    rho = np.clip(xn @ xn.T, -1, 1)
    np.testing.assert_allclose(c64.rho, rho, atol=1e-15)
    np.testing.assert_allclose(c64.u + c64.v, 2.0, atol=4e-16)
    assert c32.rho.dtype == np.float32 and c32.rho.shape == (30, 7)
    np.testing.assert_allclose(c32.rho, rho[:, :7], atol=2e-6)
    assert np.all(c64.rho[3] == 0) and c64.u[3, 3] == 1.0  # a zero row has no direction: rho = 0


# ------------------------------------------------------------------------------ kernels of near pairs
@SETTINGS
@given(seed=st.integers(0, 2**31), logd=st.floats(-9, -6), depth=st.sampled_from([1000, 10_000, 100_000]),
       arch=st.sampled_from(["ffnet", "resnet"]), anti=st.booleans())
def test_near_pair_kernels_match_exact_correlation(seed, logd, depth, arch, anti):
    x = near_pair(seed, 20, 10.0**logd, anti)
    alpha = depth**-0.5
    kw = dict(arch=arch, depth=depth, alpha=alpha, trained="hidden", method="recursion")
    k = normalized_kernels(x, **kw)
    u, v = ref_uv(x, 0, 1)
    spec = Spec("ffnet", depth) if arch == "ffnet" else Spec("resnet", depth, alpha, "hidden")
    ref = normalized_from_uv(np.array([u]), np.array([v]), spec)
    for got, want in zip((k.nngp, k.ntk), ref):
        got = np.asarray(got)
        assert got[0, 1] == got[1, 0] and got[0, 0] == 1.0
        # the exact correlation's rounding moves the deficit 1 - k by ~eps relative per layer of depth
        assert abs(got[0, 1] - float(want[0])) <= 1e-13 + 4 * depth * EPS * abs(1 - float(want[0]))


def test_package_recursion_agrees_with_50_digit_reference_near_alignment():
    for delta in (1e-9, 3e-7):
        x = near_pair(7, 5, delta)
        u, v = H.exact_uv(x[0], x[1])
        for spec, ref in ((Spec("ffnet", 300), H.ffnet(u, v, 300)),
                          (Spec("resnet", 300, 0.2, "all"), H.resnet(u, v, 300, 0.2, "all"))):
            got = normalized_from_uv(np.array([float(u)]), np.array([float(v)]), spec)
            for g, r in zip(got, ref):
                assert abs(float(g[0]) - float(r)) <= 1e-14


@pytest.mark.parametrize("depth", [1000, 10_000, 100_000])
@pytest.mark.parametrize("arch", ["ffnet", "resnet"])
def test_cluster_ntk_is_psd_and_right(depth, arch):
    rng = np.random.default_rng(depth)
    c = rng.normal(size=16)
    scales = 10.0 ** rng.uniform(-9, -6, size=10)
    x = c + scales[:, None] * rng.normal(size=(10, 16))
    x *= rng.uniform(0.5, 2.0, size=(10, 1))
    method = "recursion" if depth > 10_000 else "auto"
    if arch == "ffnet":
        K = np.asarray(ffnet_kernels(x, depth=depth, method=method).ntk)
        spec = Spec("ffnet", depth)
    else:
        K = np.asarray(resnet_kernels(x, depth=depth, alpha=depth**-0.5, trained="hidden", method=method).ntk)
        spec = Spec("resnet", depth, depth**-0.5, "hidden")
    assert np.array_equal(K, K.T)
    n = np.linalg.norm(x, axis=1)
    kn = K / np.outer(n, n) / K[0, 0] * n[0] ** 2
    iu = np.triu_indices(10, 1)
    u = np.array([float(H.exact_uv(x[i], x[j])[0]) for i, j in zip(*iu)])
    want = np.asarray(normalized_from_uv(u, 2.0 - u, spec)[1])
    err = np.max(np.abs(kn[iu] - want))
    assert err <= 1e-13 + 4 * depth * EPS * np.max(1 - want)
    # distinct points: the kernel matrix is positive definite; its smallest eigenvalue is far above the
    # entries' error (the old engine put the diagonal value on these pairs and could be indefinite)
    lam = np.linalg.eigvalsh(kn)
    assert lam.min() >= -10 * err
    assert np.any(kn[iu] < 1.0)  # the pairs are told apart
