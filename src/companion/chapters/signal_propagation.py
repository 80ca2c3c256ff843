"""Signal propagation at initialisation (chapter 1): how the squared norm ``q_l`` of a representation and
the correlation ``rho_l`` of two inputs evolve with the layer ``l``, for finite networks and for the
infinite-width (NNGP) recursion.

Infinite width, unit inputs with correlation ``rho_0`` (``kappa1`` is the arc-cosine map)::

    FFNet:   q_l = 1,                 rho_l = kappa1(rho_{l-1})
    ResNet:  q_l = (1 + alpha^2)^l,   rho_l = (rho_{l-1} + alpha^2 kappa1(rho_{l-1})) / (1 + alpha^2)
"""

from __future__ import annotations

import time
from typing import Any

import jax
import numpy as np

from companion.publish import claims as C
from companion.networks import models
from companion.kernels import nngp_trajectory, two_inputs


def propagation(P: dict[str, Any], log=print) -> dict[str, Any]:
    """Finite-width and infinite-width signal propagation for the FFNet and ResNets with ``alpha = L^-gamma``.

    Args:
      P: chapter parameters with ``width``, ``depth``, ``gammas``, ``seeds``, ``rho0``.

    Returns:
      ``{"layers": (L+1,), "runs": [{"arch", "gamma", "alpha", "label", "q", "rho" (analytic, (L+1,)),
      "q_hat", "rho_hat" (finite width, (seeds, L+1))}]}``.
    """
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


def claims(result: dict[str, Any]) -> list[C.Claim]:
    """The chapter's checks: finite networks follow the recursion; depth pulls FFNet inputs together
    at the derived rate ``1 - rho_L ~ 9 pi^2 / (2 L^2)``; a ResNet with ``gamma >= 1`` keeps them apart."""
    P = result["params"]
    L, m = P["depth"], P["width"]
    out = []
    # Finite-width fluctuations of a correlation are O(1/sqrt(m)) per layer and add up (at most) like a
    # random walk over L layers. Measured worst errors: 0.10 at smoke scale (bound 0.31), 0.03 at default (0.25).
    tol = np.sqrt(L / m)
    worst = max(float(np.max(np.abs(r["rho_hat"].mean(0) - r["rho"]))) for r in result["runs"])
    out.append(C.at_most("01-finite-follows-nngp", "finite-width correlations follow the NNGP recursion (worst layer, all nets)",
                         "spec (NNGP limit)", worst, tol))
    # The rate is asymptotic (the approach is like 1/(l + l_0)^2), so check it far out, at L = 10^4.
    big = 10_000
    rho_big = nngp_trajectory("ffnet", big, P["rho0"])["rho"][-1]
    ratio = (1.0 - rho_big) / (9.0 * np.pi**2 / (2.0 * big**2))
    out.append(C.within("01-ffnet-rate", "FFNet: (1 - rho_L) / (9 pi^2 / (2 L^2)) at L = 10^4", "spec [D]",
                        float(ratio), 1.0, 0.01))
    res = [r for r in result["runs"] if r["arch"] == "resnet" and r["gamma"] is not None and r["gamma"] >= 1.0]
    if res:
        drift = max(abs(r["rho"][-1] - P["rho0"]) for r in res)
        out.append(C.at_most("01-resnet-keeps", "ResNet gamma >= 1: |rho_L - rho_0| stays O(1/L)", "Huang et al. 2020 (as reconstructed)",
                             float(drift), 1.0 / L))
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
