"""Figures of chapter 3 (:mod:`companion.chapters.degeneracy`): each takes the chapter's result dict."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from companion.chapters.common import depth_colors

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
    """Sup distance to the depth limit against ``L`` (log-log) with each derived law (dotted, no fit)."""
    import matplotlib.pyplot as plt

    r = result["rates"]
    d = r["depths"].astype(float)
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for i, s in enumerate(r["series"]):
        color = f"C{i}"
        ok = s["distance"] > 1e-12  # a ResNet of depth 1 (alpha = 1) *is* the depth-1 kernel: distance 0
        ax.plot(d[ok], s["distance"][ok], "o-", color=color, markersize=3,
                label=f"{s['label']}: fitted slope {s['slope']:.3f}")
        ax.plot(d[ok], s["law"][ok], ":", color="k", linewidth=1.2)
    ax.plot([], [], "k:", label=r"derived: $((3/8)\ln L + h)/L$; $\max|g_1|\,L^{1-2\gamma}$")
    ax.axvspan(r["fit_from"], d[-1], color="0.9", zorder=-1, linewidth=0)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("depth $L$")
    ax.set_ylabel(r"$\max_{\rho_0 \in [-0.9, 0.99]} |k_L(\rho_0) - k_\infty(\rho_0)|$")
    ax.legend(title="normalised NTK vs its limit (slopes fitted over the shaded range)", loc="lower left", fontsize=7)
    return fig


def plot_log_rate(result: dict[str, Any]):
    """Left: ``L (k_L - 1/4) - h(rho0)`` of the FFNet against ``ln L`` for several ``rho0`` (``h`` the fitted
    intercept): every curve collapses onto ``(3/8) ln L`` (dashed). Right: ``L (k_L - k_1)`` of the ResNet
    ``gamma = 1`` against its depth-1 limit: flat, a ``1/L`` law with no ``ln L``."""
    import matplotlib.pyplot as plt

    lr = result["log_rate"]
    L = lr["depths"].astype(float)
    lo, hi = lr["fit_depths"][0], lr["fit_depths"][-1]
    colors = plt.get_cmap("viridis")(np.linspace(0.0, 0.9, len(lr["rho0"])))
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(9.0, 3.8))
    f = lr["ffnet"]
    for i, rho0 in enumerate(lr["rho0"]):
        ax.plot(np.log(L), f["scaled"][:, i] - f["intercept"][i], "o", color=colors[i], markersize=3,
                label=rf"$\rho_0 = {rho0:g}$: {f['coef'][i]:.4f}")
        ax2.plot(np.log(L), lr["resnet"]["scaled"][:, i], "o-", color=colors[i], markersize=3)
    ax.plot(np.log(L), 0.375 * np.log(L), "k--", linewidth=1.0, label=r"$\frac{3}{8}\ln L$")
    for a in (ax, ax2):
        a.axvspan(math.log(lo), math.log(hi), color="0.92", zorder=-1, linewidth=0)
        a.set_xlabel(r"$\ln L$")
    ax.set_ylabel(r"$L\,(k_L(\rho_0) - 1/4) - h(\rho_0)$")
    ax.set_title(r"FFNet: every $\rho_0$ on $\frac{3}{8}\ln L$")
    ax.legend(title="fitted coefficient of ln L (shaded range)", fontsize=6.5, title_fontsize=7, loc="lower right")
    ax2.set_ylabel(r"$L\,(k_L(\rho_0) - k_1(\rho_0))$")
    ax2.set_title(r"ResNet $\gamma = 1$: a $1/L$ law (no $\ln L$)")
    fig.tight_layout()
    return fig


def plot_asymptotics(result: dict[str, Any]):
    """Left: the ratios ``l^2 (1 - rho_l) / (9 pi^2 / 2)`` and ``l (1 - kappa0) / 3`` against ``l``.
    Right: the summand ``rho_l P_l`` against ``l / L`` for each depth, with ``t^3`` (area 1/4)."""
    import matplotlib.pyplot as plt

    a = result["asymptotics"]
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(8.6, 3.6))
    l = a["layers"]
    ax.plot(l, a["r"], label=r"$r_l = 3/(1 - \kappa_0(\rho_l)) - l$")
    c = a["r"][-1] - 1.5 * math.log(l[-1])
    ax.plot(l, 1.5 * np.log(l) + c, "k--", linewidth=1.0, label=r"$\frac{3}{2} \ln l + c(\rho_0)$")
    ax.set_xscale("log")
    ax.set_xlabel("layer $l$")
    ax.set_ylabel(r"$r_l$ (flat without a log correction)")
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
