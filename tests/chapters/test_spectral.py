"""companion.chapters.alpha_scaling.spectral: Funk-Hecke coefficients by two independent computations, closed-form checks, the
chapter's claims at smoke scale."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from scipy import special

from companion import chapters
from companion.publish import claims, figures
from companion.chapters.alpha_scaling import spectral


def _assert_prints_legibly(fig) -> None:
    """At the text width the figure prints at full size, its letters >= 8 pt, <= 6 labelled series a panel."""
    p = figures.legibility(fig)
    assert p["scale"] == 1.0 and p["min_font_pt"] >= figures.MIN_FONT_PT and p["max_series"] <= figures.MAX_SERIES, p


def test_multiplicities():
    # d = 3: 2k + 1; d = 4: (k + 1)^2; sum over k <= K of N(d, k) = dim of polynomials of degree <= K on S^{d-1}
    k = np.arange(10)
    assert np.array_equal(spectral.multiplicity(3, k), 2 * k + 1)
    assert np.array_equal(spectral.multiplicity(4, k), (k + 1) ** 2)
    K = 7
    for d in (3, 5, 10):
        total = spectral.multiplicity(d, np.arange(K + 1)).sum()
        expected = math.comb(K + d - 1, d - 1) + math.comb(K + d - 2, d - 1)
        assert total == expected


def test_quadrature_of_monomials_matches_the_moment_formula():
    # mu_k(t^n) = n! Gamma(d/2) / (2^n j! Gamma(j + k + d/2)), n - k = 2j >= 0
    for d in (3, 4, 7):
        for n in range(6):
            mu = spectral.gegenbauer_coefficients(lambda t, n=n: t**n, d, 6)
            for k in range(7):
                if k > n or (n - k) % 2:
                    assert abs(mu[k]) < 1e-14
                else:
                    j = (n - k) // 2
                    exact = math.factorial(n) * special.gamma(d / 2) / (2**n * math.factorial(j) * special.gamma(j + k + d / 2))
                    assert math.isclose(mu[k], exact, rel_tol=1e-12)


def test_series_and_quadrature_agree_and_sum_to_the_diagonal():
    for d in (3, 5):
        s = spectral.depth1_coefficients(d, 40)
        q = spectral.gegenbauer_coefficients(spectral.depth1_kernel_values, d, 40)
        even = np.arange(41) % 2 == 0
        assert np.allclose(s[even], q[even], rtol=1e-7)
        assert math.isclose(s[1], 1 / (2 * d), rel_tol=1e-13) and math.isclose(q[1], 1 / (2 * d), rel_tol=1e-12)
        assert np.all(np.abs(q[3::2]) < 1e-15)
        # k(1) = sum_k N(d, k) mu_k = 1 (the tail beyond k = 40 is small and positive)
        total = float((spectral.multiplicity(d, np.arange(41)) * s).sum())
        assert 0.98 < total < 1.0


def test_depth1_kernel_matches_the_kernel_module():
    from companion import kernels

    t = np.linspace(-1, 1, 101)
    assert np.allclose(spectral.depth1_kernel_values(t), np.asarray(kernels.depth1_limit(t).ntk), atol=1e-14)


def test_eigenvalue_ordering():
    mu = np.array([0.5, 0.1, 0.2, 0.0, 0.05])
    e = spectral.eigenvalues_with_index(mu, 3)
    assert list(e["degree"]) == [0, 2, 1, 4]
    assert list(e["first"]) == [1, 2, 7, 10] and list(e["last"]) == [1, 6, 9, 18]


def test_claims_hold_at_smoke_scale():
    P = chapters.params("04_alpha_scaling", "smoke")
    res = spectral.spectrum_study(P, log=lambda *a: None)
    checked = spectral.claims(res)
    assert len(checked) == 3 * len(P["dims"])
    assert not claims.failures(checked), [(c.id, c.measured) for c in claims.failures(checked)]
    bad = claims.without_failing_counterfactual(checked)
    assert not bad, [(c.id, c.counterfactual, c.counterfactual_measured) for c in bad]
    assert "| 3 |" in spectral.table(res)
    with plt.style.context(figures.STYLE):
        fig = spectral.plot_spectrum(res)
        _assert_prints_legibly(fig)
        plt.close(fig)


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"d=2 is invalid"):
        spectral.depth1_coefficients(2, 10)
    with pytest.raises(ValueError, match=r"kmax=-1 is invalid"):
        spectral.gegenbauer_coefficients(spectral.depth1_kernel_values, 3, -1)


def test_bad_arguments_fail_with_clear_messages():
    assert spectral.depth1_kernel_values(1.0 + 1e-15) == spectral.depth1_kernel_values(1.0)  # rounding of a unit dot product
    with pytest.raises(ValueError, match=r"rho0=.*range.*2\.0.*allowed: correlations in \[-1, 1\]"):
        spectral.depth1_kernel_values(2.0)
    with pytest.raises(ValueError, match=r"rho0=.*non-finite"):
        spectral.depth1_kernel_values(np.array([0.1, math.nan]))
    with pytest.raises(ValueError, match=r"kernel=.*1 non-finite values"):
        spectral.gegenbauer_coefficients(lambda t: np.where(t == t.max(), math.nan, t), 3, 4)
    assert np.allclose(spectral.gegenbauer_coefficients(lambda t: 1.0, 3, 2), [1.0, 0.0, 0.0], atol=1e-14)
    with pytest.raises(ValueError, match=r"mu=.*1 non-finite entries"):
        spectral.eigenvalues_with_index(np.array([1.0, math.nan, 0.1]), 3)
    with pytest.raises(ValueError, match=r"tol=nan is invalid"):
        spectral.eigenvalues_with_index(np.array([1.0, 0.1]), 3, tol=math.nan)


def test_decay_exponent_extrapolates_the_next_order_terms():
    k = np.arange(121, dtype=float)
    mu = np.where(k > 0, np.maximum(k, 1) ** -10.0 * (1 + 3.0 / np.maximum(k, 1) + 5.0 / np.maximum(k, 1) ** 2), 1.0)
    dec = spectral.decay_exponent(mu, 60)
    assert abs(dec["exponent"] + 10) < 0.01 and abs(dec["plain"] + 10) > 0.02
    # the real coefficients in d = 10: the extrapolated exponent is within its tolerance of -10, d = 9 is not
    for d in (9, 10):
        dec = spectral.decay_exponent(spectral.depth1_coefficients(d, 80), 40)
        assert abs(dec["exponent"] + d) <= dec["tolerance"] < 0.2
    with pytest.raises(ValueError, match=r"mu=.*at least 4 even degrees"):
        spectral.decay_exponent(np.ones(5), 2)
