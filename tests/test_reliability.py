"""Reliability (issue 8): property-based checks of argument validation and of kernel numerics at the
extremes (depth 10^4, correlations within 1e-12 of +-1, float32 against float64)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from companion import chapters
from companion.kernels import ffnet_kernels, resnet_kernels

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _kernels(arch, x, depth, gamma=1.0, trained="hidden", dtype="float64"):
    if arch == "ffnet":
        return ffnet_kernels(x, depth=depth, dtype=dtype)
    alpha = float(max(depth, 1)) ** (-gamma)
    return resnet_kernels(x, depth=depth, alpha=alpha, trained=trained, dtype=dtype)


# ----------------------------------------------------------------------------- valid arguments
inputs = st.integers(1, 5).flatmap(
    lambda d: st.lists(
        st.lists(st.floats(-10, 10, allow_nan=False, allow_infinity=False), min_size=d, max_size=d),
        min_size=1, max_size=6,
    )
)


@SETTINGS
@given(
    x=inputs,
    depth=st.sampled_from([0, 1, 2, 7, 50, 1000]),
    arch=st.sampled_from(["ffnet", "resnet"]),
    gamma=st.sampled_from([0.0, 0.25, 0.5, 1.0, 1.5]),
    trained=st.sampled_from(["hidden", "all"]),
    zero_row=st.booleans(),
)
def test_valid_arguments_give_finite_symmetric_psd_homogeneous_kernels(x, depth, arch, gamma, trained, zero_row):
    x = np.array(x, dtype=float)
    if zero_row:
        x[0] = 0.0
    if arch == "resnet" and gamma == 0.0:
        depth = min(depth, 50)  # (1 + 1)^L overflows float64 beyond L ~ 1000: a documented range
    k = _kernels(arch, x, depth, gamma, trained)
    for name in ("nngp", "ntk"):
        K = np.asarray(getattr(k, name))
        assert K.shape == (len(x), len(x))
        assert np.all(np.isfinite(K)), name
        np.testing.assert_allclose(K, K.T, rtol=1e-12, atol=1e-300)
        w = np.linalg.eigvalsh(K)
        assert w.min() >= -1e-10 * max(abs(w).max(), 1e-300), (name, w)
        if zero_row:
            assert np.all(K[0] == 0.0) and np.all(K[:, 0] == 0.0), "a zero input gives a zero kernel row"
    # Positive homogeneity of degree 1 in each argument: K(c x, c x) = c^2 K(x, x). A power of two
    # scales exactly, so the kernel must scale exactly too.
    k4 = _kernels(arch, 4.0 * x, depth, gamma, trained)
    np.testing.assert_allclose(np.asarray(k4.ntk), 16.0 * np.asarray(k.ntk), rtol=1e-13, atol=1e-280)
    # Another factor rounds the inputs (and so each correlation) by ~1e-16; through the square-root kink
    # of kappa0 at rho = 1 that moves a nearly parallel pair's kernel by up to ~sqrt(1e-16) = 1e-8
    # relative: the conditioning of the kernel in its float64 inputs, not an error of the code.
    k3 = _kernels(arch, 3.0 * x, depth, gamma, trained)
    np.testing.assert_allclose(np.asarray(k3.ntk), 9.0 * np.asarray(k.ntk), rtol=1e-7, atol=1e-280)


# --------------------------------------------------------------------------- invalid arguments
X = np.eye(3)


@SETTINGS
@given(depth=st.one_of(st.integers(max_value=-1), st.floats(allow_nan=True), st.booleans(), st.text(max_size=3)))
def test_invalid_depth_is_named(depth):
    if isinstance(depth, float) and depth.is_integer() and depth >= 0:
        depth = -1.5
    with pytest.raises(ValueError, match=r"depth=.* is invalid; allowed: .*integer"):
        ffnet_kernels(X, depth=depth)
    with pytest.raises(ValueError, match=r"depth="):
        resnet_kernels(X, depth=depth, alpha=0.1)


@SETTINGS
@given(alpha=st.one_of(st.floats(max_value=-1e-300), st.just(math.nan), st.just(math.inf), st.just(-math.inf), st.text(max_size=2)))
def test_invalid_alpha_is_named(alpha):
    with pytest.raises(ValueError, match=r"alpha=.* is invalid; allowed:"):
        resnet_kernels(X, depth=3, alpha=alpha)


@SETTINGS
@given(bad=st.sampled_from([math.nan, math.inf, -math.inf]), i=st.integers(0, 2), j=st.integers(0, 2))
def test_non_finite_inputs_are_named(bad, i, j):
    x = np.eye(3)
    x[i, j] = bad
    with pytest.raises(ValueError, match=r"x1=.*non-finite"):
        ffnet_kernels(x, depth=2)
    with pytest.raises(ValueError, match=r"x2=.*non-finite"):
        resnet_kernels(np.eye(3), x, depth=2, alpha=0.5)


def test_mismatched_dims_and_unknown_trained():
    with pytest.raises(ValueError, match=r"x2=.*features"):
        ffnet_kernels(np.ones((2, 3)), np.ones((2, 4)), depth=1)
    with pytest.raises(ValueError, match=r"trained='some'"):
        resnet_kernels(X, depth=1, alpha=1.0, trained="some")
    with pytest.raises(ValueError, match=r"dtype="):
        ffnet_kernels(X, depth=1, dtype="float16")


@SETTINGS
@given(key=st.sampled_from(["width", "depth", "seeds", "rho0", "gammas"]),
       value=st.one_of(st.integers(max_value=-2), st.just(math.nan), st.text(max_size=2), st.just([])))  # rho0 = -1 is valid
def test_chapter_parameters_reject_bad_values(key, value):
    with pytest.raises(ValueError, match=rf"{key}.* is invalid; allowed:"):
        chapters.params("01_models", "smoke", {key: value})


# ---------------------------------------------------------------------------- numerics at extremes
def _near_pairs(eps: float) -> np.ndarray:
    """Unit inputs whose correlations are within ``eps`` of +1 and of -1, plus generic ones."""
    t = math.sqrt(2.0 * eps)  # 1 - cos(t) = eps to leading order
    e1, e2, e3 = np.eye(3)
    near = math.cos(t) * e1 + math.sin(t) * e2
    return np.stack([e1, near, -near, e3, (e1 + e3) / math.sqrt(2)])


@pytest.mark.parametrize("arch,gamma", [("ffnet", None), ("resnet", 0.5), ("resnet", 1.0), ("resnet", 0.25)])
@pytest.mark.parametrize("depth", [1, 100, 10_000])
def test_extreme_depths_and_correlations(arch, gamma, depth, capsys):
    x = _near_pairs(1e-12)
    g = gamma if gamma is not None else 1.0
    k64 = _kernels(arch, x, depth, g)
    if arch == "resnet" and depth * math.log1p(float(depth) ** (-2 * g)) > math.log(np.finfo(np.float32).max) - 1:
        # The kernel's scale (1 + alpha^2)^L exceeds float32's range: a clear error, never inf.
        with pytest.raises(ValueError, match=r"alpha=.*depth=.*overflows"):
            _kernels(arch, x, depth, g, dtype="float32")
        k32 = None
    else:
        k32 = _kernels(arch, x, depth, g, dtype="float32")
    worst = 0.0
    for name in ("nngp", "ntk"):
        K = np.asarray(getattr(k64, name), dtype=np.float64)
        assert np.all(np.isfinite(K))
        np.testing.assert_allclose(K, K.T, rtol=1e-12)
        w = np.linalg.eigvalsh(K)
        assert w.min() >= -1e-10 * w.max(), (name, w.min(), w.max())
        if k32 is None:
            continue
        K32 = np.asarray(getattr(k32, name), dtype=np.float64)
        assert np.all(np.isfinite(K32))
        scale = np.sqrt(np.outer(np.diag(K), np.diag(K)))
        worst = max(worst, float(np.max(np.abs(K32 - K) / scale)))
    with capsys.disabled():
        print(f"\n  float32 vs float64, {arch} gamma={gamma} L={depth}: worst relative error {worst:.2e}")
    assert worst <= 1e-5
