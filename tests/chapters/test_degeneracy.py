"""Chapter 3 (companion.chapters.degeneracy): the chapter's claims hold at smoke scale and every
counterfactual is rejected; the derivation's functions are exact where they can be and catch plausible
mutations (a wrong coefficient, an off-by-one product, a missing next-order term); bad arguments fail
with clear messages."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from companion import chapters
from companion import kernels as K
from companion.publish import claims
from companion.chapters import degeneracy as depth
from companion.chapters import common
from companion.kernels import kappa0
from companion.learning.regression import KernelRegression


@pytest.fixture(scope="module")
def smoke_result():
    P = chapters.params("03_degeneracy", "smoke")
    return depth.run(P, log=lambda *a: None)


@pytest.fixture(scope="module")
def smoke_claims(smoke_result):
    return depth.claims(smoke_result)


def test_claims_hold_at_smoke_scale(smoke_claims):
    ids = {c.id for c in smoke_claims}
    assert {"03-ffnet-quarter", "03-ffnet-log-coefficient", "03-resnet-depth1", "03-kappa0-log", "03-backward-cube",
            "03-sum-package", "03-gram-ntk-nugget", "03-gram-resnet-stable"} <= ids
    assert not claims.failures(smoke_claims), [(c.id, c.measured, c.target) for c in claims.failures(smoke_claims)]


def test_every_counterfactual_is_rejected(smoke_claims):
    bad = claims.without_failing_counterfactual(smoke_claims)
    assert not bad, [(c.id, c.counterfactual, c.counterfactual_measured) for c in bad]


def test_log_coefficient_is_three_eighths_and_not_a_slope(smoke_result):
    lr = smoke_result["log_rate"]
    assert np.allclose(lr["ffnet"]["coef"], 3 / 8, rtol=0.005)
    # without the next-order terms the same fit is about 1% high: the model matters
    assert np.all(lr["ffnet"]["coef_plain"] / (3 / 8) - 1 > 0.005)
    assert np.all(np.abs(lr["resnet"]["coef"]) < 1e-4)


def test_log_coefficient_recovers_known_laws():
    L = np.logspace(3, 5, 9)
    y = np.stack([0.375 * np.log(L) + 1.2 + 3.0 * np.log(L) / L - 5.0 / L, 0.7 + 2.0 / L], axis=1)
    fit = depth.log_coefficient(L, y)
    assert np.allclose(fit["coef"], [0.375, 0.0], atol=1e-9)
    assert np.allclose(fit["intercept"], [1.2, 0.7], atol=1e-6)
    with pytest.raises(ValueError, match=r"depths=.*at least 5 positive depths"):
        depth.log_coefficient([1, 2, 3], np.zeros(3))
    with pytest.raises(ValueError, match=r"scaled=.*finite values of shape \(9,\)"):
        depth.log_coefficient(L, np.full(9, math.nan))


def test_plain_trajectory_matches_the_kernel_module():
    for rho0 in (-0.9, 0.3, 0.99):
        theta = depth.plain_trajectory(rho0, 2000)
        rho = K.nngp_trajectory("ffnet", 2000, rho0)["rho"]
        u_plain, u_pkg = 2 * np.sin(theta / 2) ** 2, 1 - rho
        assert np.allclose(u_plain, u_pkg, rtol=1e-10, atol=0)
    # the ResNet's map (alpha given) against the package's ResNet trajectory
    theta = depth.plain_trajectory(0.3, 200, alpha=0.5)
    rho = K.nngp_trajectory("resnet", 200, 0.3, 0.5)["rho"]
    assert np.allclose(2 * np.sin(theta / 2) ** 2, 1 - rho, rtol=1e-10)


def test_theta_map_expansion():
    # eq-03-theta-map: theta' = theta - theta^2 / (3 pi) - theta^3 / (18 pi^2) + O(theta^4)
    for th in (1e-2, 3e-3):
        step = depth.plain_trajectory(math.cos(th), 1)[1]
        pred = th - th**2 / (3 * math.pi) - th**3 / (18 * math.pi**2)
        assert abs(step - pred) < 2 * th**4


def test_sum_equals_the_kernel_module_and_resolves_the_depth():
    theta = depth.plain_trajectory(0.5, 300)
    s = depth.ntk_from_sum(theta)
    assert abs(s - common.ffnet_ntk(0.5, 300)) < 1e-13
    assert abs(s - common.ffnet_ntk(0.5, 299)) > 1e-7


def test_backward_products_match_the_direct_product():
    L = 50
    theta = depth.plain_trajectory(0.3, L)
    P = depth.backward_products(theta)
    assert P[-1] == 1.0
    for l in (0, 7, 49):
        direct = np.prod([float(kappa0(math.cos(theta[j]))) for j in range(l, L)])
        assert math.isclose(P[l], direct, rel_tol=1e-12)
    with pytest.raises(ValueError, match=r"theta=.*angles in \[0, pi\]"):
        depth.backward_products(np.array([4.0, 1.0]))


def test_kappa0_log_coefficient_is_three_halves():
    theta = depth.plain_trajectory(0.5, 10_000)
    assert abs(depth.kappa0_log_slope(theta, 1000, 10_000) - 1.5) < 0.01
    with pytest.raises(ValueError, match=r"l2=20000 is invalid"):
        depth.kappa0_log_slope(theta, 10, 20_000)


def test_first_order_term_matches_deep_resnets():
    # eq-03-first-order: (k_L - k_1) / T -> g1, error O(T) (T = 1/L for gamma = 1)
    rho = np.linspace(-0.9, 0.99, 41)
    g1 = common.depth1_first_order(rho)
    L = 20_000
    k = common.resnet_ntk(rho, L, 1.0)
    assert np.max(np.abs(L * (k - np.asarray(K.depth1_limit(rho).ntk)) - g1)) < 1e-4
    assert common.depth1_first_order(1.0) == 0.0
    with pytest.raises(ValueError, match=r"rho=-1.0 is invalid; allowed: correlations in \(-1, 1\]"):
        common.depth1_first_order(np.array([-1.0, 0.0]))


def test_headline_limits_at_depth_ten_thousand():
    lc = depth.limit_checks(points=200)
    assert lc["ffnet_quarter"] <= 1.01 * lc["quarter_law"] and lc["ffnet_quarter"] < 0.002
    assert abs(lc["first_order_1"] - lc["g1_max"]) < 1e-4
    assert abs(lc["g1_max"] - 0.0834) < 1e-3  # the theory's constant ~0.083


def test_plots_and_tables(smoke_result):
    from companion.publish import figures

    figures.use_style()
    for name in ("ntk_curves", "nngp_curves", "rates", "log_rate", "asymptotics", "spectra", "gram_measures"):
        fig = getattr(depth, f"plot_{name}")(smoke_result)
        assert fig.axes
        # drawn at the printed size: not scaled down, letters of at least 8 pt, series that can be told apart
        printed = figures.legibility(fig)
        assert printed["scale"] == 1.0 and printed["min_font_pt"] >= figures.MIN_FONT_PT, (name, printed)
        assert printed["max_series"] <= figures.MAX_SERIES, (name, printed)
        plt.close(fig)
    assert depth.rates_table(smoke_result["rates"]).count("\n") == 1 + len(smoke_result["rates"]["series"])
    assert depth.log_rate_table(smoke_result["log_rate"]).count("\n") == 1 + len(depth.RATE_RHO0)
    table = depth.gram_table(smoke_result["gram"])
    assert "FFNet" in table and "ResNet" in table


def test_log_depths():
    d = common.log_depths(10_000, 4)
    assert d[0] == 1 and d[-1] == 10_000 and np.all(np.diff(d) > 0) and len(d) == 17
    assert list(common.log_depths(1, 3)) == [1]
    with pytest.raises(ValueError, match=r"per_decade=0 is invalid"):
        common.log_depths(100, 0)


def test_degenerate_kernel_predicts_the_training_mean():
    rng = np.random.default_rng(0)
    n, c = 40, 0.25
    y = rng.normal(size=n) + 0.7
    Kc = c * np.ones((n, n)) + (1 - c) * np.eye(n)
    pred = KernelRegression(Kc, y).predict(c * np.ones((3, n)), "flow", [math.inf])[0]
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
    with pytest.raises(ValueError, match=r"depth=0 is invalid"):
        depth.resnet_ntk(0.5, 0, 1.0)
    with pytest.raises(ValueError, match=r"rho0=2.0 is invalid"):
        depth.plain_trajectory(2.0, 3)
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
