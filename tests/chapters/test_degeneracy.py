"""Chapter 3 (companion.chapters.degeneracy): the chapter's claims hold at smoke scale (the limit checks are always at
L = 10^4), the helpers are exact where they can be, and bad arguments fail with clear messages."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from companion import chapters
from companion.publish import claims
from companion.chapters import degeneracy as depth
from companion.chapters import common
from companion.kernels import kappa0
from companion.learning.regression import KernelRegression
from companion.kernels import nngp_trajectory


@pytest.fixture(scope="module")
def smoke_result():
    P = chapters.params("03_degeneracy", "smoke")
    return depth.run(P, log=lambda *a: None)


def test_claims_hold_at_smoke_scale(smoke_result):
    checked = depth.claims(smoke_result)
    assert len(checked) >= 14
    assert not claims.failures(checked), [(c.id, c.measured, c.target) for c in claims.failures(checked)]


def test_headline_limits_at_depth_ten_thousand():
    lc = depth.limit_checks(points=500)
    assert lc["ffnet_quarter"] <= 0.005
    assert lc["resnet_depth1"] <= 1e-3


def test_plots_and_tables(smoke_result):
    for name in ("ntk_curves", "nngp_curves", "rates", "asymptotics", "spectra", "gram_measures"):
        fig = getattr(depth, f"plot_{name}")(smoke_result)
        assert fig.axes
        plt.close(fig)
    assert depth.rates_table(smoke_result["rates"]).count("\n") == 1 + len(smoke_result["rates"]["series"])
    table = depth.gram_table(smoke_result["gram"])
    assert "FFNet" in table and "ResNet" in table


def test_log_depths():
    d = common.log_depths(10_000, 4)
    assert d[0] == 1 and d[-1] == 10_000 and np.all(np.diff(d) > 0) and len(d) == 17
    assert list(common.log_depths(1, 3)) == [1]
    with pytest.raises(ValueError, match=r"per_decade=0 is invalid"):
        common.log_depths(100, 0)


def test_backward_products_match_the_direct_product():
    L = 50
    rho = nngp_trajectory("ffnet", L, 0.3)["rho"]
    P = depth.backward_products(1.0 - rho)
    assert P[-1] == 1.0
    for l in (0, 7, 49):
        direct = np.prod([float(kappa0(rho[j])) for j in range(l, L)])
        assert math.isclose(P[l], direct, rel_tol=1e-12)


def test_degenerate_kernel_predicts_the_training_mean():
    rng = np.random.default_rng(0)
    n, c = 40, 0.25
    y = rng.normal(size=n) + 0.7
    K = c * np.ones((n, n)) + (1 - c) * np.eye(n)
    pred = KernelRegression(K, y).predict(c * np.ones((3, n)), "flow", [math.inf])[0]
    assert np.allclose(pred, depth.degenerate_prediction(y.mean(), n, c), rtol=1e-12)


def test_rates_reject_bad_settings():
    P = chapters.params("03_degeneracy", "smoke", {"gammas": [0.5]})
    with pytest.raises(ValueError, match=r"gammas=\[0.5\] is invalid; allowed: values > 1/2"):
        depth.depth_rates(P, log=lambda *a: None)
    P = chapters.params("03_degeneracy", "smoke", {"fit_from": 5000})
    with pytest.raises(ValueError, match=r"fit_from=5000 is invalid"):
        depth.depth_rates(P, log=lambda *a: None)


def test_parameter_validation():
    with pytest.raises(ValueError, match=r"gram_depths\[1\]=0 is invalid"):
        chapters.params("03_degeneracy", "smoke", {"gram_depths": [1, 0]})
    with pytest.raises(ValueError, match=r"gamma=-1.0 is invalid"):
        chapters.params("03_degeneracy", "smoke", {"gamma": -1.0})


def test_helpers_reject_bad_arguments():
    assert depth.resnet_alpha(4, 0.5) == 0.5
    with pytest.raises(ValueError, match=r"depth=0 is invalid; allowed: an integer >= 1"):
        depth.resnet_alpha(0, 1.0)
    with pytest.raises(ValueError, match=r"depth=0 is invalid"):
        depth.resnet_ntk(0.5, 0, 1.0)
    with pytest.raises(ValueError, match=r"gamma=nan is invalid; allowed: a finite real number"):
        depth.resnet_alpha(10, math.nan)
    with pytest.raises(ValueError, match=r"hi=2.0 is invalid; allowed: .*<= 1.0"):
        common.rho_grid(5, hi=2)
    with pytest.raises(ValueError, match=r"hi=0.1 is invalid; allowed: a finite real number >= 0.5"):
        common.rho_grid(5, lo=0.5, hi=0.1)
    with pytest.raises(ValueError, match=r"values=.*1 non-finite"):
        common.sup_distance(np.array([0.1, math.nan]), 0.25)
    with pytest.raises(ValueError, match=r"target=.*shape \(3,\)"):
        common.sup_distance(np.zeros(2), np.zeros(3))
    with pytest.raises(ValueError, match=r"target=.*finite entries only"):
        common.sup_distance(np.zeros(2), math.nan)
    with pytest.raises(ValueError, match=r"n=0 is invalid; allowed: an integer >= 1"):
        depth.degenerate_prediction(0.1, 0)
    with pytest.raises(ValueError, match=r"c=nan is invalid"):
        depth.degenerate_prediction(0.1, 10, math.nan)
