"""The phase diagram of the ResNet NTK over the branch scaling exponent and the depth (chapter 4, Tian &
Yu): with ``alpha = L^-gamma``, how far is the normalised RNTK at depth ``L`` from the degenerate kernel
(1/4 off the diagonal) and from the ``gamma > 1/2`` limit, for both trained settings.

Regimes (spec table; the normalised NTK as ``L -> infinity``, ``rho0 < 1``)::

    gamma = 0 (alpha constant)   1/4, like the FFNet                      ("constant + nugget")
    0 < gamma < 1/2              1/4, slowly: effective time T = L alpha^2 = L^(1 - 2 gamma)
    gamma = 1/2                  Theta_ODE(rho0) (an ODE on t in [0, 1]; kernels.ode_limit)
    gamma > 1/2, hidden          (kappa1 + rho0 kappa0) / 2, the depth-1 kernel; error ~ L^(1 - 2 gamma)
    gamma > 1/2, all             rho0, the linear kernel (input and readout terms dominate)

Why ``trained="all"`` changes the deep limit: on the diagonal the blocks contribute ``2 L alpha^2 (1 +
alpha^2)^(L-1)`` and the input and readout layers ``2 (1 + alpha^2)^L``, so their ratio is
``L alpha^2 / (1 + alpha^2) -> 0`` for ``gamma > 1/2``: the trained blocks' share vanishes and what is
left is the readout's NNGP (``rho_L -> rho0``) plus the input layer's term (``P_0 rho0 -> rho0``).
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from companion.util import validate as check
from companion.publish import claims as C
from companion import kernels as K
from companion.chapters.common import log_depths, rho_grid, sup_distance
from companion.networks.models import branch_scaling as resnet_alpha
from companion.learning.fits import loglog_slope

TRAINED = ("hidden", "all")


def deep_limit(rho: np.ndarray, trained: str) -> np.ndarray:
    """The ``gamma > 1/2`` depth limit of the normalised NTK: depth-1 kernel (hidden) or ``rho0`` (all)."""
    return np.asarray(K.depth1_limit(rho, trained).ntk)


def normalized_ntk(rho, depth: int, gamma: float, trained: str) -> np.ndarray:
    """Normalised ResNet NTK with ``alpha = L^-gamma`` (``depth >= 1``, NumPy)."""
    return np.asarray(K.resnet_normalized(rho, depth, resnet_alpha(depth, gamma), trained).ntk)


def gamma_grid(step: float, gamma_max: float) -> np.ndarray:
    """``0, step, 2 step, ..., gamma_max`` (rounded to 1e-9 so that 0.5 is exactly on the grid);
    ``step > 0``, ``gamma_max >= 0``."""
    step = check.real("step", step, minimum=0.0, min_inclusive=False)
    gamma_max = check.real("gamma_max", gamma_max, minimum=0.0)
    k = int(round(gamma_max / step))
    return np.round(np.arange(k + 1) * step, 9)


def phase_diagram(P: dict[str, Any], log=print) -> dict[str, Any]:
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
        deep = deep_limit(rho, trained)
        q = np.zeros((len(gammas), len(depths)))
        dd = np.zeros_like(q)
        for i, g in enumerate(gammas):
            for j, L in enumerate(depths):
                k = normalized_ntk(rho, int(L), float(g), trained)
                q[i, j] = sup_distance(k, 0.25)
                dd[i, j] = sup_distance(k, deep)
        settings[trained] = {"to_quarter": q, "to_deep": dd}
    log(f"Phase diagram: {len(gammas)} gammas x {len(depths)} depths x {len(P['trained'])} settings: "
        f"{time.perf_counter() - start:.1f} s")
    return {"gammas": gammas, "depths": depths, "rho": rho, "settings": settings}


def regime_curves(P: dict[str, Any], log=print) -> dict[str, Any]:
    """Normalised RNTK against ``rho0`` at ``L = P["max_depth"]`` for ``gamma`` in ``P["gammas"]``, both
    settings, with each regime's limit (``ffnet_limit``, ``ode_limit``, ``depth1_limit``)."""
    start = time.perf_counter()
    rho = np.linspace(-1.0, 1.0, P["rho_points"])
    L = P["max_depth"]
    out: dict[str, Any] = {"rho": rho, "depth": L, "gammas": list(P["gammas"]), "settings": {}}
    for trained in P["trained"]:
        curves, limits = [], []
        for g in P["gammas"]:
            curves.append(normalized_ntk(rho, L, g, trained))
            limits.append(np.asarray(K.resnet_limit(rho, g, trained).ntk))
        out["settings"][trained] = {"curves": np.array(curves), "limits": np.array(limits)}
    log(f"Regime curves at L = {L}: {time.perf_counter() - start:.1f} s")
    return out


def limit_checks(points: int = 400) -> dict[str, float]:
    """Scale-independent checks of the regime table (sup over ``rho0`` in [-0.9, 0.99])."""
    rho = rho_grid(points)
    out = {}
    for trained in TRAINED:
        ode = np.asarray(K.ode_limit(rho, trained).ntk)
        out[f"ode_{trained}"] = sup_distance(normalized_ntk(rho, 1000, 0.5, trained), ode)
        out[f"deep_{trained}"] = sup_distance(normalized_ntk(rho, 10_000, 1.0, trained), deep_limit(rho, trained))
    out["constant_alpha"] = sup_distance(normalized_ntk(rho, 10_000, 0.0, "hidden"), 0.25)
    out["slow_quarter"] = sup_distance(normalized_ntk(rho, 10_000, 0.25, "hidden"), 0.25)
    return out


def claims(phase: dict[str, Any] | None = None, fit_from: int = 100) -> list[C.Claim]:
    """The regime table's checks; with ``phase`` (from :func:`phase_diagram`) also the diagram's (slopes
    fitted over ``L >= fit_from``)."""
    lc = limit_checks()
    out = [
        C.at_most("04-ode-hidden", "gamma = 1/2 (hidden): normalised RNTK within 1e-3 of the ODE limit at L = 10^3",
                  "Tian & Yu (as reconstructed); spec [D]", lc["ode_hidden"], 1e-3),
        C.at_most("04-ode-all", "gamma = 1/2 (all): within 1e-3 of its ODE limit at L = 10^3", "spec [D]", lc["ode_all"], 1e-3),
        C.at_most("04-depth1-hidden", "gamma = 1 (hidden): within 1e-3 of the depth-1 kernel at L = 10^4",
                  "Huang et al. 2020; Tian & Yu; spec [D]", lc["deep_hidden"], 1e-3),
        C.at_most("04-linear-all", "gamma = 1 (all: input and readout trained too): within 1e-3 of the linear kernel rho0 "
                  "at L = 10^4", "spec [D]", lc["deep_all"], 1e-3),
        C.at_most("04-constant-alpha", "alpha = 1 constant (gamma = 0): within 0.005 of the degenerate 1/4 at L = 10^4",
                  "Tian & Yu [A] (alpha constant degenerates)", lc["constant_alpha"], 0.005),
        C.at_least("04-slow", "gamma = 1/4: still at least 0.1 away from 1/4 at L = 10^4 (degenerates only slowly, "
                   "effective time L^(1/2) = 100)", "Tian & Yu [A] (slowly decreasing alpha)", lc["slow_quarter"], 0.1),
    ]
    if phase is not None:
        g, D = phase["gammas"], phase["depths"]
        fit = D >= fit_from
        for trained, s in phase["settings"].items():
            deep = np.flatnonzero(g >= 0.75)
            if len(deep) and fit.sum() >= 3:
                errs = [loglog_slope(D[fit], s["to_deep"][i, fit])[0] - (1.0 - 2.0 * g[i]) for i in deep]
                worst = int(np.argmax(np.abs(errs)))
                out.append(C.at_most(f"04-phase-rate-{trained}", f"phase diagram ({trained}): for every gamma >= 0.75 on "
                                     f"the grid, |fitted slope (L >= {fit_from}) - (1 - 2 gamma)| of the distance to the "
                                     f"gamma > 1/2 limit (worst: gamma = {g[deep[worst]]:g})", "spec [D] (error ~ L^(1 - 2 gamma))",
                                     float(abs(errs[worst])), 0.1))
        s = phase["settings"].get("hidden")
        if s is not None and D[-1] >= 1000:
            # effective time: below 1/2, the distance to 1/4 at the deepest L grows with gamma
            low = g < 0.5
            out.append(C.at_least("04-phase-monotone", f"phase diagram (hidden): at L = {D[-1]} the distance to 1/4 "
                                  "increases with gamma on [0, 1/2) (min step)", "spec (effective time L^(1-2 gamma))",
                                  float(np.min(np.diff(s["to_quarter"][low, -1]))), 0.0))
    return out


# ---------------------------------------------------------------------------------------------------
def _effective_time_lines(ax, depths, times=(10, 100, 1000)):
    """Curves ``L^(1 - 2 gamma) = T`` in the (gamma, log10 L) plane (black with a white halo)."""
    from matplotlib import patheffects

    halo = [patheffects.withStroke(linewidth=2.5, foreground="w")]
    L = np.logspace(0, math.log10(depths[-1]), 200)
    for T in times:
        ok = L > T
        if not ok.any():
            continue
        g = 0.5 * (1.0 - math.log(T) / np.log(L[ok]))
        ax.plot(g, np.log10(L[ok]), color="k", linestyle="--", linewidth=0.9, path_effects=halo)
        ax.text(g[-1] + 0.01, math.log10(depths[-1]) - 0.05, f"$L\\alpha^2={T}$", color="k", fontsize=6.5,
                ha="left", va="top", rotation=90, path_effects=halo)


def plot_phase(phase: dict[str, Any]):
    """Heat maps (log10 of the distance): rows = trained settings, columns = distance to the degenerate
    kernel 1/4 and to the ``gamma > 1/2`` limit; regime boundaries and effective-time curves."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import Normalize

    g, D = phase["gammas"], phase["depths"]
    settings = list(phase["settings"])
    fig, axes = plt.subplots(len(settings), 2, figsize=(8.6, 3.4 * len(settings) + 0.4), squeeze=False)
    lD = np.log10(D.astype(float))

    def edges(v, pad):
        mid = (v[1:] + v[:-1]) / 2 if len(v) > 1 else np.array([])
        return np.concatenate([[v[0] - pad], mid, [v[-1] + pad]])

    ge = edges(g, (g[1] - g[0]) / 2 if len(g) > 1 else 0.05)
    le = edges(lD, (lD[-1] - lD[-2]) / 2 if len(lD) > 1 else 0.25)
    norm = Normalize(-5, 0)
    for row, trained in enumerate(settings):
        s = phase["settings"][trained]
        deep_name = "depth-1 kernel" if trained == "hidden" else r"linear kernel $\rho_0$"
        for col, (key, title) in enumerate((("to_quarter", "distance to 1/4 (degenerate)"),
                                             ("to_deep", f"distance to the {deep_name}"))):
            ax = axes[row, col]
            img = np.log10(np.maximum(s[key].T, 1e-12))
            im = ax.pcolormesh(ge, le, img, norm=norm, cmap="viridis", shading="flat")
            ax.axvline(0.5, color="w", linewidth=1.5)
            _effective_time_lines(ax, D)
            ax.set_title(f"{trained}: {title}", fontsize=9)
            ax.set_xlabel(r"$\gamma$ ($\alpha = L^{-\gamma}$)")
            ax.set_ylabel(r"$\log_{10} L$")
            ax.text(0.52, lD[0] + 0.1, r"$\gamma = 1/2$" + "\n(ODE limit)", color="w", fontsize=7, va="bottom")
    fig.tight_layout(rect=(0, 0, 0.9, 1))
    cax = fig.add_axes((0.915, 0.15, 0.02, 0.7))
    fig.colorbar(im, cax=cax, label=r"$\log_{10} \max_{\rho_0} |k_L - k_\mathrm{ref}|$")
    return fig


def plot_regimes(curves: dict[str, Any]):
    """Normalised RNTK against ``rho0`` at the deepest ``L`` for several gammas (solid) and each regime's
    limit (dashed), one panel per trained setting."""
    import matplotlib.pyplot as plt

    settings = list(curves["settings"])
    fig, axes = plt.subplots(1, len(settings), figsize=(4.3 * len(settings), 3.7), sharey=True, squeeze=False)
    rho = curves["rho"]
    for ax, trained in zip(axes[0], settings):
        s = curves["settings"][trained]
        for i, (g, k, lim) in enumerate(zip(curves["gammas"], s["curves"], s["limits"])):
            ax.plot(rho, k, color=f"C{i}", label=rf"$\gamma = {g:g}$")
            ax.plot(rho[:-1], lim[:-1], "--", color=f"C{i}", linewidth=1.0)
        ax.set_title(f"trained = \"{trained}\", $L = {curves['depth']}$")
        ax.set_xlabel(r"input correlation $\rho_0$")
    axes[0, 0].set_ylabel("normalised NTK")
    axes[0, 0].legend(title="solid: depth L; dashed: limit", loc="upper left", fontsize=7)
    fig.tight_layout()
    return fig


__all__ = ["claims", "deep_limit", "gamma_grid", "limit_checks", "normalized_ntk", "phase_diagram", "plot_phase",
           "plot_regimes", "regime_curves"]
