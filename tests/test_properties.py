"""Reliability (issue 8), beyond the kernels of ``test_reliability.py``: property-based checks that every
public function of the models, empirical NTK, training, fits, regression and helper modules rejects bad
arguments with a ValueError naming the argument, its value and the allowed range, and that valid
extreme inputs (zero rows, rank-deficient kernels) give finite results. Shapes are drawn from small fixed
sets so that JAX compiles each function only a few times."""

from __future__ import annotations

import math
import sys

import jax
import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from companion.networks import empirical
from companion.networks import models

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


# ----------------------------------------------------------------------------------------- training
from companion.networks import training  # noqa: E402


def psd(n: int, rank: int, scale: float, seed: int) -> np.ndarray:
    """A PSD ``(n, n)`` matrix of the given rank (0: the zero matrix) and scale."""
    g = np.random.default_rng(seed).standard_normal((n, max(rank, 1)))
    return scale * (g @ g.T) * (rank > 0)


@SETTINGS
@given(n=st.sampled_from([1, 3, 5]), rank=st.integers(0, 5), scale=st.sampled_from([1e-300, 1e-8, 1.0, 1e8, 1e150]),
       seed=st.integers(0, 2**16), lr=st.floats(0.01, 1.99), steps=st.sampled_from([0, 1, 7, 1000]))
def test_linearised_is_finite_for_singular_and_extreme_kernels(n, rank, scale, seed, lr, steps):
    """Any stable step (``eta lambda_max / n < 2``) gives finite predictions, also for rank-deficient, zero,
    tiny and huge kernels (the zero-eigenvalue limit ``t eta / n`` of the filter is used, never 0/0)."""
    K = psd(n, min(rank, n), scale, seed)
    Kt = psd(n + 2, min(rank, n), scale, seed + 1)[:2, :n]
    y = np.sign(np.arange(n) - 0.5)
    lam = np.linalg.eigvalsh(K)[-1]
    eta = training.step_size(K, n, lr) if lam > 0 else lr
    out = training.linearised(K, Kt, np.zeros(n), np.zeros(2), y, eta, steps)
    assert out["f_train"].shape == (steps + 1, n) and out["f_test"].shape == (steps + 1, 2)
    for v in out.values():
        assert np.all(np.isfinite(v))
    assert np.all(np.diff(out["loss"]) <= 1e-12 * out["loss"][0])  # a stable step never increases the loss


@SETTINGS
@given(eta=bad_nonneg_reals | st.just(0.0), steps=st.one_of(st.integers(max_value=-1), st.floats(), st.booleans()),
       which=st.sampled_from(["eta", "steps"]))
def test_linearised_rejects_bad_step_arguments(eta, steps, which):
    args = {"eta": 0.5, "steps": 3, which: eta if which == "eta" else steps}
    with raises_named(which):
        training.linearised(np.eye(2), np.zeros((0, 2)), np.zeros(2), np.zeros(0), np.ones(2), **args)


@pytest.mark.parametrize("bad,name", [
    ({"theta0": np.ones((2, 3))}, "theta0"), ({"theta0": np.array([[math.nan, 0], [0, 1]])}, "theta0"),
    ({"theta0_test": np.ones((1, 3))}, "theta0_test"), ({"f0": np.zeros(3)}, "f0"), ({"f0_test": np.zeros(2)}, "f0_test"),
    ({"y": np.ones(3)}, "y"), ({"y": ["a", "b"]}, "y"), ({"y": np.array([1.0, math.inf])}, "y"),
])
def test_linearised_rejects_bad_arrays(bad, name):
    args = {"theta0": np.eye(2), "theta0_test": np.ones((1, 2)), "f0": np.zeros(2), "f0_test": np.zeros(1),
            "y": np.ones(2), "eta": 0.5, "steps": 3, **bad}
    with raises_named(name):
        training.linearised(**args)


@SETTINGS
@given(a=matrix(2, 2), b=matrix(2, 2), c=st.floats(1e-100, 1e100))
def test_relative_change_is_scale_free_and_rejects_bad_kernels(a, b, c):
    if np.linalg.norm(a) == 0:
        with raises_named("theta0"):
            training.relative_change(a, b)
        return
    r = training.relative_change(a, b)
    assert math.isfinite(r) and r >= 0
    entries = np.abs(np.concatenate([a.ravel(), b.ravel()]))
    if entries[entries > 0].min(initial=1.0) > 1e-200:  # c * entry neither underflows nor loses digits
        assert math.isclose(training.relative_change(c * a, c * b), r, rel_tol=1e-12, abs_tol=1e-300)
    with raises_named("theta1"):
        training.relative_change(a, np.ones((3, 3)))
    with raises_named("theta1"):
        training.relative_change(a, np.full((2, 2), math.nan))


@SETTINGS
@given(n=st.one_of(st.integers(max_value=0), st.floats(), st.booleans()), lr=bad_nonneg_reals | st.just(0.0),
       which=st.sampled_from(["n", "lr_factor", "theta0"]))
def test_step_size_rejects_bad_arguments(n, lr, which):
    args = {"theta0": np.eye(2), "n": 2, "lr_factor": 1.0}
    args[which] = {"n": n, "lr_factor": lr, "theta0": np.ones((2, 3))}[which]
    with raises_named(which):
        training.step_size(**args)
    with raises_named("theta0"):
        training.step_size(np.zeros((2, 2)), 2)


@pytest.mark.parametrize("kw,name", [
    ({"y": ["a", "b", "c"]}, "y"), ({"y": np.ones(2)}, "y"), ({"x": np.ones((3, 4))}, "x"),
    ({"x_test": np.ones((2, 4))}, "x_test"), ({"x_test": np.ones((2, 3)), "y_test": np.ones(3)}, "y_test"),
    ({"steps": 0}, "steps"), ({"lr_factor": 2.0}, "lr_factor"), ({"tol": -1.0}, "tol"), ({"chunk": 1.5}, "chunk"),
])
def test_train_rejects_bad_arguments(kw, name):
    net = NETS["ffnet"]
    args = {"x": np.eye(3), "y": np.array([1.0, -1.0, 1.0]), **kw}
    with raises_named(name):
        training.train(net, net.init(jax.random.PRNGKey(0), 3), **args)


# --------------------------------------------------------------------------------------------- fits
from companion.learning import fits  # noqa: E402

positive = st.floats(1e-300, 1e300)


@SETTINGS
@given(prefactor=positive, slope=st.floats(-1e3, 1e3).filter(lambda s: s != 0 and abs(s) > 1e-300),
       threshold=positive)
@example(prefactor=1.786e18, slope=1.0, threshold=1e-300)  # answer 5.6e-319: subnormal, ~5 digits (was flaky)
@example(prefactor=1.786e18, slope=-1000.0, threshold=1e-300)  # subnormal ratio, normal answer 2.1: needs logs
def test_power_law_solve_never_raises_or_nans_on_valid_input(prefactor, slope, threshold):
    """The crossing ``(t / C)^(1 / s)`` is a float in ``[0, inf]`` for every valid input; ``inf`` when it
    lies beyond the float range (a nearly flat law), never an OverflowError or ZeroDivisionError."""
    x = fits.power_law_solve(prefactor, slope, threshold)
    assert x >= 0 and not math.isnan(x)
    if sys.float_info.min <= x < math.inf:
        # where it is a normal float it solves the equation (to the accuracy that the logs allow); a
        # subnormal answer holds fewer digits than the tolerance, so only its range is checked above
        assert math.isclose(math.log(prefactor) + slope * math.log(x), math.log(threshold),
                            rel_tol=1e-9, abs_tol=1e-9 * (1 + abs(slope * math.log(x))))


@SETTINGS
@given(value=bad_nonneg_reals | st.just(0.0), which=st.sampled_from(["prefactor", "threshold"]))
def test_power_law_solve_rejects_bad_arguments(value, which):
    args = {"prefactor": 1.0, "slope": -1.0, "threshold": 0.5, which: value}
    with raises_named(which):
        fits.power_law_solve(**args)


@SETTINGS
@given(x=st.one_of(st.lists(st.text("abxyz,;", min_size=1, max_size=2), min_size=2, max_size=3), st.lists(st.sampled_from([-1.0, 0.0, math.nan, math.inf]), min_size=2, max_size=3), st.just([1.0]), st.just([[1.0, 2.0]])),
       which=st.sampled_from(["x", "y"]))
def test_loglog_slope_rejects_bad_values(x, which):
    good = [1.0, 2.0, 4.0][: max(len(x), 2)]
    args = {"x": good, "y": good, which: x}
    with raises_named(which):
        fits.loglog_slope(**args)


@SETTINGS
@given(seed=st.one_of(st.integers(max_value=-1), st.floats(), st.booleans(), st.text(max_size=2)),
       level=st.sampled_from([0.95, 0.0, 1.0, math.nan]), method=st.sampled_from(["t", "bootstrap", "x"]))
def test_power_law_rejects_bad_options(seed, level, method):
    y = [[1.0, 0.5, 0.26], [1.1, 0.52, 0.24]]
    if level == 0.95 and method == "t":
        return  # the seed is not used by the t-interval
    with pytest.raises(ValueError, match=r"(seed|level|method)=.* is invalid; allowed: "):
        fits.power_law([1, 2, 4], y, level=level, method=method, seed=seed)


@settings(SETTINGS, max_examples=10)
@given(seed=st.integers(0, 2**32 - 1))
def test_power_law_bootstrap_is_deterministic_in_seed(seed):
    y = np.exp(-0.5 * np.log([[8, 16, 32, 64]] * 3)) * (1 + 0.1 * np.arange(3)[:, None] * np.array([1, -1, 1, -1]))
    a = fits.power_law([8, 16, 32, 64], y, method="bootstrap", n_boot=50, seed=seed)
    b = fits.power_law([8, 16, 32, 64], y, method="bootstrap", n_boot=50, seed=seed)
    assert a == b


# --------------------------------------------------------------------------------------- regression
from companion.learning import regression as R  # noqa: E402
from companion.learning import selection as S

GRID = {"ridge": [0.0, 1e-300, 1e-12, 1e-3, 1.0, 1e300, math.inf], "flow": [0.0, 1e-300, 1e-3, 1.0, 1e12, 1e300, math.inf]}


@SETTINGS
@given(n=st.sampled_from([2, 4, 6]), rank=st.integers(0, 6), scale=st.sampled_from([1e-300, 1e-8, 1.0, 1e8, 1e150]),
       seed=st.integers(0, 2**16), method=st.sampled_from(["ridge", "flow"]), dtype=st.sampled_from(["float64", "float32"]),
       one_hot=st.booleans())
def test_regression_is_finite_for_rank_deficient_and_extreme_kernels(n, rank, scale, seed, method, dtype, one_hot):
    """Every grid value (0, tiny, huge, inf) on a PSD kernel of any rank (0 included) and scale gives finite
    dual coefficients and predictions; the filter never divides by a zero eigenvalue."""
    if dtype == "float32":
        scale = min(max(scale, 1e-8), 1e8)  # float32's range
    G = psd(n + 3, min(rank, n), scale, seed)
    K, Kt = G[:n, :n], G[n:, :n]
    y = np.eye(3)[np.arange(n) % 3] if one_hot else np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
    model = R.KernelRegression(K, y, dtype=dtype)
    for out in (model.coefficients(method, GRID[method]), model.predict(Kt, method, GRID[method]),
                model.predict_train(method, GRID[method])):
        assert np.all(np.isfinite(np.asarray(out))), (method, out)
    zero = GRID[method].index(0.0 if method == "flow" else math.inf)
    assert np.all(np.asarray(model.predict(Kt, method, GRID[method]))[zero] == 0)  # no fit: the zero function
    if rank > 0 and dtype == "float64":
        pred = R.kernel_ridge(K, y, Kt, 1e-3 * scale)  # a ridge well above rounding: Cholesky succeeds
        assert np.all(np.isfinite(pred))


@SETTINGS
@given(values=st.one_of(st.lists(st.sampled_from([-1.0, math.nan, -math.inf]), min_size=1, max_size=3),
                        st.just([]), st.lists(st.text("abxyz,;", min_size=1, max_size=2), min_size=1, max_size=2), st.just([[1.0], [2.0]])),
       method=st.sampled_from(["ridge", "flow"]))
def test_regression_rejects_bad_grids(values, method):
    model = R.KernelRegression(np.eye(2), np.ones(2))
    with raises_named("values"):
        model.predict(np.ones((1, 2)), method, values)
    with raises_named("values"):
        R.spectral_filter(np.ones(2), method, values, 2)


@SETTINGS
@given(n=st.one_of(st.integers(max_value=0), st.floats(), st.booleans()),
       eig=st.sampled_from([np.array([]), np.ones((2, 2)), np.array([1.0, math.nan]), np.array([math.inf]), "a"]),
       rcond=st.sampled_from([-1.0, math.nan, "x"]), which=st.sampled_from(["n", "eigenvalues", "rcond"]))
def test_spectral_filter_rejects_bad_arguments(n, eig, rcond, which):
    args = {"eigenvalues": np.array([0.0, 1.0]), "n": 2, "rcond": None, which: {"n": n, "eigenvalues": eig, "rcond": rcond}[which]}
    with raises_named(which):
        R.spectral_filter(method="ridge", values=[0.0, 1.0], **args)


@SETTINGS
@given(bad=st.sampled_from([math.nan, math.inf, -math.inf]), i=st.integers(0, 3),
       which=st.sampled_from(["pred", "y"]), metric=st.sampled_from([S.mse, S.accuracy]))
def test_metrics_reject_non_finite_values(bad, i, which, metric):
    """A NaN prediction would otherwise count as a wrong sign (accuracy) or make the MSE NaN, quietly."""
    args = {"pred": np.array([0.5, -0.2, 1.0, -1.0]), "y": np.array([1.0, -1.0, 1.0, -1.0])}
    args[which] = args[which].copy()
    args[which][i] = bad
    with raises_named(which):
        metric(**args)


def test_kernel_matrix_rejects_wrong_block_shapes_and_empty_inputs():
    wrong = lambda a, b: np.ones((1, 1))  # noqa: E731 - broadcast into place before the fix
    for x2 in (None, np.ones((3, 2))):
        with raises_named("kernel"):
            R.kernel_matrix(wrong, np.ones((3, 2)), x2, block_rows=2)
    with raises_named("x1"):
        R.kernel_matrix(lambda a, b: a @ b.T, np.ones((0, 2)))
    with raises_named("ridge"):
        R.kernel_ridge(np.ones((2, 2)), np.ones(2), np.ones((1, 2)), 0.0)  # singular, no ridge


@settings(SETTINGS, max_examples=10)
@given(seed=st.integers(0, 2**31), method=st.sampled_from(["ridge", "flow"]))
def test_regression_selection_is_deterministic_in_seed(seed, method):
    """Same kernel, targets and seed: bit-identical validation split, choice and test scores."""
    x = np.random.default_rng(seed % 7).standard_normal((30, 4))
    G = np.exp(-np.sum((x[:, None] - x[None]) ** 2, -1))
    y = np.sign(x[:20, 0] + 1e-3)
    runs = [S.evaluate(G[:20, :20], y, G[20:, :20], np.sign(x[20:, 0] + 1e-3), method, GRID[method], seed=seed)
            for _ in range(2)]
    a, b = runs
    assert np.array_equal(a.selection.val_idx, b.selection.val_idx) and a.selected == b.selected
    assert a.test_mse.tobytes() == b.test_mse.tobytes() and a.summary() == b.summary()


# ------------------------------------------------------------------------------------------ kernels
from companion import kernels as K  # noqa: E402
from companion.kernels.recursion import Spec  # noqa: E402


def _kern(arch, x1, x2=None, dtype="float64", depth=3, trained="hidden"):
    if arch == "ffnet":
        return K.ffnet_kernels(x1, x2, depth=depth, dtype=dtype)
    return K.resnet_kernels(x1, x2, depth=depth, alpha=depth ** -0.5, trained=trained, dtype=dtype)


@SETTINGS
@given(log2=st.integers(-1100, 1022), arch=st.sampled_from(["ffnet", "resnet"]), dtype=st.sampled_from(["float64", "float32"]),
       cross=st.booleans())
def test_huge_and_tiny_inputs_give_finite_kernels_or_a_named_error(log2, arch, dtype, cross):
    """The kernels are homogeneous of degree 2 in the input scale: past the dtype's range the result would
    be inf; that is a named error (x1 or x2), never an inf entry. Tiny inputs underflow towards 0, never NaN."""
    base = np.array([[1.0, 0.5, 0.0], [0.0, 1.0, -0.25], [0.0, 0.0, 0.0]])
    x = np.ldexp(base, log2)  # exact power-of-two scaling (subnormal or 0 at the bottom, finite at the top)
    x2 = base if cross else None
    try:
        k = _kern(arch, x, x2, dtype)
    except ValueError as err:
        assert "is invalid; allowed: " in str(err) and str(err).startswith("x1=")
        assert 2 * log2 + 4 > math.log2(np.finfo(dtype).max) - 6  # only near the top of the range
        return
    for m in (np.asarray(k.nngp), np.asarray(k.ntk)):
        assert np.all(np.isfinite(m))
        assert np.all(m[2] == 0) and np.all(m[:, 2] == 0) if not cross else np.all(m[2] == 0)


@SETTINGS
@given(x1=matrix(3, 2), x2=matrix(2, 2), i=st.integers(0, 1), arch=st.sampled_from(["ffnet", "resnet"]),
       trained=st.sampled_from(["hidden", "all"]), dtype=st.sampled_from(["float64", "float32"]))
def test_zero_row_of_x2_gives_a_zero_kernel_column(x1, x2, i, arch, trained, dtype):
    x2[i] = 0.0
    k = _kern(arch, x1, x2, dtype, depth=4, trained=trained)
    for m in (np.asarray(k.nngp), np.asarray(k.ntk)):
        assert m.shape == (3, 2) and np.all(np.isfinite(m)) and np.all(m[:, i] == 0.0)


def test_kernel_helpers_reject_bad_arguments():
    with raises_named("spec"):
        K.choose_method("ffnet", 3, 3)
    with raises_named("n1"):
        K.choose_method(Spec("ffnet", 3), 0, 3)
    with raises_named("K"):
        K.effective_rank(np.zeros((3, 3)))  # was 1.0 (entropy) and NaN (participation)
    with raises_named("K"):
        K.degeneracy_report(np.zeros((3, 3)))
    with raises_named("normalized"):
        K.effective_rank(np.eye(3), normalized="no")
    assert K.effective_rank(np.eye(3)) == pytest.approx(3.0)


# ------------------------------------------------------------------------ chapter helper modules
from companion.networks import width
from companion.chapters import kernel_checks


@SETTINGS
@given(depth=bad_counts, gamma=st.sampled_from([0.0, 0.5, 1.0]), arch=st.sampled_from(["ffnet", "resnet"]))
def test_finite_width_network_rejects_bad_depth(depth, gamma, arch):
    """``depth ** -gamma`` used to run before the depth check: depth 0 raised ZeroDivisionError."""
    with raises_named("depth"):
        width.network(arch, depth, 8, "relu", None if arch == "ffnet" else gamma)
    with raises_named("depth"):
        width.analytic_ntk(arch, depth, gamma, np.eye(3))


def test_finite_width_helpers_reject_bad_arguments():
    width.network("ffnet", 1, 8)  # cached: an unchecked depth=True (== 1) would have returned it
    with raises_named("depth"):
        width.network("ffnet", True, 8)
    with raises_named("activation"):
        width.network("ffnet", 1, 8, ["relu"])  # was TypeError: unhashable type
    with raises_named("arch"):
        width.analytic_ntk("mlp", 2, None, np.eye(3))
    with raises_named("gamma"):
        width.analytic_ntk("resnet", 2, None, np.eye(3))  # was TypeError: bad operand for unary -
    with raises_named("gamma"):
        width.label("resnet", "relu", None)
    with raises_named("arch"):
        width.label("mlp", "relu", None)


@SETTINGS
@given(n=bad_counts, d=bad_counts, seed=st.one_of(st.integers(max_value=-1), st.floats(), st.booleans()),
       which=st.sampled_from(["n", "d", "seed"]))
def test_data_helpers_reject_bad_sizes_and_seeds(n, d, seed, which):
    args = {"n": 3, "d": 4, "seed": 0, which: {"n": n, "d": d, "seed": seed}[which]}
    with raises_named(which):
        kernel_checks.inputs(**args)  # n = 0 gave an empty array, n = -1 a numpy error
    if which == "d" and d == 1:
        return  # sphere_data needs d >= 2, inputs d >= 1
    with raises_named(which):
        width.sphere_data(**args)


def test_signal_trajectory_overflow_is_named():
    with raises_named("alpha"):
        K.nngp_trajectory("resnet", 2000, 0.5, 1.0)  # q_L = 2^2000 was inf
    traj = K.nngp_trajectory("resnet", 1000, -1.0, 1.0)
    assert np.all(np.isfinite(traj["q"])) and np.all(np.isfinite(traj["rho"]))


@settings(SETTINGS, max_examples=5)
@given(seed=st.integers(0, 2**16), arch=st.sampled_from(["ffnet", "resnet"]))
def test_sweep_points_are_bit_reproducible(seed, arch):
    """Same parameters and seed: the same data bytes and the same sweep result, to the last bit."""
    a, b = width.sphere_data(5, 4, seed, 3), width.sphere_data(5, 4, seed, 3)
    assert all(a[k].tobytes() == b[k].tobytes() for k in a)
    point = {"arch": arch, "gamma": None if arch == "ffnet" else 0.5, "depth": 2, "width": 16, "n": 4, "d": 4, "seed": seed}
    assert width.init_point(point) == width.init_point(dict(point))


# ------------------------------------------------------------------------- caches, sweeps, downloads
import json  # noqa: E402
import warnings  # noqa: E402

from companion.data import download as _download
from companion.util import storage as io
from companion.util import sweep  # noqa: E402

damage = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 10**6), st.integers(1, 255)),
    st.tuples(st.just("truncate"), st.integers(0, 10**6), st.just(0)),
    st.tuples(st.just("append"), st.integers(1, 64), st.integers(0, 255)),
)


def _damage(path, how) -> bool:
    """Apply one fault to ``path``; False if it left the bytes unchanged."""
    kind, a, b = how
    raw = path.read_bytes()
    if kind == "flip":
        i = a % len(raw)
        new = raw[:i] + bytes([raw[i] ^ b]) + raw[i + 1:]
    elif kind == "truncate":
        new = raw[: a % len(raw)]
    else:
        new = raw + bytes([b]) * a
    path.write_bytes(new)
    return new != raw


@SETTINGS
@given(how=damage, target=st.sampled_from(["payload", "manifest"]))
def test_a_damaged_cache_entry_is_never_returned(tmp_path_factory, how, target):
    """Any flip, truncation or appended garbage in the payload or the manifest: ``get`` returns the exact
    arrays that were stored, or None with a warning (and the entry is gone), never different data."""
    cache = io.Cache(tmp_path_factory.mktemp("cache"))
    inputs = {"x": np.arange(3.0), "depth": 7}
    stored = {"K": np.linspace(0, 1, 50).reshape(5, 10), "ok": np.array(True)}
    cache.put(inputs, stored)
    key = cache.key(inputs)
    path = next(cache.root.glob(f"{key}-*")) if target == "payload" else cache.root / f"{key}.json"
    changed = _damage(path, how)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = cache.get(inputs)
    if got is None:
        assert changed and any(issubclass(w.category, io.CorruptCacheWarning) for w in caught)
        assert not list(cache.root.glob(f"{key}*")), "the corrupt entry is deleted"
        again = cache.get_or_compute(inputs, lambda: stored)  # recomputed and stored afresh
        assert cache.get(inputs) is not None and np.array_equal(again["K"], stored["K"])
    else:  # e.g. whitespace appended to the JSON manifest: still the same entry
        assert set(got) == set(stored) and all(np.array_equal(got[k], stored[k]) for k in stored)


def test_cache_manifest_cannot_point_elsewhere_and_interrupted_puts_leave_no_entry(tmp_path, monkeypatch):
    cache = io.Cache(tmp_path / "c")
    (tmp_path / "secret").write_bytes(b"not yours")
    cache.put_bytes("k", b"payload")
    manifest = cache.root / f"{cache.key('k')}.json"
    meta = json.loads(manifest.read_text())
    for name in ("../secret", cache.key("other") + "-x.bin"):
        manifest.write_text(json.dumps({**meta, "file": name}))
        with pytest.warns(io.CorruptCacheWarning):
            assert cache.get_bytes("k") is None
        cache.put_bytes("k", b"payload")
    # Killed between payload and manifest: no entry (the payload is an orphan), and the next put cleans up.
    real = io.atomic_write_text

    def killed(path, text, encoding="utf-8"):
        raise KeyboardInterrupt

    monkeypatch.setattr(io, "atomic_write_text", killed)
    with pytest.raises(KeyboardInterrupt):
        cache.put_bytes("new", b"half-finished")
    monkeypatch.setattr(io, "atomic_write_text", real)
    assert cache.get_bytes("new") is None and len(list(cache.root.glob(f"{cache.key('new')}-*"))) == 1
    cache.put_bytes("new", b"complete")
    assert cache.get_bytes("new") == b"complete"
    assert [p.name for p in cache.root.glob(f"{cache.key('new')}*")] != [] and not list(cache.root.glob(".*.tmp"))


def test_cache_and_atomic_writes_reject_bad_arguments(tmp_path):
    cache = io.Cache(tmp_path)
    with raises_named("ext"):
        cache.put_bytes("k", b"x", ext="../npz")
    with raises_named("data"):
        cache.put_bytes("k", "text")
    with raises_named(r"arrays\['a'\]"):
        cache.put("k", {"a": np.array([object()])})  # pickled: get() could never read it back
    with raises_named("arrays"):
        cache.put("k", {})
    with raises_named(r"compute\(\)"):
        cache.get_or_compute("k2", lambda: 5)
    with raises_named("arrays"):
        io.atomic_savez(tmp_path / "f")
    with raises_named("data"):
        io.atomic_write_bytes(tmp_path / "f", "text")
    with raises_named("text"):
        io.atomic_write_text(tmp_path / "f", b"bytes")
    assert not [p for p in tmp_path.iterdir()]


@settings(SETTINGS, max_examples=15)
@given(how=damage, which=st.integers(0, 3))
def test_a_damaged_sweep_entry_is_recomputed_or_verified(tmp_path_factory, how, which):
    out = tmp_path_factory.mktemp("sweep")
    grid = [{"i": i} for i in range(4)]
    fn = lambda p: {"v": p["i"] ** 2, "vec": [p["i"], 0.5]}  # noqa: E731
    first = sweep.run_sweep("s", grid, fn, out, progress=False)
    path = out / "s" / f"{sweep.point_key('s', '1', grid[which])}.json"
    _damage(path, how)
    calls = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sweep.SweepWarning)
        again = sweep.run_sweep("s", grid, lambda p: calls.append(p) or fn(p), out, progress=False)
    strip = lambda rs: [{k: v for k, v in r.items() if not k.startswith("_")} for r in rs]  # noqa: E731
    assert strip(again) == strip(first)
    assert calls in ([], [grid[which]])


@SETTINGS
@given(grid=st.sampled_from([5, "ab", {"i": 1}, None]), fn=st.sampled_from([None, 3]))
def test_run_sweep_rejects_bad_grid_and_fn(tmp_path_factory, grid, fn):
    out = tmp_path_factory.mktemp("bad")
    with raises_named("grid"):
        sweep.run_sweep("s", grid, lambda p: {}, out, progress=False)  # was TypeError, or one point per char
    with raises_named("fn"):
        sweep.run_sweep("s", [{"i": 1}], fn, out, progress=False)
    with raises_named("point"):
        sweep.point_key("s", "1", 5)


def test_download_rejects_bad_arguments(tmp_path):
    ok = "0" * 64
    with raises_named("urls"):  # a single string was tried one character at a time
        _download.download("http://example.invalid/f", tmp_path / "f", size=1, sha256=ok, fetch=lambda u: [b"x"],
                           progress=False)
    with raises_named("size"):
        _download.download(["u"], tmp_path / "f", size=-1, sha256=ok, fetch=lambda u: [b"x"], progress=False)
    with raises_named("sha256"):
        _download.download(["u"], tmp_path / "f", size=1, sha256="xyz", fetch=lambda u: [b"x"], progress=False)
    (tmp_path / "g").write_bytes(b"x")
    with raises_named("sha256"):
        _download.verify_file(tmp_path / "g", size=1, sha256=ok.upper() + "0")
    assert not (tmp_path / "f").exists()


# ------------------------------------------------------------------------------------------- claims
from companion.publish import claims as C  # noqa: E402


@SETTINGS
@given(measured=st.one_of(st.floats(allow_nan=True), st.integers(-10, 10)), target=st.floats(-10, 10), tol=st.floats(0, 10))
def test_claims_fail_on_non_finite_measurements_and_never_raise_on_numbers(measured, target, tol):
    for c in (C.within("00-x", "c", "s", measured, target, tol), C.at_most("00-x", "c", "s", measured, target),
              C.at_least("00-x", "c", "s", measured, target)):
        assert isinstance(c.passed, bool)
        if not math.isfinite(measured):
            assert not c.passed  # NaN or inf never passes a claim


@pytest.mark.parametrize("call,name", [
    (lambda: C.within("00-x", "c", "s", "0.1", 0.0, 1.0), "measured"),
    (lambda: C.within("00-x", "c", "s", 0.1, 0.0, -1.0), "tol"),
    (lambda: C.within("00-x", "c", "s", 0.1, math.nan, 1.0), "target"),
    (lambda: C.at_most("00-x", "c", "s", 0.1, math.nan), "bound"),
    (lambda: C.at_least("", "c", "s", 0.1, 0.0), "id"),
    (lambda: C.write([], "../01_models"), "chapter"),
])
def test_claims_reject_bad_arguments(call, name):
    with raises_named(name):
        call()


# ------------------------------------------------------------------------------------- determinism
from companion import data  # noqa: E402


def _fake_mnist() -> data.RawDataset:
    rng = np.random.default_rng(0)
    labels = np.tile(np.arange(10), 6)
    return data.RawDataset("mnist", rng.integers(0, 256, (60, 28, 28), dtype=np.uint8), labels,
                           rng.integers(0, 256, (30, 28, 28), dtype=np.uint8), labels[:30],
                           data.class_names("mnist"), "synthetic test images", "offline", "0" * 64, False)


FAKE = _fake_mnist()


@SETTINGS
@given(seed=st.integers(0, 2**63), n_train=st.integers(2, 12), n_test=st.integers(2, 6), balanced=st.booleans(),
       center=st.booleans(), classes=st.sampled_from([(3, 5), (0, 1, 2), None]))
def test_data_subsampling_is_bit_reproducible_in_seed(seed, n_train, n_test, balanced, center, classes):
    kw = dict(classes=classes, n_train=n_train, n_test=n_test, seed=seed, balanced=balanced, center=center, raw=FAKE)
    a, b = data.prepare("mnist", **kw), data.prepare("mnist", **kw)
    assert a.fingerprint() == b.fingerprint() and np.array_equal(a.index_train, b.index_train)
    assert np.all(np.isfinite(a.x_train)) and np.allclose(np.linalg.norm(a.x_train, axis=1), 1.0)


def test_training_run_is_bit_reproducible():
    """Two identical gradient-descent runs (same network, seed, data): identical losses, kernels, outputs."""
    net = models.resnet(2, 8, 0.5)
    x = width.sphere_data(4, 3, 0)
    runs = [training.train(net, net.init(jax.random.PRNGKey(1), 3), x["x"], x["y"], steps=30, chunk=10, tol=0.0)
            for _ in range(2)]
    for name in ("loss", "loss_lin", "f_train", "theta0", "thetaT"):
        assert getattr(runs[0], name).tobytes() == getattr(runs[1], name).tobytes(), name
