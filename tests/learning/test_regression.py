"""companion.learning.regression: kernel ridge and gradient-flow kernel regression, model selection, metrics."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg as sl

from companion.learning import regression as R

from companion.learning import selection as S


def rbf(a, b, scale=1.0):
    return np.exp(-((a[:, None, :] - b[None, :, :]) ** 2).sum(-1) / (2 * scale**2))


def relu_ntk(a, b):
    """NTK of a one-hidden-layer bias-free ReLU net on the sphere (depth-1 limit in shared/papers.md)."""
    r = np.clip(a @ b.T, -1.0, 1.0)
    k1 = (np.sqrt(1 - r**2) + (np.pi - np.arccos(r)) * r) / np.pi
    k0 = (np.pi - np.arccos(r)) / np.pi
    return (k1 + r * k0) / 2


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(1)
    n, m, d = 60, 25, 4
    x = rng.standard_normal((n + m, d))
    K = rbf(x, x, 1.5)
    y = np.sin(x[:, 0]) + 0.1 * rng.standard_normal(n + m)
    Y = np.eye(3)[rng.integers(0, 3, n + m)]
    return {"Ktr": K[:n, :n], "Kte": K[n:, :n], "y": y[:n], "yte": y[n:], "Y": Y[:n], "Yte": Y[n:], "x": x, "n": n}


def direct_ridge(Ktr, Kte, y, lam):
    n = Ktr.shape[0]
    return Kte @ np.linalg.solve(Ktr + n * lam * np.eye(n), y)


def direct_flow(Ktr, Kte, y, t):
    n = Ktr.shape[0]
    return Kte @ np.linalg.solve(Ktr, (np.eye(n) - sl.expm(-Ktr * t / n)) @ y)


def flow_van_loan(Ktr, Kte, y, t):
    """f_t = K_te (1/n) int_0^t exp(-K s/n) ds y, via the block matrix exponential; no inverse needed."""
    n = Ktr.shape[0]
    M = np.zeros((2 * n, 2 * n))
    M[:n, :n] = -Ktr / n
    M[:n, n:] = np.eye(n)
    integral = sl.expm(M * t)[:n, n:]
    return Kte @ (integral @ y) / n


@pytest.mark.parametrize("lam", [1e-4, 1e-2, 1.0])
@pytest.mark.parametrize("targets", ["y", "Y"])
def test_ridge_matches_direct_solve(problem, lam, targets):
    Ktr, Kte, y = problem["Ktr"], problem["Kte"], problem[targets]
    ref = direct_ridge(Ktr, Kte, y, lam)
    np.testing.assert_allclose(R.kernel_ridge(Ktr, y, Kte, lam), ref, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(R.KernelRegression(Ktr, y).predict(Kte, "ridge", [lam])[0], ref, rtol=1e-8, atol=1e-9)


@pytest.mark.parametrize("t", [0.5, 10.0, 300.0])
@pytest.mark.parametrize("targets", ["y", "Y"])
def test_flow_matches_matrix_exponential(problem, t, targets):
    Ktr, Kte, y = problem["Ktr"], problem["Kte"], problem[targets]
    got = R.gradient_flow(Ktr, y, Kte, t)
    np.testing.assert_allclose(got, flow_van_loan(Ktr, Kte, y, t), rtol=1e-8, atol=1e-10)
    if t >= 10:  # K^-1 (I - e^{-Kt/n}) loses digits for tiny t; the integral form does not
        np.testing.assert_allclose(got, direct_flow(Ktr, Kte, y, t), rtol=1e-6, atol=1e-7)


def test_flow_singular_kernel_is_finite_and_exact():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((30, 3))  # linear kernel of rank 3 on 25 points: 22 zero eigenvalues
    K = x @ x.T
    Ktr, Kte, y = K[:25, :25], K[25:, :25], rng.standard_normal(25)
    for t in (1.0, 50.0):
        got = R.gradient_flow(Ktr, y, Kte, t)
        assert np.all(np.isfinite(got))
        np.testing.assert_allclose(got, flow_van_loan(Ktr, Kte, y, t), rtol=1e-7, atol=1e-9)
    # filter at eigenvalue exactly 0 is t/n; small eigenvalues are continuous with it
    g = R.spectral_filter(np.array([0.0, 1e-300, 1e-12, 1.0]), "flow", [2.0], 4)[0]
    np.testing.assert_allclose(g, [0.5, 0.5, 0.5, -np.expm1(-0.5)], rtol=1e-12)


def test_limits(problem):
    Ktr, Kte, y, n = problem["Ktr"], problem["Kte"], problem["y"], problem["n"]
    K = Ktr + 0.5 * np.eye(n)  # well conditioned, so the interpolant is unambiguous
    model = R.KernelRegression(K, y)
    interp = Kte @ np.linalg.solve(K, y)
    preds = model.predict(Kte, "flow", [0.0, 1e-8, 1e5, np.inf])
    assert np.all(preds[0] == 0)
    np.testing.assert_allclose(preds[1], 1e-8 / n * Kte @ y, rtol=1e-6)  # first order in t
    np.testing.assert_allclose(preds[2], interp, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(preds[3], interp, rtol=1e-10, atol=1e-12)
    r = model.predict(Kte, "ridge", [0.0, np.inf])
    np.testing.assert_allclose(r[0], interp, rtol=1e-10, atol=1e-12)
    assert np.all(r[1] == 0)
    # training predictions interpolate at t = inf and vanish at t = 0
    tr = model.predict_train("flow", [0.0, np.inf])
    assert np.all(tr[0] == 0)
    np.testing.assert_allclose(tr[1], y, atol=1e-10)


def test_grid_equals_per_value_solves(problem):
    Ktr, Kte, Y = problem["Ktr"], problem["Kte"], problem["Y"]
    lams = np.logspace(-5, 1, 7)
    ts = np.logspace(-1, 4, 7)
    model = R.KernelRegression(Ktr, Y)
    pr, pf = model.predict(Kte, "ridge", lams), model.predict(Kte, "flow", ts)
    assert pr.shape == (7, Kte.shape[0], 3)
    for j in range(7):
        np.testing.assert_allclose(pr[j], R.kernel_ridge(Ktr, Y, Kte, lams[j]), rtol=1e-7, atol=1e-9)
        np.testing.assert_allclose(pf[j], flow_van_loan(Ktr, Kte, Y, ts[j]), rtol=1e-7, atol=1e-9)
    alpha = model.coefficients("flow", ts)
    np.testing.assert_allclose(Kte @ alpha[3], pf[3], rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(model.predict_train("ridge", lams)[2], Ktr @ model.coefficients("ridge", lams)[2],
                               rtol=1e-9, atol=1e-10)


def test_float32_close_to_float64(problem):
    Ktr, Kte, y = problem["Ktr"], problem["Kte"], problem["y"]
    ts = [1.0, 100.0]
    p64 = R.KernelRegression(Ktr, y).predict(Kte, "flow", ts)
    m32 = R.KernelRegression(Ktr, y, dtype="float32")
    p32 = m32.predict(Kte, "flow", ts)
    assert p32.dtype == np.float32 and m32.dtype == np.float32
    np.testing.assert_allclose(p32, p64, rtol=2e-3, atol=2e-4)
    assert R.KernelRegression(Ktr.astype(np.float32), y).dtype == np.float32
    assert R.kernel_ridge(Ktr, y, Kte, 1e-2, dtype="float32").dtype == np.float32


def test_jax_in_jax_out(problem):
    jnp = pytest.importorskip("jax.numpy")
    Ktr, Kte, y, Y = problem["Ktr"], problem["Kte"], problem["y"], problem["Y"]
    ts = [0.0, 3.0, np.inf]
    for tgt in (y, Y):
        got = R.KernelRegression(jnp.asarray(Ktr), jnp.asarray(tgt)).predict(jnp.asarray(Kte), "flow", ts)
        assert not isinstance(got, np.ndarray)
        np.testing.assert_allclose(np.asarray(got), R.KernelRegression(Ktr, tgt).predict(Kte, "flow", ts),
                                   rtol=1e-9, atol=1e-11)
    kr = R.kernel_ridge(jnp.asarray(Ktr), jnp.asarray(y), jnp.asarray(Kte), 1e-3)
    np.testing.assert_allclose(np.asarray(kr), direct_ridge(Ktr, Kte, y, 1e-3), rtol=1e-9)
    sel = S.select(jnp.asarray(Ktr), jnp.asarray(y), "ridge", [1e-4, 1e-1])
    assert sel.value == S.select(Ktr, y, "ridge", [1e-4, 1e-1]).value


def test_blocks(problem):
    x = problem["x"]
    xtr, xte = x[:60], x[60:]
    full = rbf(xtr, xtr)
    np.testing.assert_allclose(R.kernel_matrix(rbf, xtr, block_rows=7), full, rtol=0, atol=0)
    np.testing.assert_allclose(R.kernel_matrix(rbf, xte, xtr, block_rows=4), rbf(xte, xtr), rtol=0, atol=0)
    assert R.kernel_matrix(rbf, xtr, block_rows=7, dtype="float32").dtype == np.float32
    model = R.KernelRegression(full, problem["Y"])
    np.testing.assert_allclose(model.predict_kernel(rbf, xte, xtr, "flow", [1.0, 50.0], block_rows=6),
                               model.predict(rbf(xte, xtr), "flow", [1.0, 50.0]), rtol=1e-12, atol=1e-13)
    with pytest.raises(ValueError, match="shape"):
        R.kernel_matrix(lambda a, b: np.ones((len(a), 2)), xte, xtr)


def test_metrics():
    y = np.array([1.0, -1.0, 1.0, -1.0])
    pred = np.array([[0.5, -2.0, -0.1, -1.0], [1.0, -1.0, 1.0, -1.0]])
    np.testing.assert_allclose(S.accuracy(pred, y), [0.75, 1.0])
    np.testing.assert_allclose(S.mse(pred, y), [(0.25 + 1 + 1.21 + 0) / 4, 0.0])
    assert S.accuracy(np.zeros(4), y) == 0.0  # a zero prediction is never right
    Y = np.eye(3)[[0, 2, 1]]
    P = np.array([[0.9, 0.1, 0.0], [0.2, 0.3, 0.1], [0.0, 1.0, 0.0]])
    assert S.accuracy(P, Y) == pytest.approx(2 / 3)
    assert S.mse(P, Y) == pytest.approx(((P - Y) ** 2).sum(1).mean())
    with pytest.raises(ValueError, match="y="):
        S.accuracy(pred, np.array([1.0, 0.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match="one-hot"):
        S.accuracy(P, P)
    with pytest.raises(ValueError, match="pred="):
        S.mse(np.zeros(3), y)


def test_selection_picks_the_right_value():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((120, 3))
    K = rbf(x, x, 2.0)
    # pure noise targets: the best predictor is 0, i.e. the largest ridge / the shortest time
    noise = rng.standard_normal(120)
    assert S.select(K, noise, "ridge", [0.0, 1e-4, 1e3]).value == 1e3
    assert S.select(K, noise, "flow", [0.0, 1e2, np.inf]).value == 0.0
    # a noiseless smooth target: the least regularised fit wins
    smooth = K[:, :5] @ rng.standard_normal(5)
    assert S.select(K, smooth, "ridge", [1e-8, 1e-2, 1.0]).value == 1e-8
    assert S.select(K, smooth, "flow", [1.0, 1e2, 1e6]).value == 1e6


def test_selection_matches_manual_split(problem):
    Ktr, y = problem["Ktr"], problem["y"]
    lams = [1e-5, 1e-3, 1e-1, 10.0]
    sel = S.select(Ktr, y, "ridge", lams, val_fraction=0.25, seed=7)
    assert sel.metric == "mse" and sel.val_accuracy is None
    assert sel.n_val == 15 and sel.n_fit == 45
    assert len(np.intersect1d(sel.fit_idx, sel.val_idx)) == 0
    f, v = sel.fit_idx, sel.val_idx
    manual = [np.mean((R.kernel_ridge(Ktr[np.ix_(f, f)], y[f], Ktr[np.ix_(v, f)], lam) - y[v]) ** 2) for lam in lams]
    np.testing.assert_allclose(sel.val_mse, manual, rtol=1e-8)
    assert sel.value == lams[int(np.argmin(manual))]
    # deterministic in the seed
    assert np.array_equal(S.select(Ktr, y, "ridge", lams, val_fraction=0.25, seed=7).val_idx, v)


def test_selection_tie_breaks():
    vals = np.array([1.0, 2.0, 3.0])
    acc = np.array([0.9, 0.9, 0.8])
    assert S._choose(vals, np.array([0.5, 0.4, 0.1]), acc, "error") == 1  # accuracy first, then MSE
    assert S._choose(vals, np.array([0.4, 0.4, 0.1]), acc, "error") == 0  # then the earlier value
    assert S._choose(vals, np.array([0.4, 0.4, 0.1]), acc, "mse") == 2


def test_evaluate_on_real_mnist2():
    from companion import data

    try:
        ds = data.prepare("mnist2", n_train=300, n_test=200, seed=0, download=False)
    except data.DataNotFoundError:
        pytest.skip("offline MNIST not available")
    Ktr, Kte = relu_ntk(ds.x_train, ds.x_train), relu_ntk(ds.x_test, ds.x_train)
    ts = np.concatenate([[0.0], np.logspace(0, 6, 13), [np.inf]])
    ev = S.evaluate(Ktr, ds.y_train, Kte, ds.y_test, "flow", ts, keep_predictions=True)
    assert ev.test_accuracy.shape == ts.shape and ev.predictions.shape == (len(ts), 200)
    assert ev.test_accuracy[0] == 0.0 and ev.test_mse[0] == pytest.approx(1.0) == ev.baseline_mse
    assert ev.selected_test_accuracy > 0.9 and ev.oracle_test_accuracy >= ev.selected_test_accuracy
    assert ev.selected_test_accuracy == ev.test_accuracy[ev.selection.index]
    assert ev.train_mse[-1] < 1e-8  # interpolation
    s = ev.summary()
    assert s["n_train"] == 300 and s["selected"] == ev.selected and s["method"] == "flow"


def test_one_hot_evaluate(problem):
    ev = S.evaluate(problem["Ktr"], problem["Y"], problem["Kte"], problem["Yte"], "ridge", [1e-3, 1e-1])
    assert ev.selection.metric == "error" and ev.test_accuracy.shape == (2,)


def test_not_psd_warns():
    K = np.diag([1.0, 0.5, -0.1])
    with pytest.warns(RuntimeWarning, match="positive semi-definite"):
        model = R.KernelRegression(K, np.ones(3))
    assert np.all(model.eigenvalues >= 0)


def test_bad_arguments(problem):
    Ktr, Kte, y = problem["Ktr"], problem["Kte"], problem["y"]
    with pytest.raises(ValueError, match="K_train=.*square"):
        R.KernelRegression(Ktr[:, :5], y[:60])
    bad = Ktr.copy()
    bad[0, 5] += 1.0
    with pytest.raises(ValueError, match="non-symmetric"):
        R.KernelRegression(bad, y)
    nan = Ktr.copy()
    nan[3, 3] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        R.KernelRegression(nan, y)
    with pytest.raises(ValueError, match="y_train="):
        R.KernelRegression(Ktr, y[:10])
    with pytest.raises(ValueError, match="dtype="):
        R.KernelRegression(Ktr, y, dtype="float16")
    model = R.KernelRegression(Ktr, y)
    with pytest.raises(ValueError, match="K_test="):
        model.predict(Kte[:, :10], "ridge", [1.0])
    with pytest.raises(ValueError, match="method="):
        model.predict(Kte, "lasso", [1.0])
    for vals in ([-1.0], [np.nan], [], [[1.0]]):
        with pytest.raises(ValueError, match="values="):
            model.predict(Kte, "flow", vals)
    with pytest.raises(ValueError, match="ridge="):
        R.kernel_ridge(Ktr, y, Kte, -1.0)
    with pytest.raises(ValueError, match="not positive definite"):
        R.kernel_ridge(np.zeros((3, 3)), np.ones(3), np.ones((1, 3)), 0.0)
    with pytest.raises(ValueError, match="val_fraction="):
        S.select(Ktr, y, "ridge", [1.0], val_fraction=1.0)
    with pytest.raises(ValueError, match="metric="):
        S.select(Ktr, y, "ridge", [1.0], metric="error")  # y is not +-1
    with pytest.raises(ValueError, match="y_test="):
        S.evaluate(Ktr, y, Kte, y[:3], "ridge", [1.0])
    with pytest.raises(ValueError, match="block_rows="):
        model.predict_kernel(rbf, problem["x"][60:], problem["x"][:60], "flow", [1.0], block_rows=0)


@pytest.mark.parametrize("scale", [1e-20, 1e-12, 1e-4, 1.0, 1e3, 1e8])
def test_predictions_do_not_depend_on_the_kernels_units(problem, scale):
    """Scaling the kernel by ``c`` and the ridge by ``c`` (a stopping time by ``1/c``) is a change of units:
    predictions must not move. This catches any cut or floor that is absolute instead of relative to the
    largest eigenvalue (e.g. the pseudo-inverse keeping rounding-level eigenvalues of a large kernel, or
    dropping every eigenvalue of a small one). A rank-4 linear kernel makes the cut matter."""
    x = problem["x"]
    n = problem["n"]
    lin = x @ x.T  # rank d = 4: the other n - 4 eigenvalues are rounding noise, cut by the pseudo-inverse
    for K in (rbf(x, x, 1.5), lin):
        Ktr, Kte = K[:n, :n], K[n:, :n]
        ridges, times = [0.0, 1e-9, 1e-3, 1.0], [1.0, 1e3, 1e9, np.inf]
        base = R.KernelRegression(Ktr, problem["y"])
        scaled = R.KernelRegression(scale * Ktr, problem["y"])
        for method, grid, unit in (("ridge", ridges, scale), ("flow", times, 1.0 / scale)):
            want = base.predict(Kte, method, grid)
            got = scaled.predict(scale * Kte, method, [v * unit for v in grid])
            # rtol: the RBF interpolant (ridge 0, 1e-9) amplifies rounding by its condition number (~1e10);
            # an absolute cut gives errors of order 1 (zero predictions, or rounding noise blown up)
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6 * np.max(np.abs(want)),
                                       err_msg=f"{method}, kernel scaled by {scale:g}")
        one = R.kernel_ridge(scale * Ktr, problem["y"], scale * Kte, 1e-3 * scale)
        np.testing.assert_allclose(one, R.kernel_ridge(Ktr, problem["y"], Kte, 1e-3), rtol=1e-9)
