"""Why the deep FFNet stops learning, measured: the nugget acts as a ridge that grows with depth.

This book's derivation (chapter 6, ``eq-06-nugget-ridge``): for ``rho < 1`` the normalised FFNet NTK is
``k_L(rho) = k_L(0) + h(rho) / L + o(1/L)``, where ``k_L(0) = 1/4 + (3/8) ln L / L + O(1/L)`` is the
same for every pair (chapter 3) and ``h(rho) = lim L (k_L(rho) - k_L(0))`` carries the information. On
``n`` training points, with ``H_ij = h(rho_ij)`` off the diagonal and 0 on it, the kernel matrix is
exactly ``K_L = k_L(0) 1 1^T + (1/L) [H + L (1 - k_L(0)) I] + o(1/L)``: the constant is absorbed by the
training mean, and on the informative part ``H`` the regression is kernel ridge regression with the ridge
``Lambda(L) = L (1 - k_L(0)) ~ (3/4) L`` (in the units of ``H``), which no choice of the regression's own
ridge can undo. :func:`effective_ridge` measures ``Lambda`` from the kernels themselves.

The NNGP degenerates differently (:func:`nngp_collapse`, ``eq-06-nngp``): every correlation tends to 1
(``1 - rho_L ~ 9 pi^2 / (2 L^2)``); its pair-dependent part is of order ``L^-3``, so the vanishing nugget
``9 pi^2 / (2 L^2)`` is again a ridge growing like ``L`` relative to it. :func:`onset` measures at which
depth the FFNet stops learning, for several sample sizes ``n``.
"""

from __future__ import annotations

import contextlib
import math
import time
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from companion.publish import report
from companion.util import validate as check
from companion.util.threads import blas_threads
from companion.learning import selection as S

from .grid import correlations, kernel_sum
from .tasks import RIDGES, Task, draw

#: The nugget's limit: 1 - 1/4 (chapter 3's depth limit of the normalised FFNet NTK is 1/4 off the diagonal).
NUGGET = 0.75
#: 1 - rho_L ~ NNGP_COEFF / L^2 for the FFNet's normalised NNGP (chapter 3: 1 - rho_l ~ 9 pi^2 / (2 l^2)).
NNGP_COEFF = 9.0 * math.pi ** 2 / 2.0


def _off(rho: np.ndarray) -> np.ndarray:
    n = rho.shape[0]
    return rho[np.triu_indices(n, 1)]


def _kernel(kind: str, rho: np.ndarray, depth: int) -> Any:
    from companion import kernels

    if kind == "ffnet":
        return kernels.ffnet_normalized(rho, depth, method="depthfree")
    return kernels.resnet_normalized(rho, depth, 1.0 / depth, "hidden", method="depthfree")


def informative_kernel(rho_off: np.ndarray, ref_depth: int) -> np.ndarray:
    """``h(rho) ~ L_ref (k_{L_ref}(rho) - k_{L_ref}(0))``, the informative part of the deep FFNet NTK, at
    the off-diagonal correlations ``rho_off`` (any shape, values in ``[-1, 1)``), ``eq-06-nugget-ridge``.

    ``L (k_L(rho) - k_L(0))`` converges like ``1/L`` (it changes by less than 1e-3 between ``L = 10^3`` and
    ``10^5`` for ``rho`` in ``[-0.9, 0.9]``). Raises ``ValueError`` for ``ref_depth < 1``.
    """
    ref_depth = check.integer("ref_depth", ref_depth, minimum=1)
    k = np.asarray(_kernel("ffnet", np.asarray(rho_off, float), ref_depth).ntk)
    k0 = float(np.asarray(_kernel("ffnet", np.zeros(1), ref_depth).ntk)[0])
    return ref_depth * (k - k0)


def effective_ridge(x: np.ndarray, depths: Sequence[int], ref_depth: int,
                    kinds: Sequence[str] = ("ffnet", "resnet")) -> list[dict[str, Any]]:
    """The nugget-as-ridge decomposition of a training kernel, measured at each depth (``eq-06-nugget-ridge``).

    For inputs ``x`` ``(n, d)`` and each depth ``L``, the off-diagonal entries of the normalised NTK are
    fitted by least squares as ``a_L + b_L H_ij`` with ``H`` from :func:`informative_kernel` at
    ``ref_depth``. With unit diagonal this is the exact split ``K_L = a_L 1 1^T + b_L H + nu_L I + R``
    (``nu_L = 1 - a_L``, ``H`` with zero diagonal, ``R`` the off-diagonal residual), i.e. kernel ridge on
    ``H`` at the ridge ``Lambda_L = nu_L / b_L``. The prediction is ``Lambda_L = (3/4) L``.

    ``kinds``: ``"ffnet"`` (the FFNet NTK) and/or ``"resnet"`` (the ResNet with ``alpha = 1/L``, whose
    informative part does not shrink: the counterfactual).

    Returns one dict per kind and depth: ``kind, depth, constant (a_L), scale (b_L), nugget (nu_L),
    ridge (Lambda_L), ratio (Lambda_L / (3/4 L)), residual`` (RMS of ``R`` over the RMS of ``b_L (H -
    mean H)``).

    Raises ``ValueError`` for fewer than 3 points or a depth below 1.
    """
    x = check.matrix("x", x)
    if x.shape[0] < 3:
        raise check.fail("x", f"array of shape {x.shape}", "at least 3 points (n, d)")
    rho = _off(correlations(x, x))
    H = informative_kernel(rho, ref_depth)
    A = np.stack([np.ones_like(H), H], axis=1)
    out = []
    for kind in kinds:
        check.choice("kinds", kind, ("ffnet", "resnet"))
        for L in depths:
            L = check.integer("depths", L, minimum=1)
            k = np.asarray(_kernel(kind, rho, L).ntk)
            (a, b), *_ = np.linalg.lstsq(A, k, rcond=None)
            resid = k - A @ np.array([a, b])
            spread = abs(b) * float(np.std(H))
            nu = 1.0 - a
            out.append({"kind": kind, "depth": L, "constant": float(a), "scale": float(b), "nugget": float(nu),
                        "ridge": float(nu / b) if b > 0 else math.inf, "ratio": float(nu / b / (NUGGET * L))
                        if b > 0 else math.inf, "residual": float(np.sqrt(np.mean(resid ** 2)) / spread)
                        if spread > 0 else math.inf})
    return out


def nngp_collapse(x: np.ndarray, depths: Sequence[int]) -> list[dict[str, Any]]:
    """Off-diagonal statistics of the FFNet's normalised NNGP and NTK on inputs ``x`` ``(n, d)``
    (``eq-06-nngp``, chapter 6; ``1 - rho_L ~ 9 pi^2 / (2 L^2)`` from chapter 3).

    Returns one dict per kernel (``"nngp"``, ``"ntk"``) and depth with ``mean`` and ``sd`` of the
    off-diagonal entries, ``gap = 1 - mean`` (the NNGP's ``gap * L^2`` tends to ``9 pi^2 / 2``: every
    correlation tends to 1; its ``sd`` falls like ``L^-3``) and ``gap_l2 = gap * L^2``.
    """
    from companion import kernels

    x = check.matrix("x", x)
    rho = _off(correlations(x, x))
    out = []
    for L in depths:
        L = check.integer("depths", L, minimum=1)
        k = kernels.ffnet_normalized(rho, L, method="depthfree")
        for name, v in (("nngp", np.asarray(k.nngp)), ("ntk", np.asarray(k.ntk))):
            gap = float(np.mean(1.0 - v))
            out.append({"kernel": name, "depth": L, "mean": float(np.mean(v)), "sd": float(np.std(v)),
                        "gap": gap, "gap_l2": gap * L * L})
    return out


def _nested_order(y: np.ndarray, seed: int) -> np.ndarray:
    """An order of the training points whose every even-length prefix is exactly balanced (two classes)."""
    rng = np.random.default_rng(seed)
    pos, neg = rng.permutation(np.flatnonzero(y > 0)), rng.permutation(np.flatnonzero(y < 0))
    m = min(len(pos), len(neg))
    return np.stack([pos[:m], neg[:m]], axis=1).reshape(-1)


def onset(P: Mapping[str, Any], log: Callable[[str], Any] = report.log, *, threads: int | None = 1) -> dict[str, Any]:
    """When does the FFNet stop learning? Test ``R^2`` against depth for several sample sizes ``n``.

    On the first dataset's two-class task with exactly balanced classes (``P["datasets"][0]`` and its
    pair), training sets of the sizes ``P["onset_ns"]`` are nested prefixes of one balanced draw, scored on
    the same ``P["n_test"]`` test points; the ridge is chosen on validation
    (:func:`companion.learning.selection.report`). For each ``n`` the top eigenvalue ``mu_1`` of the
    centred informative kernel ``C H C`` is recorded: the nugget's ridge ``(3/4) L`` reaches it at the
    depth ``L_1 = (4/3) mu_1`` (``eq-06-onset``). The FFNet's NNGP is scored at the largest ``n`` too.

    Returns ``{"rows": [{kernel, n, depth, r2, accuracy, kernel_sum_accuracy, ridge}], "spectrum":
    {n: mu_1}, "task", "n_test", "seconds"}``.
    """
    from companion import data
    from companion.kernels import ffnet_normalized

    start = time.perf_counter()
    ds_name = P["datasets"][0]
    task = Task(ds_name, "two", tuple(P["pairs"][ds_name]))
    raw = data.load(ds_name, source=P["data_source"])
    nmax = max(P["onset_ns"])
    ds = draw(task, {"n_train": nmax, "n_test": P["n_test"]}, 0, raw, "balanced")
    order = _nested_order(ds.y_train, 0)
    ns = [n for n in P["onset_ns"] if n <= len(order)]
    xtr, ytr = ds.x_train[order], ds.y_train[order]
    nt = len(order)
    rho = correlations(np.concatenate([xtr, ds.x_test]), xtr)
    Hfull = informative_kernel(rho[:nt], max(P["ridge_depths"]))
    np.fill_diagonal(Hfull, 0.0)
    spectrum = {}
    for n in ns:
        C = np.eye(n) - 1.0 / n
        spectrum[n] = float(np.linalg.eigvalsh(C @ Hfull[:n, :n] @ C)[-1])
    rows = []
    with blas_threads(threads) if threads is not None else contextlib.nullcontext():
        for L in P["onset_depths"]:
            k = ffnet_normalized(rho, L, method="depthfree")
            for name, Kfull in (("ntk", np.asarray(k.ntk)), ("nngp", np.asarray(k.nngp))):
                for n in (ns if name == "ntk" else ns[-1:]):
                    idx = np.r_[np.arange(n), nt + np.arange(ds.n_test)]
                    K = Kfull[idx][:, :n]
                    Ktr = 0.5 * (K[:n] + K[:n].T)
                    r = S.report(Ktr, ytr[:n], K[n:], ds.y_test, {"ridge": RIDGES}, val_fraction=P["val_fraction"],
                                 seed=0)[0]
                    rows.append({"kernel": name, "n": n, "depth": int(L), "r2": r.r2,
                                 "accuracy": r.selected_test_accuracy, "ridge": r.value,
                                 "kernel_sum_accuracy": float(S.accuracy(kernel_sum(K[n:], ytr[:n]), ds.y_test))})
            log(f"  onset: depth {L:,} done, {time.perf_counter() - start:.1f} s")
    return {"rows": rows, "spectrum": spectrum, "task": task.title(), "n_test": ds.n_test,
            "ridge_inputs": xtr[: min(nt, max(ns))], "seconds": time.perf_counter() - start}


def r2_at(rows: Sequence[Mapping[str, Any]], n: int, depth: float, kernel: str = "ntk") -> float:
    """Test ``R^2`` of sample size ``n`` at ``depth``, interpolated linearly in ``log L`` between grid depths
    (NaN outside the grid)."""
    sel = sorted((r for r in rows if r["n"] == n and r["kernel"] == kernel), key=lambda r: r["depth"])
    if not sel:
        raise check.fail("n", n, "a sample size present in the rows")
    L = np.log([r["depth"] for r in sel])
    if not L[0] <= math.log(depth) <= L[-1]:
        return math.nan
    return float(np.interp(math.log(depth), L, [r["r2"] for r in sel]))


def collapse_spread(onset_result: Mapping[str, Any], ratio: float) -> tuple[float, float]:
    """Spread (max - min over the sample sizes ``n``) of the FFNet's test ``R^2`` at the depth ``L = ratio * n``,
    and, as its counterfactual, at one fixed depth (``ratio`` times the geometric mean of the ``n``).
    ``eq-06-onset`` says the first is small (``R^2`` depends on ``L / n``) and the second is not."""
    rows = onset_result["rows"]
    ns = sorted({r["n"] for r in rows if r["kernel"] == "ntk"})
    fixed = ratio * float(np.exp(np.mean(np.log(ns))))
    at_ratio = [r2_at(rows, n, ratio * n) for n in ns]
    at_fixed = [r2_at(rows, n, fixed) for n in ns]
    return float(np.max(at_ratio) - np.min(at_ratio)), float(np.max(at_fixed) - np.min(at_fixed))


def scaling_exponent(onset_result: Mapping[str, Any]) -> float:
    """Least-squares slope of ``log L_half`` against ``log n`` over the onset study's sample sizes
    (:func:`half_depth`; sizes whose R^2 never halves are left out; NaN with fewer than two)."""
    rows = onset_result["rows"]
    ns = sorted({r["n"] for r in rows if r["kernel"] == "ntk"})
    pts = [(math.log(n), math.log(h)) for n in ns if math.isfinite(h := half_depth(rows, n))]
    if len(pts) < 2:
        return math.nan
    x, y = np.array(pts).T
    return float(np.polyfit(x, y, 1)[0])


def half_depth(rows: Sequence[Mapping[str, Any]], n: int, kernel: str = "ntk") -> float:
    """The depth at which the test ``R^2`` first falls below half its depth-1 value (log-linear
    interpolation between grid depths; ``inf`` if it never does) for sample size ``n``."""
    sel = sorted((r for r in rows if r["n"] == n and r["kernel"] == kernel), key=lambda r: r["depth"])
    if not sel:
        raise check.fail("n", n, "a sample size present in the rows")
    half = 0.5 * sel[0]["r2"]
    for a, b in zip(sel, sel[1:]):
        if b["r2"] < half <= a["r2"]:
            t = (a["r2"] - half) / (a["r2"] - b["r2"])
            return float(math.exp(math.log(a["depth"]) + t * (math.log(b["depth"]) - math.log(a["depth"]))))
    return math.inf





def measure(P: Mapping[str, Any], x: np.ndarray) -> dict[str, Any]:
    """The nugget-as-ridge decomposition (:func:`effective_ridge`, FFNet and the ResNet with alpha = 1/L) and
    the NNGP collapse (:func:`nngp_collapse`) at the depths ``P["ridge_depths"]`` on training inputs ``x``
    ``(n, d)``; the informative kernel ``H`` is taken at the largest of them (``ref_depth``)."""
    ref = max(P["ridge_depths"])
    return {"ridge": effective_ridge(x, P["ridge_depths"], ref), "nngp": nngp_collapse(x, P["ridge_depths"]),
            "ref_depth": ref, "n": int(len(x))}


__all__ = ["NUGGET", "NNGP_COEFF", "informative_kernel", "effective_ridge", "nngp_collapse", "onset", "half_depth",
           "scaling_exponent", "r2_at", "collapse_spread", "measure"]
