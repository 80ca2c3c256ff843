"""Model selection for kernel regression, and the metrics it scores with.

:func:`select` chooses a ridge or a stopping time on a validation split of the training set;
:func:`evaluate` refits on the whole training set at the chosen value and scores the test set, reporting
alongside what the oracle (best value on the test set), the interpolant and the trivial predictor score, so
that a table can show them without the test set ever choosing a value. :func:`report` does the same for
several methods and for raw and centred targets (an intercept) from two eigendecompositions in all, and
reports the oracle, the interpolant and the trivial predictor beside the validation choice. :func:`mse` and
:func:`accuracy` are the metrics.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from companion.util import validate as check
# The array checks are the regression module's own (same package): one definition of a valid kernel and target.
from companion.learning.regression import (
    KernelRegression,
    _as_float,
    _check_cross,
    _check_grid,
    _check_kernel,
    _check_targets,
    _dtype,
    _finite,
    _is_jax,
    _xp,
)


# ---------------------------------------------------------------------------------------------------
# metrics
def _np(name: str, a: Any) -> np.ndarray:
    try:
        out = np.asarray(a, dtype=float)
    except (TypeError, ValueError):
        raise check.fail(name, a, "a real numeric array") from None
    _finite(name, out)
    return out


def mse(pred: Any, y: Any) -> np.ndarray | float:
    """Mean over samples of the squared error ``|f(x) - y|^2`` (summed over outputs for one-hot).

    ``pred`` may carry a leading grid axis (``(J, m)`` / ``(J, m, C)``); the result then has shape ``(J,)``.
    """
    p, t = _np("pred", pred), _np("y", y)
    if p.shape[-t.ndim:] != t.shape:
        raise check.fail("pred", f"array of shape {p.shape}", f"shape {t.shape} or (J, *{t.shape}) to match y")
    err = (p - t) ** 2
    if t.ndim == 2:
        err = err.sum(-1)
    out = err.mean(-1)
    return float(out) if out.ndim == 0 else out


def accuracy(pred: Any, y: Any) -> np.ndarray | float:
    """Classification accuracy: sign for +-1 targets ``(m,)``, argmax for one-hot targets ``(m, C)``.

    A prediction of exactly 0 for +-1 targets counts as wrong. Leading grid axis as in :func:`mse`.
    """
    p, t = _np("pred", pred), _np("y", y)
    if p.shape[-t.ndim:] != t.shape:
        raise check.fail("pred", f"array of shape {p.shape}", f"shape {t.shape} or (J, *{t.shape}) to match y")
    if t.ndim == 1:
        if not np.all(np.abs(t) == 1):
            raise check.fail("y", "targets not all +-1", "+-1 labels (shape (m,)) or one-hot rows (shape (m, C))")
        out = (np.sign(p) == t).mean(-1)
    else:
        if not (np.all((t == 0) | (t == 1)) and np.all(t.sum(-1) == 1)):
            raise check.fail("y", "rows that are not one-hot", "one-hot rows (shape (m, C))")
        out = (np.argmax(p, -1) == np.argmax(t, -1)).mean(-1)
    return float(out) if out.ndim == 0 else out


def _is_classification(y: np.ndarray) -> bool:
    if y.ndim == 1:
        return bool(np.all(np.abs(y) == 1))
    return bool(np.all((y == 0) | (y == 1)) and np.all(y.sum(-1) == 1))


# ---------------------------------------------------------------------------------------------------
# model selection
@dataclass(frozen=True)
class Selection:
    """Result of :func:`select`.

    ``value``: the chosen ridge / stopping time; ``index``: its position in ``values``; ``val_mse`` and
    ``val_accuracy`` (None for regression targets): validation scores for every grid value;
    ``metric``: what was minimised (``"error"`` = 1 - accuracy, or ``"mse"``); ``fit_idx``/``val_idx``:
    the split of the training set.
    """

    method: str
    value: float
    index: int
    values: np.ndarray
    val_mse: np.ndarray
    val_accuracy: np.ndarray | None
    metric: str
    n_fit: int
    n_val: int
    seed: int
    fit_idx: np.ndarray = field(repr=False)
    val_idx: np.ndarray = field(repr=False)


def _choose(values: np.ndarray, mse_v: np.ndarray, acc_v: np.ndarray | None, metric: str) -> int:
    if metric == "error":
        err = 1.0 - acc_v
        best = np.flatnonzero(err == err.min())
        return int(best[np.argmin(mse_v[best])])  # argmin returns the first (earliest) on ties
    return int(np.argmin(mse_v))


def _metric(metric: str, y: np.ndarray) -> str:
    check.choice("metric", metric, ("auto", "error", "mse"))
    cls = _is_classification(y)
    if metric == "auto":
        return "error" if cls else "mse"
    if metric == "error" and not cls:
        raise check.fail("metric", metric, "'mse' or 'auto' for targets that are not +-1 labels or one-hot rows")
    return metric


def select(
    K_train: Any,
    y_train: Any,
    method: str,
    values: Sequence[float],
    *,
    val_fraction: float = 0.2,
    seed: int = 0,
    metric: str = "auto",
    dtype: Any = None,
) -> Selection:
    """Choose a ridge / stopping time from ``values`` on a random validation split of the training set.

    The training set is permuted with ``numpy.random.default_rng(seed)``; the last ``round(val_fraction n)``
    points (at least 1, at most n - 1) are held out, the model is fitted on the rest for every value
    (one eigendecomposition) and scored on the held-out points. ``metric="auto"`` minimises the
    validation error rate (1 - accuracy) for classification targets (ties broken by validation MSE)
    and the MSE otherwise.
    """
    vals = _check_grid(method, values)
    val_fraction = check.real("val_fraction", val_fraction, minimum=0.0, maximum=1.0, min_inclusive=False,
                              max_inclusive=False)
    seed = check.integer("seed", seed, minimum=0)
    dt = _dtype(dtype)
    K = _check_kernel("K_train", K_train, dt)
    n = K.shape[0]
    y = _check_targets("y_train", y_train, n, K.dtype, _xp(K))
    if n < 2:
        raise check.fail("K_train", f"{n} training point", "at least 2 points to split off a validation set")
    yn = np.asarray(y)
    metric = _metric(metric, yn)
    n_val = min(max(1, int(round(val_fraction * n))), n - 1)
    perm = np.random.default_rng(seed).permutation(n)
    fit_idx, val_idx = np.sort(perm[: n - n_val]), np.sort(perm[n - n_val:])
    model = KernelRegression(K[np.ix_(fit_idx, fit_idx)] if not _is_jax(K) else K[fit_idx][:, fit_idx], y[fit_idx])
    pred = np.asarray(model.predict(K[np.ix_(val_idx, fit_idx)] if not _is_jax(K) else K[val_idx][:, fit_idx],
                                    method, vals))
    yv = yn[val_idx]
    mse_v = np.asarray(mse(pred, yv), dtype=float).reshape(-1)
    acc_v = np.asarray(accuracy(pred, yv), dtype=float).reshape(-1) if _is_classification(yn) else None
    idx = _choose(vals, mse_v, acc_v, metric)
    return Selection(method, float(vals[idx]), idx, vals, mse_v, acc_v, metric, n - n_val, n_val, seed, fit_idx, val_idx)


@dataclass(frozen=True)
class Evaluation:
    """Result of :func:`evaluate`: test scores for every grid value, the validation choice and the oracle.

    ``test_mse``/``test_accuracy``/``train_mse`` have one entry per grid value (models fitted on the
    full training set). ``selected`` is the validation-chosen value (``selection.value``) and
    ``selected_test_mse``/``selected_test_accuracy`` its test scores after refitting on the full
    training set. ``oracle_*`` is the best grid value on the *test* set (for reference only; not a
    legitimate model choice). ``baseline_mse`` is the test MSE of the zero predictor.
    """

    method: str
    values: np.ndarray
    test_mse: np.ndarray
    test_accuracy: np.ndarray | None
    train_mse: np.ndarray
    selection: Selection
    selected: float
    selected_test_mse: float
    selected_test_accuracy: float | None
    oracle_value: float
    oracle_test_mse: float
    oracle_test_accuracy: float | None
    baseline_mse: float
    n_train: int
    n_test: int
    predictions: np.ndarray | None = field(default=None, repr=False)

    def summary(self) -> dict[str, Any]:
        """JSON-friendly dict of the scalar results."""
        return {
            "method": self.method,
            "n_train": self.n_train,
            "n_test": self.n_test,
            "selected": self.selected,
            "selected_test_mse": self.selected_test_mse,
            "selected_test_accuracy": self.selected_test_accuracy,
            "oracle_value": self.oracle_value,
            "oracle_test_mse": self.oracle_test_mse,
            "oracle_test_accuracy": self.oracle_test_accuracy,
            "baseline_mse": self.baseline_mse,
            "val_fraction_n": [self.selection.n_fit, self.selection.n_val],
            "seed": self.selection.seed,
        }


def evaluate(
    K_train: Any,
    y_train: Any,
    K_test: Any,
    y_test: Any,
    method: str,
    values: Sequence[float],
    *,
    val_fraction: float = 0.2,
    seed: int = 0,
    metric: str = "auto",
    dtype: Any = None,
    keep_predictions: bool = False,
) -> Evaluation:
    """Fit on the full training set for every value, score on the test set, and pick a value by validation.

    Two eigendecompositions in all (the fit part of the validation split, and the full training set).
    ``keep_predictions`` stores the ``(J, m[, C])`` test predictions in the result.
    """
    vals = _check_grid(method, values)
    sel = select(K_train, y_train, method, vals, val_fraction=val_fraction, seed=seed, metric=metric, dtype=dtype)
    model = KernelRegression(K_train, y_train, dtype=dtype)
    pred = np.asarray(model.predict(K_test, method, vals))
    yt = np.asarray(_as_float("y_test", y_test, None))
    _finite("y_test", yt)
    if yt.shape != pred.shape[1:]:
        raise check.fail("y_test", f"array of shape {yt.shape}", f"shape {pred.shape[1:]} (one row per test point)")
    test_mse = np.asarray(mse(pred, yt)).reshape(-1)
    cls = _is_classification(np.asarray(model.y)) and _is_classification(yt)
    test_acc = np.asarray(accuracy(pred, yt)).reshape(-1) if cls else None
    train_mse = np.asarray(mse(np.asarray(model.predict_train(method, vals)), np.asarray(model.y))).reshape(-1)
    oracle = _choose(vals, test_mse, test_acc, sel.metric if cls else "mse")
    i = sel.index
    return Evaluation(
        method=method,
        values=vals,
        test_mse=test_mse,
        test_accuracy=test_acc,
        train_mse=train_mse,
        selection=sel,
        selected=sel.value,
        selected_test_mse=float(test_mse[i]),
        selected_test_accuracy=None if test_acc is None else float(test_acc[i]),
        oracle_value=float(vals[oracle]),
        oracle_test_mse=float(test_mse[oracle]),
        oracle_test_accuracy=None if test_acc is None else float(test_acc[oracle]),
        baseline_mse=float(mse(np.zeros_like(yt), yt)),
        n_train=model.n,
        n_test=int(yt.shape[0]),
        predictions=pred if keep_predictions else None,
    )


# ---------------------------------------------------------------------------------------------------
# one report per method and target centring, from two eigendecompositions
@dataclass(frozen=True)
class Report:
    """Result of :func:`report` for one method and one choice of target centring.

    Scores at the validation-chosen value (``value``, the only number a table may present as the model's),
    and for reference, never chosen by the test set: the oracle (best grid value on the test set), the
    interpolant (ridge 0 / time inf; NaN if the grid lacks it) and the trivial predictor (the training
    mean, the limit of a degenerate kernel's predictions). ``test_mse``/``test_accuracy`` hold the test
    scores of every grid value (``test_accuracy`` None for regression targets), so a test can check that
    the reported score is the one at ``index``. ``predictions``: the ``(m[, C])`` test predictions at the
    chosen value.
    """

    method: str
    centered: bool
    values: np.ndarray
    index: int
    value: float
    val_mse: float
    val_accuracy: float
    selected_test_mse: float
    selected_test_accuracy: float
    oracle_value: float
    oracle_test_mse: float
    oracle_test_accuracy: float
    interpolant_test_mse: float
    interpolant_test_accuracy: float
    trivial_test_mse: float
    trivial_test_accuracy: float
    n_fit: int
    n_val: int
    test_mse: np.ndarray = field(repr=False)
    test_accuracy: np.ndarray | None = field(repr=False)
    predictions: np.ndarray = field(repr=False)

    @property
    def r2(self) -> float:
        """Test ``R^2 = 1 - MSE / MSE of the training-mean predictor`` at the chosen value (NaN if that MSE is 0)."""
        return 1.0 - self.selected_test_mse / self.trivial_test_mse if self.trivial_test_mse > 0 else float("nan")


def _trivial_accuracy(y_train: np.ndarray, y_test: np.ndarray) -> float:
    """Accuracy of predicting a training-majority class, averaged over the classes tied for the majority
    (exactly balanced classes: the training mean of +-1 targets is 0 and no class is preferred)."""
    onehot_tr = np.stack([y_train > 0, y_train < 0], -1) if y_train.ndim == 1 else y_train > 0.5
    onehot_te = np.stack([y_test > 0, y_test < 0], -1) if y_test.ndim == 1 else y_test > 0.5
    counts = onehot_tr.sum(0)
    tied = np.flatnonzero(counts == counts.max())
    return float(onehot_te[:, tied].mean())


def _retarget(model: KernelRegression, y: Any) -> KernelRegression:
    """The same eigendecomposition with other targets (no new factorisation)."""
    import copy

    out = copy.copy(model)
    xp = _xp(model.eigenvectors)
    out.y = xp.asarray(y, dtype=model.eigenvectors.dtype)
    out.projected = model.eigenvectors.T @ out.y
    return out


def report(
    K_train: Any,
    y_train: Any,
    K_test: Any,
    y_test: Any,
    grids: Any,
    *,
    center: Sequence[bool] = (False,),
    val_fraction: float = 0.2,
    seed: int = 0,
    metric: str = "auto",
) -> list[Report]:
    """Validation-selected kernel regression for several methods and target centrings from two
    eigendecompositions (the fit part of the validation split, and the full training set).

    Args:
      K_train: ``(n, n)`` training kernel; ``K_test``: ``(m, n)`` test-by-training kernel (NumPy or JAX:
        with JAX arrays the eigendecompositions run on JAX's device).
      y_train: ``(n,)`` or ``(n, C)`` targets; ``y_test``: ``(m,)`` or ``(m, C)``.
      grids: ``{method: values}`` with methods ``"ridge"`` / ``"flow"`` (see :func:`select`).
      center: for each entry, fit the targets as they are (``False``) or with the training mean
        subtracted and added back to the predictions (``True``: an intercept; on the validation split the
        mean of the fit part is used).
      val_fraction, seed, metric: the validation split and criterion, exactly as in :func:`select`
        (the same split and the same size cap ``1 <= n_val <= n - 1``).

    Returns:
      One :class:`Report` per method (in the order of ``grids``) and centring (in the order of ``center``).

    Raises:
      ValueError: a bad grid, kernel, targets or split parameter (named as in :func:`select`).
    """
    if not hasattr(grids, "items") or not grids:
        raise check.fail("grids", grids, "a non-empty mapping {method: values} with methods 'ridge', 'flow'")
    grids = {m: _check_grid(m, v) for m, v in grids.items()}
    center = [bool(c) for c in center]
    if not center:
        raise check.fail("center", center, "a non-empty sequence of booleans")
    val_fraction = check.real("val_fraction", val_fraction, minimum=0.0, maximum=1.0, min_inclusive=False,
                              max_inclusive=False)
    seed = check.integer("seed", seed, minimum=0)
    K = _check_kernel("K_train", K_train, None)
    n = K.shape[0]
    y = _check_targets("y_train", y_train, n, K.dtype, _xp(K))
    if n < 2:
        raise check.fail("K_train", f"{n} training point", "at least 2 points to split off a validation set")
    yn = np.asarray(y)
    yt = np.asarray(_as_float("y_test", y_test, None))
    _finite("y_test", yt)
    metric = _metric(metric, yn)
    cls = _is_classification(yn) and _is_classification(yt)
    n_val = min(max(1, int(round(val_fraction * n))), n - 1)  # the cap of select()
    perm = np.random.default_rng(seed).permutation(n)
    fit_idx, val_idx = np.sort(perm[: n - n_val]), np.sort(perm[n - n_val:])
    take = (lambda A, r, c: A[r][:, c]) if _is_jax(K) else (lambda A, r, c: A[np.ix_(r, c)])
    m_fit = KernelRegression(take(K, fit_idx, fit_idx), y[fit_idx])
    m_all = KernelRegression(K, y)
    K_val = take(K, val_idx, fit_idx)
    K_te = _check_cross("K_test", K_test, n, K.dtype)
    if yt.shape[1:] != yn.shape[1:] or yt.shape[0] != K_te.shape[0]:
        raise check.fail("y_test", f"array of shape {yt.shape}", f"shape ({K_te.shape[0]}, *{yn.shape[1:]})")
    mean_fit, mean_all = yn[fit_idx].mean(axis=0), yn.mean(axis=0)
    yv = yn[val_idx]
    triv = np.broadcast_to(mean_all, yt.shape)
    triv_mse = float(mse(triv, yt))
    triv_acc = _trivial_accuracy(yn, yt) if cls else float("nan")
    out = []
    for method, vals in grids.items():
        interp = np.flatnonzero(vals == (0.0 if method == "ridge" else np.inf))
        for c in center:
            mf = _retarget(m_fit, yn[fit_idx] - mean_fit) if c else m_fit
            ma = _retarget(m_all, yn - mean_all) if c else m_all
            pv = np.asarray(mf.predict(K_val, method, vals)) + (mean_fit if c else 0.0)
            mse_v = np.asarray(mse(pv, yv), dtype=float).reshape(-1)
            acc_v = np.asarray(accuracy(pv, yv), dtype=float).reshape(-1) if _is_classification(yn) else None
            i = _choose(vals, mse_v, acc_v, metric)
            pt = np.asarray(ma.predict(K_te, method, vals)) + (mean_all if c else 0.0)
            mse_t = np.asarray(mse(pt, yt), dtype=float).reshape(-1)
            acc_t = np.asarray(accuracy(pt, yt), dtype=float).reshape(-1) if cls else None
            j = _choose(vals, mse_t, acc_t, metric if cls else "mse")
            nan = float("nan")
            out.append(Report(
                method=method, centered=c, values=vals, index=i, value=float(vals[i]),
                val_mse=float(mse_v[i]), val_accuracy=nan if acc_v is None else float(acc_v[i]),
                selected_test_mse=float(mse_t[i]), selected_test_accuracy=nan if acc_t is None else float(acc_t[i]),
                oracle_value=float(vals[j]), oracle_test_mse=float(mse_t[j]),
                oracle_test_accuracy=nan if acc_t is None else float(acc_t[j]),
                interpolant_test_mse=float(mse_t[interp[0]]) if interp.size else nan,
                interpolant_test_accuracy=float(acc_t[interp[0]]) if interp.size and acc_t is not None else nan,
                trivial_test_mse=triv_mse, trivial_test_accuracy=triv_acc, n_fit=n - n_val, n_val=n_val,
                test_mse=mse_t, test_accuracy=acc_t, predictions=pt[i]))
    return out

