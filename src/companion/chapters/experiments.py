"""The papers' experiments on real data (chapter 6): test accuracy of NTK regression against depth.

For each *task* (a dataset and a set of classes), each seed (an independent random draw of the training
and test points), each architecture (the FFNet, and ResNets with ``alpha = L^-gamma``) and each depth
``L``, the exact infinite-width NTK is computed on the task's points (:mod:`companion.kernels`), and
kernel regression is fitted as the papers do it (:mod:`companion.learning.regression`):

* **ridge** (kernel ridge regression, as in Huang et al. 2020) and **flow** (gradient flow stopped at
  time ``t``, the early stopping of Tian & Yu 2024), both from one eigendecomposition;
* the ridge / stopping time is chosen on a validation split of the training points (lowest validation
  error; ties broken by validation MSE, then the first grid value), the model is refitted on all
  training points with that value and scored once on the test points.

Kernels are used *normalised to unit diagonal*: inputs lie on the unit sphere and every kernel is
``K = S k(rho)`` with a constant ``S`` (``L + 1`` for the FFNet, ``2 L alpha^2 (1 + alpha^2)^(L-1)`` for
the ResNet, which overflows float64 for ``alpha = 1`` beyond ``L ~ 1000``). A constant factor changes
nothing but the scale of the regularisation: ridge ``lambda`` and time ``t`` on ``k`` equal ``lambda S``
and ``t / S`` on ``K``. The ridge and time grids below, and the values in the result rows, refer to ``k``.

Results are one row per (task, seed, architecture, depth, method) with the columns :data:`COLUMNS`;
:func:`write_results` writes them to ``figures.output_dir() / "results" / "experiments.csv"`` with a JSON
sidecar (parameters, grids, data provenance). :func:`compare_with_paper` joins the seed means with
numbers typed in from the papers (``results/paper_reported.csv`` at the repository root).
"""

from __future__ import annotations

import csv
import io
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from companion.util import validate as check
from companion.data.registry import DEFAULT_PAIRS, N_CLASSES, TITLES
from companion.publish import claims as C
from companion.networks.models import branch_scaling

__all__ = [
    "COLUMNS",
    "PAPER_COLUMNS",
    "DEFAULT_PAIRS",
    "RIDGES",
    "TIMES",
    "Task",
    "tasks",
    "validate",
    "normalized_ntk",
    "fit_and_score",
    "run",
    "to_csv",
    "read_csv",
    "write_results",
    "summarize",
    "pivot_markdown",
    "read_paper",
    "compare_with_paper",
    "paper_markdown",
    "reference_check",
    "claims",
    "plot_accuracy",
    "plot_r2",
    "provenance",
    "table_note",
    "shallow_accuracy",
    "sizes",
    "blas_threads",
]

KINDS = ("two", "all")
METHODS = ("ridge", "flow")

#: Ridge grid (normalised kernel, ``f = k(x, X) (k + n lambda I)^-1 y``); 0 is the interpolant.
RIDGES = tuple([0.0] + [float(v) for v in np.logspace(-7, 1, 17)])
#: Stopping-time grid (normalised kernel, ``f_t = k(x, X) k^-1 (I - exp(-k t / n)) y``); inf interpolates.
TIMES = tuple([float(v) for v in np.logspace(-1, 7, 17)] + [math.inf])

#: Columns of the result rows, in order.
COLUMNS = (
    "dataset", "task", "classes", "class_names", "arch", "label", "depth", "alpha", "gamma", "trained",
    "kernel", "n_train", "n_test", "n_fit", "n_val", "seed", "method", "regularization",
    "test_accuracy", "test_mse", "r2", "trivial_accuracy", "trivial_mse", "val_accuracy", "val_mse",
    "oracle_regularization", "oracle_test_accuracy", "interpolant_test_accuracy", "interpolant_test_mse",
    "data_source", "data_sha256", "scale",
)
#: Columns of ``results/paper_reported.csv``: the result columns plus where the number was read.
PAPER_COLUMNS = COLUMNS + ("paper", "table_or_figure", "page")
#: Columns that identify a configuration when joining paper numbers with measurements.
JOIN_KEYS = ("dataset", "task", "classes", "arch", "depth", "gamma", "trained", "method", "n_train", "n_test")
_NUMERIC = {"depth", "alpha", "gamma", "n_train", "n_test", "n_fit", "n_val", "seed", "regularization",
            "test_accuracy", "test_mse", "r2", "trivial_accuracy", "trivial_mse", "val_accuracy", "val_mse",
            "oracle_regularization", "oracle_test_accuracy", "interpolant_test_accuracy", "interpolant_test_mse"}
_INTS = {"depth", "n_train", "n_test", "n_fit", "n_val", "seed"}


# ---------------------------------------------------------------------------------------------------
# tasks and arguments
@dataclass(frozen=True)
class Task:
    """One classification problem: ``dataset`` with ``classes`` (``None``: all) of ``kind`` two/all."""

    dataset: str
    kind: str
    classes: tuple[int, ...] | None

    @property
    def n_classes(self) -> int:
        return N_CLASSES[self.dataset] if self.classes is None else len(self.classes)

    def title(self) -> str:
        from companion.data import class_names

        if self.classes is None:
            return f"{TITLES[self.dataset]}, all {self.n_classes} classes"
        names = class_names(self.dataset)
        return f"{TITLES[self.dataset]} " + " vs ".join(names[c] for c in self.classes)

    def classes_text(self) -> str:
        return "all" if self.classes is None else ",".join(str(c) for c in self.classes)


def _pairs(value: Any) -> dict[str, tuple[int, int]]:
    from companion.chapters import _pairs as validate_pairs

    return {k: tuple(v) for k, v in validate_pairs("pairs", value).items()}


def validate(P: Mapping[str, Any]) -> dict[str, Any]:
    """Check the experiment parameters (see :data:`companion.chapters.CHAPTERS` ``"06_experiments"``).

    Raises ``ValueError`` naming the first invalid argument, before any data is loaded. Unlike the
    chapter parameter registry, depths must be ``>= 1`` here (the depth-0 ResNet NTK with only the
    hidden layers trained is identically zero).
    """
    if not isinstance(P, Mapping):
        raise check.fail("P", P, "a mapping of parameters (companion.chapters.params('06_experiments', ...))")
    need = ("datasets", "class_sets", "pairs", "n_train", "n_test", "depths", "gammas", "seeds",
            "regression_methods", "val_fraction", "data_source")
    for key in need:
        if key not in P:
            raise check.fail("P", sorted(P), f"a mapping with the keys {list(need)} (missing {key!r})")
    out = dict(P)
    datasets = P["datasets"]
    if not isinstance(datasets, (list, tuple)) or not datasets:
        raise check.fail("datasets", datasets, "a non-empty list of " + ", ".join(N_CLASSES))
    out["datasets"] = [check.choice(f"datasets[{i}]", d, tuple(N_CLASSES)) for i, d in enumerate(datasets)]
    kinds = P["class_sets"]
    if not isinstance(kinds, (list, tuple)) or not kinds:
        raise check.fail("class_sets", kinds, "a non-empty list of 'two', 'all'")
    out["class_sets"] = [check.choice(f"class_sets[{i}]", k, KINDS) for i, k in enumerate(kinds)]
    out["pairs"] = _pairs(P["pairs"])
    if "two" in out["class_sets"]:
        missing = [d for d in out["datasets"] if d not in out["pairs"]]
        if missing:
            raise check.fail("pairs", P["pairs"], f"a pair of classes for every dataset in datasets (missing {missing})")
    out["n_train"] = check.integer("n_train", P["n_train"], minimum=4)
    out["n_test"] = check.integer("n_test", P["n_test"], minimum=1)
    depths = P["depths"]
    if not isinstance(depths, (list, tuple)) or not depths:
        raise check.fail("depths", depths, "a non-empty list of integers >= 1")
    out["depths"] = sorted({check.integer(f"depths[{i}]", d, minimum=1) for i, d in enumerate(depths)})
    gammas = P["gammas"]
    if not isinstance(gammas, (list, tuple)):
        raise check.fail("gammas", gammas, "a list of finite reals >= 0 (may be empty: FFNet only)")
    out["gammas"] = [check.real(f"gammas[{i}]", g, minimum=0.0) for i, g in enumerate(gammas)]
    out["seeds"] = check.integer("seeds", P["seeds"], minimum=1)
    methods = P["regression_methods"]
    if not isinstance(methods, (list, tuple)) or not methods:
        raise check.fail("regression_methods", methods, "a non-empty list of 'ridge', 'flow'")
    out["regression_methods"] = [check.choice(f"regression_methods[{i}]", m, METHODS) for i, m in enumerate(methods)]
    out["val_fraction"] = check.real("val_fraction", P["val_fraction"], minimum=0.0, maximum=0.5,
                                     min_inclusive=False, max_inclusive=True)
    out["data_source"] = check.choice("data_source", P["data_source"], ("auto", "official", "offline"))
    return out


def tasks(P: Mapping[str, Any]) -> list[Task]:
    """The tasks of validated parameters ``P``: for each dataset, the two-class task then all classes."""
    out = []
    for d in P["datasets"]:
        for kind in P["class_sets"]:
            out.append(Task(d, kind, tuple(P["pairs"][d]) if kind == "two" else None))
    return out


def architectures(depth: int, gammas: Sequence[float]) -> list[dict[str, Any]]:
    """The FFNet and one ResNet per ``gamma`` at ``depth``: ``[{arch, gamma, alpha, trained, label}]``,
    ``alpha = depth^-gamma`` (``depth >= 1``, each gamma finite)."""
    depth = check.integer("depth", depth, minimum=1)
    gammas = [check.real(f"gammas[{i}]", g) for i, g in enumerate(gammas)]
    out = [{"arch": "ffnet", "gamma": math.nan, "alpha": math.nan, "trained": "all", "label": "FFNet"}]
    for g in gammas:
        out.append({"arch": "resnet", "gamma": g, "alpha": branch_scaling(depth, g), "trained": "hidden",
                    "label": f"ResNet gamma={g:g}"})
    return out


# ---------------------------------------------------------------------------------------------------
# kernels and regression
def normalized_ntk(x1: np.ndarray, x2: np.ndarray, arch: str, depth: int, alpha: float = 0.0,
                   trained: str = "hidden") -> tuple[np.ndarray, str]:
    """The NTK normalised to unit diagonal, ``Theta(x, x') / S`` for unit-norm inputs, ``(n1, n2)``.

    Uses :func:`companion.kernels.ffnet_kernels` / :func:`~companion.kernels.resnet_kernels` (exact,
    jitted, depth-free) and divides by :func:`companion.kernels.diagonal`. Where ``S`` overflows float64
    (a ResNet with ``alpha`` near 1 beyond ``L ~ 1000``) the normalised kernel is evaluated directly on
    the input correlations with :func:`companion.kernels.resnet_normalized` (slower, same values).
    Returns the matrix and the route taken (``"scaled"`` or ``"normalized"``).
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
    a = np.asarray(x1, float)
    b = np.asarray(x2, float)
    na = np.linalg.norm(a, axis=1, keepdims=True)
    nb = np.linalg.norm(b, axis=1, keepdims=True)
    rho = np.clip((a / na) @ (b / nb).T, -1.0, 1.0)
    # Pairs closer than the Gram matrix's rounding are the same direction (as in the engine).
    rho[1.0 - rho < 4.0 * math.sqrt(a.shape[1]) * np.finfo(float).eps] = 1.0
    k = kernels.resnet_normalized(rho, depth, alpha, trained, method="depthfree")
    return np.asarray(k.ntk), "normalized"


def _on_accelerator() -> bool:
    """True when JAX's default device is a GPU/TPU (then the regression runs there)."""
    import jax

    return jax.default_backend() != "cpu"


def _choose(err: np.ndarray, mse: np.ndarray) -> int:
    """Index of the lowest error; ties by MSE, then the first in grid order."""
    best = np.flatnonzero(err == err.min())
    return int(best[np.argmin(mse[best])])


def trivial(y_train: np.ndarray, y_test: np.ndarray) -> tuple[float, float]:
    """Accuracy and MSE of the training-mean predictor, the limit of a degenerate kernel's predictions.

    Two classes: ``sign(mean(y_train))`` (the training majority); one-hot: ``argmax`` of the class
    frequencies. MSE of the constant prediction ``mean(y_train)`` (summed over outputs for one-hot).
    """
    from companion.learning import selection as S

    mean = np.asarray(y_train, float).mean(axis=0)
    pred = np.broadcast_to(mean, np.shape(y_test))
    return float(S.accuracy(pred, y_test)), float(S.mse(pred, y_test))


def fit_and_score(K: np.ndarray, y_train: np.ndarray, y_test: np.ndarray, methods: Sequence[str], *,
                  val_fraction: float = 0.2, seed: int = 0,
                  grids: Mapping[str, Sequence[float]] | None = None) -> list[dict[str, Any]]:
    """Validation-selected kernel regression from one kernel block ``K = k(X_train + X_test, X_train)``.

    ``K`` has shape ``(n + m, n)``: its first ``n`` rows are the training kernel, the others the test
    rows. A random ``val_fraction`` of the training points (``numpy.random.default_rng(seed)``) is held
    out; for each method the grid value with the lowest validation error (ties: lowest validation MSE,
    then the first) is chosen, and the model refitted on all ``n`` training points is scored on the
    test points. Two eigendecompositions serve every method and grid value.

    Returns one dict per method with ``method, regularization, test_accuracy, test_mse, val_accuracy,
    val_mse, oracle_regularization, oracle_test_accuracy`` (the best grid value on the *test* set, for
    reference only), ``interpolant_test_accuracy, interpolant_test_mse`` (ridge 0 / time inf) and
    ``n_fit, n_val``.
    """
    from companion.learning import regression as R
    from companion.learning import selection as S

    grids = dict(grids or {"ridge": RIDGES, "flow": TIMES})
    known = tuple(m for m in METHODS if m in grids)
    methods = [check.choice(f"methods[{i}]", m, known) for i, m in enumerate(methods)]
    n = int(np.shape(y_train)[0])
    K = np.asarray(K, float)
    if K.ndim != 2 or K.shape[1] != n or K.shape[0] <= n:
        raise check.fail("K", f"array of shape {K.shape}", f"shape (n + m, n) = (> {n}, {n})")
    Ktr, Kte = K[:n], K[n:]
    Ktr = 0.5 * (Ktr + Ktr.T)  # exact symmetry (the engine's blocks agree to rounding)
    n_val = min(max(1, int(round(val_fraction * n))), n - 2)
    perm = np.random.default_rng(seed).permutation(n)
    fit, val = np.sort(perm[: n - n_val]), np.sort(perm[n - n_val:])
    y_train = np.asarray(y_train, float)
    y_test = np.asarray(y_test, float)
    # On a GPU the eigendecompositions run there (NumPy's would dominate at n ~ 10^4).
    put = np.asarray
    if _on_accelerator():
        import jax.numpy as jnp

        put = jnp.asarray
    m_fit = R.KernelRegression(put(Ktr[np.ix_(fit, fit)]), put(y_train[fit]))
    m_all = R.KernelRegression(put(Ktr), put(y_train))
    K_val, K_test = put(Ktr[np.ix_(val, fit)]), put(Kte)
    out = []
    for method in methods:
        grid = np.asarray(grids[method], float)
        pv = np.asarray(m_fit.predict(K_val, method, grid))
        acc_v = np.atleast_1d(S.accuracy(pv, y_train[val]))
        mse_v = np.atleast_1d(S.mse(pv, y_train[val]))
        i = _choose(1.0 - acc_v, mse_v)
        pt = np.asarray(m_all.predict(K_test, method, grid))
        acc_t = np.atleast_1d(S.accuracy(pt, y_test))
        mse_t = np.atleast_1d(S.mse(pt, y_test))
        j = _choose(1.0 - acc_t, mse_t)
        # the interpolant: ridge 0 / time inf (NaN if the grid does not hold it)
        interp = np.flatnonzero(grid == (0.0 if method == "ridge" else math.inf))
        out.append({"method": method, "regularization": float(grid[i]), "test_accuracy": float(acc_t[i]),
                    "test_mse": float(mse_t[i]), "val_accuracy": float(acc_v[i]), "val_mse": float(mse_v[i]),
                    "oracle_regularization": float(grid[j]), "oracle_test_accuracy": float(acc_t[j]),
                    "interpolant_test_accuracy": float(acc_t[interp[0]]) if interp.size else math.nan,
                    "interpolant_test_mse": float(mse_t[interp[0]]) if interp.size else math.nan,
                    "n_fit": int(len(fit)), "n_val": int(len(val))})
    return out


#: At most this fraction of a task's available training points is drawn, so that seeds draw different
#: training sets even where the data holds few points (the offline CIFAR-100 pair has 108).
MAX_TRAIN_FRACTION = 0.8


def sizes(task: Task, n_train: int, n_test: int, available_train: int, available_test: int) -> tuple[int, int]:
    """The numbers of points drawn: ``n_train`` capped at ``MAX_TRAIN_FRACTION`` of the available training
    points and made odd for two classes (so that the training set always has a majority class, and the
    training-mean predictor is never exactly 0); ``n_test`` capped at the available test points."""
    ntr = min(n_train, int(MAX_TRAIN_FRACTION * available_train))
    if task.kind == "two" and ntr % 2 == 0:
        ntr -= 1
    return ntr, min(n_test, available_test)


def _draw(task: Task, P: Mapping[str, Any], seed: int, raw):
    """The task's data for ``seed``: uniform random draws (not class-balanced), see :func:`sizes`."""
    from companion import data

    cls = task.classes
    avail_tr = len(raw.y_train) if cls is None else int(np.isin(raw.y_train, cls).sum())
    avail_te = len(raw.y_test) if cls is None else int(np.isin(raw.y_test, cls).sum())
    n_train, n_test = sizes(task, P["n_train"], P["n_test"], avail_tr, avail_te)
    return data.prepare(task.dataset, cls, n_train, n_test, seed=seed, balanced=False, raw=raw)


_SET = ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads_64_", "scipy_openblas_set_num_threads",
        "openblas_set_num_threads64_", "openblas_set_num_threads")
_GET = ("scipy_openblas_get_num_threads64_", "scipy_openblas_get_num_threads_64_", "scipy_openblas_get_num_threads",
        "openblas_get_num_threads64_", "openblas_get_num_threads")


def _openblas_libraries() -> list[Any]:
    """The OpenBLAS libraries loaded in this process (Linux: from ``/proc/self/maps``), as ctypes handles."""
    import ctypes

    try:
        with open("/proc/self/maps") as f:
            names = {line.split()[-1] for line in f if len(line.split()) >= 6}
    except OSError:
        return []
    paths = sorted(n for n in names if "openblas" in Path(n).name.lower() and ".so" in Path(n).name)
    libs = []
    for path in paths:
        try:
            libs.append(ctypes.CDLL(path))
        except OSError:
            continue
    return libs


class blas_threads:
    """Context manager: run OpenBLAS (NumPy's linear algebra) on ``n`` threads, then restore.

    The grid is thousands of small eigendecompositions (n ~ 500). On a machine whose cores are shared
    with other processes, OpenBLAS's threads wait for each other and one call can take ten times
    longer than on one thread; for matrices of this size a second thread gains little even on an idle
    machine. Without OpenBLAS (another BLAS, or not on Linux) this does nothing.
    """

    def __init__(self, n: int = 1):
        self.n = check.integer("n", n, minimum=1)
        self._restore: list[tuple[Any, int]] = []

    def __enter__(self):
        import ctypes

        for lib in _openblas_libraries():
            get = next((getattr(lib, g) for g in _GET if hasattr(lib, g)), None)
            put = next((getattr(lib, p) for p in _SET if hasattr(lib, p)), None)
            if get is None or put is None:
                continue
            get.restype = ctypes.c_int
            before = int(get())
            put.argtypes = [ctypes.c_int]
            put(self.n)
            self._restore.append((put, before))
        return self

    def __exit__(self, *exc):
        for put, before in self._restore:
            put(before)
        self._restore = []
        return False


def run(P: Mapping[str, Any], log: Callable[[str], Any] = print, *, threads: int | None = 1) -> dict[str, Any]:
    """Run the whole grid: tasks x seeds x architectures x depths x methods.

    Args:
      P: parameters (``companion.chapters.params("06_experiments", scale)``); validated first.
      log: progress messages (one line per task and seed).
      threads: OpenBLAS threads during the run (see :class:`blas_threads`); ``None`` leaves them alone.

    Returns:
      ``{"rows": [dict with COLUMNS], "params": P, "grids": {...}, "datasets": {task title: provenance},
      "seconds": float}``.
    """
    P = {**dict(P), **validate(P)}
    if threads is None:
        return _run(P, log)
    with blas_threads(threads):
        return _run(P, log)


def _run(P: Mapping[str, Any], log: Callable[[str], Any]) -> dict[str, Any]:
    from companion import data

    all_tasks = tasks(P)
    configs = sum(len(architectures(1, P["gammas"])) for _ in P["depths"])
    log(f"Experiments: {len(all_tasks)} task(s) x {P['seeds']} seed(s) x {configs} kernels "
        f"({len(P['depths'])} depths, FFNet + {len(P['gammas'])} ResNets) x {len(P['regression_methods'])} method(s)")
    start = time.perf_counter()
    rows: list[dict[str, Any]] = []
    provenance: dict[str, Any] = {}
    for task in all_tasks:
        raw = data.load(task.dataset, source=P["data_source"])
        for seed in range(P["seeds"]):
            t0 = time.perf_counter()
            ds = _draw(task, P, seed, raw)
            triv_acc, triv_mse = trivial(ds.y_train, ds.y_test)
            x_all = np.concatenate([ds.x_train, ds.x_test])
            meta = ds.meta
            provenance.setdefault(task.title(), {
                "dataset": task.dataset, "classes": task.classes_text(), "class_names": meta["class_names"]
                if task.classes is not None else f"all {task.n_classes}", "source": meta["source"],
                "source_sha256": meta["source_sha256"], "complete_source": meta["complete_source"],
                "n_train_available": meta["n_train_available"], "n_test_available": meta["n_test_available"],
                "preprocessing": meta["preprocessing"], "draws": []})
            provenance[task.title()]["draws"].append(
                {"seed": seed, "n_train": ds.n_train, "n_test": ds.n_test, "counts_train": meta["counts_train"],
                 "counts_test": meta["counts_test"], "fingerprint": ds.fingerprint()})
            for depth in P["depths"]:
                for a in architectures(depth, P["gammas"]):
                    K, route = normalized_ntk(x_all, ds.x_train, a["arch"], depth,
                                              0.0 if a["arch"] == "ffnet" else a["alpha"], a["trained"])
                    for res in fit_and_score(K, ds.y_train, ds.y_test, P["regression_methods"],
                                             val_fraction=P["val_fraction"], seed=seed):
                        rows.append({
                            "dataset": task.dataset, "task": task.kind, "classes": task.classes_text(),
                            "class_names": " vs ".join(meta["class_names"]) if task.classes is not None
                            else f"all {task.n_classes}",
                            "arch": a["arch"], "label": a["label"], "depth": depth, "alpha": a["alpha"],
                            "gamma": a["gamma"], "trained": a["trained"], "kernel": f"ntk ({route})",
                            "n_train": ds.n_train, "n_test": ds.n_test, "seed": seed,
                            "r2": 1.0 - res["test_mse"] / triv_mse if triv_mse > 0 else math.nan,
                            "trivial_accuracy": triv_acc, "trivial_mse": triv_mse,
                            "data_source": meta["source"], "data_sha256": meta["source_sha256"],
                            "scale": P.get("scale", ""), **res})
            log(f"  {task.title()}, seed {seed}: {ds.n_train} train / {ds.n_test} test, "
                f"{time.perf_counter() - t0:.1f} s")
    seconds = time.perf_counter() - start
    log(f"... done in {seconds:.1f} s ({len(rows)} result rows)")
    return {"rows": rows, "params": P, "grids": {"ridge": list(RIDGES), "flow": list(TIMES)},
            "datasets": provenance, "seconds": seconds}


# ---------------------------------------------------------------------------------------------------
# CSV
def _fmt(key: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if math.isnan(v):
            return ""
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return f"{v:.10g}"
    return str(value)


def to_csv(rows: Iterable[Mapping[str, Any]], columns: Sequence[str] = COLUMNS) -> str:
    """Rows as CSV text with exactly ``columns`` (missing values empty; NaN empty; inf as ``inf``)."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n", extrasaction="raise")
    w.writeheader()
    for r in rows:
        w.writerow({k: _fmt(k, r.get(k)) for k in columns})
    return buf.getvalue()


def _parse(key: str, text: str) -> Any:
    if key not in _NUMERIC:
        return text
    if text.strip() == "":
        return math.nan
    v = float(text)
    return int(v) if key in _INTS and math.isfinite(v) and v == int(v) else v


def read_csv(path: str | Path, columns: Sequence[str] = COLUMNS) -> list[dict[str, Any]]:
    """Read rows written by :func:`to_csv` (numbers parsed, empty numbers as NaN).

    Raises ``ValueError`` naming the file if its header is not exactly ``columns``.
    """
    path = Path(path)
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if tuple(reader.fieldnames or ()) != tuple(columns):
            raise check.fail("path", str(path), f"a CSV whose header is exactly {','.join(columns)}")
        return [{k: _parse(k, v or "") for k, v in row.items()} for row in reader]


def write_results(result: Mapping[str, Any], out_dir: str | Path | None = None) -> Path:
    """Write ``experiments.csv`` and ``experiments.json`` (parameters, grids, provenance) atomically.

    Default folder: ``figures.output_dir() / "results"``. Returns the CSV path.
    """
    from companion.publish.figures import _jsonable, git_commit, output_dir
    from companion.util.storage import atomic_write_text
    from companion import __version__

    out = Path(out_dir) if out_dir is not None else output_dir() / "results"
    out.mkdir(parents=True, exist_ok=True)
    path = out / "experiments.csv"
    atomic_write_text(path, to_csv(result["rows"]))
    grids = {k: [_fmt(k, v) for v in vals] for k, vals in result["grids"].items()}
    sidecar = {"file": path.name, "columns": list(COLUMNS), "rows": len(result["rows"]),
               "parameters": _jsonable(dict(result["params"])), "grids (normalised kernel)": grids,
               "datasets": _jsonable(result["datasets"]), "seconds": round(float(result["seconds"]), 1),
               "package": "companion", "version": __version__, "git_commit": git_commit()}
    atomic_write_text(out / "experiments.json", json.dumps(sidecar, indent=1, sort_keys=True) + "\n")
    return path


# ---------------------------------------------------------------------------------------------------
# summaries and tables
_GROUP = ("dataset", "task", "classes", "class_names", "arch", "label", "depth", "gamma", "trained", "method")


def summarize(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Seed means and standard deviations per configuration (``_GROUP`` keys).

    Each output dict has the group keys, ``seeds``, ``n_train``/``n_test`` (min-max text if they vary),
    and ``<metric>_mean`` / ``<metric>_sd`` for test_accuracy, test_mse, r2, trivial_accuracy,
    interpolant_test_accuracy, interpolant_r2 (ridge 0 / time inf), and the median chosen
    regularization as ``regularization_median``.
    """
    groups: dict[tuple, list[Mapping[str, Any]]] = {}
    for r in rows:
        key = tuple(("nan" if isinstance(r[k], float) and math.isnan(r[k]) else r[k]) for k in _GROUP)
        groups.setdefault(key, []).append(r)
    out = []
    for key, rs in groups.items():
        s = dict(zip(_GROUP, key))
        s["gamma"] = math.nan if s["gamma"] == "nan" else s["gamma"]
        s["seeds"] = len(rs)
        for k in ("n_train", "n_test"):
            vals = sorted({int(r[k]) for r in rs})
            s[k] = vals[0] if len(vals) == 1 else f"{vals[0]}-{vals[-1]}"
        for m in ("test_accuracy", "test_mse", "r2", "trivial_accuracy", "trivial_mse", "interpolant_test_accuracy",
                  "interpolant_r2"):
            if m == "interpolant_r2":
                v = np.array([1.0 - float(r["interpolant_test_mse"]) / float(r["trivial_mse"]) for r in rs])
            else:
                v = np.array([float(r[m]) for r in rs])
            s[f"{m}_mean"] = float(v.mean())
            s[f"{m}_sd"] = float(v.std(ddof=1)) if len(v) > 1 else 0.0
        s["regularization_median"] = float(np.median([float(r["regularization"]) for r in rs]))
        out.append(s)
    return out


def _task_order(s: Mapping[str, Any]) -> tuple:
    return (list(N_CLASSES).index(s["dataset"]), KINDS.index(s["task"]))


def _arch_order(s: Mapping[str, Any]) -> tuple:
    return (0, 0.0) if s["arch"] == "ffnet" else (1, float(s["gamma"]))


def pivot_markdown(summary: Sequence[Mapping[str, Any]], method: str = "ridge", metric: str = "test_accuracy",
                   percent: bool = True) -> str:
    """A Markdown table: one row per task and architecture, one column per depth, entries mean +- sd.

    Adds a column with the trivial (training-mean) predictor's accuracy and the sample sizes.
    """
    check.choice("method", method, METHODS)
    sel = [s for s in summary if s["method"] == method]
    depths = sorted({int(s["depth"]) for s in sel})
    f = 100.0 if percent else 1.0
    head = "| task | n train / test | kernel | " + " | ".join(f"L={d:,}" for d in depths) + " | trivial |"
    lines = [head, "|" + "---|" * (len(depths) + 4)]
    keyed = {}
    for s in sel:
        keyed.setdefault((_task_order(s), s["class_names"], _arch_order(s), s["label"]), {})[int(s["depth"])] = s
    for (_, names, _, label), by_depth in sorted(keyed.items()):
        first = next(iter(by_depth.values()))
        title = f"{TITLES[first['dataset']]} {names}"
        cells = []
        for d in depths:
            s = by_depth.get(d)
            digits = 1 if percent else 2
            cells.append("" if s is None else f"{f * s[metric + '_mean']:.{digits}f} ± {f * s[metric + '_sd']:.{digits}f}")
        triv = f"{f * first['trivial_accuracy_mean']:.1f}" if metric == "test_accuracy" else ""
        label_md = label.replace("gamma=", "γ=")
        lines.append(f"| {title} | {first['n_train']} / {first['n_test']} | {label_md} | " + " | ".join(cells)
                     + f" | {triv} |")
    return "\n".join(lines)


def regularization_markdown(summary: Sequence[Mapping[str, Any]], method: str = "ridge", task: str = "two") -> str:
    """Median validation-chosen ridge (or stopping time) per task, architecture and depth (Markdown)."""
    sel = [s for s in summary if s["method"] == method and s["task"] == task]
    depths = sorted({int(s["depth"]) for s in sel})
    lines = ["| task | kernel | " + " | ".join(f"L={d:,}" for d in depths) + " |", "|" + "---|" * (len(depths) + 2)]
    keyed = {}
    for s in sel:
        keyed.setdefault((_task_order(s), s["class_names"], _arch_order(s), s["label"]), {})[int(s["depth"])] = s
    for (_, names, _, label), by_depth in sorted(keyed.items()):
        first = next(iter(by_depth.values()))
        cells = [f"{by_depth[d]['regularization_median']:.2g}" if d in by_depth else "" for d in depths]
        lines.append(f"| {TITLES[first['dataset']]} {names} | {label.replace('gamma=', 'γ=')} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def interpolation_markdown(summary: Sequence[Mapping[str, Any]], depth: int, method: str = "flow") -> str:
    """Validation-stopped (or ridge-selected) regression against interpolation (t = inf / ridge 0) for
    every task and ResNet at ``depth``: accuracy (%) and R^2, seed means (Markdown)."""
    sel = [s for s in summary if s["method"] == method and int(s["depth"]) == depth and s["arch"] == "resnet"]
    what = "stopped" if method == "flow" else "ridge chosen"
    lines = [f"| task | n train / test | kernel | accuracy, {what} | accuracy, interpolation | R², {what} | "
             "R², interpolation |", "|---|---|---|---|---|---|---|"]
    for s in sorted(sel, key=lambda s: (_task_order(s), _arch_order(s))):
        lines.append(f"| {TITLES[s['dataset']]} {s['class_names']} | {s['n_train']} / {s['n_test']} | "
                     f"{s['label'].replace('gamma=', 'γ=')} | {100 * s['test_accuracy_mean']:.1f} | "
                     f"{100 * s['interpolant_test_accuracy_mean']:.1f} | {s['r2_mean']:.2f} | {s['interpolant_r2_mean']:.2f} |")
    return "\n".join(lines)


def sources_markdown(result: Mapping[str, Any]) -> str:
    """One line per task: data source (file and sha256), points drawn per seed, classes available."""
    lines = []
    for title, p in result["datasets"].items():
        ntr = sorted({d["n_train"] for d in p["draws"]})
        nte = sorted({d["n_test"] for d in p["draws"]})
        fmt = lambda v: str(v[0]) if len(v) == 1 else f"{v[0]}-{v[-1]}"  # noqa: E731
        lines.append(f"- **{title}**: {fmt(ntr)} train / {fmt(nte)} test points per seed, drawn uniformly at "
                     f"random from the {p['n_train_available']} / {p['n_test_available']} available, "
                     f"{len(p['draws'])} seed(s); source: {p['source']}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------
# numbers reported in the papers
def paper_reported_path() -> Path:
    """``results/paper_reported.csv`` at the repository root (absent in a pip-installed package)."""
    return Path(__file__).resolve().parents[3] / "results" / "paper_reported.csv"


def read_paper(path: str | Path | None = None) -> list[dict[str, Any]]:
    """Rows typed in from the papers (:data:`PAPER_COLUMNS`); ``[]`` if the file does not exist."""
    path = Path(path) if path is not None else paper_reported_path()
    if not path.is_file():
        return []
    return read_csv(path, PAPER_COLUMNS)


def _same(key: str, paper_value: Any, measured_value: Any) -> bool:
    if key in _NUMERIC:
        try:
            return math.isclose(float(paper_value), float(measured_value), rel_tol=1e-9, abs_tol=1e-12)
        except (TypeError, ValueError):
            return False
    return str(paper_value).strip() == str(measured_value).strip()


def compare_with_paper(rows: Sequence[Mapping[str, Any]], paper: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Join paper numbers with the measured seed means.

    A paper row matches the measured rows that agree with it on every key of :data:`JOIN_KEYS` the
    paper row fills in (an empty cell, e.g. an unknown ``n_train``, matches anything). For each paper
    row with a ``test_accuracy`` or ``test_mse``, the output has the paper value, the measured mean and
    standard deviation over the matching rows, their number, and ``difference = measured - paper``
    (NaN, with ``matched = 0``, when nothing matches).
    """
    out = []
    for p in paper:
        keys = {k: p.get(k) for k in JOIN_KEYS
                if p.get(k) not in (None, "") and not (isinstance(p.get(k), float) and math.isnan(p.get(k)))}
        match = [r for r in rows if all(_same(k, v, r.get(k)) for k, v in keys.items())]
        for metric in ("test_accuracy", "test_mse"):
            pv = p.get(metric)
            if pv in (None, "") or (isinstance(pv, float) and math.isnan(pv)):
                continue
            vals = np.array([float(r[metric]) for r in match], float)
            mean = float(vals.mean()) if len(vals) else math.nan
            out.append({**{k: p.get(k) for k in JOIN_KEYS}, "metric": metric, "paper_value": float(pv),
                        "measured_mean": mean, "measured_sd": float(vals.std(ddof=1)) if len(vals) > 1 else math.nan,
                        "matched": int(len(vals)), "difference": mean - float(pv),
                        "paper": p.get("paper", ""), "table_or_figure": p.get("table_or_figure", ""),
                        "page": p.get("page", "")})
    return out


def paper_markdown(joined: Sequence[Mapping[str, Any]]) -> str:
    """The joined table (paper beside measured, with the difference) as Markdown."""
    lines = ["| paper | where | task | kernel | depth | metric | paper | measured (mean ± sd, runs) | difference |",
             "|---|---|---|---|---|---|---|---|---|"]
    for j in joined:
        task = f"{j.get('dataset', '')} {j.get('classes', '')}".strip()
        kernel = f"{j.get('arch', '')}" + ("" if j.get("gamma") in (None, "") or (isinstance(j.get("gamma"), float)
                                                                                 and math.isnan(j["gamma"]))
                                         else f" γ={j['gamma']:g}")
        sd = "" if math.isnan(j["measured_sd"]) else f" ± {j['measured_sd']:.4g}"
        lines.append(f"| {j['paper']} | {j['table_or_figure']} p. {j['page']} | {task} | {kernel} | {j.get('depth', '')} "
                     f"| {j['metric']} | {j['paper_value']:.4g} | {j['measured_mean']:.4g}{sd} ({j['matched']}) "
                     f"| {j['difference']:+.4g} |")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------
# claims
def _by_config(summary: Sequence[Mapping[str, Any]], method: str) -> dict[tuple, dict[int, Mapping[str, Any]]]:
    """``{(dataset, task, arch, gamma): {depth: summary row}}`` for one method."""
    out: dict[tuple, dict[int, Mapping[str, Any]]] = {}
    for s in summary:
        if s["method"] != method:
            continue
        g = -1.0 if s["arch"] == "ffnet" else float(s["gamma"])
        out.setdefault((s["dataset"], s["task"], s["arch"], g), {})[int(s["depth"])] = s
    return out


def kept_gain(by_depth: Mapping[int, Mapping[str, Any]]) -> tuple[float, float, float]:
    """``(gain at the largest depth / best gain over depths, best gain, gain at the largest depth)``.

    Gain = seed-mean test accuracy minus the seed-mean accuracy of the trivial (training-mean)
    predictor, i.e. what the kernel learned beyond guessing the training majority.
    """
    gains = {d: s["test_accuracy_mean"] - s["trivial_accuracy_mean"] for d, s in by_depth.items()}
    best = max(gains.values())
    last = gains[max(gains)]
    return (last / best if best > 0 else math.nan), best, last


def reference_check(n: int = 400, depth: int = 10_000, seed: int = 0, source: str = "auto") -> dict[str, float]:
    """A fixed-size check that does not depend on the chapter's scale (about a second).

    MNIST 3 vs 5 with an *exactly balanced* training set (``n/2`` per class, so the training mean is 0)
    and the FFNet NTK at ``depth``: interpolation has an R^2 near 0 (the kernel is degenerate), yet its
    test predictions have the sign of the *kernel sum* ``sum_i y_i k(x, x_i)``, whose accuracy can stay
    far above chance. Returns ``r2``, ``accuracy``, ``kernel_sum_accuracy``, ``sign_agreement`` (fraction
    of test points where the two signs agree), ``trivial_accuracy`` and the shallow (L = 1) accuracy.
    """
    from companion import data
    from companion.learning import regression as R
    from companion.learning import selection as S

    ds = data.prepare("mnist", (3, 5), n, n, seed=seed, balanced=True, source=source)
    x_all = np.concatenate([ds.x_train, ds.x_test])
    out = {"n_train": float(ds.n_train), "n_test": float(ds.n_test), "depth": float(depth)}
    for L in (1, depth):
        K, _ = normalized_ntk(x_all, ds.x_train, "ffnet", L)
        Ktr = 0.5 * (K[:n] + K[:n].T)
        pred = np.asarray(R.KernelRegression(Ktr, ds.y_train).predict(K[n:], "ridge", [0.0]))[0]
        if L == 1:
            out["shallow_accuracy"] = float(S.accuracy(pred, ds.y_test))
            continue
        ksum = K[n:] @ ds.y_train
        out["accuracy"] = float(S.accuracy(pred, ds.y_test))
        out["r2"] = 1.0 - float(S.mse(pred, ds.y_test)) / float(S.mse(np.zeros_like(ds.y_test), ds.y_test))
        out["kernel_sum_accuracy"] = float(S.accuracy(ksum, ds.y_test))
        out["sign_agreement"] = float(np.mean(np.sign(pred) == np.sign(ksum)))
    out["trivial_accuracy"] = 0.5
    return out


# Thresholds (justified in the chapter): a degenerate kernel's predictions tend to the training mean,
# so the FFNet (and the ResNet with constant alpha) keeps at most KEEP_MAX of what it learned; the
# ResNet with alpha = L^-1 has a depth limit (the depth-1 NTK) and keeps at least HOLD_MIN of it.
KEEP_MAX = 0.10
HOLD_MIN = 0.90
R2_MAX = 0.05
R2_DROP = 0.02
LEARNS_MIN = 0.05


def claims(result: Mapping[str, Any], reference: Mapping[str, float] | None = None) -> list[C.Claim]:
    """The chapter's checks on the measured grid (worst case over the tasks of each kind, ridge and flow)
    and on :func:`reference_check` (computed here unless ``reference`` is given)."""
    P = result["params"]
    summary = summarize(result["rows"])
    L = max(P["depths"])
    out: list[C.Claim] = []
    src_h = "Huang et al. 2020 (experiments; as reconstructed)"
    src_t = "Tian & Yu 2024 (as reconstructed)"
    kinds = [k for k in KINDS if any(s["task"] == k for s in summary)]
    for method in P["regression_methods"]:
        by = _by_config(summary, method)
        for kind in kinds:
            what = "two-class" if kind == "two" else "all-class"
            keys = [k for k in by if k[1] == kind]
            datasets = sorted({k[0] for k in keys}, key=list(N_CLASSES).index)
            tag = f"{kind}-{method}"
            ff = [kept_gain(by[(d, kind, "ffnet", -1.0)]) for d in datasets]
            learned = min(b for _, b, _ in ff)
            out.append(C.at_least(f"06-learns-{tag}", f"{what} tasks, {method}: the best FFNet beats the trivial "
                                  "predictor (worst task, accuracy gain)", "premise", learned, LEARNS_MIN))
            out.append(C.at_most(f"06-ffnet-collapses-{tag}", f"{what} tasks, {method}: the FFNet at L = {L:,} keeps "
                                 f"at most {KEEP_MAX:.0%} of its best accuracy gain (worst task)", src_h,
                                 max(k for k, _, _ in ff), KEEP_MAX))
            if (datasets[0], kind, "resnet", 1.0) in by:
                res = [kept_gain(by[(d, kind, "resnet", 1.0)]) for d in datasets]
                out.append(C.at_least(f"06-resnet-holds-{tag}", f"{what} tasks, {method}: the ResNet with alpha = L^-1 "
                                      f"at L = {L:,} keeps at least {HOLD_MIN:.0%} of its best gain (worst task)", src_h,
                                      min(k for k, _, _ in res), HOLD_MIN))
            if (datasets[0], kind, "resnet", 0.0) in by:
                res0 = [kept_gain(by[(d, kind, "resnet", 0.0)]) for d in datasets]
                out.append(C.at_most(f"06-constant-alpha-collapses-{tag}", f"{what} tasks, {method}: the ResNet with "
                                     f"constant alpha = 1 at L = {L:,} keeps at most {KEEP_MAX:.0%} of its best gain "
                                     "(worst task)", src_t, max(k for k, _, _ in res0), KEEP_MAX))
            if method == "ridge":
                r2_ff = max(by[(d, kind, "ffnet", -1.0)][L]["r2_mean"] for d in datasets)
                out.append(C.at_most(f"06-ffnet-r2-{kind}", f"{what} tasks, ridge: the FFNet's test R^2 against the "
                                     f"training-mean predictor at L = {L:,} (worst task)", src_h, r2_ff, R2_MAX))
                if (datasets[0], kind, "resnet", 1.0) in by:
                    drops = []
                    for d in datasets:
                        bd = by[(d, kind, "resnet", 1.0)]
                        drops.append(max(s["r2_mean"] for s in bd.values()) - bd[L]["r2_mean"])
                    out.append(C.at_most(f"06-resnet-r2-{kind}", f"{what} tasks, ridge: the ResNet (alpha = L^-1) loses "
                                         f"at most {R2_DROP} of its best test R^2 by L = {L:,} (worst task)", src_h,
                                         max(drops), R2_DROP))
    ref = dict(reference) if reference is not None else reference_check(source=P.get("data_source", "auto"))
    tag = f"MNIST 3 vs 5, exactly balanced, {int(ref['n_train'])}/{int(ref['n_test'])}, FFNet L = {int(ref['depth']):,}"
    out.append(C.at_most("06-balanced-degenerate", f"{tag}: interpolation's test R^2 (the kernel is degenerate)",
                         "spec [D]", ref["r2"], R2_MAX))
    out.append(C.at_least("06-balanced-kernel-sum", f"{tag}: predictions have the sign of the kernel sum "
                          "sum_i y_i k(x, x_i) (fraction of test points)", "this chapter [D]", ref["sign_agreement"], 0.98))
    out.append(C.at_least("06-balanced-above-chance", f"{tag}: yet its test accuracy stays above chance (accuracy "
                          "minus 0.5)", "this chapter [D]", ref["accuracy"] - 0.5, 0.25))
    return out


# ---------------------------------------------------------------------------------------------------
# figures
def _style(s: Mapping[str, Any], gammas: Sequence[float]) -> dict[str, Any]:
    import matplotlib.pyplot as plt

    if s["arch"] == "ffnet":
        return {"color": "black", "marker": "s", "label": "FFNet", "ls": "-"}
    g = float(s["gamma"])
    gs = sorted(gammas)
    cmap = plt.get_cmap("viridis")
    i = gs.index(g)
    c = cmap(0.1 + 0.75 * i / max(1, len(gs) - 1))
    return {"color": c, "marker": "o", "label": rf"ResNet $\gamma={g:g}$", "ls": "--" if g == 0 else "-"}


def _panel(ax, summary, dataset, kind, method, metric, gammas, percent):
    sel = [s for s in summary if s["dataset"] == dataset and s["task"] == kind and s["method"] == method]
    if not sel:
        ax.set_visible(False)
        return
    f = 100.0 if percent else 1.0
    lines: dict[tuple, list] = {}
    for s in sel:
        lines.setdefault(_arch_order(s), []).append(s)
    for i, (key, rs) in enumerate(sorted(lines.items())):
        rs = sorted(rs, key=lambda s: int(s["depth"]))
        st = _style(rs[0], gammas)
        depth = np.array([int(s["depth"]) for s in rs], float) * 1.12 ** (i - (len(lines) - 1) / 2)  # dodge
        y = f * np.array([s[metric + "_mean"] for s in rs])
        e = f * np.array([s[metric + "_sd"] for s in rs])
        ax.errorbar(depth, y, yerr=e, color=st["color"], marker=st["marker"], ls=st["ls"], label=st["label"],
                    capsize=2, markersize=3.5, linewidth=1.3)
    first = sel[0]
    if metric == "test_accuracy":
        triv = f * np.mean([s["trivial_accuracy_mean"] for s in sel])
        ax.axhline(triv, color="0.5", ls=":", lw=1.2, label="training majority")
    else:
        ax.axhline(0.0, color="0.5", ls=":", lw=1.2, label="training mean")
    ax.set_xscale("log")
    names = first["class_names"].replace("_", " ")
    ax.set_title(f"{TITLES[dataset]} {names}\n{first['n_train']} train / {first['n_test']} test, {first['seeds']} seeds",
                 fontsize=9)
    ax.set_xlabel("depth $L$")


def _plot_metric(result: Mapping[str, Any], method: str, kinds: Sequence[str] | None, metric: str, ylabel: str,
                 accuracy: bool):
    """One row per kind of task, one panel per dataset, one line per kernel (mean +- sd over seeds)."""
    import matplotlib.pyplot as plt

    check.choice("method", method, METHODS)
    P = result["params"]
    kinds = list(P["class_sets"]) if kinds is None else [check.choice("kinds", k, KINDS) for k in kinds]
    summary = summarize(result["rows"])
    ds = P["datasets"]
    fig, axes = plt.subplots(len(kinds), len(ds), figsize=(3.3 * len(ds), 0.4 + 3.0 * len(kinds)), squeeze=False)
    for r, k in enumerate(kinds):
        for c, d in enumerate(ds):
            _panel(axes[r][c], summary, d, k, method, metric, P["gammas"], accuracy)
        axes[r][0].set_ylabel(f"{ylabel}, {method}")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 7), bbox_to_anchor=(0.5, -0.01))
    fig.tight_layout(rect=(0, 0.1 / len(kinds), 1, 1))
    return fig


def plot_accuracy(result: Mapping[str, Any], method: str = "ridge", kinds: Sequence[str] | None = None):
    """Test accuracy (%) against depth: one row per kind of task (``"two"``, ``"all"``; default: those
    run), one panel per dataset, one line per kernel (mean +- sd over seeds); dotted: the trivial
    predictor (training majority)."""
    return _plot_metric(result, method, kinds, "test_accuracy", "test accuracy (%)", True)


def plot_r2(result: Mapping[str, Any], method: str = "ridge", kinds: Sequence[str] | None = None):
    """Test R^2 (1 - MSE / MSE of the training-mean predictor) against depth: one row per kind of task,
    one panel per dataset; dotted: 0, the training-mean predictor."""
    return _plot_metric(result, method, kinds, "r2", "test $R^2$", False)


def provenance(result: Mapping[str, Any]) -> tuple[str, str]:
    """``(text, sha256)`` for figure sidecars: the data sources, and a hash over every draw's arrays."""
    import hashlib

    h = hashlib.sha256()
    parts = []
    for title, p in result["datasets"].items():
        ntr = sorted({d["n_train"] for d in p["draws"]})
        parts.append(f"{title}: {ntr[0]}{'' if len(ntr) == 1 else '-' + str(ntr[-1])} train points per seed, "
                     f"{len(p['draws'])} seeds, from {p['source']}")
        for d in p["draws"]:
            h.update(d["fingerprint"].encode())
    return "; ".join(parts), h.hexdigest()


def table_note(result: Mapping[str, Any]) -> str:
    """The line under every table: sources (file and sha256 prefix) and what the +- means."""
    srcs = {}
    for p in result["datasets"].values():
        srcs.setdefault(TITLES[p["dataset"]], p["source"])
    seeds = result["params"]["seeds"]
    return ("*Data:* " + "; ".join(f"{k}: {v}" for k, v in srcs.items())
            + f". Entries: mean ± standard deviation over {seeds} seed(s), each an independent uniform random "
            "draw of the training and test points (n train / test per task in the table); "
            "'trivial': the accuracy of predicting the training majority class.")


def shallow_accuracy(dataset: str, classes: Sequence[int], n_train: int, n_test: int, *, seed: int = 0,
                     source: str = "auto") -> dict[str, Any]:
    """Test accuracy of the depth-1 NTK (ridge chosen on validation) on a two-class problem, beside the
    trivial predictor's: a quick check that a pair of classes is learnable at a given sample size."""
    from companion import data

    check.choice("dataset", dataset, tuple(N_CLASSES))
    task = Task(dataset, "two", tuple(int(c) for c in classes))
    raw = data.load(dataset, source=source)
    ds = _draw(task, {"n_train": n_train, "n_test": n_test}, seed, raw)
    K, _ = normalized_ntk(np.concatenate([ds.x_train, ds.x_test]), ds.x_train, "ffnet", 1)
    res = fit_and_score(K, ds.y_train, ds.y_test, ["ridge"], seed=seed)[0]
    triv_acc, _ = trivial(ds.y_train, ds.y_test)
    return {"task": task.title(), "n_train": ds.n_train, "n_test": ds.n_test, "accuracy": res["test_accuracy"],
            "trivial_accuracy": triv_acc, "source": ds.meta["source"]}
