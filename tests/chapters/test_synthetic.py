"""companion.chapters.alpha_scaling.synthetic (chapter 4): the target lies in the RKHS and has unit L2 norm, the kernel matches
the kernel module, and the chapter's claims hold at smoke scale (and at the default scale, slow)."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from companion import chapters
from companion.publish import claims, figures
from companion import kernels
from companion.chapters.alpha_scaling import synthetic


def _assert_prints_legibly(fig) -> None:
    """At the text width the figure prints at full size, its letters >= 8 pt, <= 6 labelled series a panel."""
    p = figures.legibility(fig)
    assert p["scale"] == 1.0 and p["min_font_pt"] >= figures.MIN_FONT_PT and p["max_series"] <= figures.MAX_SERIES, p


def test_sphere_and_target_normalisation():
    rng = np.random.default_rng(1)
    x = synthetic.sphere(50_000, 3, rng)
    assert np.allclose(np.linalg.norm(x, axis=1), 1.0)
    f = synthetic.Target(3, 20, seed=0)
    assert math.isclose(float(np.mean(f(x) ** 2)), 1.0, rel_tol=0.05)
    assert f.rkhs_norm() > 0
    e = f.energy(12)
    assert e[:3].sum() > 0.99 and np.all(e[3::2] < 1e-20)  # the smooth target: degrees 0-2, no odd k >= 3


def test_spread_target_energy_by_degree():
    f = synthetic.SpreadTarget(3, 4.2, 20, 60, seed=0)
    e = f.energy()
    k = np.arange(21)
    expected = np.where((k >= 2) & (k % 2 == 0), (k + 2.0) ** -4.2, 0.0)
    assert np.allclose(e, expected / expected.sum(), atol=1e-12)
    x = synthetic.sphere(40_000, 3, np.random.default_rng(3))
    assert math.isclose(float(np.mean(f(x) ** 2)), 1.0, rel_tol=0.05)  # E f^2 = sum_k E_k = 1
    with pytest.raises(ValueError, match=r"centers=10 is invalid; allowed: an integer >= 41"):
        synthetic.SpreadTarget(3, 4.2, 20, 10, seed=0)


def test_predicted_rate():
    p = synthetic.predicted_rate(3, 4.0)  # s = d + 1: the RKHS ball, the minimax rate
    assert math.isclose(p["rate"], -0.6) and math.isclose(p["minimax"], -0.6) and math.isclose(p["r"], 0.5)
    assert math.isclose(p["tau"], 0.6)
    with pytest.raises(ValueError, match=r"s=1.0 is invalid"):
        synthetic.predicted_rate(3, 1.0)


def test_learning_kernel_matches_the_kernel_module_and_is_chunked():
    rng = np.random.default_rng(2)
    x = synthetic.sphere(40, 3, rng)
    rho = np.clip(x @ x.T, -1, 1)
    for gamma in (1.0, 0.0):
        a = synthetic.learning_kernel(rho, 50, gamma)
        b = np.asarray(kernels.resnet_normalized(rho, 50, 50.0 ** (-gamma), "hidden").ntk)
        assert a.shape == rho.shape and np.max(np.abs(a - b)) < 1e-10


def test_stopping_times():
    t = synthetic.stopping_times(10)
    assert t[0] == pytest.approx(0.1) and t[-1] == pytest.approx(1e7) and len(t) == 81


def test_claims_hold_at_smoke_scale():
    P = chapters.params("04_alpha_scaling", "smoke")
    res = synthetic.excess_risk_curves(P, log=lambda *a: None)
    checked = synthetic.claims(res)
    assert {c.id for c in checked} == {"04-es-rate-val", "04-interp-worse", "04-const-worse"}
    assert not claims.failures(checked), [(c.id, c.measured) for c in claims.failures(checked)]
    bad = claims.without_failing_counterfactual(checked)
    assert not bad, [(c.id, c.counterfactual, c.counterfactual_measured) for c in bad]
    assert "validation" in synthetic.rates_table(res) and "spread" in synthetic.energy_table(res)
    with plt.style.context(figures.STYLE):
        for fig in (synthetic.plot_rates(res), synthetic.plot_risk_vs_time(res)):
            _assert_prints_legibly(fig)
            plt.close(fig)


@pytest.mark.slow
def test_claims_hold_at_default_scale():
    P = chapters.params("04_alpha_scaling", "default")
    res = synthetic.excess_risk_curves(P, log=lambda *a: None)
    assert not claims.failures(synthetic.claims(res))


def test_bad_arguments_fail_with_clear_messages():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"n=0 is invalid; allowed: an integer >= 1"):
        synthetic.sphere(0, 3, rng)
    with pytest.raises(ValueError, match=r"d=0 is invalid; allowed: an integer >= 1"):
        synthetic.sphere(5, 0, rng)
    with pytest.raises(ValueError, match=r"rng=0 is invalid; allowed: a numpy.random.Generator"):
        synthetic.sphere(5, 3, 0)
    with pytest.raises(ValueError, match=r"per_decade=0 is invalid"):
        synthetic.stopping_times(0)
    with pytest.raises(ValueError, match=r"hi=1.0 is invalid; allowed: a finite real number >= 2.0"):
        synthetic.stopping_times(10, lo=2.0, hi=1.0)


def test_schedule_interpolation_and_ratio_interval():
    times = np.logspace(-1, 3, 9)
    risk = np.stack([times**-0.5, 2 * times**-0.5])  # two "seeds", a power law in t
    at = synthetic._at_time(risk, times, np.array([times[3], 5.0]))
    assert np.allclose(at, [times[3] ** -0.5, 2 * 5.0**-0.5], rtol=1e-12)  # exact on a log-log straight line
    a, b = np.array([2.0, 2.2, 1.9]), np.array([1.0, 1.0, 1.0])
    low = synthetic._log_ratio_low(a, b)
    assert 1.0 < low < 2.0 and synthetic._log_ratio_low(b, a) < 1.0
