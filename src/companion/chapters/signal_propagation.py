"""Signal propagation at initialisation (chapter 1): how the squared norm ``q_l`` of a representation and
the correlation ``rho_l`` of two inputs evolve with the layer ``l``, for finite networks and for the
infinite-width (NNGP) recursion.

Infinite width, unit inputs with correlation ``rho_0`` (``kappa1`` is the arc-cosine map)::

    FFNet:   q_l = 1,                 rho_l = kappa1(rho_{l-1})
    ResNet:  q_l = (1 + alpha^2)^l,   rho_l = (rho_{l-1} + alpha^2 kappa1(rho_{l-1})) / (1 + alpha^2)
"""

from __future__ import annotations

import time
from typing import Any, Mapping, Sequence

import jax
import numpy as np

from companion.util import validate as check
from companion.publish import claims as C
from companion.networks import models
from companion.kernels import ffnet_normalized, kappa1, nngp_trajectory, resnet_normalized, two_inputs


def propagation(P: Mapping[str, Any], log=None) -> dict[str, Any]:
    """Finite-width and infinite-width signal propagation for the FFNet and ResNets with ``alpha = L^-gamma``.

    Args:
      P: chapter parameters with ``width``, ``depth``, ``gammas``, ``seeds``, ``rho0``.
      log: called with progress messages (``None``: silent, as on a book page).

    Returns:
      ``{"layers": (L+1,), "runs": [{"arch", "gamma", "alpha", "label", "q", "rho" (analytic, (L+1,)),
      "q_hat", "rho_hat" (finite width, (seeds, L+1))}]}``.
    """
    log = log or (lambda *_: None)
    width, depth, seeds, rho0 = P["width"], P["depth"], P["seeds"], P["rho0"]
    x = two_inputs(rho0)
    configs = [("ffnet", None)] + [("resnet", g) for g in P["gammas"]]
    log(f"Signal propagation: width {width}, depth {depth}, {seeds} seed(s), {len(configs)} networks ...")
    start = time.perf_counter()
    runs = []
    for arch, gamma in configs:
        alpha = 0.0 if gamma is None else models.branch_scaling(depth, gamma)
        net = models.ffnet(depth, width) if arch == "ffnet" else models.resnet(depth, width, alpha)
        q_hat, rho_hat = [], []
        for seed in range(seeds):
            params = net.init(jax.random.PRNGKey(seed), x.shape[1])
            sp = models.signal_propagation(net, params, x)
            q_hat.append(sp["sq_norm"][:, 0])
            rho_hat.append(sp["corr"][:, 0, 1])
        label = "FFNet" if arch == "ffnet" else rf"ResNet $\gamma={gamma:g}$"
        runs.append(
            {"arch": arch, "gamma": gamma, "alpha": alpha, "label": label, **nngp_trajectory(arch, depth, rho0, alpha),
             "q_hat": np.array(q_hat), "rho_hat": np.array(rho_hat)}
        )
    log(f"... done in {time.perf_counter() - start:.1f} s")
    return {"layers": np.arange(depth + 1), "runs": runs, "params": dict(P)}


Z_MAX = 5.0  # largest |seed mean - recursion| in standard errors that counts as "follows the recursion"
ASYMPTOTIC_DEPTH = 10_000  # depth at which the asymptotic rates are checked (one decade shallower gives the tolerance)


def follow_z(result: Mapping[str, Any], swap: bool = False) -> float:
    """How far the finite networks' correlations are from the NNGP recursion, in standard errors over seeds.

    For each network, the seed mean of ``rho_hat`` at every layer is compared with the recursion; the
    difference is divided by that network's standard error ``sd / sqrt(seeds)`` (``sd``: the spread over
    seeds, root-mean-square over layers, so that a few seeds still give a stable scale). Returns the
    largest such ratio over layers and networks.

    Args:
      result: from :func:`propagation`, with at least two seeds.
      swap: compare the ResNets with ``gamma = 1/2`` and ``gamma = 1`` with each other's recursion (the
        counterfactual of claim ``01-finite-follows-nngp``; both must be in ``result``).

    Raises:
      ValueError: fewer than two seeds, or ``swap`` without both ResNets.
    """
    runs = result["runs"]
    seeds = runs[0]["rho_hat"].shape[0]
    if seeds < 2:
        raise check.fail("seeds", seeds, "at least 2 (the tolerance is a standard error over seeds)")
    rho = {(r["arch"], r["gamma"]): r["rho"] for r in runs}
    if swap:
        if ("resnet", 0.5) not in rho or ("resnet", 1.0) not in rho:
            raise check.fail("gammas", sorted(g for a, g in rho if a == "resnet"), "both 0.5 and 1.0 for the swap")
        rho[("resnet", 0.5)], rho[("resnet", 1.0)] = rho[("resnet", 1.0)], rho[("resnet", 0.5)]
    worst = 0.0
    for r in runs:
        hat = r["rho_hat"][:, 1:]  # layer 0 is the input itself: no fluctuation, nothing to compare
        se = float(np.sqrt(np.mean(hat.std(axis=0, ddof=1) ** 2)) / np.sqrt(seeds))
        worst = max(worst, float(np.max(np.abs(hat.mean(axis=0) - rho[(r["arch"], r["gamma"])][1:]))) / se)
    return worst


def final_correlation(arch: str, depth: int, rho0: float, gamma: float | None = None) -> float:
    """``rho_L`` of the infinite-width recursion (finite at every depth: the normalised NNGP kernel of
    :mod:`companion.kernels`, without the ``(1 + alpha^2)^L`` scale)."""
    if arch == "ffnet":
        return float(ffnet_normalized(rho0, depth).nngp)
    return float(resnet_normalized(rho0, depth, models.branch_scaling(depth, gamma)).nngp)


def rate_ratio(arch: str, depth: int, rho0: float, gamma: float | None = None) -> float:
    """``(1 - rho_L) / (9 pi^2 / (2 L^2))``: 1 in the limit for the FFNet (this book's derivation, chapter 3)."""
    return (1.0 - final_correlation(arch, depth, rho0, gamma)) / (9.0 * np.pi**2 / (2.0 * depth**2))


def scaled_drift(depth: int, rho0: float, gamma: float) -> float:
    """``L |rho_L - rho_0|`` for a ResNet with ``alpha = L^-gamma``: tends to ``kappa1(rho_0) - rho_0`` for
    ``gamma = 1`` (each block moves ``rho`` by ``alpha^2 (kappa1(rho) - rho) / (1 + alpha^2)``)."""
    return depth * abs(final_correlation("resnet", depth, rho0, gamma) - rho0)


def drift_table(rho0: float, depths: Sequence[int] = (10, 100, 1000, ASYMPTOTIC_DEPTH), gammas=(0.5, 1.0)) -> str:
    """Markdown: ``|rho_L - rho_0|`` and ``L |rho_L - rho_0|`` of the recursion for each ``gamma`` and depth."""
    lines = ["| depth L | " + " | ".join(f"γ = {g:g}: \\|ρ_L − ρ_0\\| | γ = {g:g}: L \\|ρ_L − ρ_0\\|" for g in gammas) + " |",
             "|---|" + "---|---|" * len(gammas)]
    for L in depths:
        cells = []
        for g in gammas:
            d = scaled_drift(L, rho0, g)
            cells += [f"{d / L:.3g}", f"{d:.4g}"]
        lines.append(f"| {L} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def claims(result: dict[str, Any]) -> list[C.Claim]:
    """The chapter's checks, each with a counterfactual that the same check rejects:

    * ``01-finite-follows-nngp``: finite networks follow the recursion to within :data:`Z_MAX` standard
      errors over seeds; counterfactual: the ResNets with ``gamma = 1/2`` and ``gamma = 1`` against each
      other's recursion;
    * ``01-ffnet-rate``: ``1 - rho_L ~ 9 pi^2 / (2 L^2)`` for the FFNet at ``L = 10^4``; tolerance: the
      next-order term ``O(ln L / L)``, its size measured one decade shallower; counterfactual: the
      unscaled ResNet (``gamma = 0``), whose blocks take half a ``kappa1`` step each;
    * ``01-resnet-keeps``: for ``gamma = 1`` the drift ``|rho_L - rho_0|`` falls like ``1/L`` with
      ``L |rho_L - rho_0| -> kappa1(rho_0) - rho_0``; tolerance: the ``1/L`` correction measured as the
      change over the last decade of depth; counterfactual: ``gamma = 1/2``.
    """
    rho0 = result["params"]["rho0"]
    out = [C.at_most(
        "01-finite-follows-nngp",
        "finite-width correlations follow the NNGP recursion: largest |seed mean − recursion| in standard errors "
        f"over seeds (all layers and networks; bound {Z_MAX:g}: a deviation of 5 standard errors has two-sided "
        "probability 6e-7 per layer for Gaussian noise, few seeds make the tails heavier)",
        "NNGP limit (Neal 1996; Lee et al. 2018); the recursion of eq-ffnet and eq-resnet", follow_z(result), Z_MAX,
        counterfactual=("ResNets γ = 1/2 and γ = 1 compared with each other's recursion", follow_z(result, swap=True)))]
    L = ASYMPTOTIC_DEPTH
    shallow = abs(rate_ratio("ffnet", L // 10, rho0) - 1.0)
    # next-order term O(ln L / L): its size at L/10, scaled to L and doubled for safety
    tol = 2.0 * shallow * (np.log(L) / L) / (np.log(L // 10) / (L // 10))
    out.append(C.within(
        "01-ffnet-rate", f"FFNet: (1 − ρ_L) / (9π²/(2L²)) at L = {L} (tolerance: twice the O(ln L / L) "
        f"next-order term, its size {shallow:.3g} measured at L = {L // 10})",
        "this book's derivation (chapter 3)", rate_ratio("ffnet", L, rho0), 1.0, float(tol),
        counterfactual=("unscaled ResNet (γ = 0)", rate_ratio("resnet", L, rho0, 0.0))))
    target = float(kappa1(rho0)) - rho0
    drift, drift_shallow = scaled_drift(L, rho0, 1.0), scaled_drift(L // 10, rho0, 1.0)
    out.append(C.within(
        "01-resnet-keeps", f"ResNet γ = 1: the drift |ρ_L − ρ_0| falls like 1/L: L |ρ_L − ρ_0| at L = {L} against "
        f"κ₁(ρ_0) − ρ_0 (tolerance: its change from L = {L // 10}, about 9 times the remaining 1/L correction)",
        "this book's derivation (each block moves ρ by α²(κ₁(ρ) − ρ)/(1 + α²))", drift, target,
        abs(drift - drift_shallow), counterfactual=("γ = 1/2 (α = L^(−1/2))", scaled_drift(L, rho0, 0.5))))
    return out


def plot_norms(result: dict[str, Any]):
    """Squared norm ``q_l`` against layer ``l``: recursion (lines) and finite width (markers, seed mean)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    l = result["layers"]
    for i, r in enumerate(result["runs"]):
        color = f"C{i}"
        ax.plot(l, r["q"], color=color, label=r["label"])
        ax.plot(l, r["q_hat"].mean(0), "o", color=color, markersize=3, alpha=0.7)
    ax.set_yscale("log")
    ax.set_xlabel("layer $l$")
    ax.set_ylabel(r"squared norm $q_l = |x_l|^2$")
    ax.legend(title=f"lines: infinite width; dots: width {result['params']['width']}")
    return fig


def plot_correlations(result: dict[str, Any]):
    """Correlation ``rho_l`` of two inputs against layer ``l``: recursion and finite width (mean +- sd)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    l = result["layers"]
    for i, r in enumerate(result["runs"]):
        color = f"C{i}"
        ax.plot(l, r["rho"], color=color, label=r["label"])
        mean, sd = r["rho_hat"].mean(0), r["rho_hat"].std(0)
        ax.plot(l, mean, "o", color=color, markersize=3, alpha=0.7)
        if r["rho_hat"].shape[0] > 1:
            ax.fill_between(l, mean - sd, mean + sd, color=color, alpha=0.15, linewidth=0)
    ax.set_xlabel("layer $l$")
    ax.set_ylabel(r"correlation $\rho_l$ of two inputs")
    ax.set_ylim(min(0.0, result["params"]["rho0"] - 0.05), 1.02)
    ax.legend(loc="lower right")
    return fig
