"""Finite-width check: the empirical NTK of companion.networks.models' networks converges to the analytic
kernel like ``width^-1/2`` (fitted slope of the relative error against width, widths 256..4096)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import companion  # noqa: F401
from companion.networks import models
from companion.kernels import ffnet_kernels, resnet_kernels

try:  # the companion's own Jacobian contraction (another module); a local fallback keeps this test alive
    from companion.networks.empirical import empirical_ntk
except ImportError:  # pragma: no cover - only while companion.networks.empirical does not exist
    empirical_ntk = None

WIDTHS = [256, 512, 1024, 2048, 4096]
SEEDS = 4  # per width; 8 for widths <= 1024 (cheap), which steadies the fitted slope


def _fallback_ntk(net, params, x):
    """``J(x) J(x)^T`` over ``net.trained``: one gradient (VJP) per column, then a JVP for all rows."""
    trained, frozen = models.split(net, params)

    def f(tr, xs):
        return net.apply({**tr, **frozen}, xs)

    cols = []
    for j in range(x.shape[0]):
        g = jax.grad(lambda tr: f(tr, x[j : j + 1])[0])(trained)
        cols.append(jax.jvp(lambda tr: f(tr, x), (trained,), (g,))[1])
    return jnp.stack(cols, axis=1)


def _emp(net, params, x):
    if empirical_ntk is not None:
        return np.asarray(empirical_ntk(net, params, x))
    return np.asarray(_fallback_ntk(net, params, x))


def _init(net, seed, in_dim):
    """i.i.d. N(0, 1) parameters of ``net`` (NumPy's generator: threefry is slow for 10^7 draws on CPU)."""
    shapes = jax.eval_shape(lambda key: net.init(key, in_dim), jax.random.PRNGKey(0))
    rng = np.random.default_rng(seed)
    return {k: jnp.asarray(rng.standard_normal(v.shape, dtype=np.float32)) for k, v in shapes.items()}


def _slope(make_net, analytic, x):
    errs = []
    for m in WIDTHS:
        sq = []
        net = make_net(m)
        for seed in range(SEEDS if m > 1024 else 2 * SEEDS):
            params = _init(net, 1000 * seed + m, x.shape[1])
            emp = _emp(net, params, x)
            sq.append((np.linalg.norm(emp - analytic) / np.linalg.norm(analytic)) ** 2)
        errs.append(np.sqrt(np.mean(sq)))
    slope = np.polyfit(np.log(WIDTHS), np.log(errs), 1)[0]
    return slope, errs


@pytest.fixture(scope="module")
def x():
    z = np.random.default_rng(7).normal(size=(16, 5))
    return z / np.linalg.norm(z, axis=1, keepdims=True)


def test_ffnet_empirical_ntk_converges(x):
    L = 3
    analytic = np.asarray(ffnet_kernels(x, depth=L).ntk)
    slope, errs = _slope(lambda m: models.ffnet(L, m, dtype="float32"), analytic, x)
    print("ffnet", slope, errs)
    assert errs[-1] < 0.1, errs
    assert abs(slope + 0.5) < 0.2, (slope, errs)


@pytest.mark.slow
@pytest.mark.parametrize("trained", ["hidden", "all"])
def test_resnet_empirical_ntk_converges(x, trained):
    L, alpha = 2, 2**-0.5
    analytic = np.asarray(resnet_kernels(x, depth=L, alpha=alpha, trained=trained).ntk)
    slope, errs = _slope(lambda m: models.resnet(L, m, alpha, trained=trained, dtype="float32"), analytic, x)
    print("resnet", trained, slope, errs)
    assert errs[-1] < 0.1, (trained, errs)
    assert abs(slope + 0.5) < 0.2, (trained, slope, errs)
