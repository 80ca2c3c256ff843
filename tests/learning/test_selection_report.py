"""companion.learning.selection.report: several methods and target centrings from two eigendecompositions,
the same split and choice as select(), and the oracle, interpolant and trivial predictor beside the choice."""

from __future__ import annotations

import math

import numpy as np
import pytest

from companion.learning import selection as S
from companion.learning.regression import KernelRegression

RIDGES = [0.0, 1e-4, 1e-2, 1e-1, 1.0]
TIMES = [1.0, 10.0, 100.0, math.inf]


def _problem(seed=0, n=50, m=40, shift=0.0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n + m, 4))
    y = np.where(x[:, 0] + 0.7 * rng.standard_normal(n + m) + shift > 0, 1.0, -1.0)
    K = np.exp(-0.5 * ((x[:, None, :] - x[None, :n, :]) ** 2).sum(-1) / 4.0)
    return 0.5 * (K[:n] + K[:n].T), K[n:], y[:n], y[n:]


def test_report_matches_select_and_evaluate():
    Ktr, Kte, ytr, yte = _problem()
    reps = S.report(Ktr, ytr, Kte, yte, {"ridge": RIDGES, "flow": TIMES}, center=(False,), seed=3)
    assert [r.method for r in reps] == ["ridge", "flow"]
    for rep, values in zip(reps, (RIDGES, TIMES)):
        ev = S.evaluate(Ktr, ytr, Kte, yte, rep.method, values, seed=3)
        assert rep.index == ev.selection.index and rep.value == ev.selected
        assert (rep.n_fit, rep.n_val) == (ev.selection.n_fit, ev.selection.n_val)
        assert rep.selected_test_mse == pytest.approx(ev.selected_test_mse, rel=1e-10)
        assert rep.selected_test_accuracy == ev.selected_test_accuracy
        np.testing.assert_allclose(rep.test_mse, ev.test_mse, rtol=1e-10)
        assert rep.oracle_value == ev.oracle_value
        # the reported score is the one at the validation choice, never the best test value
        assert rep.selected_test_mse == rep.test_mse[rep.index]
        assert rep.oracle_test_mse <= rep.selected_test_mse + 1e-15


def test_interpolant_and_trivial_predictor():
    Ktr, Kte, ytr, yte = _problem(shift=0.8)
    rep = S.report(Ktr, ytr, Kte, yte, {"ridge": RIDGES}, center=(False,))[0]
    pred0 = np.asarray(KernelRegression(Ktr, ytr).predict(Kte, "ridge", [0.0]))[0]
    assert rep.interpolant_test_mse == pytest.approx(S.mse(pred0, yte))
    mean = ytr.mean()
    assert rep.trivial_test_mse == pytest.approx(np.mean((mean - yte) ** 2))
    assert rep.trivial_test_accuracy == np.mean(yte == np.sign(mean))
    assert rep.r2 == pytest.approx(1 - rep.selected_test_mse / rep.trivial_test_mse)
    no_interp = S.report(Ktr, ytr, Kte, yte, {"ridge": [1e-2, 1.0]})[0]
    assert math.isnan(no_interp.interpolant_test_mse)


def test_trivial_accuracy_with_exactly_balanced_classes_is_a_coin_flip():
    Ktr, Kte, ytr, yte = _problem(n=40)
    ytr = np.array([1.0, -1.0] * 20)
    rep = S.report(Ktr, ytr, Kte, yte, {"ridge": RIDGES})[0]
    assert rep.trivial_test_accuracy == pytest.approx(0.5)  # (fraction of +1) / 2 + (fraction of -1) / 2
    onehot = np.eye(3)[np.arange(39) % 3]
    rep = S.report(Ktr[:39, :39], onehot, Kte[:, :39], np.eye(3)[np.arange(40) % 3], {"ridge": RIDGES})[0]
    assert rep.trivial_test_accuracy == pytest.approx(1 / 3)


def test_centred_targets_add_the_training_mean_back():
    Ktr, Kte, ytr, yte = _problem(shift=0.8)
    raw, cen = S.report(Ktr, ytr, Kte, yte, {"ridge": [1e3]}, center=(False, True))
    mean = ytr.mean()
    expect = mean + np.asarray(KernelRegression(Ktr, ytr - mean).predict(Kte, "ridge", [1e3]))[0]
    np.testing.assert_allclose(cen.predictions, expect, atol=1e-12)
    assert cen.centered and not raw.centered
    # a huge ridge: raw predictions shrink to 0, centred ones to the training mean (R^2 -> 0, not below)
    assert abs(cen.r2) < 0.01 and raw.r2 < cen.r2


def test_validation_cap_is_the_same_as_select():
    Ktr, Kte, ytr, yte = _problem(n=3)
    rep = S.report(Ktr, ytr, Kte, yte, {"ridge": RIDGES}, val_fraction=0.9)[0]
    sel = S.select(Ktr, ytr, "ridge", RIDGES, val_fraction=0.9)
    assert (rep.n_fit, rep.n_val) == (sel.n_fit, sel.n_val) == (1, 2)


def test_report_rejects_bad_arguments():
    Ktr, Kte, ytr, yte = _problem()
    with pytest.raises(ValueError, match="grids="):
        S.report(Ktr, ytr, Kte, yte, {})
    with pytest.raises(ValueError, match="method='lasso' is invalid"):
        S.report(Ktr, ytr, Kte, yte, {"lasso": [1.0]})
    with pytest.raises(ValueError, match="center="):
        S.report(Ktr, ytr, Kte, yte, {"ridge": RIDGES}, center=())
    with pytest.raises(ValueError, match="y_test="):
        S.report(Ktr, ytr, Kte, yte[:-1], {"ridge": RIDGES})
    with pytest.raises(ValueError, match="K_test="):
        S.report(Ktr, ytr, Kte[:, :-1], yte, {"ridge": RIDGES})
