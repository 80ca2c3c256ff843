"""Degeneracy with depth (chapter 3): the normalised kernels against the correlation, the MNIST Gram
study, the chapter's claims and its tables. The rates and the derivation of ``eq-03-rates`` are in
:mod:`.rate`; the figures in :mod:`.plots`.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from companion.publish import report
from companion.util import validate as check
from companion.publish import claims as C
from companion.chapters.common import resnet_ntk, ffnet_ntk, rho_grid, sup_distance
from companion import kernels as K
from companion.chapters.degeneracy import rate as R

CLAIM_DEPTH = 10_000  # the limit claims are checked at this depth whatever the scale


# ---------------------------------------------------------------------------------------------------
# 1. normalised kernels against the correlation
def normalized_curves(P: dict[str, Any], log=report.log) -> dict[str, Any]:
    """Normalised NNGP and NTK of the FFNet and of the ResNet (``alpha = L^-gamma``, ``trained="hidden"``)
    at each depth of ``P["depths"]``, on two grids: ``rho`` evenly spaced in ``[-1, 1]`` and
    ``u = 1 - rho`` log-spaced from 1e-12 to 1 (to resolve the boundary layer next to ``rho = 1``).

    Returns ``{"rho", "u", "depths", "gamma", "ffnet": {"ntk", "nngp", "ntk_u"}, "resnet": {...},
    "limits": {"ffnet_ntk", "depth1_ntk", "depth1_nngp"}}``; arrays of shape ``(len(depths), points)``.
    """
    start = time.perf_counter()
    depths, gamma = P["depths"], P["gamma"]
    rho = np.linspace(-1.0, 1.0, P["rho_points"])
    u = np.logspace(-12, 0, P["rho_points"])
    out: dict[str, Any] = {"rho": rho, "u": u, "depths": np.array(depths), "gamma": gamma}
    for arch in ("ffnet", "resnet"):
        rows = {"ntk": [], "nngp": [], "ntk_u": []}
        for L in depths:
            if arch == "ffnet":
                k, ku = K.ffnet_normalized(rho, L), K.ffnet_normalized(1.0 - u, L)
            else:
                a = K.branch_scaling(L, gamma)
                k, ku = K.resnet_normalized(rho, L, a, "hidden"), K.resnet_normalized(1.0 - u, L, a, "hidden")
            rows["ntk"].append(np.asarray(k.ntk))
            rows["nngp"].append(np.asarray(k.nngp))
            rows["ntk_u"].append(np.asarray(ku.ntk))
        out[arch] = {key: np.array(v) for key, v in rows.items()}
    d1 = K.depth1_limit(rho)
    out["limits"] = {"ffnet_ntk": np.asarray(K.ffnet_limit(rho).ntk), "depth1_ntk": np.asarray(d1.ntk),
                     "depth1_nngp": np.asarray(d1.nngp), "depth1_ntk_u": np.asarray(K.depth1_limit(1.0 - u).ntk)}
    log(f"Normalised kernels at {len(depths)} depths: {time.perf_counter() - start:.1f} s")
    return out


# ---------------------------------------------------------------------------------------------------
# 4. degeneracy on real data
def gram_study(P: dict[str, Any], log=report.log) -> dict[str, Any]:
    """Kernel matrices of real MNIST points against depth, and what kernel regression does with them.

    Draws ``P["n_train"]`` training and ``P["n_test"]`` test images of ``P["classes"]`` (+-1 targets,
    drawn *without* class balancing so that the training mean is not exactly 0), computes the FFNet and
    ResNet (``gamma = P["gamma"]``, trained="hidden") NNGP and NTK for each depth in
    ``P["gram_depths"]``, and records the normalised Gram spectra, effective ranks, distance from
    "constant + nugget" and the NTK regression (interpolation, ``t = inf``: the infinitely wide net
    trained to zero loss) on the test points.

    Returns ``{"dataset" (description), "data_hash", "y_mean" (training mean), "depths", "n_train",
    "ffnet"/"resnet": {"spectrum_ntk", "spectrum_nngp" (depths, n), "rank_ntk", "rank_nngp",
    "participation_ntk", "distance_ntk", "constant_ntk", "quarter_ntk" (RMS of the off-diagonal entries
    minus 1/4), "change_ntk" (RMS change of the off-diagonal entries since the first depth), "pred" (depths, n_test), "mse", "accuracy", "spread"}, "trivial_mse"}``.
    """
    from companion import data
    from companion.learning.regression import KernelRegression

    start = time.perf_counter()
    ds = data.prepare(P["dataset"], P["classes"], P["n_train"], P["n_test"], seed=P["seed"], balanced=False)
    X = np.concatenate([ds.x_train, ds.x_test])
    n = ds.n_train
    y_mean = float(ds.y_train.mean())
    out: dict[str, Any] = {"dataset": ds.describe(), "data_hash": ds.fingerprint(), "y_mean": y_mean,
                           "depths": np.array(P["gram_depths"]), "n_train": n, "gamma": P["gamma"], "y_test": ds.y_test,
                           "trivial_mse": float(np.mean((ds.y_test - y_mean) ** 2))}
    for arch in ("ffnet", "resnet"):
        rec: dict[str, list] = {k: [] for k in ("spectrum_ntk", "spectrum_nngp", "rank_ntk", "rank_nngp",
                                                "participation_ntk", "distance_ntk", "constant_ntk", "quarter_ntk", "change_ntk", "pred",
                                                "mse", "accuracy", "spread")}
        for L in P["gram_depths"]:
            if arch == "ffnet":
                k = K.ffnet_kernels(X, depth=L)
            else:
                k = K.resnet_kernels(X, depth=L, alpha=K.branch_scaling(L, P["gamma"]), trained="hidden")
            ntk, nngp = K.normalize_kernel(np.asarray(k.ntk)), K.normalize_kernel(np.asarray(k.nngp))
            Ktr = ntk[:n, :n]
            rep = K.degeneracy_report(Ktr)
            rec["spectrum_ntk"].append(K.gram_spectrum(Ktr))
            rec["spectrum_nngp"].append(K.gram_spectrum(nngp[:n, :n]))
            rec["rank_ntk"].append(rep["effective_rank"])
            rec["participation_ntk"].append(rep["participation_rank"])
            rec["rank_nngp"].append(K.effective_rank(nngp[:n, :n]))
            rec["distance_ntk"].append(rep["distance"])
            rec["constant_ntk"].append(rep["constant"])
            off = Ktr[~np.eye(n, dtype=bool)]
            rec["quarter_ntk"].append(float(np.sqrt(np.mean((off - 0.25) ** 2))))
            if not rec["change_ntk"]:
                first = off  # the first depth's entries: what the change is measured from
            rec["change_ntk"].append(float(np.sqrt(np.mean((off - first) ** 2))))
            pred = np.asarray(KernelRegression(Ktr, ds.y_train).predict(ntk[n:, :n], "flow", [math.inf]))[0]
            rec["pred"].append(pred)
            rec["mse"].append(float(np.mean((pred - ds.y_test) ** 2)))
            rec["accuracy"].append(float(np.mean(np.sign(pred) == ds.y_test)))
            rec["spread"].append(float(np.sqrt(np.mean((pred - y_mean) ** 2))))
        out[arch] = {key: np.array(v) for key, v in rec.items()}
    log(f"{ds.describe()}\nGram matrices at {len(P['gram_depths'])} depths x 2 networks: "
        f"{time.perf_counter() - start:.1f} s")
    return out


def degenerate_prediction(y_mean: float, n: int, c: float = 0.25) -> float:
    """What the exact "constant + nugget" kernel ``c 1 1^T + (1 - c) I`` (test row ``c 1^T``) predicts
    everywhere off the training set (equation ``eq-03-mean``): ``y_mean * n c / (n c + 1 - c)``
    (``n >= 1``, ``0 <= c <= 1``; raises ``ValueError`` otherwise)."""
    y_mean = check.real("y_mean", y_mean)
    n = check.integer("n", n, minimum=1)
    c = check.real("c", c, minimum=0.0, maximum=1.0)
    return y_mean * n * c / (n * c + 1.0 - c)


# ---------------------------------------------------------------------------------------------------
def run(P: dict[str, Any], log=report.log) -> dict[str, Any]:
    """Every experiment of the chapter: ``{"curves", "rates", "log_rate", "asymptotics", "gram", "params"}``."""
    return {"curves": normalized_curves(P, log), "rates": R.depth_rates(P, log), "log_rate": R.rate_study(P, log),
            "asymptotics": R.asymptotics(P, log=log), "gram": gram_study(P, log), "params": dict(P)}


def limit_checks(points: int = 400) -> dict[str, float]:
    """The chapter's fixed-depth measurements (independent of the scale), each with its counterfactual.

    * ``ffnet_quarter``: ``max |k_L - 1/4|`` over ``rho0`` in [-0.9, 0.99] at ``L = 10^4``; ``quarter_law``:
      what ``eq-03-rates`` predicts for it from ``h(rho0)`` measured at ``L = 10^3``; ``resnet_quarter``:
      the same distance for the ResNet with ``gamma = 1``.
    * ``first_order_<gamma>`` (gamma = 1, 0.75): :func:`.rate.first_order_check` at ``L = 10^4``;
      ``cross_<gamma>``: the other gamma's distance scaled with this gamma's ``L^(2 gamma - 1)``.
    * ``kappa0_slope`` (``l`` from 10^3 to 10^4, ``rho0 = 0.5``), ``kappa0_slope_shallower`` (10^2 to
      10^3), ``kappa0_slope_resnet`` (the ResNet's map with ``alpha = 1``): :func:`.rate.kappa0_log_slope`.
    * ``cube`` and ``cube_shallow``: ``8 P_(L/2)`` at ``L = 10^4`` and ``L = 100`` (``eq-03-backward``).
    """
    rho = rho_grid(points)
    L = CLAIM_DEPTH
    out: dict[str, float] = {}
    k = ffnet_ntk(rho, L)
    out["ffnet_quarter"] = sup_distance(k, 0.25)
    h = 1000 * (ffnet_ntk(rho, 1000) - 0.25) - R.FFNET_LOG_COEF * math.log(1000)
    out["quarter_law"] = float(np.max(np.abs(R.FFNET_LOG_COEF * math.log(L) + h)) / L)
    out["resnet_quarter"] = sup_distance(resnet_ntk(rho, L, 1.0), 0.25)
    d1 = np.asarray(K.depth1_limit(rho).ntk)
    dist = {g: sup_distance(resnet_ntk(rho, L, g), d1) for g in (1.0, 0.75)}
    for g, other in ((1.0, 0.75), (0.75, 1.0)):
        fo = R.first_order_check(g, L, points)
        out[f"first_order_{g:g}"], out[f"first_order_{g:g}_shallower"] = fo["scaled"], fo["scaled_shallower"]
        out["g1_max"] = fo["g1_max"]
        out[f"cross_{g:g}"] = dist[other] * L ** (2.0 * g - 1.0)
    theta = R.plain_trajectory(0.5, L)
    out["kappa0_slope"] = R.kappa0_log_slope(theta, 1000, L)
    out["kappa0_slope_shallower"] = R.kappa0_log_slope(theta, 100, 1000)
    out["kappa0_slope_resnet"] = R.kappa0_log_slope(R.plain_trajectory(0.5, L, alpha=1.0), 1000, L)
    out["cube"] = 8.0 * float(R.backward_products(theta)[L // 2])
    out["cube_shallow"] = 8.0 * float(R.backward_products(theta[:101])[50])
    return out


def claims(result: dict[str, Any]) -> list[C.Claim]:
    """The chapter's checks (the claims table of chapter 3), each with a counterfactual that the same
    comparison must reject."""
    lc = limit_checks()
    L = CLAIM_DEPTH
    out = [C.at_most(
        "03-ffnet-quarter", f"FFNet normalised NTK: max over rho0 in [-0.9, 0.99] of |k_L - 1/4| at L = {L}, at most what "
        "eq-03-rates predicts from h(rho0) measured at L = 10^3 (+1% for the drift of h, measured < 0.3% per decade)",
        "Huang et al. 2020 (abstract: the FFNet NTK degenerates); expansion: this book's derivation",
        lc["ffnet_quarter"], 1.01 * lc["quarter_law"],
        counterfactual=("ResNet gamma = 1 (hidden) at the same depth", lc["resnet_quarter"]))]
    lr = result.get("log_rate")
    if lr is not None:
        f, r = lr["ffnet"], lr["resnet"]
        worst = int(np.argmax(np.abs(f["coef"] / R.FFNET_LOG_COEF - 1.0)))
        lo, hi = R.RATE_FIT
        out.append(C.within(
            "03-ffnet-log-coefficient", f"FFNet: coefficient of ln L in L (k_L - 1/4), fitted over L = {lo:g} to {hi:g} "
            f"with the next-order terms, worst of rho0 in {list(R.RATE_RHO0)} (rho0 = {lr['rho0'][worst]:g}); "
            "tolerance 1% (the coefficient moves by at most "
            f"{100 * float(np.max(np.abs(f['coef_alt'] / f['coef'] - 1))):.2f}% with another next-order model)",
            "this book's derivation (eq-03-rates)", float(f["coef"][worst]), R.FFNET_LOG_COEF, 0.01 * R.FFNET_LOG_COEF,
            counterfactual=("the same fit of L (k_L - k_1) for the ResNet gamma = 1 (a 1/L law)",
                            float(r["coef"][int(np.argmax(np.abs(r["coef"] / R.FFNET_LOG_COEF - 1.0)))]))))
    for g, cid in ((1.0, "03-resnet-depth1"), (0.75, "03-resnet-depth1-g0p75")):
        other = 0.75 if g == 1.0 else 1.0
        tol = abs(lc[f"first_order_{g:g}_shallower"] - lc["g1_max"])
        out.append(C.within(
            cid, f"ResNet gamma = {g:g} (hidden): L^(2 gamma - 1) max |k_L - k_1| at L = {L} equals max |g1| "
            f"(first-order term, eq-03-first-order); tolerance: the deviation at L = {L // 10} (the next-order term, "
            "which decays like L^(1 - 2 gamma))", "this book's derivation", lc[f"first_order_{g:g}"], lc["g1_max"], tol,
            counterfactual=(f"ResNet gamma = {other:g}, scaled with gamma = {g:g}'s exponent", lc[f"cross_{g:g}"])))
    out.append(C.within(
        "03-kappa0-log", "FFNet, rho0 = 0.5: (r_l2 - r_l1) / ln(l2 / l1) with r_l = 3 / (1 - kappa0(rho_l)) - l, l from 10^3 "
        "to 10^4, equals 3/2 (eq-03-kappa0-log); tolerance: its deviation from 10^2 to 10^3 (the next-order term)",
        "this book's derivation", lc["kappa0_slope"], R.KAPPA0_LOG_COEF,
        abs(lc["kappa0_slope_shallower"] - R.KAPPA0_LOG_COEF),
        counterfactual=("the ResNet's correlation map with alpha = 1", lc["kappa0_slope_resnet"])))
    out.append(C.within(
        "03-backward-cube", f"FFNet, rho0 = 0.5: backward product 8 P_(L/2) at L = {L} equals 1 (P_l ~ (l/L)^3, "
        "eq-03-backward); tolerance twice the log correction (9/2) ln L / L", "this book's derivation",
        lc["cube"], 1.0, 2.0 * R.BACKWARD_LOG_COEF * math.log(L) / L,
        counterfactual=("the same at L = 100", lc["cube_shallow"])))
    asy = result.get("asymptotics")
    if asy is not None:
        last = asy["runs"][-1]
        Ld = last["depth"]
        out.append(C.within(
            "03-sum-package", f"FFNet: the sum eq-03-sum in plain float64 equals the kernel module's NTK (L = {Ld}); "
            f"tolerance: rounding, 1e-16 per layer", "two independent computations",
            last["ntk"] - last["ntk_package"], 0.0, 1e-16 * Ld,
            counterfactual=(f"the kernel module's NTK at L - 1 = {Ld - 1}", last["ntk"] - last["ntk_package_shallower"])))
    gram = result.get("gram")
    if gram is not None:
        ff, rs = gram["ffnet"], gram["resnet"]
        Lg = gram["depths"][-1]
        out.append(C.at_most(
            "03-gram-nngp-rank", f"MNIST, FFNet NNGP at L = {Lg}: effective rank (1 = all points alike); bound 1.05: "
            "the non-constant directions carry O(1 - rho_L) = O(L^-2) of the trace", "Huang et al. 2020 (degeneracy)",
            float(ff["rank_nngp"][-1]), 1.05, counterfactual=("ResNet gamma = 1 NNGP at the same depth", float(rs["rank_nngp"][-1]))))
        out.append(C.at_most(
            "03-gram-ntk-nugget", f"MNIST, FFNet NTK at L = {Lg}: RMS of the off-diagonal normalised entries minus 1/4 "
            "(distance from 1/4 + 3/4 I); bound: the largest |k_L - 1/4| that eq-03-rates allows off rho0 = 1, "
            f"{lc['quarter_law']:.2g} at L = 10^4, times L = 10^4 / {Lg}", "Huang et al. 2020 (degeneracy); this book's expansion",
            float(ff["quarter_ntk"][-1]), 1.01 * lc["quarter_law"] * CLAIM_DEPTH / Lg * max(1.0, math.log(Lg) / math.log(CLAIM_DEPTH)),
            counterfactual=("ResNet gamma = 1 NTK at the same depth", float(rs["quarter_ntk"][-1]))))
        g1 = R.first_order_check(1.0, 10, 400)["g1_max"]
        out.append(C.at_most(
            "03-gram-resnet-stable", f"MNIST, ResNet gamma = {gram['gamma']:g}: RMS change of the normalised NTK Gram entries "
            f"from L = {gram['depths'][0]} to L = {Lg}; bound: max|g1| L^(1 - 2 gamma) (eq-03-first-order; at L = 1 the "
            "ResNet is the depth-1 network), +1% for the next-order term", "Huang et al. 2020 (abstract); this book's derivation",
            float(rs["change_ntk"][-1]), 1.01 * g1 * float(Lg) ** (1.0 - 2.0 * gram["gamma"]),
            counterfactual=("FFNet", float(ff["change_ntk"][-1]))))
        out.append(C.at_most(
            "03-pred-collapse", f"MNIST, NTK regression at L = {Lg}: RMS of test predictions around the training mean, "
            "relative to the same at L = 1; bound 0.05 (eq-03-mean: the spread falls like the distance from constant + "
            "nugget)", "this book's measurement (learnability)", float(ff["spread"][-1] / ff["spread"][0]), 0.05,
            counterfactual=("ResNet gamma = 1", float(rs["spread"][-1] / rs["spread"][0]))))
        out.append(C.at_least(
            "03-mse-trivial", f"MNIST, NTK regression at L = {Lg}: test MSE / MSE of the training-mean predictor "
            "(1 = no better than the mean); bound 0.9", "this book's measurement (learnability)",
            float(ff["mse"][-1] / gram["trivial_mse"]), 0.9,
            counterfactual=("ResNet gamma = 1", float(rs["mse"][-1] / gram["trivial_mse"]))))
    return out


# ---------------------------------------------------------------------------------------------------
# tables (Markdown, for the chapter)
def rates_table(rates: dict[str, Any]) -> str:
    """:func:`.rate.depth_rates` as a Markdown table: fitted log-log slopes (a reported measurement, not
    a check: over a finite range it cannot tell ``1/L`` from ``ln L / L``) and the distance at the deepest L."""
    lines = [f"| kernel | fitted log-log slope (L ≥ {rates['fit_from']}) | ± std. error | derived law | "
             f"distance at L = {rates['depths'][-1]} | derived law there |", "|---|---|---|---|---|---|"]
    for s in rates["series"]:
        # the FFNet's h(rho0) is fitted at the deepest L, so its law agrees there by construction (said in the cell)
        law = ("((3/8) ln L + h(ρ₀)) / L, h fitted at the deepest L" if s["gamma"] is None
               else f"‖g₁‖∞ · L^({1 - 2 * s['gamma']:g})")
        lines.append(f"| {s['label']} | {s['slope']:.4f} | {s['stderr']:.4f} | {law} | {s['distance'][-1]:.3g} | "
                     f"{s['law'][-1]:.3g} |")
    return "\n".join(lines)


def log_rate_table(lr: dict[str, Any]) -> str:
    """:func:`.rate.rate_study` as a Markdown table: the fitted coefficient of ``ln L`` per ``rho0``."""
    lo, hi = R.RATE_FIT
    lines = [f"| ρ0 | FFNet: coefficient of ln L (L = {lo:g} to {hi:g}) | relative to 3/8 | without next-order terms | "
             "h(ρ0) (intercept) | ResNet γ = 1: coefficient |", "|---|---|---|---|---|---|"]
    f, r = lr["ffnet"], lr["resnet"]
    for i, rho0 in enumerate(lr["rho0"]):
        lines.append(f"| {rho0:g} | {f['coef'][i]:.5f} | {f['coef'][i] / R.FFNET_LOG_COEF - 1:+.2e} | "
                     f"{f['coef_plain'][i]:.5f} | {f['intercept'][i]:.4f} | {r['coef'][i]:.1e} |")
    return "\n".join(lines)


def gram_table(gram: dict[str, Any]) -> str:
    """Per depth: effective ranks, distance from constant + nugget, and the regression's test numbers."""
    lines = [f"Training mean ȳ = {gram['y_mean']:.4f}; the constant + nugget kernel would predict "
             f"{degenerate_prediction(gram['y_mean'], gram['n_train']):.4f} everywhere "
             f"({gram['n_train']} training points).", "",
             "| network | L | eff. rank NNGP | eff. rank NTK | NTK dist. from const. + nugget | "
             "mean test prediction | RMS(pred - mean) | test MSE / MSE(mean) | accuracy |",
             "|---|---|---|---|---|---|---|---|---|"]
    for arch, name in (("ffnet", "FFNet"), ("resnet", "ResNet")):
        g = gram[arch]
        for i, L in enumerate(gram["depths"]):
            lines.append(f"| {name} | {L} | {g['rank_nngp'][i]:.2f} | {g['rank_ntk'][i]:.1f} | {g['distance_ntk'][i]:.2e} | "
                         f"{g['pred'][i].mean():.4f} | {g['spread'][i]:.4f} | {g['mse'][i] / gram['trivial_mse']:.3f} | "
                         f"{g['accuracy'][i]:.3f} |")
    return "\n".join(lines)


