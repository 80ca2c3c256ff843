"""Degeneracy with depth (chapter 3, Huang et al. 2020): the normalised NNGP and NTK of the FFNet and
the ResNet as functions of the input correlation, how fast they reach their depth limits, why the FFNet
limit is 1/4, and what the degenerate kernel does to learning on real MNIST points.

Normalised kernels ``k(rho0) = K(x, x') / sqrt(K(x, x) K(x', x'))`` of unit inputs with correlation
``rho0`` come from :mod:`companion.kernels`; the depth limits (spec table) are::

    FFNet NTK        -> 1/4 for rho0 < 1, 1 at rho0 = 1  ("constant + nugget")     error ~ 1/L
    FFNet NNGP       -> 1                                                          (rank one)
    ResNet, alpha = L^-gamma, gamma > 1/2, trained="hidden":
        NTK          -> (kappa1(rho0) + rho0 kappa0(rho0)) / 2  (the depth-1 kernel) error ~ L^(1 - 2 gamma)
        NNGP         -> rho0

Why 1/4 (spec, derived): with ``u_l = 1 - rho_l`` and ``kappa1(1 - e) = 1 - e + c e^(3/2) + ...``,
``c = 2 sqrt(2) / (3 pi)``, the FFNet correlation map gives ``u_l ~ 9 pi^2 / (2 l^2)``, hence
``1 - kappa0(rho_l) = theta_l / pi ~ 3 / l``; the backward products ``P_l = prod_{j=l}^{L-1} kappa0(rho_j)``
behave like ``(l / L)^3`` and ``Theta_L / (L + 1) = (1 / (L + 1)) sum_l rho_l P_l -> int_0^1 t^3 dt = 1/4``.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from companion.util import validate as check
from companion.publish import claims as C
from companion.chapters.common import depth_colors, log_depths, rho_grid, sup_distance
from companion import kernels as K
from companion.learning.fits import loglog_slope
from companion.kernels.arccos import theta_from_u
from companion.networks.models import branch_scaling as resnet_alpha  # alpha = L^-gamma, validated
from companion.kernels import nngp_trajectory

CLAIM_DEPTH = 10_000  # the claims are checked at this depth whatever the scale
QUARTER_RATE = 9.0 * math.pi**2 / 2.0  # l^2 (1 - rho_l) -> 9 pi^2 / 2


def ffnet_ntk(rho, depth: int) -> np.ndarray:
    """Normalised FFNet NTK at ``rho`` (NumPy)."""
    return np.asarray(K.ffnet_normalized(rho, depth).ntk)


def resnet_ntk(rho, depth: int, gamma: float, trained: str = "hidden") -> np.ndarray:
    """Normalised ResNet NTK with ``alpha = L^-gamma`` at ``rho`` (NumPy)."""
    return np.asarray(K.resnet_normalized(rho, depth, resnet_alpha(depth, gamma), trained).ntk)


# ---------------------------------------------------------------------------------------------------
# 1. normalised kernels against the correlation
def normalized_curves(P: dict[str, Any], log=print) -> dict[str, Any]:
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
                a = resnet_alpha(L, gamma)
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
# 2. distance to the limit against depth
def depth_rates(P: dict[str, Any], log=print) -> dict[str, Any]:
    """Sup distance (over ``rho0`` in [-0.9, 0.99]) of the normalised NTK from its depth limit, against
    ``L`` (log-spaced to ``P["max_depth"]``): FFNet vs 1/4, ResNet ``alpha = L^-gamma`` (each gamma in
    ``P["gammas"]``, all > 1/2, ``trained="hidden"``) vs the depth-1 kernel. Fits the log-log slope over
    ``L >= P["fit_from"]`` and compares it with the derived exponent (-1 and ``1 - 2 gamma``).

    Returns ``{"depths", "series": [{"label", "distance" (len(depths),), "derived", "slope",
    "stderr", "intercept"}], "fit_from"}``.
    """
    start = time.perf_counter()
    rho = rho_grid(P["rho_points"])
    depths = log_depths(P["max_depth"], P["per_decade"])
    fit = depths >= P["fit_from"]
    if fit.sum() < 3:
        raise check.fail("fit_from", P["fit_from"], f"a depth leaving >= 3 depths to fit (max_depth {P['max_depth']})")
    depth1 = np.asarray(K.depth1_limit(rho).ntk)
    series = []
    configs = [("FFNet", None)] + [(rf"ResNet $\gamma={g:g}$", g) for g in P["gammas"]]
    for label, g in configs:
        if g is not None and g <= 0.5:
            raise check.fail("gammas", P["gammas"], "values > 1/2 (the regime where the depth-1 kernel is the limit)")
        if g is None:
            dist = [sup_distance(ffnet_ntk(rho, int(L)), 0.25) for L in depths]
            derived = -1.0
        else:
            dist = [sup_distance(resnet_ntk(rho, int(L), g), depth1) for L in depths]
            derived = 1.0 - 2.0 * g
        dist = np.array(dist)
        slope, intercept, stderr = loglog_slope(depths[fit], dist[fit])
        series.append({"label": label, "gamma": g, "distance": dist, "derived": derived, "slope": slope,
                       "stderr": stderr, "intercept": intercept})
    log(f"Distances to the limits at {len(depths)} depths: {time.perf_counter() - start:.1f} s")
    return {"depths": depths, "series": series, "fit_from": P["fit_from"]}


# ---------------------------------------------------------------------------------------------------
# 3. the asymptotic argument for 1/4
def backward_products(u: np.ndarray) -> np.ndarray:
    """``P_l = prod_{j=l}^{L-1} kappa0(rho_j)`` for ``l = 0..L`` from ``u_j = 1 - rho_j`` (``j = 0..L``).

    ``P_L = 1``; computed as ``exp`` of a reversed cumulative sum of ``log(1 - theta_j / pi)``.
    """
    theta = np.asarray(theta_from_u(np.asarray(u[:-1])))
    logs = np.log1p(-theta / np.pi)
    tail = np.concatenate([np.cumsum(logs[::-1])[::-1], [0.0]])
    return np.exp(tail)


def asymptotics(P: dict[str, Any], rho0: float = 0.5, log=print) -> dict[str, Any]:
    """The FFNet's asymptotic argument, measured along one trajectory (``rho0``) for each depth in
    ``P["asymptotic_depths"]``.

    Returns ``{"rho0", "layers" (1..Lmax), "ratio_u" (l^2 (1 - rho_l) / (9 pi^2 / 2)), "ratio_k0"
    (l (1 - kappa0(rho_l)) / 3), "runs": [{"depth", "t" (l / L), "P" (backward products), "summand"
    (rho_l P_l), "ntk" (Theta_L / (L + 1) from the sum), "ntk_package" (the kernel module's value)}]}``.
    """
    start = time.perf_counter()
    depths = sorted(P["asymptotic_depths"])
    big = depths[-1]
    traj = nngp_trajectory("ffnet", big, rho0)
    rho_all = traj["rho"]
    # u from the trajectory: 1 - rho is exact enough here (rho_l >= 1 - 1e-2 where ratios matter, and the
    # trajectory itself carries u in float64; we recompute u = 1 - rho to one ulp of 1).
    u_all = 1.0 - rho_all
    layers = np.arange(1, big + 1)
    theta = np.asarray(theta_from_u(u_all[1:]))
    out = {"rho0": rho0, "layers": layers, "ratio_u": layers**2 * u_all[1:] / QUARTER_RATE,
           "ratio_k0": layers * (theta / np.pi) / 3.0, "runs": []}
    for L in depths:
        u = u_all[: L + 1]
        Pl = backward_products(u)
        summand = rho_all[: L + 1] * Pl
        out["runs"].append({"depth": L, "t": np.arange(L + 1) / L, "P": Pl, "summand": summand,
                            "ntk": float(summand.sum() / (L + 1)), "ntk_package": float(ffnet_ntk(rho0, L))})
    log(f"Asymptotic argument along one trajectory to depth {big}: {time.perf_counter() - start:.1f} s")
    return out


# ---------------------------------------------------------------------------------------------------
# 4. degeneracy on real data
def gram_study(P: dict[str, Any], log=print) -> dict[str, Any]:
    """Kernel matrices of real MNIST points against depth, and what kernel regression does with them.

    Draws ``P["n_train"]`` training and ``P["n_test"]`` test images of ``P["classes"]`` (+-1 targets,
    drawn *without* class balancing so that the training mean is not exactly 0), computes the FFNet and
    ResNet (``gamma = P["gamma"]``, trained="hidden") NNGP and NTK for each depth in
    ``P["gram_depths"]``, and records the normalised Gram spectra, effective ranks, distance from
    "constant + nugget" and the NTK regression (interpolation, ``t = inf``: the infinitely wide net
    trained to zero loss) on the test points.

    Returns ``{"dataset" (description), "data_hash", "y_mean" (training mean), "depths", "n_train",
    "ffnet"/"resnet": {"spectrum_ntk", "spectrum_nngp" (depths, n), "rank_ntk", "rank_nngp",
    "participation_ntk", "distance_ntk", "constant_ntk", "pred" (depths, n_test), "mse", "accuracy",
    "spread"}, "trivial_mse"}``.
    """
    from companion import data
    from companion.learning.regression import KernelRegression

    start = time.perf_counter()
    ds = data.prepare(P["dataset"], P["classes"], P["n_train"], P["n_test"], seed=P["seed"], balanced=False)
    X = np.concatenate([ds.x_train, ds.x_test])
    n = ds.n_train
    y_mean = float(ds.y_train.mean())
    out: dict[str, Any] = {"dataset": ds.describe(), "data_hash": ds.fingerprint(), "y_mean": y_mean,
                           "depths": np.array(P["gram_depths"]), "n_train": n, "y_test": ds.y_test,
                           "trivial_mse": float(np.mean((ds.y_test - y_mean) ** 2))}
    for arch in ("ffnet", "resnet"):
        rec: dict[str, list] = {k: [] for k in ("spectrum_ntk", "spectrum_nngp", "rank_ntk", "rank_nngp",
                                                "participation_ntk", "distance_ntk", "constant_ntk", "pred",
                                                "mse", "accuracy", "spread")}
        for L in P["gram_depths"]:
            if arch == "ffnet":
                k = K.ffnet_kernels(X, depth=L)
            else:
                k = K.resnet_kernels(X, depth=L, alpha=resnet_alpha(L, P["gamma"]), trained="hidden")
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
    everywhere off the training set: ``y_mean * n c / (n c + 1 - c)`` (``n >= 1``, ``0 <= c <= 1``)."""
    y_mean = check.real("y_mean", y_mean)
    n = check.integer("n", n, minimum=1)
    c = check.real("c", c, minimum=0.0, maximum=1.0)
    return y_mean * n * c / (n * c + 1.0 - c)


# ---------------------------------------------------------------------------------------------------
def run(P: dict[str, Any], log=print) -> dict[str, Any]:
    """Every experiment of the chapter: ``{"curves", "rates", "asymptotics", "gram", "params"}``."""
    return {"curves": normalized_curves(P, log), "rates": depth_rates(P, log), "asymptotics": asymptotics(P, log=log),
            "gram": gram_study(P, log), "params": dict(P)}


def limit_checks(points: int = 500) -> dict[str, float]:
    """The headline numbers at ``L = 10^4`` for ``rho0`` in [-0.9, 0.99] (independent of the scale):
    sup distances of the FFNet NTK from 1/4 and of the ResNet ``gamma = 1`` hidden NTK from the depth-1
    kernel, and the FFNet rate ratio ``L^2 (1 - rho_L) / (9 pi^2 / 2)`` at ``rho0 = 0.5``."""
    rho = rho_grid(points)
    L = CLAIM_DEPTH
    return {
        "ffnet_quarter": sup_distance(ffnet_ntk(rho, L), 0.25),
        "resnet_depth1": sup_distance(resnet_ntk(rho, L, 1.0), np.asarray(K.depth1_limit(rho).ntk)),
    }


def claims(result: dict[str, Any]) -> list[C.Claim]:
    """The chapter's checks (see the claims table of chapter 3)."""
    out = []
    lc = limit_checks()
    out.append(C.at_most("03-ffnet-quarter", "FFNet normalised NTK within 0.005 of 1/4 at L = 10^4 (worst rho0 in [-0.9, 0.99])",
                         "Huang et al. 2020; spec [D]", lc["ffnet_quarter"], 0.005))
    out.append(C.at_most("03-resnet-depth1", "ResNet gamma = 1 (hidden) NTK within 1e-3 of the depth-1 kernel at L = 10^4",
                         "Huang et al. 2020; spec [D]", lc["resnet_depth1"], 1e-3))
    rates = result.get("rates")
    if rates is not None:
        for s in rates["series"]:
            name = "ffnet" if s["gamma"] is None else f"resnet-{s['gamma']:g}".replace(".", "p")
            out.append(C.within(f"03-rate-{name}", f"{s['label'].replace('$', '').replace(chr(92), '')}: fitted log-log slope of the "
                                f"distance to the limit (L >= {rates['fit_from']})", "spec [D] (derived exponent)",
                                s["slope"], s["derived"], 0.1))
    asy = result.get("asymptotics")
    if asy is not None:
        out.append(C.within("03-rho-rate", f"FFNet: l^2 (1 - rho_l) / (9 pi^2 / 2) at l = {asy['layers'][-1]}",
                            "spec [D]", float(asy["ratio_u"][-1]), 1.0, 0.01))
        out.append(C.within("03-kappa0-rate", f"FFNet: l (1 - kappa0(rho_l)) / 3 at l = {asy['layers'][-1]}",
                            "spec [D]", float(asy["ratio_k0"][-1]), 1.0, 0.01))
        last = asy["runs"][-1]
        half = last["depth"] // 2
        out.append(C.within("03-backward-cube", f"FFNet: backward product P_(L/2) / (1/2)^3 at L = {last['depth']}",
                            "spec [D]", float(last["P"][half] / 0.125), 1.0, 0.02))
        out.append(C.within("03-sum-package", "FFNet: (1/(L+1)) sum rho_l P_l equals the kernel module's NTK "
                            f"(L = {last['depth']})", "identity (two computations)",
                            last["ntk"] - last["ntk_package"], 0.0, 1e-12))
    gram = result.get("gram")
    if gram is not None:
        ff, rs = gram["ffnet"], gram["resnet"]
        out.append(C.at_most("03-gram-nngp-rank", f"MNIST, FFNet NNGP at L = {gram['depths'][-1]}: effective rank "
                             "(1 = all points alike)", "Huang et al. 2020 (degeneracy)", float(ff["rank_nngp"][-1]), 1.05))
        out.append(C.at_most("03-gram-ntk-nugget", f"MNIST, FFNet NTK at L = {gram['depths'][-1]}: RMS distance of the "
                             "normalised Gram matrix from constant + nugget", "Huang et al. 2020 (degeneracy)",
                             float(ff["distance_ntk"][-1]), 0.01))
        out.append(C.at_most("03-gram-resnet-stable", "MNIST, ResNet gamma = 1: relative change of the NTK's effective "
                             f"rank from L = {gram['depths'][0]} to L = {gram['depths'][-1]}", "Huang et al. 2020",
                             float(abs(rs["rank_ntk"][-1] / rs["rank_ntk"][0] - 1.0)), 0.05))
        # Regression with the degenerate kernel: predictions collapse onto (nearly) the training mean.
        out.append(C.at_most("03-pred-collapse", f"MNIST, FFNet NTK at L = {gram['depths'][-1]}: RMS of test predictions "
                             "around the training mean, relative to the same at L = 1", "spec (learnability)",
                             float(ff["spread"][-1] / ff["spread"][0]), 0.05))
        out.append(C.at_least("03-mse-trivial", f"MNIST, FFNet NTK at L = {gram['depths'][-1]}: test MSE / MSE of the "
                              "training-mean predictor (1 = no better than the mean)", "spec (learnability)",
                              float(ff["mse"][-1] / gram["trivial_mse"]), 0.9))
    return out


# ---------------------------------------------------------------------------------------------------
# tables (Markdown, for the chapter)
def rates_table(rates: dict[str, Any]) -> str:
    """The fitted and derived exponents of :func:`depth_rates` as a Markdown table."""
    lines = [f"| kernel | fitted slope (L >= {rates['fit_from']}) | +- std. error | derived | distance at L = {rates['depths'][-1]} |",
             "|---|---|---|---|---|"]
    for s in rates["series"]:
        lines.append(f"| {s['label']} | {s['slope']:.4f} | {s['stderr']:.4f} | {s['derived']:g} | {s['distance'][-1]:.3g} |")
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


def plot_ntk_curves(result: dict[str, Any]):
    """2 x 2: rows FFNet / ResNet; left the normalised NTK against ``rho0``, right against ``1 - rho0``
    (log axis, the boundary layer next to ``rho0 = 1``). Dashed: the depth limit."""
    import matplotlib.pyplot as plt

    cur = result["curves"]
    depths = list(cur["depths"])
    colors = depth_colors(depths)
    fig, axes = plt.subplots(2, 2, figsize=(8.6, 6.4), sharey="row")
    for row, (arch, title, lim, lim_u) in enumerate([
        ("ffnet", "FFNet", cur["limits"]["ffnet_ntk"], np.full_like(cur["u"], 0.25)),
        ("resnet", rf"ResNet, $\alpha = L^{{-{cur['gamma']:g}}}$", cur["limits"]["depth1_ntk"], cur["limits"]["depth1_ntk_u"]),
    ]):
        ax, axu = axes[row]
        for L, c, k, ku in zip(depths, colors, cur[arch]["ntk"], cur[arch]["ntk_u"]):
            ax.plot(cur["rho"], k, color=c, label=f"$L = {L}$")
            axu.plot(cur["u"], ku, color=c)
        limit_label = "limit: 1/4, and 1 at $\\rho_0 = 1$" if arch == "ffnet" else "limit: depth-1 kernel"
        ax.plot(cur["rho"][:-1], lim[:-1], "k--", linewidth=1.0)
        if arch == "ffnet":
            ax.plot([1.0], [1.0], "ko", markersize=4)
        axu.plot(cur["u"], lim_u, "k--", linewidth=1.0, label=limit_label)
        axu.legend(loc="lower left")
        axu.set_xscale("log")
        ax.set_title(title + ": normalised NTK")
        axu.set_title(title + r": near $\rho_0 = 1$")
        ax.set_ylabel(r"$\Theta(x, x') / \sqrt{\Theta(x,x)\Theta(x',x')}$")
    axes[1, 0].set_xlabel(r"input correlation $\rho_0 = \langle x, x'\rangle$")
    axes[1, 1].set_xlabel(r"$1 - \rho_0$ (log scale)")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="center right", title="depth")
    fig.tight_layout(rect=(0, 0, 0.86, 1))
    return fig


def plot_nngp_curves(result: dict[str, Any]):
    """Normalised NNGP against ``rho0``: FFNet (-> 1) and ResNet (-> ``rho0``)."""
    import matplotlib.pyplot as plt

    cur = result["curves"]
    depths = list(cur["depths"])
    colors = depth_colors(depths)
    fig, axes = plt.subplots(1, 2, figsize=(8.0, 3.4), sharey=True)
    for ax, arch, title in ((axes[0], "ffnet", "FFNet"), (axes[1], "resnet", rf"ResNet, $\alpha = L^{{-{cur['gamma']:g}}}$")):
        for L, c, k in zip(depths, colors, cur[arch]["nngp"]):
            ax.plot(cur["rho"], k, color=c, label=f"$L = {L}$")
        if arch == "ffnet":
            ax.axhline(1.0, color="k", linestyle="--", linewidth=1.0, label="limit 1")
        else:
            ax.plot(cur["rho"], cur["limits"]["depth1_nngp"], "k--", linewidth=1.0, label=r"limit $\rho_0$")
        ax.set_title(title + ": normalised NNGP")
        ax.set_xlabel(r"input correlation $\rho_0$")
    axes[0].set_ylabel(r"$\Sigma(x, x') / \sqrt{\Sigma(x,x)\Sigma(x',x')}$")
    axes[0].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


def plot_rates(result: dict[str, Any]):
    """Sup distance to the depth limit against ``L`` (log-log), with the fitted and derived slopes."""
    import matplotlib.pyplot as plt

    r = result["rates"]
    d = r["depths"].astype(float)
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for i, s in enumerate(r["series"]):
        color = f"C{i}"
        ok = s["distance"] > 1e-12  # a ResNet of depth 1 (alpha = 1) *is* the depth-1 kernel: distance 0
        ax.plot(d[ok], s["distance"][ok], "o-", color=color, markersize=3,
                label=f"{s['label']}: slope {s['slope']:.3f} (derived {s['derived']:g})")
        fit = d >= r["fit_from"]
        # the derived power law through the last point
        ax.plot(d[fit], s["distance"][-1] * (d[fit] / d[-1]) ** s["derived"], ":", color="k", linewidth=1.2)
    ax.axvspan(r["fit_from"], d[-1], color="0.9", zorder=-1, linewidth=0)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("depth $L$")
    ax.set_ylabel(r"$\max_{\rho_0 \in [-0.9, 0.99]} |k_L(\rho_0) - k_\infty(\rho_0)|$")
    ax.legend(title="normalised NTK vs its limit (fitted over the shaded range;\n"
              "dotted: the derived power law through the last point)", loc="lower left")
    return fig


def plot_asymptotics(result: dict[str, Any]):
    """Left: the ratios ``l^2 (1 - rho_l) / (9 pi^2 / 2)`` and ``l (1 - kappa0) / 3`` against ``l``.
    Right: the summand ``rho_l P_l`` against ``l / L`` for each depth, with ``t^3`` (area 1/4)."""
    import matplotlib.pyplot as plt

    a = result["asymptotics"]
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(8.6, 3.6))
    ax.plot(a["layers"], a["ratio_u"], label=r"$l^2 (1 - \rho_l) \,/\, (9\pi^2/2)$")
    ax.plot(a["layers"], a["ratio_k0"], label=r"$l\,(1 - \kappa_0(\rho_l)) \,/\, 3$")
    ax.axhline(1.0, color="k", linestyle="--", linewidth=1.0)
    ax.set_xscale("log")
    ax.set_xlabel("layer $l$")
    ax.set_ylabel("ratio to the asymptotic law")
    ax.set_title(rf"FFNet trajectory from $\rho_0 = {a['rho0']:g}$")
    ax.legend(loc="lower right")
    depths = [run["depth"] for run in a["runs"]]
    colors = depth_colors(depths)
    for run, c in zip(a["runs"], colors):
        ax2.plot(run["t"], run["summand"], color=c,
                 label=rf"$L = {run['depth']}$: $\frac{{1}}{{L+1}}\sum = {run['ntk']:.4f}$")
    t = np.linspace(0, 1, 200)
    ax2.plot(t, t**3, "k--", linewidth=1.0, label=r"$t^3$ (area $1/4$)")
    ax2.set_xlabel("$t = l / L$")
    ax2.set_ylabel(r"$\rho_l \, P_l$")
    ax2.set_title(r"summand of $\Theta_L / (L + 1)$")
    ax2.legend(loc="upper left", fontsize=7)
    fig.tight_layout()
    return fig


def plot_spectra(result: dict[str, Any]):
    """2 x 2: rows FFNet / ResNet, columns NNGP / NTK: normalised Gram eigenvalues (sorted) of the MNIST
    training points, one line per depth (log-log)."""
    import matplotlib.pyplot as plt

    g = result["gram"]
    depths = list(g["depths"])
    colors = depth_colors(depths)
    idx = np.arange(1, g["n_train"] + 1)
    fig, axes = plt.subplots(2, 2, figsize=(8.0, 6.2), sharex=True)
    for row, arch in enumerate(("ffnet", "resnet")):
        for col, kind in enumerate(("nngp", "ntk")):
            ax = axes[row, col]
            for L, c, spec in zip(depths, colors, g[arch][f"spectrum_{kind}"]):
                keep = spec > 1e-12
                ax.plot(idx[keep], spec[keep], color=c, label=f"$L = {L}$")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_ylim(1e-10, 1.5)
            name = "FFNet" if arch == "ffnet" else rf"ResNet $\gamma = {result['params']['gamma']:g}$"
            ax.set_title(f"{name}: {kind.upper()}")
            if row == 1:
                ax.set_xlabel("eigenvalue index $i$")
            if col == 0:
                ax.set_ylabel(r"$\lambda_i / \sum_j \lambda_j$")
    nugget = axes[0, 1].axhline(0.75 / g["n_train"], color="k", linestyle=":", linewidth=1.0)
    axes[0, 1].legend([nugget], [r"nugget level $3 / (4n)$"], loc="lower left", fontsize=7)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    axes[1, 1].legend(handles, labels, loc="lower left", ncol=2, fontsize=7, title="depth")
    fig.tight_layout()
    return fig


def plot_gram_measures(result: dict[str, Any]):
    """Against depth: effective rank of the NNGP and NTK Gram matrices (left) and what NTK regression
    (interpolation) predicts on test points: RMS around the training mean and test MSE relative to the
    training-mean predictor (middle), test accuracy (right)."""
    import matplotlib.pyplot as plt

    g = result["gram"]
    d = g["depths"]
    fig, (ax, ax2, ax3) = plt.subplots(1, 3, figsize=(10.0, 4.4))
    for i, arch in enumerate(("ffnet", "resnet")):
        name = "FFNet" if arch == "ffnet" else "ResNet"
        ax.plot(d, g[arch]["rank_ntk"], "o-", color=f"C{i}", label=f"{name} NTK")
        ax.plot(d, g[arch]["rank_nngp"], "s--", color=f"C{i}", label=f"{name} NNGP")
        ax2.plot(d, g[arch]["spread"], "o-", color=f"C{i}", label=rf"{name}: RMS(pred $- \bar y$)")
        ax2.plot(d, g[arch]["mse"] / g["trivial_mse"], "s--", color=f"C{i}", label=rf"{name}: MSE / MSE($\bar y$)")
        ax3.plot(d, g[arch]["accuracy"], "o-", color=f"C{i}", label=name)
    # predicting sign(y_mean) everywhere: the test frequency of the training set's majority class
    majority = float(np.mean(g["y_test"] == (1.0 if g["y_mean"] >= 0 else -1.0)))
    ax3.axhline(majority, color="k", linestyle=":", linewidth=1.0, label=r"always sign$(\bar y)$")
    for a in (ax, ax2, ax3):
        a.set_xscale("log")
        a.set_xlabel("depth $L$")
    ax.set_yscale("log")
    ax.set_ylabel("effective rank (entropy)")
    ax.set_title(f"Gram matrix, {g['n_train']} MNIST points")
    ax2.set_title("NTK regression: test predictions")
    ax2.set_ylim(-0.02, 1.1)
    ax3.set_title("test accuracy (sign)")
    ax3.set_ylim(0.4, 1.02)
    for a in (ax, ax2, ax3):
        a.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)
    fig.tight_layout()
    return fig


__all__ = [
    "asymptotics", "backward_products", "claims", "degenerate_prediction", "depth_rates", "gram_study",
    "gram_table", "limit_checks", "log_depths", "rates_table", "normalized_curves", "plot_asymptotics", "plot_gram_measures",
    "plot_ntk_curves", "plot_nngp_curves", "plot_rates", "plot_spectra", "rho_grid", "run",
]
