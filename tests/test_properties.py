"""Reliability (issue 8), beyond the kernels of ``test_reliability.py``: property-based checks that every
public function of the models, empirical NTK, training, fits, regression and helper modules rejects bad
arguments with a ValueError naming the argument, its value and the allowed range, and that valid
extreme inputs (zero rows, rank-deficient kernels) give finite results. Shapes are drawn from small fixed
sets so that JAX compiles each function only a few times."""

from __future__ import annotations

import math

import jax
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from companion import empirical, models

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NAMED = r"{}=.* is invalid; allowed: "


def raises_named(name: str):
    """``pytest.raises`` for the standard error ``name=value is invalid; allowed: ...``."""
    return pytest.raises(ValueError, match=NAMED.format(name))


# Bad values by kind: what an integer count, a non-negative real and a choice string must reject.
bad_counts = st.one_of(st.integers(max_value=0), st.floats(allow_nan=True), st.booleans(), st.text(max_size=3),
                       st.none())
bad_nonneg_reals = st.one_of(st.floats(max_value=-1e-300), st.sampled_from([math.nan, math.inf, -math.inf]),
                             st.text(max_size=2), st.none(), st.booleans())
bad_choices = st.text(max_size=6).filter(lambda s: s not in ("relu", "tanh", "gelu", "hidden", "all"))
finite = st.floats(-10, 10, allow_nan=False, allow_infinity=False)


def matrix(n: int, d: int):
    return st.lists(st.lists(finite, min_size=d, max_size=d), min_size=n, max_size=n).map(np.array)


# ------------------------------------------------------------------------------------------- models
@SETTINGS
@given(bad=bad_counts, which=st.sampled_from(["depth", "width"]), arch=st.sampled_from(["ffnet", "resnet"]))
def test_models_reject_bad_depth_and_width(bad, which, arch):
    kw = {"depth": 2, "width": 4, which: bad}
    with raises_named(which):
        models.ffnet(**kw) if arch == "ffnet" else models.resnet(alpha=0.5, **kw)


@SETTINGS
@given(alpha=bad_nonneg_reals, activation=st.one_of(st.just("relu"), bad_choices),
       trained=st.one_of(st.just("hidden"), bad_choices), dtype=st.sampled_from(["float64", "float16", "int32", "x"]))
def test_resnet_rejects_bad_alpha_activation_trained_dtype(alpha, activation, trained, dtype):
    with pytest.raises(ValueError, match=r"(alpha|activation|trained|dtype)=.* is invalid; allowed: "):
        models.resnet(2, 4, alpha, activation, trained, dtype)


NETS = {
    "ffnet": models.ffnet(2, 8),
    "ffnet-tanh": models.ffnet(2, 8, "tanh"),
    "resnet": models.resnet(2, 8, 0.5),
    "resnet-gelu-all": models.resnet(2, 8, 0.5, "gelu", "all"),
}


@pytest.mark.parametrize("name", NETS)
def test_wrong_feature_dimension_is_named(name):
    net = NETS[name]
    params = net.init(jax.random.PRNGKey(0), 3)
    x = np.ones((2, 4))
    with raises_named("x"):
        net.apply(params, x)
    with raises_named("x"):
        models.signal_propagation(net, params, x)
    for method in ("auto", "jacobian"):
        with raises_named("x1?"):
            empirical.empirical_ntk(net, params, x, method=method)
    with raises_named("x2"):
        empirical.empirical_ntk(net, params, np.ones((2, 3)), x)


@settings(SETTINGS, max_examples=12)
@given(name=st.sampled_from(sorted(NETS)), x=matrix(3, 3), zero=st.integers(0, 2), seed=st.integers(0, 3))
def test_zero_input_row_gives_zero_output_and_ntk_row(name, x, zero, seed):
    """No biases: a zero input propagates as zeros, so its output and its NTK row are exactly 0, never NaN."""
    net = NETS[name]
    params = net.init(jax.random.PRNGKey(seed), 3)
    x[zero] = 0.0
    f = np.asarray(net.apply(params, x))
    assert np.all(np.isfinite(f)) and f[zero] == 0.0
    theta = np.asarray(empirical.empirical_ntk(net, params, x))
    assert np.all(np.isfinite(theta))
    assert np.all(theta[zero] == 0.0) and np.all(theta[:, zero] == 0.0)
    np.testing.assert_array_equal(theta, theta.T)
    w = np.linalg.eigvalsh(theta)
    assert w.min() >= -1e-10 * max(w.max(), 1e-300)
    if seed == 0:  # eager (not jitted): once per network is enough
        sp = models.signal_propagation(net, params, x)
        assert np.all(np.isfinite(sp["corr"])) and np.all(np.isfinite(sp["sq_norm"]))


@SETTINGS
@given(in_dim=bad_counts, name=st.sampled_from(sorted(NETS)))
def test_init_rejects_bad_in_dim(in_dim, name):
    with raises_named("in_dim"):
        NETS[name].init(jax.random.PRNGKey(0), in_dim)
