"""What several chapters share: depth and correlation grids, the sup distance between kernel curves,
the normalised kernels of one correlation that chapters 3 and 4 sweep (and the first-order term of the
ResNet's approach to the depth-1 kernel), width power-law fits over sweep records, and the plot helpers
they draw with.

Chapter modules import this module and the library, never each other.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any, Mapping, Sequence

import numpy as np

from companion.util import validate as check
from companion import kernels as K
from companion.learning.fits import PowerLawFit, power_law
from companion.networks.width import label

CLAIM_RHO = (-0.9, 0.99)  # the input correlations on which chapters 3 and 4 check their claims


def config_key(r: Mapping[str, Any]) -> tuple:
    return (r["arch"], r.get("activation", "relu"), r["gamma"])


def table(records: Sequence[Mapping[str, Any]], metric: str, by: Sequence[str] = ("arch", "activation", "gamma", "n"),
          ) -> dict[tuple, tuple[np.ndarray, np.ndarray]]:
    """Group records by ``by`` into ``(widths (k,), values (seeds, k))`` with NaN for missing runs."""
    groups: dict[tuple, dict[tuple[int, int], float]] = defaultdict(dict)
    for r in records:
        groups[tuple(r.get(b) for b in by)][(r["seed"], r["width"])] = float(r.get(metric, math.nan))
    out = {}
    for key, vals in groups.items():
        widths = sorted({w for _, w in vals})
        seeds = sorted({s for s, _ in vals})
        arr = np.array([[vals.get((s, w), math.nan) for w in widths] for s in seeds])
        out[key] = (np.array(widths, dtype=float), arr)
    return out


def width_fits(records: Sequence[Mapping[str, Any]], metric: str, by: Sequence[str] = ("arch", "activation", "gamma", "n"),
               level: float = 0.95) -> dict[tuple, PowerLawFit]:
    """Power law in the width for each group: ``metric ~ C m^slope`` with a t-interval over seeds."""
    return {k: power_law(w, v, level=level) for k, (w, v) in table(records, metric, by).items()}


def arch_style(arch: str, gamma: float | None) -> dict[str, Any]:
    markers = {None: "o", 0.0: "s", 0.5: "^", 1.0: "D", 0.25: "v"}
    return {"marker": markers.get(gamma, "x"), "linestyle": "-" if arch == "resnet" else "--"}


def log_ticks(ax, values, axis: str = "x") -> None:
    """Log axis ticked exactly at ``values`` with plain labels (no overlapping minor labels)."""
    from matplotlib.ticker import FixedLocator, NullLocator

    values = sorted({float(v) for v in values})
    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_major_locator(FixedLocator(values))
    target.set_minor_locator(NullLocator())
    (ax.set_xticklabels if axis == "x" else ax.set_yticklabels)([f"{v:g}" for v in values])


def interval_band(ax, w, v, color, **kw):
    mean = np.exp(np.nanmean(np.log(v), axis=0))
    ax.plot(w, mean, color=color, **kw)
    if v.shape[0] > 1:
        ax.fill_between(w, np.nanmin(v, axis=0), np.nanmax(v, axis=0), color=color, alpha=0.15, linewidth=0)


def plot_init_error(result: Mapping[str, Any], fits: Mapping[str, Any]):
    """Relative error of the empirical NTK at initialisation against width (log-log), with ``m^(-1/2)``."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    for i, (key, (w, v)) in enumerate(table(result["init"], "rel_error", by=("arch", "gamma")).items()):
        arch, gamma = key
        f = fits["init"][key]
        interval_band(ax, w, v, f"C{i}", **arch_style(arch, gamma),
              label=f"{label(arch, 'relu', gamma)}: {f.slope:.2f} [{f.low:.2f}, {f.high:.2f}]")
    w = np.array(sorted(result["params"]["init_widths"]), dtype=float)
    y0 = np.exp(np.mean([np.log(r["rel_error"]) for r in result["init"] if r["width"] == w[0]]))
    ax.plot(w, y0 * (w / w[0]) ** -0.5, ":", color="grey", label=r"$\propto m^{-1/2}$")
    ax.set(xscale="log", yscale="log", xlabel="width $m$", ylabel=r"$\|\Theta_m - \Theta\|_F / \|\Theta\|_F$ at init")
    log_ticks(ax, w)
    ax.legend(fontsize="small", title="fitted exponent [95% interval]", title_fontsize="small")
    return fig


# ---------------------------------------------------------------------------------------------------
# normalised kernels of one correlation (chapters 3 and 4)
def ffnet_ntk(rho, depth: int) -> np.ndarray:
    """Normalised FFNet NTK ``k_L(rho0)`` (equation ``eq-03-normalised``) at correlations ``rho`` (any
    shape, in ``[-1, 1]``), depth ``L >= 0``; NumPy float64. A thin wrapper of
    :func:`companion.kernels.ffnet_normalized` (the layer recursion); raises ``ValueError`` as it does."""
    return np.asarray(K.ffnet_normalized(rho, depth).ntk)


def resnet_ntk(rho, depth: int, gamma: float, trained: str = "hidden") -> np.ndarray:
    """Normalised ResNet NTK with ``alpha = L^-gamma`` (equation ``eq-03-normalised``; chapter 4's
    ``eq-04-step`` recursion) at correlations ``rho``, depth ``L >= 1``, ``trained`` in ``("hidden", "all")``;
    NumPy float64. A thin wrapper of :func:`companion.kernels.resnet_normalized` with
    :func:`companion.kernels.branch_scaling`; raises ``ValueError`` for a bad depth, gamma or trained."""
    return np.asarray(K.resnet_normalized(rho, depth, K.branch_scaling(depth, gamma), trained).ntk)


def depth1_first_order(rho) -> np.ndarray:
    """The first-order term ``g1(rho0)`` of the ResNet's approach to the depth-1 kernel (``gamma > 1/2``,
    ``trained="hidden"``), equation ``eq-03-first-order``: ``k_L(rho0) = k_1(rho0) + T g1(rho0) + O(T^2)``
    with effective time ``T = L alpha^2 = L^(1 - 2 gamma)``, where (this book's derivation, chapter 3)::

        g1 = [ (kappa1 + rho kappa0)(kappa0 - 1) + (2 kappa0 + rho / (pi sqrt(1 - rho^2))) (kappa1 - rho) ] / 4

    at ``rho = rho0``. ``rho``: correlations in ``(-1, 1]`` (at ``rho0 = 1`` the term is 0). At ``rho0 = -1``
    the expansion does not hold (``kappa0`` has a square-root kink there, so the correction is of order
    ``T^(1/2)``), and ``rho <= -1`` raises ``ValueError``, as do entries outside ``[-1, 1]``.
    Returns a NumPy float64 array of the shape of ``rho``.
    """
    r = np.asarray(K.depth1_limit(rho).nngp, dtype=np.float64)  # the correlations, validated by the kernels
    if r.size and float(r.min()) <= -1.0:
        raise check.fail("rho", float(r.min()), "correlations in (-1, 1] (the first-order term diverges at -1)")
    k0, k1 = np.asarray(K.kappa0(r)), np.asarray(K.kappa1(r))
    s = np.sqrt(np.maximum(1.0 - r * r, 0.0))
    # d kappa0 / d rho = 1 / (pi sqrt(1 - rho^2)) diverges at rho = 1, where it multiplies kappa1 - rho
    # ~ (1 - rho)^(3/2): the product tends to 0, so only the division needs a guard.
    dk0 = np.divide(r, np.pi * s, out=np.zeros_like(r), where=s > 0)
    g = k1 + r * k0
    return ((g * (k0 - 1.0) + (2.0 * k0 + dk0) * (k1 - r)) / 4.0)


# ---------------------------------------------------------------------------------------------------
# helpers
def log_depths(max_depth: int, per_decade: int) -> np.ndarray:
    """Distinct integer depths from 1 to ``max_depth``, about ``per_decade`` per factor of ten."""
    max_depth = check.integer("max_depth", max_depth, minimum=1)
    per_decade = check.integer("per_decade", per_decade, minimum=1)
    k = max(1, int(round(per_decade * math.log10(max_depth))))
    return np.unique(np.round(np.logspace(0.0, math.log10(max_depth), k + 1)).astype(int))


def rho_grid(points: int, lo: float = CLAIM_RHO[0], hi: float = CLAIM_RHO[1]) -> np.ndarray:
    """``points`` input correlations evenly spaced in ``[lo, hi]``, ``-1 <= lo <= hi <= 1``."""
    points = check.integer("points", points, minimum=2)
    lo = check.real("lo", lo, minimum=-1.0, maximum=1.0)
    hi = check.real("hi", hi, minimum=lo, maximum=1.0)
    return np.linspace(lo, hi, points)


def sup_distance(values: np.ndarray, target: np.ndarray | float) -> float:
    """``max |values - target|`` (the distance used for every rate in this chapter).

    ``values``: a non-empty finite array; ``target``: a finite scalar or an array of the same shape.
    """
    values, target = np.asarray(values, dtype=np.float64), np.asarray(target, dtype=np.float64)
    if values.size == 0 or not np.all(np.isfinite(values)):
        raise check.fail("values", f"array of shape {values.shape} with {values.size - np.count_nonzero(np.isfinite(values))} "
                         "non-finite entries", "a non-empty array of finite entries")
    if target.ndim and target.shape != values.shape:
        raise check.fail("target", f"array of shape {target.shape}", f"a scalar or the shape of values {values.shape}")
    if not np.all(np.isfinite(target)):
        raise check.fail("target", "non-finite entries", "finite entries only (no NaN or inf)")
    return float(np.max(np.abs(values - target)))


# ---------------------------------------------------------------------------------------------------
# plots
def depth_colors(depths):
    import matplotlib.pyplot as plt

    cmap = plt.get_cmap("viridis")
    lo, hi = math.log10(max(depths[0], 1)), math.log10(max(depths[-1], 2))
    return [cmap(0.9 * (math.log10(max(L, 1)) - lo) / max(hi - lo, 1e-9)) for L in depths]


