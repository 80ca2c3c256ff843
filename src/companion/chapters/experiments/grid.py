"""Chapter 6's grid: for every task, sampling design, seed, kernel and depth, validation-selected kernel
regression on real images, scored once on the test points.

For each task (:mod:`.tasks`), seed and sampling design, the exact infinite-width NTK (FFNet with all
``L + 1`` layers trained; ResNet "model H" with ``alpha = L^-gamma`` and only the residual blocks trained)
is computed on the drawn points and used normalised to unit diagonal (a constant factor only rescales
the regularisation). Kernel ridge regression and gradient flow are fitted by the library's model
selection, :func:`companion.learning.selection.report` (a validation split of the training points picks
the ridge / stopping time; the model refitted on all training points is scored once on the test points;
the oracle, the interpolant and the trivial predictor are recorded beside it), with the targets as they
are (``raw``) and with the training mean subtracted (``centred``: an intercept). The kernel-sum
classifier ``sum_i (y_i - ybar) k(x, x_i)`` is scored too.
"""

from __future__ import annotations

import math
import time
from typing import Any, Callable, Mapping

import numpy as np

from companion.publish import report
from companion.util import validate as check
from companion.util.threads import blas_threads
from companion.learning import selection as S

from .tasks import METHODS, RIDGES, SAMPLINGS, TIMES, Task, architectures, draw, tasks, validate

#: Columns of the result rows, in order.
COLUMNS = (
    "dataset", "task", "classes", "class_names", "sampling", "targets", "arch", "label", "depth", "alpha", "gamma",
    "trained", "kernel", "n_train", "n_test", "n_fit", "n_val", "seed", "method", "regularization",
    "test_accuracy", "test_mse", "r2", "trivial_accuracy", "trivial_mse", "train_mean", "val_accuracy", "val_mse",
    "oracle_regularization", "oracle_test_accuracy", "oracle_test_mse", "interpolant_test_accuracy",
    "interpolant_test_mse", "kernel_sum_accuracy", "sign_agreement", "data_source", "data_sha256", "scale",
)


def correlations(x1: np.ndarray, x2: np.ndarray) -> np.ndarray:
    """Input correlations ``<x, x'> / (|x| |x'|)``, shape ``(n1, n2)``, in ``[-1, 1]``: the kernel engine's
    own (:func:`companion.kernels.correlations`, exact for nearly aligned pairs). Raises ``ValueError`` for
    non-matrix inputs or a zero row.
    """
    from companion import kernels

    a = check.matrix("x1", x1)
    b = check.matrix("x2", x2, features=a.shape[1], other="x1")
    if np.any(np.linalg.norm(a, axis=1) == 0) or np.any(np.linalg.norm(b, axis=1) == 0):
        raise check.fail("x1", "inputs with a zero row", "non-zero inputs (a correlation needs a direction)")
    return np.asarray(kernels.correlations(a, b).rho, dtype=float)


def normalized_ntk(x1: np.ndarray, x2: np.ndarray, arch: str, depth: int, alpha: float = 0.0,
                   trained: str = "hidden") -> tuple[np.ndarray, str]:
    """The NTK normalised to unit diagonal, ``Theta(x, x') / S`` for unit-norm inputs, ``(n1, n2)``.

    Uses :func:`companion.kernels.ffnet_kernels` / :func:`~companion.kernels.resnet_kernels` (exact) and
    divides by :func:`companion.kernels.diagonal`. Where ``S`` overflows float64 (a ResNet with ``alpha``
    near 1 beyond ``L ~ 1000``) it takes :func:`companion.kernels.normalized_kernels`, which has no scale
    (slower, same values). Returns the matrix and the route
    taken (``"scaled"`` or ``"normalized"``). Raises ``ValueError`` for an unknown ``arch`` or depth < 1.
    """
    from companion import kernels

    check.choice("arch", arch, ("ffnet", "resnet"))
    depth = check.integer("depth", depth, minimum=1)
    if arch == "ffnet":
        k = kernels.ffnet_kernels(x1, x2, depth=depth, out="host")
        return np.asarray(k.ntk) / kernels.diagonal("ffnet", depth)[1], "scaled"
    scale = kernels.diagonal("resnet", depth, alpha, trained)[1]
    if math.isfinite(scale) and scale < 1e300:
        try:
            k = kernels.resnet_kernels(x1, x2, depth=depth, alpha=alpha, trained=trained, out="host")
            return np.asarray(k.ntk) / scale, "scaled"
        except ValueError:  # the scale overflows inside the engine's own check
            pass
    k = kernels.normalized_kernels(x1, x2, arch="resnet", depth=depth, alpha=alpha, trained=trained,
                                   method="depthfree", out="host")
    return np.asarray(k.ntk), "normalized"


def _on_accelerator() -> bool:
    """True when JAX's default device is a GPU/TPU (then the eigendecompositions run there)."""
    import jax

    return jax.default_backend() != "cpu"


def kernel_sum(K_test: np.ndarray, y_train: np.ndarray) -> np.ndarray:
    """The kernel-sum classifier ``sum_i (y_i - ybar) k(x, x_i)``: ``(m,)`` or ``(m, C)`` scores from
    ``K_test`` ``(m, n)`` and targets ``(n,)`` / ``(n, C)``. At large depth the FFNet's regression with
    centred targets tends to a multiple of it (this book's derivation, chapter 6)."""
    y = np.asarray(y_train, float)
    return np.asarray(K_test, float) @ (y - y.mean(axis=0))


def agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Fraction of test points where two score arrays classify alike (sign for ``(m,)``, argmax for ``(m, C)``)."""
    a, b = np.asarray(a), np.asarray(b)
    if a.ndim == 1:
        return float(np.mean(np.sign(a) == np.sign(b)))
    return float(np.mean(np.argmax(a, -1) == np.argmax(b, -1)))


def score_kernel(K: np.ndarray, y_train: np.ndarray, y_test: np.ndarray, methods, *, val_fraction: float,
                 seed: int) -> list[dict[str, Any]]:
    """Rows (without the configuration columns) for one kernel block ``K = k(X_train + X_test, X_train)``
    of shape ``(n + m, n)``: one per method and target centring, from
    :func:`companion.learning.selection.report`. Raises ``ValueError`` for a block of the wrong shape."""
    n = int(np.shape(y_train)[0])
    K = np.asarray(K, float)
    if K.ndim != 2 or K.shape[1] != n or K.shape[0] <= n:
        raise check.fail("K", f"array of shape {K.shape}", f"shape (n + m, n) = (> {n}, {n})")
    Ktr, Kte = 0.5 * (K[:n] + K[:n].T), K[n:]  # exact symmetry (the engine's blocks agree to rounding)
    put = np.asarray
    if _on_accelerator():
        import jax.numpy as jnp

        put = jnp.asarray
    grids = {m: {"ridge": RIDGES, "flow": TIMES}[m] for m in methods}
    reports = S.report(put(Ktr), put(np.asarray(y_train, float)), put(Kte), np.asarray(y_test, float), grids,
                       center=(False, True), val_fraction=val_fraction, seed=seed)
    ks = kernel_sum(Kte, y_train)
    ks_acc = float(S.accuracy(ks, y_test))
    ybar = np.asarray(y_train, float).mean(axis=0)
    out = []
    for r in reports:
        out.append({"method": r.method, "targets": "centred" if r.centered else "raw", "regularization": r.value,
                    "test_accuracy": r.selected_test_accuracy, "test_mse": r.selected_test_mse, "r2": r.r2,
                    "trivial_accuracy": r.trivial_test_accuracy, "trivial_mse": r.trivial_test_mse,
                    "train_mean": float(np.max(np.abs(ybar - ybar.mean()))) if ybar.ndim else float(ybar),
                    "val_accuracy": r.val_accuracy, "val_mse": r.val_mse, "oracle_regularization": r.oracle_value,
                    "oracle_test_accuracy": r.oracle_test_accuracy, "oracle_test_mse": r.oracle_test_mse,
                    "interpolant_test_accuracy": r.interpolant_test_accuracy,
                    "interpolant_test_mse": r.interpolant_test_mse, "kernel_sum_accuracy": ks_acc,
                    "sign_agreement": agreement(r.predictions - (ybar if r.centered else 0.0), ks),
                    "n_fit": r.n_fit, "n_val": r.n_val})
    return out


def run(P: Mapping[str, Any], log: Callable[[str], Any] = report.log, *, threads: int | None = 1) -> dict[str, Any]:
    """Run the whole grid: tasks x samplings x seeds x kernels x depths x methods x target centrings.

    Args:
      P: parameters (``companion.chapters.params("06_experiments", scale)``); validated first.
      log: progress messages (one line per task, sampling and seed).
      threads: OpenBLAS threads during the run (:class:`companion.util.threads.blas_threads`); ``None``
        leaves them alone.

    Returns:
      ``{"rows": [dict with COLUMNS], "params": P, "grids": {...}, "datasets": {task title: provenance},
      "seconds": float}``.

    Raises:
      ValueError: a bad parameter (named), before any data is loaded.
    """
    P = {**dict(P), **validate(P)}
    if threads is None:
        return _run(P, log)
    with blas_threads(threads):
        return _run(P, log)


def _provenance(provenance: dict, task: Task, meta: Mapping[str, Any]) -> dict:
    return provenance.setdefault(task.title(), {
        "dataset": task.dataset, "task": task.kind, "classes": task.classes_text(),
        "class_names": meta["class_names"] if task.classes is not None else f"all {task.n_classes}",
        "source": meta["source"], "source_sha256": meta["source_sha256"], "complete_source": meta["complete_source"],
        "n_train_available": meta["n_train_available"], "n_test_available": meta["n_test_available"],
        "preprocessing": meta["preprocessing"], "draws": []})


PAD = 64


def _pad(x: np.ndarray) -> np.ndarray:
    """``x`` with its first row repeated up to a multiple of :data:`PAD` rows."""
    extra = -len(x) % PAD
    return np.concatenate([x, np.repeat(x[:1], extra, axis=0)])


def _run(P: Mapping[str, Any], log: Callable[[str], Any]) -> dict[str, Any]:
    from companion import data

    start = time.perf_counter()
    rows: list[dict[str, Any]] = []
    provenance: dict[str, Any] = {}
    for task in tasks(P):
        raw = data.load(task.dataset, source=P["data_source"])
        for sampling in SAMPLINGS:
            for seed in range(P["seeds"]):
                t0 = time.perf_counter()
                ds = draw(task, P, seed, raw, sampling)
                meta = ds.meta
                _provenance(provenance, task, meta)["draws"].append(
                    {"seed": seed, "sampling": sampling, "n_train": ds.n_train, "n_test": ds.n_test,
                     "counts_train": meta["counts_train"], "counts_test": meta["counts_test"],
                     "fingerprint": ds.fingerprint()})
                # The kernel engine compiles once per array shape. Padding the training and test points (by
                # repeating the first one) to a multiple of PAD rows lets the designs (a uniform two-class draw
                # has one point fewer) and the tasks share shapes; the padded rows and columns are dropped.
                x_tr, x_te = _pad(ds.x_train), _pad(ds.x_test)
                x_all = np.concatenate([x_tr, x_te])
                keep = np.r_[np.arange(ds.n_train), len(x_tr) + np.arange(ds.n_test)]
                for depth in P["depths"]:
                    for a in architectures(depth, P["gammas"]):
                        K, route = normalized_ntk(x_all, x_tr, a["arch"], depth,
                                                  0.0 if a["arch"] == "ffnet" else a["alpha"], a["trained"])
                        K = K[keep][:, : ds.n_train]
                        for res in score_kernel(K, ds.y_train, ds.y_test, P["regression_methods"],
                                                val_fraction=P["val_fraction"], seed=seed):
                            rows.append({
                                "dataset": task.dataset, "task": task.kind, "classes": task.classes_text(),
                                "class_names": " vs ".join(meta["class_names"]) if task.classes is not None
                                else f"all {task.n_classes}", "sampling": sampling,
                                "arch": a["arch"], "label": a["label"], "depth": depth, "alpha": a["alpha"],
                                "gamma": a["gamma"], "trained": a["trained"], "kernel": f"ntk ({route})",
                                "n_train": ds.n_train, "n_test": ds.n_test, "seed": seed,
                                "data_source": meta["source"], "data_sha256": meta["source_sha256"],
                                "scale": P.get("scale", ""), **res})
                log(f"  {task.title()}, {sampling}, seed {seed}: {ds.n_train} train / {ds.n_test} test, "
                    f"{time.perf_counter() - t0:.1f} s")
    seconds = time.perf_counter() - start
    log(f"... done in {seconds:.1f} s ({len(rows)} result rows)")
    return {"rows": rows, "params": P, "grids": {"ridge": list(RIDGES), "flow": list(TIMES)},
            "datasets": provenance, "seconds": seconds}


def shallow_accuracy(dataset: str, classes, n_train: int, n_test: int, *, seed: int = 0,
                     source: str = "auto") -> dict[str, Any]:
    """Test accuracy of the depth-1 NTK (ridge chosen on validation, balanced classes) on a two-class
    problem beside the trivial predictor's: a quick check that a pair of classes is learnable at a sample
    size. Raises ``ValueError`` for an unknown dataset or classes."""
    from companion import data
    from companion.data.registry import DATASETS

    check.choice("dataset", dataset, DATASETS)
    task = Task(dataset, "two", tuple(int(c) for c in classes))
    raw = data.load(dataset, source=source)
    ds = draw(task, {"n_train": n_train, "n_test": n_test}, seed, raw, "balanced")
    K, _ = normalized_ntk(np.concatenate([ds.x_train, ds.x_test]), ds.x_train, "ffnet", 1)
    res = score_kernel(K, ds.y_train, ds.y_test, ["ridge"], val_fraction=0.2, seed=seed)[0]
    return {"task": task.title(), "n_train": ds.n_train, "n_test": ds.n_test, "accuracy": res["test_accuracy"],
            "trivial_accuracy": res["trivial_accuracy"], "source": ds.meta["source"]}


__all__ = ["COLUMNS", "METHODS", "correlations", "normalized_ntk", "kernel_sum", "agreement", "score_kernel", "run",
           "shallow_accuracy"]
