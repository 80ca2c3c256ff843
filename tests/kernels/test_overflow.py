"""Issue 12, item 5: every power, exponential and product of scales is checked in log space before it is
computed; the errors name the quantity that overflows, its log value, the bound and the arguments."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from companion.kernels import diagonal, ffnet_kernels, normalized_kernels, resnet_kernels, resnet_normalized
from companion.kernels.api import ALPHA_MAX

SETTINGS = settings(max_examples=15, deadline=None, derandomize=True)


def test_issue_alpha_too_large_is_a_named_value_error():
    with pytest.raises(ValueError, match=r"^alpha=1e\+160 is invalid: alpha\^2 = exp\(736\.8\) overflows float64"
                                         r".*allowed: a finite real number >= 0 and <= 1\.341e\+154"):
        resnet_kernels(np.eye(2), depth=1, alpha=1e160)  # was OverflowError (34, 'Numerical result out of range')
    for call in (lambda: diagonal("resnet", 3, 1e160), lambda: resnet_normalized(0.3, 3, 1e160)):
        with pytest.raises(ValueError, match="^alpha=1e\\+160 is invalid"):
            call()


def test_issue_float32_ntk_diagonal_is_named():
    with pytest.raises(ValueError) as err:
        resnet_kernels(np.eye(2), depth=120, alpha=1.0, dtype="float32")
    msg = str(err.value)
    # the NNGP's scale 2^120 = exp(83.18) is below the bound; the NTK's, 240 * 2^119 = exp(87.97), is not
    assert msg.startswith("alpha=1.0, depth=120 is invalid for dtype float32")
    assert "the NTK diagonal for a unit input, 2 depth alpha^2 (1 + alpha^2)^(depth - 1) = exp(87.97)" in msg
    assert "bound exp(87.72)" in msg and "NNGP" not in msg
    big = float(np.finfo(np.float32).max)
    assert 240 * 2.0**119 < big < 240 * 2.0**119 * math.e  # the statement is true: within one e-fold


def test_alpha_bounds_just_inside_and_outside():
    assert diagonal("resnet", 1, ALPHA_MAX)[0] >= 1e308  # alpha^2 finite; the scale is the largest float or inf
    nngp, ntk = diagonal("resnet", 1, 1e150, "hidden")
    assert nngp == pytest.approx(1e300) and ntk == pytest.approx(2e300)
    k = resnet_normalized(np.array([0.3, 1.0]), 5, ALPHA_MAX * (1 - 1e-15))  # finite: no scale involved
    assert np.all(np.isfinite(np.asarray(k.ntk)))
    with pytest.raises(ValueError, match="^alpha="):
        diagonal("resnet", 1, ALPHA_MAX * (1 + 1e-15))
    with pytest.raises(ValueError, match=r"^depth=2147483648 is invalid; allowed: an integer >= 0 and <= 2147483647"):
        ffnet_kernels(np.eye(2), depth=2**31)


def test_diagonal_never_raises_overflow_error():
    assert diagonal("resnet", 10_000, 1.0) == (math.inf, math.inf)
    assert diagonal("resnet", 100, 1.0, "all")[1] == pytest.approx(2 * 100 * 2.0**99 + 2 * 2.0**100)


def test_cross_kernel_with_finite_entries_is_computed():
    # |x1|^2 S = 1e400 would overflow, but every entry |x1| |x2| S k is about 4: computed, not refused
    x1 = np.eye(2) * 1e200
    x2 = np.array([[1e-200, 0.0], [0.6e-200, 0.8e-200]])
    K = np.asarray(ffnet_kernels(x1, x2, depth=3).ntk)
    kn = np.asarray(normalized_kernels(x1, x2, arch="ffnet", depth=3).ntk)
    np.testing.assert_allclose(K, 4.0 * kn, rtol=1e-14)
    with pytest.raises(ValueError, match="^x1="):  # its own kernel does overflow
        ffnet_kernels(x1, depth=3)
    # the scale itself, (1 + alpha^2)^L = 2^2000, overflows float64; inputs of norm e^-700 give finite entries
    t = math.exp(-700.0)
    x = np.array([[1.0, 0.0], [0.6, 0.8]]) * t
    K = np.asarray(resnet_kernels(x, depth=2000, alpha=1.0, trained="all").ntk)
    kn = np.asarray(normalized_kernels(x, arch="resnet", depth=2000, alpha=1.0, trained="all").ntk)
    log_s = math.log(2 * 2000 * 2.0**-1 + 2.0) + 2000 * math.log(2.0)  # S = 2 L a^2 c^(L-1) + 2 c^L
    np.testing.assert_allclose(K, np.exp(log_s - 1400.0) * kn, rtol=1e-12)
    assert np.all(np.isfinite(K))


@SETTINGS
@given(depth=st.integers(1, 3000), alpha=st.floats(0.05, 3.0), dtype=st.sampled_from(["float32", "float64"]),
       trained=st.sampled_from(["hidden", "all"]), side=st.sampled_from([-1, 1]), cross=st.booleans())
def test_overflow_boundary(depth, alpha, dtype, trained, side, cross):
    """Inputs scaled so that the largest entry is just inside (computed, finite) or just outside (the named
    error) the bound ``largest(dtype) / e``."""
    from companion.kernels.recursion import Spec, log_scales

    limit = math.log(np.finfo(dtype).max) - 1.0
    ls = max(log_scales(Spec("resnet", depth, alpha, trained)))
    log_t = (limit - ls + side * 0.01) / 2  # |x| = e^log_t on both sides
    if abs(log_t) > 700:
        return  # the inputs themselves would not be float64
    x = np.array([[1.0, 0.0], [0.6, 0.8]]) * math.exp(log_t)
    x2 = x[::-1].copy() if cross else None
    if side < 0:
        k = resnet_kernels(x, x2, depth=depth, alpha=alpha, trained=trained, dtype=dtype)
        for m in k:
            assert np.all(np.isfinite(np.asarray(m)))
        return
    with pytest.raises(ValueError) as err:
        resnet_kernels(x, x2, depth=depth, alpha=alpha, trained=trained, dtype=dtype)
    msg = str(err.value)
    assert f"bound exp({limit:.4g})" in msg and "diagonal for a unit input" in msg
    assert msg.startswith(("x1=", "x2=")) if ls <= limit else msg.startswith(f"alpha={alpha!r}, depth={depth!r}")
