"""The phase diagram of the ResNet NTK over the branch scaling exponent and the depth (chapter 4; the
regimes are this book's derivation, the qualitative statements Tian & Yu's abstract): with ``alpha = L^-gamma``, how far is the normalised RNTK at depth ``L`` from the degenerate kernel
(1/4 off the diagonal) and from the ``gamma > 1/2`` limit, for both trained settings.

Regimes (spec table; the normalised NTK as ``L -> infinity``, ``rho0 < 1``)::

    gamma = 0 (alpha constant)   1/4, like the FFNet                      ("constant + nugget")
    0 < gamma < 1/2              1/4, slowly: effective time T = L alpha^2 = L^(1 - 2 gamma)
    gamma = 1/2                  Theta_ODE(rho0) (an ODE on t in [0, 1]; kernels.ode_limit; eq-04-ode)
    gamma > 1/2, hidden          (kappa1 + rho0 kappa0) / 2, the depth-1 kernel; error ~ L^(1 - 2 gamma)
    gamma > 1/2, all             rho0, the linear kernel (input and readout terms dominate)

Why ``trained="all"`` changes the deep limit: on the diagonal the blocks contribute ``2 L alpha^2 (1 +
alpha^2)^(L-1)`` and the input and readout layers ``2 (1 + alpha^2)^L``, so their ratio is
``L alpha^2 / (1 + alpha^2) -> 0`` for ``gamma > 1/2``: the trained blocks' share vanishes and what is
left is the readout's NNGP (``rho_L -> rho0``) plus the input layer's term (``P_0 rho0 -> rho0``)
(equation ``eq-04-shares``, prose-only in the chapter: the diagonals are :func:`companion.kernels.diagonal`).
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from companion.publish import report
from companion.util import validate as check
from companion.publish import claims as C
from companion import kernels as K
from companion.chapters.common import log_depths, resnet_ntk, rho_grid, sup_distance
from companion.learning.fits import loglog_slope

TRAINED = ("hidden", "all")
SLOPE_TOL = 0.05  # |fitted slope - (1 - 2 gamma)|: the next-order term changes the local slope by ~0.4 T |1 - 2 gamma|


def _deep(rho: np.ndarray, trained: str) -> np.ndarray:
    """The ``gamma > 1/2`` limit of the normalised NTK (``companion.kernels.depth1_limit``)."""
    return np.asarray(K.depth1_limit(rho, trained).ntk)


def gamma_grid(step: float, gamma_max: float) -> np.ndarray:
    """``0, step, 2 step, ..., gamma_max`` (rounded to 1e-9 so that 0.5 is exactly on the grid);
    ``step > 0``, ``gamma_max >= 0``."""
    step = check.real("step", step, minimum=0.0, min_inclusive=False)
    gamma_max = check.real("gamma_max", gamma_max, minimum=0.0)
    k = int(round(gamma_max / step))
    return np.round(np.arange(k + 1) * step, 9)


def phase_diagram(P: dict[str, Any], log=report.log) -> dict[str, Any]:
    """Distances of the normalised RNTK on the grid ``gamma x L`` for each trained setting.

    ``P``: ``gamma_step``, ``gamma_max``, ``max_depth``, ``per_decade``, ``rho_points``, ``trained``.

    Returns ``{"gammas" (G,), "depths" (D,), "rho", "settings": {trained: {"to_quarter" (G, D),
    "to_deep" (G, D)}}}``: sup over ``rho0`` in [-0.9, 0.99] of ``|k - 1/4|`` and of ``|k - k_deep|``.
    """
    start = time.perf_counter()
    gammas = gamma_grid(P["gamma_step"], P["gamma_max"])
    depths = log_depths(P["max_depth"], P["per_decade"])
    rho = rho_grid(P["rho_points"])
    settings = {}
    for trained in P["trained"]:
        deep = _deep(rho, trained)
        q = np.zeros((len(gammas), len(depths)))
        dd = np.zeros_like(q)
        for i, g in enumerate(gammas):
            for j, L in enumerate(depths):
                k = resnet_ntk(rho, int(L), float(g), trained)
                q[i, j] = sup_distance(k, 0.25)
                dd[i, j] = sup_distance(k, deep)
        settings[trained] = {"to_quarter": q, "to_deep": dd}
    log(f"Phase diagram: {len(gammas)} gammas x {len(depths)} depths x {len(P['trained'])} settings: "
        f"{time.perf_counter() - start:.1f} s")
    return {"gammas": gammas, "depths": depths, "rho": rho, "settings": settings}


def regime_curves(P: dict[str, Any], log=report.log) -> dict[str, Any]:
    """Normalised RNTK against ``rho0`` at ``L = P["max_depth"]`` for ``gamma`` in ``P["gammas"]``, both
    settings, with each regime's limit (``ffnet_limit``, ``ode_limit``, ``depth1_limit``)."""
    start = time.perf_counter()
    rho = np.linspace(-1.0, 1.0, P["rho_points"])
    L = P["max_depth"]
    out: dict[str, Any] = {"rho": rho, "depth": L, "gammas": list(P["gammas"]), "settings": {}}
    for trained in P["trained"]:
        curves, limits = [], []
        for g in P["gammas"]:
            curves.append(resnet_ntk(rho, L, g, trained))
            limits.append(np.asarray(K.resnet_limit(rho, g, trained).ntk))
        out["settings"][trained] = {"curves": np.array(curves), "limits": np.array(limits)}
    log(f"Regime curves at L = {L}: {time.perf_counter() - start:.1f} s")
    return out


def limit_checks(points: int = 400) -> dict[str, float]:
    """Scale-independent checks of the regime table (sup over ``rho0`` in [-0.9, 0.99] unless stated),
    each with the value at one decade shallower and a counterfactual:

    * ``ode_<trained>``: ``gamma = 1/2`` at ``L = 10^3`` against ``kernels.ode_limit`` (``eq-04-ode``);
      ``..._shallower`` at ``10^2``; ``..._cf``: ``gamma = 0.6`` at ``10^3`` against the same limit.
    * ``deep_<trained>``: ``gamma = 1`` at ``10^4`` against the depth-1 kernel (hidden) or ``rho0`` (all);
      ``..._shallower`` at ``10^3``; ``..._cf``: ``gamma = 1/2`` at ``10^4`` against the same limit.
    * ``constant_alpha``: ``gamma = 0`` at ``10^4`` against 1/4, ``..._shallower`` at ``10^3``;
      ``constant_alpha_cf``: ``gamma = 1/4`` at ``10^4``.
    * ``slow_ratio``: over ``rho0`` in [-0.9, 0.9], distance from 1/4 at ``10^4`` of ``gamma = 1/4`` over that
      of ``gamma = 0``; ``slow_ratio_cf``: the same with ``gamma = 0.1``.
    """
    rho = rho_grid(points)
    out = {}
    for trained in TRAINED:
        ode = np.asarray(K.ode_limit(rho, trained).ntk)
        out[f"ode_{trained}"] = sup_distance(resnet_ntk(rho, 1000, 0.5, trained), ode)
        out[f"ode_{trained}_shallower"] = sup_distance(resnet_ntk(rho, 100, 0.5, trained), ode)
        out[f"ode_{trained}_cf"] = sup_distance(resnet_ntk(rho, 1000, 0.6, trained), ode)
        deep = _deep(rho, trained)
        out[f"deep_{trained}"] = sup_distance(resnet_ntk(rho, 10_000, 1.0, trained), deep)
        out[f"deep_{trained}_shallower"] = sup_distance(resnet_ntk(rho, 1000, 1.0, trained), deep)
        out[f"deep_{trained}_cf"] = sup_distance(resnet_ntk(rho, 10_000, 0.5, trained), deep)
    out["constant_alpha"] = sup_distance(resnet_ntk(rho, 10_000, 0.0), 0.25)
    out["constant_alpha_shallower"] = sup_distance(resnet_ntk(rho, 1000, 0.0), 0.25)
    out["constant_alpha_cf"] = sup_distance(resnet_ntk(rho, 10_000, 0.25), 0.25)
    inner = rho_grid(points, -0.9, 0.9)
    base = sup_distance(resnet_ntk(inner, 10_000, 0.0), 0.25)
    out["slow_ratio"] = sup_distance(resnet_ntk(inner, 10_000, 0.25), 0.25) / base
    out["slow_ratio_cf"] = sup_distance(resnet_ntk(inner, 10_000, 0.1), 0.25) / base
    return out


def claims(phase: dict[str, Any] | None = None, fit_from: int = 100) -> list[C.Claim]:
    """The regime table's checks; with ``phase`` (from :func:`phase_diagram`) also the diagram's (slopes
    fitted over ``L >= fit_from``). Each claim carries a counterfactual the same comparison rejects."""
    lc = limit_checks()
    decade = "at most 1.1 x its value one decade shallower divided by the derived factor ({}), +10% for next-order terms"
    out = []
    for trained in TRAINED:
        out.append(C.at_most(
            f"04-ode-{trained}", f"gamma = 1/2 ({trained}): distance of the normalised RNTK from the ODE limit at L = 10^3, "
            + decade.format("10: error O(1/L), Euler steps of size alpha^2 = 1/L"),
            "this book's derivation (eq-04-ode)", lc[f"ode_{trained}"], 1.1 * lc[f"ode_{trained}_shallower"] / 10.0,
            counterfactual=("gamma = 0.6 at the same depth", lc[f"ode_{trained}_cf"])))
    names = {"hidden": ("04-depth1-hidden", "the depth-1 kernel", "Huang et al. 2020 (abstract: close to the depth-1 NTK); "
                        "this book's derivation (eq-03-first-order)"),
             "all": ("04-linear-all", "the linear kernel rho0 (input and readout trained too)", "this book's derivation (eq-04-shares)")}
    for trained, (cid, what, source) in names.items():
        out.append(C.at_most(
            cid, f"gamma = 1 ({trained}): distance from {what} at L = 10^4, " + decade.format("10: error ~ L^(1 - 2 gamma)"),
            source, lc[f"deep_{trained}"], 1.1 * lc[f"deep_{trained}_shallower"] / 10.0,
            counterfactual=("gamma = 1/2 at the same depth", lc[f"deep_{trained}_cf"])))
    out.append(C.at_most(
        "04-constant-alpha", "alpha = 1 constant (gamma = 0): distance from the degenerate 1/4 at L = 10^4, "
        + decade.format("10 ln(10^3) / ln(10^4): the FFNet-like rate ln L / L"),
        "Tian & Yu, abstract (alpha constant degenerates)", lc["constant_alpha"],
        1.1 * lc["constant_alpha_shallower"] * math.log(1e4) / math.log(1e3) / 10.0,
        counterfactual=("gamma = 1/4 at the same depth", lc["constant_alpha_cf"])))
    out.append(C.at_least(
        "04-slow", "gamma = 1/4 degenerates only slowly: at L = 10^4, over rho0 in [-0.9, 0.9], its distance from 1/4 "
        "divided by that of alpha constant; bound 10: the law ln T / T at the effective times T = L^(1 - 2 gamma) "
        "predicts about 50 for gamma = 1/4 (T = 100) and 5 for gamma = 0.1 (T = 1585)",
        "Tian & Yu, abstract (slowly decreasing alpha may still degenerate); effective time: this book's derivation",
        lc["slow_ratio"], 10.0, counterfactual=("gamma = 0.1", lc["slow_ratio_cf"])))
    if phase is not None:
        g, D = phase["gammas"], phase["depths"]
        fit = D >= fit_from
        for trained, s in phase["settings"].items():
            deep = np.flatnonzero(g >= 0.75)
            below = np.flatnonzero(g < 0.5)
            if len(deep) and len(below) and fit.sum() >= 3:
                def worst(rows, s=s):
                    errs = [loglog_slope(D[fit], s["to_deep"][i, fit])[0] - (1.0 - 2.0 * g[i]) for i in rows]
                    j = int(np.argmax(np.abs(errs)))
                    return float(abs(errs[j])), float(g[rows[j]])
                err, gw = worst(deep)
                cf, _ = worst(below)
                out.append(C.at_most(
                    f"04-phase-rate-{trained}", f"phase diagram ({trained}): for every gamma >= 0.75 on the grid, "
                    f"|fitted slope (L >= {fit_from}) - (1 - 2 gamma)| of the distance to the gamma > 1/2 limit (worst: "
                    f"gamma = {gw:g}); bound {SLOPE_TOL:g}: the next-order term changes the local slope by about "
                    "0.4 T |1 - 2 gamma| <= 0.02", "this book's derivation (error ~ L^(1 - 2 gamma))", err, SLOPE_TOL,
                    counterfactual=("the same for every gamma < 1/2 on the grid (worst)", cf)))
        s = phase["settings"].get("hidden")
        if s is not None and D[-1] >= 1000:
            low = g < 0.5
            out.append(C.at_least(
                "04-phase-monotone", f"phase diagram (hidden): at L = {D[-1]} the distance to 1/4 increases with gamma on "
                "[0, 1/2) (smallest step; >= 0)", "this book's derivation (effective time L^(1 - 2 gamma))",
                float(np.min(np.diff(s["to_quarter"][low, -1]))), 0.0,
                counterfactual=("the distance to the gamma > 1/2 limit instead of 1/4",
                                float(np.min(np.diff(s["to_deep"][low, -1]))))))
    return out


# ---------------------------------------------------------------------------------------------------
EFFECTIVE_TIMES = (10, 100, 1000)  # the curves of constant effective time L alpha^2 drawn on the phase diagram
_TIME_MARKERS = ("o", "s", "^")
_SETTING_NAMES = {"hidden": "blocks trained", "all": "all layers trained"}


def _effective_time_lines(ax, depths, times=EFFECTIVE_TIMES) -> list:
    """Curves ``L^(1 - 2 gamma) = T`` in the (gamma, log10 L) plane (black with a white halo, one marker per
    ``T``, told apart in the figure's legend rather than by text in the panel). Returns the lines drawn."""
    from matplotlib import patheffects

    halo = [patheffects.withStroke(linewidth=2.5, foreground="w")]
    L = np.logspace(0, math.log10(depths[-1]), 200)
    lines = []
    for T, marker in zip(times, _TIME_MARKERS):
        ok = L > T
        if not ok.any():
            continue
        g = 0.5 * (1.0 - math.log(T) / np.log(L[ok]))
        lines += ax.plot(g, np.log10(L[ok]), color="k", linestyle="--", linewidth=0.9, marker=marker,
                         markerfacecolor="k", markeredgecolor="w", markersize=6, markeredgewidth=0.8, markevery=0.2, path_effects=halo,
                         label=f"$L\\alpha^2 = {T}$")
    return lines


def plot_phase(phase: dict[str, Any]):
    """Heat maps (log10 of the distance), one row per trained setting: (a, c) distance to the degenerate
    kernel 1/4, (b, d) to the ``gamma > 1/2`` limit; white line ``gamma = 1/2``, dashed curves of constant
    effective time (legend below the panels), one colour bar. 6 in wide: prints at full size."""
    from matplotlib.colors import Normalize

    from companion.publish.figures import panels

    g, D = phase["gammas"], phase["depths"]
    settings = list(phase["settings"])
    fig, axes = panels(len(settings), 2, panel_height=2.45, sharex=True, sharey=True, squeeze=False)
    lD = np.log10(D.astype(float))

    def edges(v, pad):
        mid = (v[1:] + v[:-1]) / 2 if len(v) > 1 else np.array([])
        return np.concatenate([[v[0] - pad], mid, [v[-1] + pad]])

    ge = edges(g, (g[1] - g[0]) / 2 if len(g) > 1 else 0.05)
    le = edges(lD, (lD[-1] - lD[-2]) / 2 if len(lD) > 1 else 0.25)
    norm = Normalize(-5, 0)
    letters = iter("abcdefghijklmnopqrstuvwxyz")
    for row, trained in enumerate(settings):
        s = phase["settings"][trained]
        deep_name = "the depth-1 kernel" if trained == "hidden" else r"the linear kernel $\rho_0$"
        for col, (key, title) in enumerate((("to_quarter", "to 1/4 (degenerate)"), ("to_deep", f"to {deep_name}"))):
            ax = axes[row, col]
            img = np.log10(np.maximum(s[key].T, 1e-12))
            im = ax.pcolormesh(ge, le, img, norm=norm, cmap="viridis", shading="flat")
            ax.axvline(0.5, color="w", linewidth=1.5)
            lines = _effective_time_lines(ax, D)
            ax.set_title(f"({next(letters)}) {title}")
            ax.grid(False)  # grid lines over a heat map read as cell borders
        axes[row, 0].set_ylabel(f"{_SETTING_NAMES.get(trained, trained)}\n" + r"$\log_{10} L$")
    for ax in axes[-1]:
        ax.set_xlabel(r"$\gamma$ ($\alpha = L^{-\gamma}$)")
    fig.colorbar(im, ax=axes, shrink=0.85, label=r"$\log_{10} \max_{\rho_0} |k_L - k_\mathrm{ref}|$")
    if lines:  # plain copies of the curves' styles: a halo around a short legend sample hides its dashes
        from matplotlib.lines import Line2D

        keys = [Line2D([], [], color="k", linestyle="--", linewidth=0.9, marker=ln.get_marker(), markersize=6,
                       label=ln.get_label()) for ln in lines]
        fig.legend(handles=keys, loc="outside lower center", ncol=len(keys), title="dashed: constant effective time")
    return fig


def plot_regimes(curves: dict[str, Any]):
    """Normalised RNTK against ``rho0`` at the deepest ``L`` for several gammas (solid) and each regime's
    limit (dashed, unlabelled: one legend below the panels), one panel per trained setting. 6 in wide:
    prints at full size."""
    from companion.publish.figures import panels

    settings = list(curves["settings"])
    fig, axes = panels(1, len(settings), panel_height=3.0, sharey=True, squeeze=False)
    rho = curves["rho"]
    depth = int(curves["depth"])
    exponent = round(math.log10(depth)) if depth > 0 else 0
    depth_text = f"10^{{{exponent}}}" if depth == 10**exponent else f"{depth:,}"
    n = len(curves["gammas"])
    for j, (ax, trained) in enumerate(zip(axes[0], settings)):
        s = curves["settings"][trained]
        for i, (g, k, lim) in enumerate(zip(curves["gammas"], s["curves"], s["limits"])):
            # Solid, with the cycle's marker (the cycle's own line style would blur "solid: depth L, dashed:
            # limit"); each line thinner than the one before, so that curves that coincide (gamma = 0 and
            # 1/4 both near 1/4) stay visible as a thin line on a thicker one.
            ax.plot(rho, k, color=f"C{i}", linestyle="-", linewidth=1.2 * (4.5 / 1.2) ** ((n - 1 - i) / max(n - 1, 1)),
                    label=rf"$\gamma = {g:g}$")
            # the limits: thin, black, on top of every curve (they lie on or near them)
            ax.plot(rho[:-1], lim[:-1], linestyle=(0, (3, 2)), color="k", linewidth=0.9, marker="none", zorder=5,
                    gid=f"limit, gamma = {g:g}")
        letter = f"({chr(ord('a') + j)}) " if len(settings) > 1 else ""
        ax.set_title(f"{letter}{_SETTING_NAMES.get(trained, trained)}, $L = {depth_text}$")
        ax.set_xlabel(r"input correlation $\rho_0$")
    axes[0, 0].set_ylabel("normalised NTK")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=len(handles),
               title="coloured: depth $L$; black dashed: the limit $L \\to \\infty$")
    return fig


__all__ = ["SLOPE_TOL", "claims", "gamma_grid", "limit_checks", "phase_diagram", "plot_phase", "plot_regimes",
           "regime_curves"]
