"""Finite width (chapter 5): how far a finite network is from its NTK, at initialisation and during training.

Three measurements, each a resumable sweep (:func:`companion.util.sweep.run_sweep`) over a grid of
architectures, activations, widths ``m``, sample sizes ``n`` and seeds:

1. **At initialisation** (:func:`init_point`): the relative error ``||Theta_m - Theta||_F / ||Theta||_F``
   of the empirical NTK of a width-``m`` ReLU network against the exact infinite-width kernel
   (:mod:`companion.kernels`). Central-limit fluctuations predict ``~ m^(-1/2)``.
2. **During training** (:func:`change_point`): full-batch gradient descent to a small training loss
   (:func:`companion.networks.training.train`), the relative NTK change ``||Theta_T - Theta_0||_F / ||Theta_0||_F``,
   and the gap between the network's and the linearised (NTK) model's predictions.
3. **Width needed** (:func:`width_needed`): for each ``n``, the power law ``change ~ C_n m^(-e_n)``
   fitted over widths gives the width ``m*(n) = (C_n / threshold)^(1 / e_n)`` at which the change falls
   to ``threshold``; a log-log fit of ``m*`` against ``n`` gives an empirical exponent, with a bootstrap
   interval over seeds. Li, Luo & Yip (2022) prove that a width growing like ``n^3`` (ResNet) or ``n^4``
   (fully connected) suffices: these are *sufficient* conditions with large constants, for smooth
   activations and their own normalisation; the measured exponent is a different, empirical quantity
   (the width at which this particular change is this small, on this data).

Data (:func:`sphere_data`): ``n`` training and ``n_test`` test inputs uniform on ``S^(d-1)``, labels
``y = sign(x_1)`` (a balanced two-class problem with a smooth decision boundary).

Networks (:func:`network`): ``companion.networks.models`` FFNet (all layers trained) and ResNet with
``alpha = L^-gamma`` and ``trained="hidden"`` (the setting of Huang et al. 2020), activation ReLU or a smooth one.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from companion.util import validate as check
from companion.publish import claims as C
from companion.chapters.common import arch_style, config_key, interval_band, log_ticks, table, width_fits
from companion.networks.width import INIT_VERSION, SWEEP_VERSION, change_point, init_point, label
from companion.learning.fits import PowerLawFit, halfwidths_from, loglog_slope, power_law_solve
from companion.util.sweep import run_sweep


# ----------------------------------------------------------------------------------------------------
# Data and networks


# ----------------------------------------------------------------------------------------------------
# Point functions (one sweep entry each)


# ----------------------------------------------------------------------------------------------------
# Grids and the whole experiment


def configs(P: Mapping[str, Any]) -> list[tuple[str, str, float | None]]:
    """``(arch, activation, gamma)`` for the FFNet and each ResNet ``gamma``, for each activation."""
    return [(a, act, g) for act in P["activations"] for a, g in [("ffnet", None)] + [("resnet", g) for g in P["gammas"]]]


def scaling_configs(P: Mapping[str, Any]) -> list[tuple[str, str, float | None]]:
    """The configurations swept over sample sizes as well: FFNet and ResNet ``gamma = 1/2`` (else the first
    gamma) with ``scaling_activation`` (ReLU by default: its kernels stay well conditioned as ``n`` grows on
    ``S^15``), and the same two with ``smooth_activation`` (the setting of Li, Luo & Yip's theorem: a
    smooth Lipschitz activation), swept over the smaller ``smooth_ns`` because a smooth activation's
    smallest NTK eigenvalues fall fast once ``n`` exceeds ``d`` (many more steps)."""
    g = 0.5 if 0.5 in P["gammas"] else P["gammas"][0]
    acts = [P["scaling_activation"]] + [a for a in [P["smooth_activation"]] if a != P["scaling_activation"]]
    return [(a, act, gg) for act in acts for a, gg in (("ffnet", None), ("resnet", g))]


def scaling_ns(P: Mapping[str, Any], cfg: tuple[str, str, float | None]) -> list[int]:
    """The sample sizes over which ``cfg`` (one of :func:`scaling_configs`) is swept."""
    return list(P["ns"]) if cfg[1] == P["scaling_activation"] else list(P["smooth_ns"])


def change_grid(P: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every training run: all configurations at ``n``, plus each of :func:`scaling_configs` at its
    :func:`scaling_ns`."""
    fixed = {k: P[k] for k in ("depth", "d", "n_test", "max_steps", "tol", "lr_factor")}
    runs = {(c, P["n"]) for c in configs(P)} | {(c, n) for c in scaling_configs(P) for n in scaling_ns(P, c)}
    grid = []
    for (arch, act, g), n in sorted(runs, key=lambda r: (r[1], r[0][0], r[0][1], -1 if r[0][2] is None else r[0][2])):
        for w in P["widths"]:
            for s in range(P["seeds"]):
                grid.append({"arch": arch, "activation": act, "gamma": g, "width": w, "n": n, "seed": s, **fixed})
    return grid


def init_grid(P: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Initialisation runs: ReLU FFNet and ResNets (each gamma), ``init_widths`` x seeds, ``init_n`` inputs."""
    cfgs = [("ffnet", None)] + [("resnet", g) for g in P["gammas"]]
    return [{"arch": a, "gamma": g, "depth": P["depth"], "width": w, "n": P["init_n"], "d": P["d"], "seed": s}
            for a, g in cfgs for w in P["init_widths"] for s in range(P["seeds"])]


def run(P: Mapping[str, Any], out_dir: str | Path | None = None, progress: bool | None = None, log=None) -> dict[str, Any]:
    """Run (or resume) the chapter's sweeps; returns ``{"params", "init", "change"}`` (lists of records).

    ``out_dir`` defaults to ``companion.publish.figures.output_dir() / "sweeps"``. ``progress=None`` shows the
    progress bar and per-point messages except inside the book build (where they would fill the page);
    ``log`` receives a start and an end message (``None``: silent).
    """
    from companion.publish.figures import in_book_build, output_dir

    log = log or (lambda *_: None)
    if out_dir is None:
        out_dir = output_dir() / "sweeps"
    if progress is None:
        progress = not in_book_build()
    start = time.perf_counter()
    ig, cg = init_grid(P), change_grid(P)
    log(f"Finite width: {len(ig)} initialisation points and {len(cg)} training runs (cached points are reused) ...")
    init = run_sweep("05-init", ig, init_point, out_dir, progress, version=INIT_VERSION)
    change = run_sweep("05-change", cg, change_point, out_dir, progress, version=SWEEP_VERSION)
    log(f"... done in {time.perf_counter() - start:.1f} s")
    return {"params": dict(P), "init": init, "change": change}


# ----------------------------------------------------------------------------------------------------
# Analysis


def width_needed(
    widths: Sequence[float],
    values_by_n: Mapping[int, Any],
    threshold: float,
    *,
    level: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
) -> dict[str, Any]:
    """Width at which a quantity that falls with width reaches ``threshold``, and its growth with ``n``.

    For each ``n``, ``values_by_n[n]`` (shape ``(seeds, k)`` over ``widths``) is fitted by ``C_n m^(-e_n)``
    (pooled over seeds) and ``m*(n) = (C_n / threshold)^(1 / e_n)``; then ``log m*`` is fitted against
    ``log n``. Intervals: percentile bootstrap that resamples seeds independently at every ``n`` and
    refits everything.

    Returns:
      ``{"ns", "m_star" (per n), "m_star_low", "m_star_high", "exponent", "low", "high", "intercept",
      "extrapolated" (per n: m* outside the measured widths), "level", "threshold"}``.
    """
    threshold = check.real("threshold", threshold, minimum=0.0, min_inclusive=False)
    ns = sorted(values_by_n)
    if len(ns) < 2:
        raise check.fail("values_by_n", ns, "at least two sample sizes")
    w = np.asarray(widths, dtype=float)
    data = [np.atleast_2d(np.asarray(values_by_n[n], dtype=float)) for n in ns]

    def solve(rows: list[np.ndarray]) -> np.ndarray:
        out = []
        for arr in rows:
            ok = np.isfinite(arr)
            s, b, _ = loglog_slope(np.broadcast_to(w, arr.shape)[ok], arr[ok])
            out.append(power_law_solve(math.exp(b), s, threshold) if s < 0 else math.inf)
        return np.array(out)

    m_star = solve(data)
    exponent, intercept, _ = loglog_slope(ns, m_star) if np.all(np.isfinite(m_star)) else (math.nan, math.nan, math.nan)
    rng = np.random.default_rng(seed)
    boot_m, boot_e = [], []
    for _ in range(n_boot):
        rows = [arr[rng.integers(0, arr.shape[0], arr.shape[0])] for arr in data]
        try:
            ms = solve(rows)
        except ValueError:  # a resample with a single distinct width left: skip it
            continue
        if np.all(np.isfinite(ms)):
            boot_m.append(ms)
            boot_e.append(loglog_slope(ns, ms)[0])
    a = (1 - level) / 2
    bm = np.array(boot_m) if boot_m else np.full((1, len(ns)), math.nan)
    return {
        "ns": np.array(ns), "m_star": m_star,
        "m_star_low": np.quantile(bm, a, axis=0), "m_star_high": np.quantile(bm, 1 - a, axis=0),
        "exponent": exponent, "intercept": intercept,
        "low": float(np.quantile(boot_e, a)) if boot_e else math.nan,
        "high": float(np.quantile(boot_e, 1 - a)) if boot_e else math.nan,
        "extrapolated": (m_star < w.min()) | (m_star > w.max()),
        "level": level, "threshold": threshold,
    }


def needed_metrics(P: Mapping[str, Any]) -> dict[str, float]:
    """The two "small change" criteria of the width-needed analysis and their thresholds:
    relative Frobenius change ``<= threshold`` and ``||Theta_T - Theta_0||_2 / lambda_min(Theta_0) <= 1/2``."""
    return {"rel_change": P["threshold"], "op_change_over_lmin": 0.5}


def summary(result: Mapping[str, Any]) -> dict[str, Any]:
    """Fits of everything the chapter plots: init error, NTK change and prediction gap vs width, width needed."""
    P = result["params"]
    init_fits = width_fits(result["init"], "rel_error", by=("arch", "gamma"))
    other_fits = width_fits([r for r in result["init"] if r["arch"] == "resnet"], "rel_error_other", by=("arch", "gamma"))
    at_n = [r for r in result["change"] if r["n"] == P["n"]]
    change_fits = width_fits(at_n, "rel_change", by=("arch", "activation", "gamma"))
    gap_metric = "gap_test" if P["n_test"] else "gap_train"
    gap_fits = width_fits(at_n, gap_metric, by=("arch", "activation", "gamma"))
    needed: dict[str, dict] = {}
    for metric, thr in needed_metrics(P).items():
        needed[metric] = {}
        for cfg in scaling_configs(P):
            ns = scaling_ns(P, cfg)
            rows = [r for r in result["change"] if config_key(r) == cfg and r["n"] in ns]
            tab = table(rows, metric, by=("n",))
            widths = next(iter(tab.values()))[0]
            needed[metric][cfg] = width_needed(widths, {k[0]: v for k, (_, v) in tab.items()}, thr)
    runs = result["change"]
    return {
        "init": init_fits, "init_other": other_fits, "change": change_fits, "gap": gap_fits, "gap_metric": gap_metric,
        "needed": needed,
        "converged": sum(bool(r["converged"]) for r in runs), "diverged": sum(bool(r["diverged"]) for r in runs),
        "runs": len(runs),
    }


def fit_table(fits: Mapping[tuple, PowerLawFit], names: Sequence[str]) -> str:
    """A Markdown table of fitted exponents with their intervals (a column named ``gamma`` is headed γ)."""
    names = ["γ" if n == "gamma" else n for n in names]
    lines = ["| " + " | ".join(names) + " | exponent | 95% interval | seeds |", "|" + "---|" * (len(names) + 3)]
    pretty = {"ffnet": "FFNet", "resnet": "ResNet"}
    for key, f in fits.items():
        cells = ["–" if v is None else f"{v:g}" if isinstance(v, float) else pretty.get(v, str(v)) for v in key]
        lines.append("| " + " | ".join(cells) + f" | {f.slope:.2f} | [{f.low:.2f}, {f.high:.2f}] | {f.seeds} |")
    return "\n".join(lines)


def change_table(result: Mapping[str, Any], fits: Mapping[str, Any], metric: str = "rel_change", key: str = "change") -> str:
    """Markdown: per configuration, the seed geometric mean of ``metric`` at the smallest and largest width
    (at the chapter's ``n``) and the fitted width exponent with its interval."""
    P = result["params"]
    rows = [r for r in result["change"] if r["n"] == P["n"]]
    tab = table(rows, metric, by=("arch", "activation", "gamma"))
    w0, w1 = min(P["widths"]), max(P["widths"])
    lines = [f"| network | activation | m = {w0} | m = {w1} | exponent | 95% interval | seeds |", "|---|---|---|---|---|---|---|"]
    for cfg in configs(P):
        w, v = tab[cfg]
        gm = np.exp(np.nanmean(np.log(v), axis=0))
        f = fits[key][cfg]
        name = "FFNet" if cfg[0] == "ffnet" else f"ResNet γ = {cfg[2]:g}"
        lines.append(f"| {name} | {cfg[1]} | {gm[0]:.3g} | {gm[-1]:.3g} | {f.slope:.2f} | [{f.low:.2f}, {f.high:.2f}] | {f.seeds} |")
    return "\n".join(lines)


# the width-needed criteria as a table shows them (plain Unicode: a table cell cannot hold TeX's \| norms)
# (ΔΘ = Θ_T − Θ₀)
_CRITERION_WORDS = {"rel_change": "Frobenius ‖ΔΘ‖ / ‖Θ₀‖", "op_change_over_lmin": "operator ‖ΔΘ‖ / λmin(Θ₀)"}


def needed_table(fits: Mapping[str, Any]) -> str:
    """A Markdown table of the width needed: ``m*`` per ``n`` and the fitted exponent of ``m*`` in ``n``.

    Columns are the union of every configuration's sample sizes ("–" where a configuration was not run)."""
    all_ns = sorted({int(n) for per_cfg in fits["needed"].values() for wn in per_cfg.values() for n in wn["ns"]})
    cols = " | ".join(f"m* (n={n})" for n in all_ns)
    lines = [f"| criterion | network | {cols} | exponent in n | 95% interval |", "|" + "---|" * (len(all_ns) + 4)]
    for metric, per_cfg in fits["needed"].items():
        for cfg, wn in per_cfg.items():
            by_n = {int(n): ("~" if e else "") + f"{m:.3g}" for n, m, e in zip(wn["ns"], wn["m_star"], wn["extrapolated"])}
            ms = " | ".join(by_n.get(n, "–") for n in all_ns)
            crit = f"{_CRITERION_WORDS.get(metric, metric)} = {wn['threshold']:g}"
            lines.append(f"| {crit} | {label(*cfg, tex=False)} | {ms} | {wn['exponent']:.2f} | [{wn['low']:.2f}, {wn['high']:.2f}] |")
    return "\n".join(lines) + "\n\n~: extrapolated beyond the measured widths by the fitted power law; –: not run."


# ----------------------------------------------------------------------------------------------------
# Claims


SMOOTH = ("gelu", "tanh")  # smooth Lipschitz activations: the setting of the neural tangent hierarchy


def exponent_differences(fits: Mapping[tuple, PowerLawFit], level: float = 0.95) -> list[dict[str, Any]]:
    """FFNet exponent minus each ResNet exponent of the same activation, with a ``level`` t-interval.

    The two fits come from independent networks, so the standard errors (over seeds) add in quadrature;
    the degrees of freedom are the smaller seed count minus one. Returns rows ``{"activation", "gamma",
    "ffnet", "resnet", "difference", "low", "high"}`` (``nan`` bounds when a fit has no standard error).
    """
    from scipy import stats

    rows = []
    for (arch, act, gamma), f in fits.items():
        ff = fits.get(("ffnet", act, None))
        if arch != "resnet" or ff is None:
            continue
        se = math.hypot(ff.stderr, f.stderr)
        half = float(stats.t.ppf(0.5 + level / 2, max(min(ff.seeds, f.seeds) - 1, 1))) * se
        diff = ff.slope - f.slope
        rows.append({"activation": act, "gamma": gamma, "ffnet": ff.slope, "resnet": f.slope, "difference": diff,
                     "low": diff - half, "high": diff + half})
    return rows


def difference_table(fits: Mapping[str, Any]) -> str:
    """Markdown: :func:`exponent_differences` of the NTK change, FFNet against each ResNet."""
    lines = ["| activation | ResNet | FFNet exponent | ResNet exponent | FFNet − ResNet | 95% interval |",
             "|---|---|---|---|---|---|"]
    for r in exponent_differences(fits["change"]):
        lines.append(f"| {r['activation']} | γ = {r['gamma']:g} | {r['ffnet']:.2f} | {r['resnet']:.2f} | "
                     f"{r['difference']:+.2f} | [{r['low']:+.2f}, {r['high']:+.2f}] |")
    return "\n".join(lines)


def rate_check(fits: Mapping[tuple, PowerLawFit], value: float) -> float:
    """The largest distance of a fitted exponent from ``value``, in half-widths of its 95% interval over seeds
    (at most 1: ``value`` lies inside every interval)."""
    return max(halfwidths_from(f, value) for f in fits.values())


def converged_sentence(fits: Mapping[str, Any]) -> str:
    """A reported measurement (not a claim: it has no counterfactual): how many runs reached the tolerance."""
    return (f"{fits['converged']} of {fits['runs']} training runs reached the loss tolerance within the step limit; "
            f"{fits['diverged']} diverged.")


def claims(result: Mapping[str, Any], fits: Mapping[str, Any] | None = None) -> list[C.Claim]:
    """The chapter's checks, each with a counterfactual measured by the same code and rejected by the same
    comparison; every tolerance is the 95% interval of a fitted exponent over seeds:

    * ``05-init-rate``: the empirical NTK at initialisation converges to the exact kernel like ``m^(-1/2)``
      (-1/2 inside every interval); counterfactual: the same kernels against another gamma's kernel;
    * ``05-change-falls``: with a smooth activation (the setting of the neural tangent hierarchy) the
      relative NTK change falls like ``1/m`` (-1 inside every interval); counterfactual: the initialisation
      error, which falls like ``m^(-1/2)``, through the same fit and test;
    * ``05-lazy``: the gap between the network's and the linearised model's predictions falls at least as fast
      as ``m^(-1/2)`` (Lee et al.'s bound): the lower end of every interval at most -1/2; counterfactual: a
      distance that does not fall (the initialisation error against another gamma's kernel).

    Raises:
      ValueError: no smooth activation among ``activations`` (``05-change-falls`` needs one).
    """
    fits = summary(result) if fits is None else fits
    P = result["params"]
    smooth = {k: f for k, f in fits["change"].items() if k[1] in SMOOTH}
    if not smooth:
        raise check.fail("activations", P["activations"], f"at least one smooth activation among {SMOOTH}")
    out = [C.at_most(
        "05-init-rate", "empirical NTK at initialisation → exact kernel like m^(−1/2): largest distance of a fitted "
        "exponent from −1/2, in half-widths of its 95% interval over seeds (every ReLU network)",
        "central limit theorem (Jacot et al. 2018)", rate_check(fits["init"], -0.5), 1.0,
        counterfactual=("the same kernels against the analytic kernel of another γ", rate_check(fits["init_other"], -0.5)))]
    out.append(C.at_most(
        "05-change-falls", "smooth activation: relative NTK change after training falls like 1/m: largest distance of a "
        "fitted width exponent from −1, in half-widths of its 95% interval over seeds",
        "rate ~1/m of the neural tangent hierarchy (Huang & Yau 2020), on which Li, Luo & Yip 2022 build",
        rate_check(smooth, -1.0), 1.0,
        counterfactual=("the initialisation error (falls like m^(−1/2)) through the same fit", rate_check(fits["init"], -1.0))))
    worst_gap = max(f.low for f in fits["gap"].values())
    out.append(C.at_most(
        "05-lazy", "network predictions → linearised (NTK) predictions at least as fast as m^(−1/2): largest lower end "
        "of the 95% interval (over seeds) of a fitted width exponent of the gap, every network (at most −1/2: "
        "the data allow a rate of m^(−1/2) or faster)",
        "Lee et al. 2019 (they bound the gap by O(m^(−1/2)))", worst_gap, -0.5,
        counterfactual=("a distance that does not fall: the initialisation error against another γ's kernel",
                        max(f.low for f in fits["init_other"].values()))))
    return out


# ----------------------------------------------------------------------------------------------------
# Figures


def _short_label(arch: str, gamma: float | None) -> str:
    """Legend text without the activation (the panel's title names it): ``FFNet`` or ``ResNet gamma=0.5``."""
    return "FFNet" if arch == "ffnet" else rf"ResNet $\gamma={gamma:g}$"


def _grid(count: int, panel_height: float, **subplots_kw: Any):
    """``count`` panels, at most two side by side (wider ones would leave the log axes too narrow to read
    in print); the unused slot of an odd count is hidden and the panel above it keeps its x tick labels.
    Returns ``(fig, flat list of the used axes)``; :func:`_is_bottom` tells which carry the x label."""
    from companion.publish.figures import panels  # a lazy import, like pyplot's: the analysis needs no matplotlib

    ncols = min(count, 2)
    fig, axes = panels(math.ceil(count / ncols), ncols, panel_height=panel_height, squeeze=False, **subplots_kw)
    flat = list(axes.flat)
    for j in range(count, len(flat)):
        flat[j].set_visible(False)
        flat[j - ncols].xaxis.set_tick_params(labelbottom=True)  # sharex hid them: no panel is below it now
    return fig, flat[:count]


def _is_bottom(k: int, count: int) -> bool:
    """Whether panel ``k`` of :func:`_grid`'s ``count`` panels has no panel below it (it shows the x label)."""
    return k + min(count, 2) >= count


def _plain_log_labels(ax) -> None:
    """A log y axis spanning under two decades: ticks at 1, 2 and 5 times powers of ten, written plainly
    (``20``, ``50``, ``100``); matplotlib's default labels every minor tick as ``4 x 10^1`` and crowds it."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

    lo, hi = ax.get_ylim()
    if hi / lo >= 100:
        return
    ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_minor_locator(NullLocator())
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))


def _width_ticks(ax, widths: Sequence[int]) -> None:
    """The x axis ticked at every width; beyond five widths only every other one is written, so that
    four-digit widths do not run into each other in a panel half the text column wide."""
    log_ticks(ax, widths)
    values = sorted({float(v) for v in widths})
    if len(values) > 5:
        ax.set_xticklabels([f"{v:g}" if i % 2 == 0 else "" for i, v in enumerate(values)])


def _legend_below(fig, axes) -> None:
    """One legend for all panels, under them (outside the axes, so it covers no data): each label once."""
    from matplotlib.lines import Line2D

    handles: dict[str, Any] = {}
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab, h)
    # Measured series (error bars) first, reference lines (plain lines) last; filled column by column.
    labels = sorted(handles, key=lambda lab: isinstance(handles[lab], Line2D))
    # One row when it fits in the column (up to four short network names), else three columns.
    fig.legend([handles[k] for k in labels], labels, loc="outside lower center", ncol=len(labels) if len(labels) <= 4 else 3)


def _per_activation(result: Mapping[str, Any], metric: str, ylabel: str, activation: str | None = None):
    """``metric`` after training against width at the chapter's ``n`` (log-log, seed bands): one panel per
    activation, one line per network (at most ``1 + len(gammas)`` series per panel), a shared legend below.
    The fitted exponents are in the chapter's tables (:func:`change_table`), not in the legend."""
    P = result["params"]
    acts = [activation] if activation else list(P["activations"])
    fig, axes = _grid(len(acts), 2.9 if len(acts) <= 2 else 2.4, sharex=True, sharey=True)
    rows = [r for r in result["change"] if r["n"] == P["n"]]
    tab = table(rows, metric, by=("arch", "activation", "gamma"))
    letters = "abcdefghijklmnopqrstuvwxyz"
    for k, (ax, act) in enumerate(zip(axes, acts)):
        # Colour by the network's place in configs(P) (the same network has the same colour in every panel).
        for i, cfg in enumerate(c for c in configs(P) if c[1] == act):
            w, v = tab[cfg]
            interval_band(ax, w, v, f"C{i}", **arch_style(cfg[0], cfg[2]), label=_short_label(cfg[0], cfg[2]))
        title = f"{act}, $n={P['n']}$, $L={P['depth']}$"
        ax.set(xscale="log", yscale="log", title=f"({letters[k]}) {title}" if len(acts) > 1 else title)
        if _is_bottom(k, len(acts)):
            ax.set_xlabel("width $m$")
        _width_ticks(ax, P["widths"])
        if k % 2 == 0:
            ax.set_ylabel(ylabel)
    _legend_below(fig, axes)
    return fig


def plot_change(result: Mapping[str, Any], fits: Mapping[str, Any], activation: str | None = None):
    """Relative NTK change after training against width at the chapter's ``n`` (log-log, seed bands), one
    panel per activation (``activation``: only that one). ``fits`` is accepted for symmetry with the other
    plots; the fitted exponents are shown by :func:`change_table`."""
    return _per_activation(result, "rel_change", r"$\|\Theta_T - \Theta_0\|_F / \|\Theta_0\|_F$", activation)


METRIC_LABELS = {
    "rel_change": r"$\|\Theta_T - \Theta_0\|_F / \|\Theta_0\|_F$",
    "op_change_over_lmin": r"$\|\Theta_T - \Theta_0\|_2 / \lambda_{\min}(\Theta_0)$",
}


def plot_width_needed(result: Mapping[str, Any], fits: Mapping[str, Any]):
    """Width ``m*`` at which each change criterion is met, against ``n`` (log-log), beside ``n^3`` and ``n^4``.

    Filled markers: ``m*`` inside the measured widths; open markers: extrapolated by the fitted power law.
    """
    needed = fits["needed"]
    fig, axes = _grid(len(needed), 3.2)
    for k, (ax, (metric, per_cfg)) in enumerate(zip(axes, needed.items())):
        for i, (cfg, wn) in enumerate(per_cfg.items()):
            ns, ms = np.asarray(wn["ns"], float), np.asarray(wn["m_star"], float)
            st = arch_style(cfg[0], cfg[2])
            lo, hi = np.minimum(wn["m_star_low"], ms), np.maximum(wn["m_star_high"], ms)
            # The fitted exponent and its interval are in needed_table; the legend names the network only.
            ax.errorbar(ns, ms, yerr=[ms - lo, hi - ms], color=f"C{i}", capsize=3, linestyle=st["linestyle"],
                        marker="none", label=label(*cfg))
            ext = np.asarray(wn["extrapolated"], bool)
            ax.plot(ns[~ext], ms[~ext], st["marker"], color=f"C{i}")
            ax.plot(ns[ext], ms[ext], st["marker"], color=f"C{i}", markerfacecolor="none")
        ns = np.asarray(next(iter(per_cfg.values()))["ns"], dtype=float)
        m0 = np.nanmin([wn["m_star"][0] for wn in per_cfg.values()])
        for power, ls in [(3, ":"), (4, "-.")]:
            ax.plot(ns, m0 * (ns / ns[0]) ** power, ls, color="grey", label=f"$\\propto n^{power}$")
        thr = needed_metrics(result["params"])[metric]
        title = f"{METRIC_LABELS[metric]} $= {thr:g}$"
        ax.set(xscale="log", yscale="log", xlabel="training set size $n$", ylabel="width $m^*$",
               title=f"({'abcdefghij'[k]}) {title}" if len(needed) > 1 else title)
        log_ticks(ax, sorted({float(n) for wn in per_cfg.values() for n in wn["ns"]}))  # every run's n, the smooth ones too
        w = result["params"]["widths"]
        ax.axhspan(min(w), max(w), color="grey", alpha=0.08, linewidth=0)
        ax.set_ylim(max(ax.get_ylim()[0], min(w) / 8), min(ax.get_ylim()[1], max(w) * 1e3))
        _plain_log_labels(ax)
    _legend_below(fig, axes)
    return fig


def plot_loss_curves(result: Mapping[str, Any], cfg: tuple[str, str, float | None] | None = None, seed: int = 0):
    """Training loss per step of the network against its NTK (linearised) prediction: one panel per width
    (two series each, at most two panels side by side, shared axes), so that no width's curves hide another's.

    Raises:
      ValueError: ``cfg`` was not trained at the chapter's ``n`` with this ``seed``."""
    P = result["params"]
    cfg = cfg or ("ffnet", P["activations"][0], None)
    rows = sorted((r for r in result["change"] if config_key(r) == cfg and r["n"] == P["n"] and r["seed"] == seed),
                  key=lambda r: r["width"])
    if not rows:
        raise check.fail("cfg", cfg, f"a configuration trained at n={P['n']} with seed {seed}: {configs(P)}")
    fig, axes = _grid(len(rows), 2.3 if len(rows) <= 4 else 1.8, sharex=True, sharey=True)
    for k, (ax, r) in enumerate(zip(axes, rows)):
        ks = np.asarray(r["curve_step"])
        ax.plot(ks + 1, r["curve_loss"], "-", color="C0", marker="o", label="network")
        ax.plot(ks + 1, r["curve_loss_lin"], ":", color="C1", marker="none", linewidth=2.0,
                label="linearised (NTK) prediction")
        ax.set(xscale="log", yscale="log", title=f"({'abcdefghijklmnop'[k]}) $m={r['width']}$")
        if _is_bottom(k, len(rows)):
            ax.set_xlabel("gradient step $t + 1$")
        if k % 2 == 0:
            ax.set_ylabel("training loss")
    fig.suptitle(f"{label(*cfg)}, $n={P['n']}$, seed {seed}")
    _legend_below(fig, axes)
    return fig


def plot_gap(result: Mapping[str, Any], fits: Mapping[str, Any], activation: str | None = None):
    """Gap between network and NTK predictions after training against width (log-log, seed bands), one
    panel per activation (``activation``: only that one); the fitted exponents are shown by :func:`change_table`."""
    metric = fits["gap_metric"]
    ylabel = r"$\|f_T - f_T^{\mathrm{lin}}\| / \|f_T^{\mathrm{lin}} - f_0\|$ (" + metric.split("_")[1] + ")"
    return _per_activation(result, metric, ylabel, activation)
