"""companion.chapters.alpha_scaling.phase (chapter 4): the regime table's checks and the phase diagram's claims at smoke scale."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np

from companion import chapters
from companion.publish import claims, figures
from companion.chapters.alpha_scaling import phase
from companion.chapters.common import resnet_ntk


def _assert_prints_legibly(fig) -> None:
    """At the text width the figure prints at full size, its letters >= 8 pt, <= 6 labelled series a panel."""
    p = figures.legibility(fig)
    assert p["scale"] == 1.0 and p["min_font_pt"] >= figures.MIN_FONT_PT and p["max_series"] <= figures.MAX_SERIES, p


def test_gamma_grid_contains_one_half():
    g = phase.gamma_grid(0.05, 1.5)
    assert len(g) == 31 and 0.5 in g and g[0] == 0.0 and g[-1] == 1.5


def test_claims_hold_at_smoke_scale():
    P = chapters.params("04_alpha_scaling", "smoke")
    ph = phase.phase_diagram(P, log=lambda *a: None)
    checked = phase.claims(ph, P["fit_from"])
    ids = {c.id for c in checked}
    assert {"04-ode-hidden", "04-ode-all", "04-depth1-hidden", "04-linear-all", "04-constant-alpha", "04-slow",
            "04-phase-rate-hidden", "04-phase-rate-all", "04-phase-monotone"} <= ids
    assert not claims.failures(checked), [(c.id, c.measured) for c in claims.failures(checked)]
    bad = claims.without_failing_counterfactual(checked)
    assert not bad, [(c.id, c.counterfactual, c.counterfactual_measured) for c in bad]
    rc = phase.regime_curves(P, log=lambda *a: None)
    with plt.style.context(figures.STYLE):
        for fig in (phase.plot_phase(ph), phase.plot_regimes(rc)):
            _assert_prints_legibly(fig)
            plt.close(fig)


def test_trained_all_tends_to_the_linear_kernel_and_hidden_to_depth1():
    rho = np.linspace(-0.9, 0.9, 7)
    all_ = resnet_ntk(rho, 10_000, 1.0, "all")
    hidden = resnet_ntk(rho, 10_000, 1.0, "hidden")
    assert np.max(np.abs(all_ - rho)) < 1e-3
    from companion import kernels

    assert np.max(np.abs(hidden - np.asarray(kernels.depth1_limit(rho).ntk))) < 1e-4


def test_effective_time_governs_gamma_below_one_half():
    # Same effective time L alpha^2 = L^(1 - 2 gamma) = 100: (gamma, L) = (0.25, 10^4) and (0, 100) are
    # close (both far from 1/4), whereas (0.25, 100) with T = 10 is much further from 1/4.
    rho = np.linspace(-0.9, 0.9, 7)
    a = resnet_ntk(rho, 10_000, 0.25, "hidden")
    b = resnet_ntk(rho, 100, 0.0, "hidden")
    c = resnet_ntk(rho, 100, 0.25, "hidden")
    assert np.max(np.abs(a - 0.25)) < np.max(np.abs(c - 0.25))
    assert np.max(np.abs(a - b)) < 0.5 * np.max(np.abs(c - b))


def test_bad_arguments_fail_with_clear_messages():
    import math

    import pytest

    with pytest.raises(ValueError, match=r"depth=0 is invalid; allowed: an integer >= 1"):
        resnet_ntk(np.array([0.5]), 0, 1.0, "hidden")
    with pytest.raises(ValueError, match=r"step=0.0 is invalid; allowed: a finite real number > 0.0"):
        phase.gamma_grid(0.0, 1.0)
    with pytest.raises(ValueError, match=r"step=-0.1 is invalid"):
        phase.gamma_grid(-0.1, 1.0)
    with pytest.raises(ValueError, match=r"gamma_max=nan is invalid"):
        phase.gamma_grid(0.1, math.nan)
    with pytest.raises(ValueError, match=r"step=nan is invalid"):
        phase.gamma_grid(math.nan, 1.0)


def test_limit_errors_shrink_at_the_derived_rates():
    # each limit check's error falls by the derived factor per decade (the claims' bounds rely on it)
    lc = phase.limit_checks(points=100)
    for key in ("ode_hidden", "ode_all", "deep_hidden", "deep_all"):
        assert 0.09 < lc[key] / lc[f"{key}_shallower"] < 0.11, key
    assert lc["slow_ratio"] > 20 and lc["slow_ratio_cf"] < 10
