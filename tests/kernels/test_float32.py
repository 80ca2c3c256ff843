"""Issue 12, item 2: importing companion changes no JAX setting; float64 results whatever the x64 flag;
float32 within 1e-5 (normalised units) of float64 at every depth and for nearly aligned pairs, x64 off and on."""

from __future__ import annotations

import math
import subprocess
import sys

import jax
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from companion.kernels import (
    ffnet_kernels,
    ffnet_normalized,
    kappa0,
    kappa1,
    normalized_kernels,
    resnet_kernels,
    resnet_normalized,
)

SETTINGS = settings(max_examples=10, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def test_import_changes_no_jax_setting():
    code = ("import jax; before = dict(jax.config.values); import companion, companion.kernels; "
            "after = dict(jax.config.values); assert before == after, "
            "{k: (before.get(k), after.get(k)) for k in set(before) | set(after) if before.get(k) != after.get(k)}; "
            "assert not jax.config.jax_enable_x64")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]


def test_issue_value_float32_with_x64_off(x64_off):
    assert not jax.config.jax_enable_x64
    x = np.array([[1.0, 0.0], [math.cos(5.8e-4), math.sin(5.8e-4)]])
    k = ffnet_kernels(x, depth=1000, dtype="float32")
    K = np.asarray(k.ntk)
    assert K.dtype == np.float32
    # right value 917.2624195719325 (mpmath; the float64 path agrees); the old engine gave 1001.0
    assert abs(float(K[0, 1]) - 917.2624195719325) / 1001.0 < 1e-5
    k64 = ffnet_kernels(x, depth=1000)
    assert np.asarray(k64.ntk).dtype == np.float64
    # 917.2624195719325 is the value at the angle 5.8e-4 itself; the stored rows' exact correlation
    # (1 - rho = 1.6819999528479337e-7, 50-digit reference) gives 917.2624195675132: float64 matches that
    assert float(np.asarray(k64.ntk)[0, 1]) == pytest.approx(917.2624195675132, rel=2e-15)
    assert not jax.config.jax_enable_x64  # the scoped switch restored the flag


def test_float64_results_do_not_depend_on_the_flag(x64_off):
    x = np.random.default_rng(0).normal(size=(9, 5))

    def run():
        return [resnet_kernels(x, x[:4], depth=30, alpha=0.3, trained="all", method="recursion"),
                ffnet_normalized(np.linspace(-1, 1, 7), 50), kappa0(np.array([-0.5, 0.9])), kappa1(0.25)]

    off = run()
    jax.config.update("jax_enable_x64", True)
    on = run()
    for a, b in zip(off, on):
        for p, q in (zip(a, b) if hasattr(a, "ntk") else [(a, b)]):
            p, q = np.asarray(p), np.asarray(q)
            assert p.dtype == np.float64 and q.dtype == np.float64
            np.testing.assert_allclose(p, q, rtol=1e-15, atol=1e-300)


def test_float32_fast_path_builds_its_table_in_float64_with_x64_off(x64_off):
    from companion.kernels import api, depthfree, gram

    depthfree.build_table.cache_clear()  # built here, with x64 off, not taken from an earlier test
    gram.lerp_table.cache_clear()
    api._BUILT.clear()
    x = np.random.default_rng(4).normal(size=(6, 5))
    k32 = normalized_kernels(x, arch="ffnet", depth=2500, method="depthfree", dtype="float32")
    assert k32.error_bound < 1e-6
    jax.config.update("jax_enable_x64", True)
    k64 = normalized_kernels(x, arch="ffnet", depth=2500, method="recursion")
    assert _rel32(k64, k32) < 1e-5


def test_float32_input_gives_float32_output(x64_off):
    r = np.array([-0.3, 0.7], np.float32)
    assert np.asarray(kappa1(r)).dtype == np.float32
    assert np.asarray(ffnet_normalized(r, 10).ntk).dtype == np.float32


def _rel32(k64, k32):
    out = 0.0
    for p, q in zip(k64, k32):
        p, q = np.asarray(p, np.float64), np.asarray(q)
        assert q.dtype == np.float32
        out = max(out, float(np.max(np.abs(p - q.astype(np.float64)))))
    return out


@pytest.mark.slow
@SETTINGS
@given(logL=st.floats(0, 4.3), seed=st.integers(0, 2**31), x64=st.booleans(),
       arch=st.sampled_from(["ffnet", "resnet-half", "resnet-const", "resnet-all"]),
       near=st.sampled_from([0.0, 1e-8, 1e-5, 1e-3]))
def test_float32_within_1e5_at_every_depth_and_near_alignment(logL, seed, x64, arch, near):
    depth = max(1, int(10**logL))
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(12, 6))
    x[1] = x[0] + near * rng.normal(size=6)  # a nearly aligned pair
    x[2] = -x[3] + near * rng.normal(size=6)  # a nearly antipodal pair
    kw = dict(arch="ffnet", depth=depth)
    if arch != "ffnet":
        kw = dict(arch="resnet", depth=depth, alpha={"resnet-half": depth**-0.5, "resnet-const": 0.3,
                                                      "resnet-all": 0.05}[arch],
                  trained="all" if arch == "resnet-all" else "hidden")
    before = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", x64)
    try:
        for method in ("depthfree", "recursion") if depth <= 300 else ("depthfree",):
            k64 = normalized_kernels(x, method=method, **kw)
            k32 = normalized_kernels(x, method=method, dtype="float32", **kw)
            assert _rel32(k64, k32) < 1e-5
    finally:
        jax.config.update("jax_enable_x64", before)


@pytest.mark.parametrize("x64", [False, True])
def test_float32_within_1e5_fast(x64):
    """A fixed sample of the property above: two depths, both architectures, near pairs at both ends."""
    rng = np.random.default_rng(5)
    x = rng.normal(size=(8, 6))
    x[1] = x[0] + 1e-8 * rng.normal(size=6)
    x[2] = -x[3] + 1e-6 * rng.normal(size=6)
    before = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", x64)
    try:
        for depth in (3, 3000):
            for kw in (dict(arch="ffnet"), dict(arch="resnet", alpha=depth**-0.5, trained="hidden")):
                k64 = normalized_kernels(x, depth=depth, method="depthfree", **kw)
                k32 = normalized_kernels(x, depth=depth, method="depthfree", dtype="float32", **kw)
                assert _rel32(k64, k32) < 1e-5
    finally:
        jax.config.update("jax_enable_x64", before)


def test_float32_scaled_kernels_within_1e5(x64_off):
    x = np.random.default_rng(2).normal(size=(16, 10))
    x[5] = 3 * x[4] + 1e-7
    for L in (1, 1000, 10_000):
        for f in (lambda **kw: ffnet_kernels(x, depth=L, **kw),
                  lambda **kw: resnet_kernels(x, depth=L, alpha=L**-0.5, trained="hidden", **kw)):
            k64, k32 = f(), f(dtype="float32")
            for p, q in zip(k64, k32):
                p, q = np.asarray(p), np.asarray(q, np.float64)
                sc = np.outer(np.sqrt(np.diag(p)), np.sqrt(np.diag(p)))
                assert np.max(np.abs(p - q) / sc) < 1e-5
