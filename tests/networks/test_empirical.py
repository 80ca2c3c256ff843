"""Empirical NTK: against a finite-difference Jacobian, across methods, and against the exact kernels at large width."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from companion.networks import models
from companion.networks.empirical import empirical_ntk, param_count
from companion.kernels import diagonal, ffnet_kernels, resnet_kernels


def sphere(n, d, seed=0):
    x = np.random.default_rng(seed).standard_normal((n, d))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def small_nets(width=5):
    return [
        models.ffnet(1, width, "relu"),
        models.ffnet(3, width, "tanh"),
        models.resnet(2, width, 0.7, "gelu", "hidden"),
        models.resnet(2, width, 0.7, "relu", "all"),
    ]


def fd_ntk(net, params, x1, x2, h=1e-6):
    """Theta from a central-difference Jacobian over the trained parameters (float64)."""
    trained, frozen = models.split(net, params)
    flat, unravel = ravel_pytree(trained)
    f = jax.jit(jax.vmap(lambda q, x: net.apply({**unravel(q), **frozen}, x), in_axes=(0, None)))
    E = h * np.eye(flat.size)

    def jac(x):  # (n, P)
        return ((np.asarray(f(flat + E, x)) - np.asarray(f(flat - E, x))) / (2 * h)).T

    return jac(x1) @ jac(x2).T


@pytest.mark.parametrize("net", small_nets(), ids=lambda n: f"{n.arch}-{n.activation}-{len(n.trained)}")
def test_matches_finite_differences(net):
    x1, x2 = sphere(4, 3, 1), sphere(3, 3, 2)
    params = net.init(jax.random.PRNGKey(3), 3)
    ref = fd_ntk(net, params, x1, x2)
    for method in ("structured", "jacobian", "jvp"):
        got = np.asarray(empirical_ntk(net, params, x1, x2, method=method))
        np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-8 * np.abs(ref).max(), err_msg=method)


def test_methods_agree():
    """Structured and generic Jacobian contraction agree to rounding for every activation and ``trained``."""
    x1, x2 = sphere(7, 4, 1), sphere(5, 4, 2)
    for activation in ("relu", "tanh", "gelu"):
        for net in (models.ffnet(2, 9, activation), models.resnet(2, 9, 0.5, activation, "all")):
            params = net.init(jax.random.PRNGKey(0), 4)
            ref = np.asarray(empirical_ntk(net, params, x1, x2, method="jacobian"))
            got = np.asarray(empirical_ntk(net, params, x1, x2, method="structured"))
            np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-13, err_msg=f"{net.arch} {activation}")
    # The memory-bounded generic paths: hold the smaller set's gradients and stream the other set
    # (both orders), or fall back to the forward-mode columns.
    net = models.resnet(3, 9, 0.5, "gelu", "hidden")
    params = net.init(jax.random.PRNGKey(0), 4)
    row = param_count(net, params) * 8
    custom = net._replace(arch="custom")  # not recognised by the structured path
    for a, b in [(x1, x2), (x2, x1)]:
        ref = np.asarray(empirical_ntk(net, params, a, b, method="structured"))
        for budget in (6 * row, 1):
            got = np.asarray(empirical_ntk(custom, params, a, b, max_bytes=budget))
            np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-13, err_msg=str(budget))


def test_symmetric_psd_and_trained_subset():
    net = models.resnet(2, 16, 0.5, "relu", "hidden")
    params = net.init(jax.random.PRNGKey(1), 5)
    x = sphere(6, 5)
    k = np.asarray(empirical_ntk(net, params, x))
    assert np.array_equal(k, k.T)
    assert np.linalg.eigvalsh(k)[0] > -1e-12 * np.abs(k).max()
    # Training A and v too adds two PSD terms: the "all" kernel dominates the "hidden" one.
    net_all = models.resnet(2, 16, 0.5, "relu", "all")
    k_all = np.asarray(empirical_ntk(net_all, params, x))
    assert np.linalg.eigvalsh(k_all - k)[0] > -1e-12 and np.trace(k_all - k) > 1.0


def _rel(a, b):
    return np.linalg.norm(a - b) / np.linalg.norm(b)


@pytest.mark.parametrize("arch", ["ffnet", "resnet"])
def test_converges_to_exact_kernel(arch):
    """At width m the relative error is O(m^-1/2): it shrinks ~4x from m=64 to m=1024 and is small there."""
    L, d = 3, 6
    x = sphere(6, d, 4)
    alpha = L**-0.5
    if arch == "ffnet":
        exact = np.asarray(ffnet_kernels(x, depth=L).ntk)
        make = lambda m: models.ffnet(L, m)  # noqa: E731
    else:
        exact = np.asarray(resnet_kernels(x, depth=L, alpha=alpha, trained="hidden").ntk)
        make = lambda m: models.resnet(L, m, alpha)  # noqa: E731
    errs = {}
    for m in (64, 1024):
        net = make(m)
        errs[m] = np.mean([_rel(np.asarray(empirical_ntk(net, net.init(jax.random.PRNGKey(s), d), x)), exact)
                           for s in range(4)])
    # Expected ratio sqrt(64/1024) = 0.25; the seed mean of 4 leaves a wide margin at 0.5.
    assert errs[1024] < 0.5 * errs[64], errs
    assert errs[1024] < 0.15, errs


def test_diagonal_closed_forms():
    """Unit inputs: FFNet NTK(x, x) = L + 1; ResNet hidden NTK(x, x) = 2 L a^2 (1 + a^2)^(L-1) (spec)."""
    L, m, d = 3, 1024, 8
    x = sphere(8, d, 5)
    for net, target in [(models.ffnet(L, m), L + 1.0),
                        (models.resnet(L, m, 0.6), 2 * L * 0.36 * 1.36 ** (L - 1))]:
        assert np.isclose(target, diagonal(net.arch, L, net.alpha or 0.0, "hidden")[1])
        diag = np.diag(np.asarray(empirical_ntk(net, net.init(jax.random.PRNGKey(0), d), x)))
        # Each diagonal entry fluctuates by O(sqrt(L / m)) relative; the mean of 8 by less.
        assert abs(diag.mean() / target - 1) < 3 * np.sqrt(L / m), diag


def test_bad_arguments():
    net = models.ffnet(1, 4)
    params = net.init(jax.random.PRNGKey(0), 3)
    x = sphere(2, 3)
    with pytest.raises(ValueError, match="method"):
        empirical_ntk(net, params, x, method="exact")
    with pytest.raises(ValueError, match="x2"):
        empirical_ntk(net, params, x, sphere(2, 4))
    with pytest.raises(ValueError, match="x1"):
        empirical_ntk(net, params, np.array([[np.nan, 0.0, 1.0]]))
    with pytest.raises(ValueError, match="max_bytes"):
        empirical_ntk(net, params, x, max_bytes=0)
    custom = net._replace(arch="custom")
    with pytest.raises(ValueError, match="structured"):
        empirical_ntk(custom, params, x, method="structured")
    # A network the structured path does not know still works through the generic methods.
    np.testing.assert_allclose(np.asarray(empirical_ntk(custom, params, x)), np.asarray(empirical_ntk(net, params, x)),
                               rtol=1e-13)
