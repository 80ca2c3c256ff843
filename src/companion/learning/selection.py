"""Model selection for kernel regression, and the metrics it scores with.

:func:`select` chooses a ridge or a stopping time on a validation split of the training set;
:func:`evaluate` refits on the whole training set at the chosen value and scores the test set, reporting
alongside what the oracle (best value on the test set), the interpolant and the trivial predictor score, so
that a table can show them without the test set ever choosing a value. :func:`mse` and :func:`accuracy`
are the metrics.
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
