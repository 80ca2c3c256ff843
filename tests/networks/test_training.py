"""Gradient descent and its linearised (NTK) prediction."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from companion.networks import models
from companion.networks.empirical import empirical_ntk
from companion.networks.training import _gd_chunk, linearised, relative_change, step_size, train


def sphere(n, d, seed=0):
    x = np.random.default_rng(seed).standard_normal((n, d))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def data(n=8, n_test=6, d=5, seed=0):
    x, xt = sphere(n, d, seed), sphere(n_test, d, seed + 100)
    return x, np.sign(x[:, 0]), xt, np.sign(xt[:, 0])


def test_linearised_equals_explicit_iteration():
    """The closed form equals iterating f <- f - (eta/n) K (f - y), including a singular kernel."""
    rng = np.random.default_rng(0)
    n, nt, T = 6, 4, 40
    B = rng.standard_normal((n + nt, 4))  # rank 4 < n: singular training kernel
    K = B @ B.T
    y, f0, f0t = rng.standard_normal(n), rng.standard_normal(n), rng.standard_normal(nt)
    eta = step_size(K[:n, :n], n, 1.5)
    lin = linearised(K[:n, :n], K[n:, :n], f0, f0t, y, eta, T)
    f, ft = f0.copy(), f0t.copy()
    for t in range(T + 1):
        np.testing.assert_allclose(lin["f_train"][t], f, atol=1e-12)
        np.testing.assert_allclose(lin["f_test"][t], ft, atol=1e-12)
        assert np.isclose(lin["loss"][t], 0.5 * np.mean((f - y) ** 2), atol=1e-14)
        r = f - y
        f, ft = f - eta / n * K[:n, :n] @ r, ft - eta / n * K[n:, :n] @ r


def test_training_converges_and_records():
    x, y, xt, yt = data()
    net = models.resnet(2, 32, 0.5, "relu")
    params = net.init(jax.random.PRNGKey(0), x.shape[1])
    r = train(net, params, x, y, x_test=xt, y_test=yt, steps=500, tol=1e-4, chunk=7)
    assert r.converged and not r.diverged and 0 < r.steps < 500
    assert r.loss.shape == r.loss_lin.shape == r.loss_test.shape == (r.steps + 1,)
    assert r.f_test_path.shape == (r.steps + 1, xt.shape[0])
    assert r.loss[-1] <= 1e-4 * r.loss[0] < r.loss[-2]  # stopped at the first step below tolerance
    assert np.all(np.diff(r.loss) < 0)  # monotone at this step size
    # eta from the kernel's top eigenvalue, and the recorded kernels are the empirical NTKs.
    np.testing.assert_allclose(r.theta0, np.asarray(empirical_ntk(net, params, x)), rtol=1e-12)
    np.testing.assert_allclose(r.thetaT, np.asarray(empirical_ntk(net, r.params, x)), rtol=1e-12)
    assert np.isclose(r.eta, x.shape[0] / np.linalg.eigvalsh(r.theta0)[-1])
    assert r.rel_change == relative_change(r.theta0, r.thetaT) > 0
    # The frozen weights did not move; the trained ones did.
    assert np.array_equal(r.params["A"], params["A"]) and np.array_equal(r.params["v"], params["v"])
    assert not np.array_equal(r.params["W"], params["W"])
    np.testing.assert_allclose(r.f_test_path[0], r.f0_test, rtol=1e-12)
    np.testing.assert_allclose(r.f_train, np.asarray(net.apply(r.params, x)), rtol=1e-12)
    # The same run in one chunk gives the same numbers (chunking is invisible).
    r2 = train(net, params, x, y, x_test=xt, y_test=yt, steps=500, tol=1e-4, chunk=1000)
    assert r2.steps == r.steps and np.allclose(r2.loss, r.loss, rtol=1e-10)


def test_step_cap_and_no_test_set():
    x, y, _, _ = data()
    net = models.ffnet(2, 16, "tanh")
    r = train(net, net.init(jax.random.PRNGKey(1), x.shape[1]), x, y, steps=5, tol=0.0)
    assert r.steps == 5 and not r.converged and r.loss.shape == (6,)
    assert r.f_test is None and r.loss_test is None
    with pytest.raises(ValueError, match="on"):
        r.prediction_gap("test")


@pytest.mark.parametrize("arch", ["ffnet", "resnet"])
def test_wide_network_follows_its_linearisation(arch):
    """At large width the network's predictions approach the linearised model's, and the NTK moves less."""
    x, y, xt, yt = data(n=8, n_test=8, d=6, seed=3)
    gaps, changes = {}, {}
    for m in (32, 512):
        net = models.ffnet(2, m, "gelu") if arch == "ffnet" else models.resnet(2, m, 2**-0.5, "relu")
        g, c = [], []
        for s in range(2):
            r = train(net, net.init(jax.random.PRNGKey(s), 6), x, y, x_test=xt, y_test=yt, steps=1000, tol=1e-3)
            assert r.converged
            g.append(r.prediction_gap("test"))
            c.append(r.rel_change)
        gaps[m], changes[m] = np.mean(g), np.mean(c)
    assert gaps[512] < 0.5 * gaps[32] and gaps[512] < 0.1, gaps
    assert changes[512] < 0.5 * changes[32], changes


def test_divergence_is_detected():
    x, y, _, _ = data()
    net = models.ffnet(2, 8)
    params = net.init(jax.random.PRNGKey(0), x.shape[1])
    trained, frozen = models.split(net, params)
    X = jnp.asarray(x)
    _, losses, stopped, bad, _ = _gd_chunk(net, 30, trained, frozen, X, jnp.asarray(y), X[:0], 50.0, 0.0, 1e6,
                                           jnp.asarray(30))
    assert np.asarray(bad).any() and np.asarray(stopped)[-1]
    k = int(np.argmax(np.asarray(stopped)))
    assert np.all(np.isnan(np.asarray(losses)[k + 1:]))  # no work after stopping


def test_bad_arguments():
    x, y, xt, _ = data()
    net = models.ffnet(1, 4)
    p = net.init(jax.random.PRNGKey(0), x.shape[1])
    with pytest.raises(ValueError, match="lr_factor"):
        train(net, p, x, y, lr_factor=2.0)
    with pytest.raises(ValueError, match="y"):
        train(net, p, x, y[:-1])
    with pytest.raises(ValueError, match="x_test"):
        train(net, p, x, y, x_test=xt[:, :2])
    with pytest.raises(ValueError, match="y_test"):
        train(net, p, x, y, y_test=y)
    with pytest.raises(ValueError, match="steps"):
        train(net, p, x, y, steps=0)
    with pytest.raises(ValueError, match="theta1"):
        relative_change(np.eye(2), np.eye(3))
