"""Issue 12, item 3: forward and reverse derivatives of the public kernel functions, at random and boundary
correlations, through both paths, in rho, alpha and the inputs; and issue 13's kappa accuracy near +-1."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
import hiprec as H  # noqa: E402

from companion.kernels import (  # noqa: E402
    NotDifferentiableError,
    ffnet_kernels,
    ffnet_normalized,
    kappa0,
    kappa1,
    normalized_kernels,
    resnet_kernels,
    resnet_normalized,
)

EPS = np.finfo(np.float64).eps
RHO = np.random.default_rng(0).uniform(-0.95, 0.95, size=9)


def elementwise_grad(f, r):
    """d f / d rho for an elementwise f: reverse mode of the sum (one compilation for the whole array)."""
    return np.asarray(jax.grad(lambda z: jnp.sum(f(z)))(jnp.asarray(r)))


def forward(f, r):
    return np.asarray(jax.jvp(f, (jnp.asarray(r),), (jnp.ones_like(jnp.asarray(r)),))[1])


def central(f, r, h=1e-6):
    return (np.asarray(f(r + h)) - np.asarray(f(r - h))) / (2 * h)


# ------------------------------------------------------------------------------ arc-cosine kernels
def test_issue_values_kappa_derivatives_at_the_ends():
    assert float(jax.grad(kappa1)(1.0)) == 1.0  # kappa0(1); was nan
    assert float(jax.grad(kappa1)(-1.0)) == 0.0  # kappa0(-1); was nan
    # kappa0 has vertical tangents at both ends: its one-sided derivative is +inf, returned as such
    assert float(jax.grad(kappa0)(1.0)) == math.inf and float(jax.grad(kappa0)(-1.0)) == math.inf


def test_kappa_derivatives_closed_forms():
    np.testing.assert_allclose(elementwise_grad(kappa1, RHO), np.asarray(kappa0(RHO)), rtol=1e-15)
    np.testing.assert_allclose(forward(kappa1, RHO), np.asarray(kappa0(RHO)), rtol=1e-15)
    want = 1 / (np.pi * np.sqrt(1 - RHO**2))
    np.testing.assert_allclose(elementwise_grad(kappa0, RHO), want, rtol=1e-14)
    np.testing.assert_allclose(central(kappa0, RHO), want, rtol=1e-7)
    # through jit, and one-sided differences from inside at the ends agree with the limits
    assert float(jax.jit(jax.grad(kappa1))(0.999999)) == pytest.approx(float(kappa0(0.999999)), rel=1e-15)
    assert (1 - float(kappa1(1 - 1e-9))) / 1e-9 == pytest.approx(1.0, abs=1e-4)


@pytest.mark.parametrize("k", range(1, 16))
def test_kappa_relative_accuracy_near_both_ends(k):
    """Issue 13: kappa1(-1 + 1e-8) was 83% off (1 + rho not passed to the stable step)."""
    for rho in (-1 + 10.0**-k, 1 - 10.0**-k):
        u, v = H.uv_of_rho(rho)
        for f, ref in ((kappa0, H.kappa0(u, v)), (kappa1, H.kappa1(u, v))):
            got = float(f(rho))
            assert abs(got - float(ref)) <= 4 * EPS * abs(float(ref)), (f.__name__, rho, got, float(ref))


# ------------------------------------------------------------------------------ normalised kernels
def test_issue_value_reverse_mode_through_the_recursion():
    g = float(jax.grad(lambda r: ffnet_normalized(r, 3).nngp)(0.5))  # was: fori_loop reverse-mode error
    r1 = float(kappa1(0.5))
    r2 = float(kappa1(r1))
    assert g == pytest.approx(float(kappa0(0.5)) * float(kappa0(r1)) * float(kappa0(r2)), rel=1e-14)


CASES = [("ffnet", 1, 0.0, "all"), ("ffnet", 7, 0.0, "all"), ("resnet", 5, 0.4, "hidden"),
         ("resnet", 50, 50**-0.5, "all"), ("resnet", 3, 0.0, "hidden")]
POINTS = np.concatenate([RHO, [1.0, -1.0]])  # random correlations and both ends, one compilation


def _fn(arch, depth, alpha, trained, q, method="recursion"):
    if arch == "ffnet":
        return lambda r: getattr(ffnet_normalized(r, depth, method=method), q)
    return lambda r: getattr(resnet_normalized(r, depth, alpha, trained, method=method), q)


def _end_slope(arch, depth, alpha):
    """d nngp / d rho at rho = -1: the product over the layers of kappa0 (FFNet) or of
    (1 + a^2 kappa0) / (1 + a^2) (ResNet), along the naive float64 recursion from rho = -1."""
    rho, slope = -1.0, 1.0
    for _ in range(depth):
        k0, k1 = float(kappa0(rho)), float(kappa1(rho))
        if arch == "ffnet":
            slope, rho = slope * k0, k1
        else:
            c = 1 + alpha**2
            slope, rho = slope * (1 + alpha**2 * k0) / c, (rho + alpha**2 * k1) / c
    return slope


@pytest.mark.parametrize("case", CASES, ids=str)
def test_rho_derivatives_random_and_boundary(case):
    arch, depth, alpha, trained = case
    for q in ("nngp", "ntk"):
        f = _fn(*case, q)
        rev, fwd, fd = elementwise_grad(f, POINTS), forward(f, POINTS), central(f, RHO)
        np.testing.assert_array_equal(rev[-2:], fwd[-2:])
        np.testing.assert_allclose(rev[:-2], fwd[:-2], rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(rev[:-2], fd, rtol=1e-6, atol=1e-8)
        if q == "nngp":
            # finite one-sided derivatives: 1 at rho = 1 (kappa0(1) = 1, or (1 + a^2) / (1 + a^2)), the
            # product of the layers' slopes at rho = -1
            assert rev[-2] == pytest.approx(1.0, abs=1e-14)
            assert rev[-1] == pytest.approx(_end_slope(arch, depth, alpha), abs=1e-14)
        else:
            # the square-root kink of kappa0 (eq-02-arccos): +inf at 1, -inf at -1
            assert rev[-2] == math.inf and rev[-1] == -math.inf
            for r, s, want in ((1.0, -1.0, 1.0), (-1.0, 1.0, -1.0)):  # one-sided differences grow
                d1 = (float(f(r)) - float(f(r + s * 1e-6))) / (-s * 1e-6)
                d2 = (float(f(r)) - float(f(r + s * 1e-10))) / (-s * 1e-10)
                assert np.sign(d1) == want and abs(d2) > 10 * abs(d1)
    if case[1] == 7:  # the depth-free path differentiates the same map (its derivative is the recursion's)
        for q in ("nngp", "ntk"):
            got = elementwise_grad(_fn(*case, q, method="depthfree"), POINTS)
            np.testing.assert_allclose(got, elementwise_grad(_fn(*case, q), POINTS), rtol=1e-12, atol=1e-14)


def test_linear_resnet_ntk_has_finite_slope_at_the_ends():
    # alpha = 0, trained="all": the normalised NTK is rho itself (input and readout layers only)
    lin = elementwise_grad(lambda r: resnet_normalized(r, 4, 0.0, "all").ntk, POINTS)
    np.testing.assert_allclose(lin, 1.0, atol=1e-15)


@pytest.mark.slow
def test_alpha_derivatives():
    for trained in ("hidden", "all"):
        for q in ("nngp", "ntk"):
            f = lambda a: getattr(resnet_normalized(RHO, 20, a, trained), q)  # noqa: E731
            jac = np.asarray(jax.jacrev(f)(0.3))
            np.testing.assert_allclose(jac, np.asarray(jax.jacfwd(f)(0.3)), rtol=1e-12, atol=1e-15)
            np.testing.assert_allclose(jac, central(f, 0.3), rtol=1e-6, atol=1e-9)


def test_traced_alpha_on_the_table_is_a_named_error():
    with pytest.raises(NotDifferentiableError, match="alpha"):
        jax.grad(lambda a: resnet_normalized(0.3, 10, a, method="depthfree").ntk)(0.3)
    x = np.eye(3)
    with pytest.raises(NotDifferentiableError, match="method='recursion'"):
        jax.grad(lambda a: jnp.sum(resnet_kernels(x, depth=4, alpha=a, method="depthfree").ntk))(0.3)


# ------------------------------------------------------------------------------ kernel matrices
def test_input_derivative_of_a_kernel_matrix():
    rng = np.random.default_rng(2)
    x, e, w = rng.normal(size=(3, 2)), rng.normal(size=(3, 2)), rng.normal(size=(3, 3))
    s = lambda a: jnp.sum(w * ffnet_kernels(a, depth=6).ntk)  # noqa: E731
    rev = float(jnp.sum(jax.grad(s)(x) * e))
    fd = (float(s(x + 1e-6 * e)) - float(s(x - 1e-6 * e))) / 2e-6
    assert rev == pytest.approx(fd, rel=1e-6)


@pytest.mark.slow
def test_input_and_alpha_derivatives_of_kernel_matrices():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4, 3))
    y = rng.normal(size=(3, 3))
    e = rng.normal(size=x.shape)
    fns = [lambda a: ffnet_kernels(a, depth=6).ntk,
           lambda a: resnet_kernels(a, depth=5, alpha=0.5, trained="all").ntk,
           lambda a: normalized_kernels(a, y, arch="ffnet", depth=9, method="depthfree").ntk]
    for f in fns:
        w = rng.normal(size=np.shape(f(x)))
        s = lambda a: jnp.sum(w * f(a))  # noqa: E731
        rev = float(jnp.sum(jax.grad(s)(x) * e))  # reverse mode, contracted with e
        fwd = float(jax.jvp(s, (jnp.asarray(x),), (jnp.asarray(e),))[1])
        fd = (float(s(x + 1e-6 * e)) - float(s(x - 1e-6 * e))) / 2e-6
        assert rev == pytest.approx(fwd, rel=1e-12) and rev == pytest.approx(fd, rel=1e-6)
    g = lambda a: jnp.sum(resnet_kernels(x, depth=5, alpha=a, trained="all").ntk)  # noqa: E731
    assert float(jax.grad(g)(0.3)) == pytest.approx((float(g(0.3 + 1e-6)) - float(g(0.3 - 1e-6))) / 2e-6, rel=1e-7)
    # duplicated and opposite inputs: the kink's derivative is taken as 0, never NaN; values unchanged
    dup = np.concatenate([x, x[:1], -x[1:2]])
    h = lambda a: jnp.sum(ffnet_kernels(a, depth=4).ntk)  # noqa: E731
    assert np.all(np.isfinite(np.asarray(jax.grad(h)(dup))))
    np.testing.assert_allclose(float(h(jnp.asarray(dup))), float(np.sum(np.asarray(ffnet_kernels(dup, depth=4).ntk))),
                               rtol=1e-13)
