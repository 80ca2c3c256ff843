"""Figures of chapter 3 (:mod:`companion.chapters.degeneracy`): each takes the chapter's result dict.

Every figure is drawn at its printed size (:func:`companion.publish.figures.panels`, 6 in wide), so the style
sheet's letters print at 1:1. A family of depths is told apart by a colour bar (dark: shallow, light: deep)
rather than a legend entry per line, since the default scale draws nine depths; each such line still names its
depth in the figure's data file (its gid).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from companion.chapters.common import depth_colors


def _panels(*args, **kw):
    # imported when drawing, as pyplot is: importing the chapter does not load matplotlib
    from companion.publish.figures import panels

    return panels(*args, **kw)


def _depth_colorbar(fig, axes, depths) -> None:
    """A colour bar under ``axes`` that reads the colours of :func:`depth_colors` (log depth on viridis up to 0.9)."""
    import matplotlib as mpl
    import matplotlib.pyplot as plt

    cmap = mpl.colors.ListedColormap(plt.get_cmap("viridis")(np.linspace(0.0, 0.9, 256)))
    norm = mpl.colors.LogNorm(vmin=max(depths[0], 1), vmax=max(depths[-1], 2))
    bar = fig.colorbar(mpl.cm.ScalarMappable(norm=norm, cmap=cmap), ax=axes, location="bottom",
                       shrink=0.6, aspect=35, pad=0.02)
    bar.set_label("depth $L$ (colour of each line)")
    bar.minorticks_off()


def plot_ntk_curves(result: dict[str, Any]):
    """2 x 2: rows FFNet / ResNet; (a, c) the normalised NTK against ``rho0``, (b, d) against ``1 - rho0``
    (log axis, the boundary layer next to ``rho0 = 1``); depth by colour (colour bar). Dashed: the depth limit."""
    cur = result["curves"]
    depths = list(cur["depths"])
    colors = depth_colors(depths)
    fig, axes = _panels(2, 2, panel_height=2.5, sharey="row")
    for row, (arch, name, lim, lim_u, limit_label) in enumerate([
        ("ffnet", "FFNet", cur["limits"]["ffnet_ntk"], np.full_like(cur["u"], 0.25), "limit 1/4 (1 at $\\rho_0 = 1$)"),
        ("resnet", rf"ResNet $\alpha = L^{{-{cur['gamma']:g}}}$", cur["limits"]["depth1_ntk"],
         cur["limits"]["depth1_ntk_u"], "limit: depth-1 kernel"),
    ]):
        ax, axu = axes[row]
        for L, c, k, ku in zip(depths, colors, cur[arch]["ntk"], cur[arch]["ntk_u"]):
            ax.plot(cur["rho"], k, color=c, linestyle="-", marker="none", gid=f"L={L}")
            axu.plot(cur["u"], ku, color=c, linestyle="-", marker="none", gid=f"L={L}")
        ax.plot(cur["rho"][:-1], lim[:-1], "k--", linewidth=1.0, gid="limit")
        if arch == "ffnet":
            ax.plot([1.0], [1.0], "ko", markersize=4, gid="limit at rho0=1")
        axu.plot(cur["u"], lim_u, "k--", linewidth=1.0, label=limit_label)
        axu.legend(loc="lower left")
        axu.set_xscale("log")
        ax.set_title(f"({'ac'[row]}) {name}")
        axu.set_title(f"({'bd'[row]}) {name}: near $\\rho_0 = 1$")
        ax.set_ylabel(r"normalised NTK $k_L(\rho_0)$")
    axes[1, 0].set_xlabel(r"input correlation $\rho_0$")
    axes[1, 1].set_xlabel(r"$1 - \rho_0$ (log scale)")
    _depth_colorbar(fig, axes, depths)
    return fig


def plot_nngp_curves(result: dict[str, Any]):
    """Normalised NNGP against ``rho0``: (a) FFNet (-> 1), (b) ResNet (-> ``rho0``); depth by colour."""
    cur = result["curves"]
    depths = list(cur["depths"])
    colors = depth_colors(depths)
    fig, axes = _panels(1, 2, panel_height=3.0, sharey=True)
    for ax, arch, title in ((axes[0], "ffnet", "(a) FFNet"),
                            (axes[1], "resnet", rf"(b) ResNet $\alpha = L^{{-{cur['gamma']:g}}}$")):
        for L, c, k in zip(depths, colors, cur[arch]["nngp"]):
            ax.plot(cur["rho"], k, color=c, linestyle="-", marker="none", gid=f"L={L}")
        if arch == "ffnet":
            ax.axhline(1.0, color="k", linestyle="--", linewidth=1.0, label="limit 1")
        else:
            ax.plot(cur["rho"], cur["limits"]["depth1_nngp"], "k--", linewidth=1.0, label=r"limit $\rho_0$")
        ax.legend(loc="lower right")
        ax.set_title(title)
        ax.set_xlabel(r"input correlation $\rho_0$")
    axes[0].set_ylabel(r"normalised NNGP")
    _depth_colorbar(fig, axes, depths)
    return fig


def plot_rates(result: dict[str, Any]):
    """Sup distance to the depth limit against ``L`` (log-log) with each derived law (dotted, no fit)."""
    r = result["rates"]
    d = r["depths"].astype(float)
    fig, ax = _panels(1, 1, panel_height=3.4)
    for i, s in enumerate(r["series"]):
        color = f"C{i}"
        ok = s["distance"] > 1e-12  # a ResNet of depth 1 (alpha = 1) *is* the depth-1 kernel: distance 0
        ax.plot(d[ok], s["distance"][ok], "o-", color=color, markersize=3,
                label=f"{s['label']}: slope {s['slope']:.3f}")
        ax.plot(d[ok], s["law"][ok], ":", color="k", linewidth=1.2, marker="none", gid=f"{s['label']}: derived law")
    ax.plot([], [], "k:", marker="none", label=r"derived: $((3/8)\ln L + h)/L$; $\max|g_1|\,L^{1-2\gamma}$")
    ax.axvspan(r["fit_from"], d[-1], color="0.9", zorder=-1, linewidth=0)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("depth $L$")
    ax.set_ylabel(r"$\max_{\rho_0} |k_L(\rho_0) - k_\infty(\rho_0)|$")
    fig.legend(loc="outside lower center", ncol=2,
               title="normalised NTK against its limit (slopes fitted over the shaded range)")
    return fig


def plot_log_rate(result: dict[str, Any]):
    """(a) ``L (k_L - 1/4) - h(rho0)`` of the FFNet against ``ln L`` for several ``rho0`` (``h`` the fitted
    intercept): every curve collapses onto ``(3/8) ln L`` (dashed). (b) ``L (k_L - k_1)`` of the ResNet
    ``gamma = 1`` against its depth-1 limit: flat, a ``1/L`` law with no ``ln L``. One legend for both
    panels (a colour per ``rho0``); the fitted coefficients are in the chapter's table."""
    import matplotlib.pyplot as plt

    lr = result["log_rate"]
    L = lr["depths"].astype(float)
    lo, hi = lr["fit_depths"][0], lr["fit_depths"][-1]
    colors = plt.get_cmap("viridis")(np.linspace(0.0, 0.9, len(lr["rho0"])))
    fig, (ax, ax2) = _panels(1, 2, panel_height=3.0)
    f = lr["ffnet"]
    for i, rho0 in enumerate(lr["rho0"]):
        ax.plot(np.log(L), f["scaled"][:, i] - f["intercept"][i], "o", color=colors[i], markersize=3.5,
                label=rf"$\rho_0 = {rho0:g}$")
        ax2.plot(np.log(L), lr["resnet"]["scaled"][:, i], "o-", color=colors[i], markersize=3,
                 label=rf"$\rho_0 = {rho0:g}$")
    # the reference line is explained in the legend's title, not as a seventh series
    ax.plot(np.log(L), 0.375 * np.log(L), "k--", linewidth=1.0, marker="none", gid="(3/8) ln L")
    for a in (ax, ax2):
        a.axvspan(math.log(lo), math.log(hi), color="0.92", zorder=-1, linewidth=0)
        a.set_xlabel(r"$\ln L$")
    ax.set_ylabel(r"$L\,(k_L(\rho_0) - 1/4) - h(\rho_0)$")
    ax.set_title(r"(a) FFNet: all on $\frac{3}{8}\ln L$")
    ax2.set_ylabel(r"$L\,(k_L(\rho_0) - k_1(\rho_0))$")
    ax2.set_title(r"(b) ResNet $\gamma = 1$: no $\ln L$")
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=3,
               title=r"input correlation (dashed in (a): $\frac{3}{8}\ln L$; shaded: range of the fit)")
    return fig


def plot_asymptotics(result: dict[str, Any]):
    """(a) ``r_l = 3 / (1 - kappa0(rho_l)) - l`` against ``l`` with ``(3/2) ln l + c``. (b) the summand
    ``rho_l P_l`` against ``l / L`` for each depth, with ``t^3`` (area 1/4); the legend gives each depth's
    normalised NTK computed from the sum."""
    a = result["asymptotics"]
    fig, (ax, ax2) = _panels(1, 2, panel_height=3.0)
    l = a["layers"]
    ax.plot(l, a["r"], marker="none", label=r"$r_l$")
    c = a["r"][-1] - 1.5 * math.log(l[-1])
    ax.plot(l, 1.5 * np.log(l) + c, "k--", linewidth=1.0, marker="none", label=r"$\frac{3}{2} \ln l + c(\rho_0)$")
    ax.set_xscale("log")
    ax.set_xlabel("layer $l$")
    ax.set_ylabel(r"$r_l = 3/(1 - \kappa_0(\rho_l)) - l$")
    ax.set_title(rf"(a) FFNet, $\rho_0 = {a['rho0']:g}$")
    ax.legend(loc="lower right")
    depths = [run["depth"] for run in a["runs"]]
    colors = depth_colors(depths)
    for run, c in zip(a["runs"], colors):
        ax2.plot(run["t"], run["summand"], color=c, marker="none", label=rf"$L = {run['depth']}$: {run['ntk']:.4f}")
    t = np.linspace(0, 1, 200)
    ax2.plot(t, t**3, "k--", linewidth=1.0, marker="none", label=r"$t^3$ (area $1/4$)")
    ax2.set_xlabel("$t = l / L$")
    ax2.set_ylabel(r"$\rho_l \, P_l$")
    ax2.set_title(r"(b) summand of $\Theta_L / (L + 1)$")
    ax2.legend(loc="upper left", title=r"$L$: $\frac{1}{L+1}\sum_l \rho_l P_l$")
    return fig


def plot_spectra(result: dict[str, Any]):
    """2 x 2: rows FFNet / ResNet, columns NNGP / NTK: normalised Gram eigenvalues (sorted) of the MNIST
    training points, one line per depth (log-log; depth by colour, colour bar)."""
    g = result["gram"]
    depths = list(g["depths"])
    colors = depth_colors(depths)
    idx = np.arange(1, g["n_train"] + 1)
    fig, axes = _panels(2, 2, panel_height=2.5, sharex=True, sharey=True)
    for row, arch in enumerate(("ffnet", "resnet")):
        for col, kind in enumerate(("nngp", "ntk")):
            ax = axes[row, col]
            for L, c, spec in zip(depths, colors, g[arch][f"spectrum_{kind}"]):
                keep = spec > 1e-12
                ax.plot(idx[keep], spec[keep], color=c, linestyle="-", marker="none", gid=f"L={L}")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_ylim(1e-10, 1.5)
            name = "FFNet" if arch == "ffnet" else rf"ResNet $\gamma = {result['params']['gamma']:g}$"
            ax.set_title(f"({'abcd'[2 * row + col]}) {name}: {kind.upper()}")
            if row == 1:
                ax.set_xlabel("eigenvalue index $i$")
            if col == 0:
                ax.set_ylabel(r"$\lambda_i / \sum_j \lambda_j$")
    axes[0, 1].axhline(0.75 / g["n_train"], color="k", linestyle=":", linewidth=1.0, label=r"nugget $3 / (4n)$")
    axes[0, 1].legend(loc="lower left")
    _depth_colorbar(fig, axes, depths)
    return fig


def plot_gram_measures(result: dict[str, Any]):
    """Against depth: (a) effective rank of the NNGP and NTK Gram matrices, (b) what NTK regression
    (interpolation) predicts on test points: RMS around the training mean and test MSE relative to the
    training-mean predictor, (c) test accuracy; the fourth cell is the key (colour: network, line style: quantity)."""
    g = result["gram"]
    d = g["depths"]
    fig, axes = _panels(2, 2, panel_height=2.6, sharex=True)
    ax, ax2, ax3, key = axes[0, 0], axes[0, 1], axes[1, 0], axes[1, 1]
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
        a.tick_params(labelbottom=True)  # shared depth axis, but every panel keeps its own tick labels
        a.set_xlabel("depth $L$")
    ax.set_yscale("log")
    ax.set_ylabel("effective rank")
    ax.set_title(f"(a) Gram matrix, {g['n_train']} points")
    ax2.set_title("(b) NTK regression, test")
    ax2.set_ylim(-0.02, 1.1)
    ax3.set_title("(c) test accuracy (sign)")
    ax3.set_ylim(0.4, 1.02)
    # The fourth cell is the key, where it covers no data: colour is the network, line style the quantity.
    from matplotlib.lines import Line2D

    key.axis("off")
    proxies = [Line2D([], [], color="C0", linestyle="-", marker="none"),
               Line2D([], [], color="C1", linestyle="-", marker="none"),
               Line2D([], [], color="k", linestyle="-", marker="o"),
               Line2D([], [], color="k", linestyle="--", marker="s"),
               Line2D([], [], color="k", linestyle=":", marker="none")]
    names = ["FFNet", "ResNet", "(a) NTK, (b) RMS(pred − $\\bar y$),\n(c) accuracy",
             "(a) NNGP, (b) MSE / MSE($\\bar y$)", "(c) always sign$(\\bar y)$"]
    key.legend(proxies, names, loc="center", borderaxespad=0.0)
    return fig
