"""Chapter 2's checks (companion.chapters.kernel_checks) on a small set: the same functions the chapter runs."""

from __future__ import annotations

import numpy as np
import pytest

from companion.chapters import kernel_checks as kc
from companion.learning.fits import PowerLawFit


def test_closed_forms_and_psd_up_to_depth_1e4():
    out = kc.closed_form_check({"depths": [1, 7], "n": 6})
    assert out["diag"] <= 1e-13 and out["psd"] <= 1e-10 and out["sym"] == 0.0
    assert out["psd_flipped"] > 0.1  # the sign-flipped kernel is far from PSD
    assert kc.psd_violation(np.eye(3)) == -1.0 and kc.psd_violation(np.array([[0.0, 1.0], [1.0, 0.0]])) == 1.0


@pytest.mark.reference
def test_reference_rows_agree_with_neural_tangents():
    pytest.importorskip("neural_tangents")
    rows = kc.reference_check({"depths": [2], "n": 5}, log=lambda *_: None)
    assert len(rows) == 2 * len(kc.CONFIGS)
    assert max(max(r["off_nngp"], r["off_ntk"]) for r in rows) <= 1e-10
    assert max(r["diag_ours"] for r in rows) <= 1e-14
    # neural-tangents itself drifts on the diagonal (the reason the diagonal is checked in closed form)
    assert max(r["diag_nt"] for r in rows) > 1e-12


def _fit(slope, low, high):
    return PowerLawFit(slope, 0.0, 0.0, low, high, 0.95, "t-seeds", 3)


ROWS = [{"off_nngp": 1e-14, "off_ntk": 1e-13, "diag_nt": 1e-9, "off_by_one": 1e-2}]
CLOSED = {"diag": 3e-16, "psd": 0.0, "sym": 0.0, "n": 6, "psd_flipped": 0.7}
FW = {"fits": {"init": {("ffnet", None): _fit(-0.48, -0.6, -0.4)}, "other": {("resnet", 0.5): _fit(-0.02, -0.05, 0.01)}}}


def test_claims_pass_and_reject_their_counterfactuals():
    out = kc.claims(ROWS, CLOSED, FW)
    assert [c.id for c in out] == ["02-vs-nt", "02-diag-exact", "02-psd", "02-width-rate"]
    assert all(c.passed for c in out), [(c.id, c.measured) for c in out]
    assert all(c.counterfactual_passed is False for c in out), [(c.id, c.counterfactual_measured) for c in out]


def test_claims_fail_when_a_check_fails():
    rows = [{**ROWS[0], "off_ntk": 1e-7}]
    closed = {**CLOSED, "diag": 1e-11, "psd": 1e-12}
    fw = {"fits": {**FW["fits"], "init": {("ffnet", None): _fit(-0.1, -0.2, 0.0)}}}
    assert [c.passed for c in kc.claims(rows, closed, fw)] == [False, False, False, False]


def test_rate_distance_in_halfwidths():
    assert kc.rate_distance({1: _fit(-0.5, -0.6, -0.4)}) == 0.0
    assert abs(kc.rate_distance({1: _fit(-0.4, -0.5, -0.3), 2: _fit(-0.5, -0.7, -0.3)}) - 1.0) < 1e-12


def test_flipped_kernel_vanishes_on_the_diagonal():
    x = kc.inputs(5)
    K = kc.flipped_kernel(x)
    np.testing.assert_allclose(np.diag(K), 0.0, atol=1e-15)
    np.testing.assert_allclose(K, K.T)


def test_reference_figure_prints_legibly_at_the_default_depths():
    """The figure of the neural-tangents check at its printed size, on rows shaped like reference_check's."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from companion.publish import figures

    figures.use_style()
    rows = [{"arch": arch, "gamma": gamma, "trained": trained, "method": method, "depth": L,
             "off_nngp": 1e-15 * L, "off_ntk": 2e-15 * L, "diag_nt": 1e-16 * L**2, "diag_ours": 0.0}
            for arch, gamma, trained in kc.CONFIGS for method in ("recursion", "depthfree")
            for L in (1, 2, 5, 10, 20, 50, 100)]
    fig = kc.plot_reference(rows)
    printed = figures.legibility(fig)
    plt.close(fig)
    assert printed["scale"] == 1.0 and printed["min_font_pt"] >= figures.MIN_FONT_PT, printed
    assert printed["max_series"] == len(kc.CONFIGS)
