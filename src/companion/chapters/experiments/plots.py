"""Chapter 6's figures. Colour-blind-safe colours (Okabe-Ito) with a distinct marker per series, at most six
labelled series per panel, a shared legend under the task figures; every figure is laid out by
:func:`companion.publish.figures.panels` (the text column's width, at most two panels side by side), so the
style sheet's letters (9 pt and up) print at their nominal size."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from companion.data.registry import TITLES
from companion.publish.figures import panels

from .mechanism import NNGP_COEFF, NUGGET
from .tables import summarize
from .tasks import SAMPLINGS

OKABE_ITO = {"black": "#000000", "orange": "#E69F00", "sky": "#56B4E9", "green": "#009E73", "yellow": "#F0E442",
             "blue": "#0072B2", "vermillion": "#D55E00", "purple": "#CC79A7", "grey": "#999999"}
_GAMMA = {0.0: ("vermillion", "v"), 0.25: ("orange", "^"), 0.5: ("green", "D"), 0.75: ("purple", "P"),
          1.0: ("blue", "o")}


def series_style(arch: str, gamma: float | None = None) -> dict[str, Any]:
    """Colour, marker and label of a kernel's line (FFNet black squares; each gamma its own colour/marker)."""
    if arch == "ffnet":
        return {"color": OKABE_ITO["black"], "marker": "s", "label": "FFNet"}
    name, marker = _GAMMA.get(float(gamma), ("sky", "X"))
    return {"color": OKABE_ITO[name], "marker": marker, "label": rf"ResNet $\gamma={float(gamma):g}$"}


# A panel's own legend under its x label: the curves of the mechanism figure cross every corner of their axes.
_BELOW = {"loc": "upper center", "bbox_to_anchor": (0.5, -0.2), "ncol": 1}


def _task_panels(result: Mapping[str, Any], kind: str = "two"):
    """One row per dataset and one column per sampling design (two panels side by side: each wide enough
    for its two-line title in the style's font); the x axis (depth) is shared."""
    ds = [d for d in result["params"]["datasets"]]
    fig, axes = panels(len(ds), len(SAMPLINGS), panel_height=2.05, sharex=True, squeeze=False)
    return fig, axes, ds


def _finish(fig, axes, ncol: int) -> None:
    """One legend for all panels, under them (outside the axes, so it covers no data)."""
    from matplotlib.lines import Line2D

    handles, labels = {}, []
    for ax in axes.flat:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in handles:
                handles[lab] = h
                labels.append(lab)
    # The kernels (error bars) first, reference lines (plain lines such as the trivial predictor) last.
    labels.sort(key=lambda lab: isinstance(handles[lab], Line2D))
    fig.legend([handles[k] for k in labels], labels, loc="outside lower center", ncol=min(ncol, len(labels)))


def _title(ax, s: Mapping[str, Any], sampling: str, letter: str) -> None:
    ax.set_title(f"({letter}) {TITLES[s['dataset']]} {s['class_names']}\n"
                 f"{sampling}, {s['n_train']} train / {s['n_test']} test")


def _line(ax, rows: Sequence[Mapping[str, Any]], metric: str, f: float, dodge: float, **style: Any) -> None:
    rows = sorted(rows, key=lambda s: int(s["depth"]))
    x = np.array([int(s["depth"]) for s in rows], float) * dodge
    ax.errorbar(x, f * np.array([s[metric + "_mean"] for s in rows]), yerr=f * np.array([s[metric + "_sd"] for s in rows]),
                capsize=2, markersize=4, linewidth=1.3, **style)


def plot_r2(result: Mapping[str, Any], method: str = "ridge", kind: str = "two"):
    """Test ``R^2`` against depth: one row per dataset, one column per sampling design, one line per kernel
    (mean ± sd over seeds); dotted: 0, the training-mean predictor (unlabelled: the caption says so)."""
    summary = [s for s in summarize(result["rows"]) if s["method"] == method and s["task"] == kind
               and s["targets"] == "raw"]
    fig, axes, ds = _task_panels(result, kind)
    gammas = sorted(result["params"]["gammas"])
    for r, d in enumerate(ds):
        for c, sampling in enumerate(SAMPLINGS):
            ax = axes[r][c]
            sel = [s for s in summary if s["dataset"] == d and s["sampling"] == sampling]
            if not sel:
                ax.set_visible(False)
                continue
            keys = [("ffnet", None)] + [("resnet", g) for g in gammas]
            for i, (arch, g) in enumerate(keys):
                rows = [s for s in sel if s["arch"] == arch and (g is None or float(s["gamma"]) == g)]
                if rows:
                    _line(ax, rows, "r2", 1.0, 1.12 ** (i - (len(keys) - 1) / 2), **series_style(arch, g))
            # R^2 = 0 is the training-mean predictor: said in the caption, not a legend entry (a seventh series)
            ax.axhline(0.0, color=OKABE_ITO["grey"], ls=":", lw=1.2)
            ax.set_xscale("log")
            _title(ax, sel[0], sampling, "abcdefghijklmnopqrstuvwxyz"[r * len(SAMPLINGS) + c])
            if r == len(ds) - 1:
                ax.set_xlabel("depth $L$")
            if c == 0:
                ax.set_ylabel("test $R^2$")
    _finish(fig, axes, 3)
    return fig


def plot_accuracy(result: Mapping[str, Any], method: str = "ridge", kind: str = "two"):
    """Test accuracy (%) against depth, one row per dataset, one column per sampling design: the FFNet with raw
    and with centred targets, the kernel-sum classifier of the FFNet NTK, the ResNets with gamma = 0 and 1;
    dotted: the training-majority predictor."""
    summary = [s for s in summarize(result["rows"]) if s["method"] == method and s["task"] == kind]
    fig, axes, ds = _task_panels(result, kind)
    for r, d in enumerate(ds):
        for c, sampling in enumerate(SAMPLINGS):
            ax = axes[r][c]
            sel = [s for s in summary if s["dataset"] == d and s["sampling"] == sampling]
            if not sel:
                ax.set_visible(False)
                continue
            ff_raw = [s for s in sel if s["arch"] == "ffnet" and s["targets"] == "raw"]
            ff_cen = [s for s in sel if s["arch"] == "ffnet" and s["targets"] == "centred"]
            _line(ax, ff_raw, "test_accuracy", 100, 0.89, **series_style("ffnet"))
            _line(ax, ff_cen, "test_accuracy", 100, 0.96, color=OKABE_ITO["black"], marker="s", mfc="white",
                  ls="--", label="FFNet, centred targets")
            _line(ax, ff_raw, "kernel_sum_accuracy", 100, 1.04, color=OKABE_ITO["grey"], marker="x", ls="-.",
                  label="FFNet kernel sum")
            for i, g in enumerate((0.0, 1.0)):
                rows = [s for s in sel if s["arch"] == "resnet" and float(s["gamma"]) == g and s["targets"] == "raw"]
                if rows:
                    _line(ax, rows, "test_accuracy", 100, 1.12 + 0.08 * i, **series_style("resnet", g))
            triv = 100 * np.mean([s["trivial_accuracy_mean"] for s in ff_raw])
            ax.axhline(triv, color=OKABE_ITO["grey"], ls=":", lw=1.2, label="training majority")
            ax.set_xscale("log")
            _title(ax, sel[0], sampling, "abcdefghijklmnopqrstuvwxyz"[r * len(SAMPLINGS) + c])
            if r == len(ds) - 1:
                ax.set_xlabel("depth $L$")
            if c == 0:
                ax.set_ylabel("test accuracy (%)")
    _finish(fig, axes, 3)
    return fig


def plot_mechanism(mech: Mapping[str, Any]):
    """(a) The effective ridge ``Lambda_L / L`` measured from the kernels against depth (FFNet NTK and the
    ResNet with alpha = 1/L), with the prediction 3/4. (b) Off-diagonal structure of the FFNet's NTK and
    NNGP: their spread (sd over pairs) and the NNGP's ``1 - mean``, with the prediction ``9 pi^2 / (2 L^2)``."""
    fig, (a, b) = panels(1, 2, panel_height=4.0)
    for kind, st in (("ffnet", series_style("ffnet")), ("resnet", series_style("resnet", 1.0))):
        rows = sorted((r for r in mech["ridge"] if r["kind"] == kind and r["depth"] < mech["ref_depth"]),
                      key=lambda r: r["depth"])
        L = np.array([r["depth"] for r in rows], float)
        a.plot(L, np.array([r["ridge"] for r in rows]) / L, ls="-", **{**st, "label": st["label"] + " NTK"})
    a.axhline(NUGGET, color=OKABE_ITO["vermillion"], ls="--", lw=1.2, label="prediction 3/4")
    a.set_xscale("log")
    a.set_yscale("log")
    a.set_xlabel("depth $L$")
    a.set_ylabel(r"effective ridge $\Lambda_L / L$")
    a.set_title(f"(a) nugget as ridge, n = {mech['n']}")
    a.legend(**_BELOW)
    for kernel, key, st in (("ntk", "sd", {"color": OKABE_ITO["black"], "marker": "s", "label": "NTK: sd of entries"}),
                            ("nngp", "sd", {"color": OKABE_ITO["blue"], "marker": "o", "label": "NNGP: sd of entries"}),
                            ("nngp", "gap", {"color": OKABE_ITO["green"], "marker": "D",
                                             "label": "NNGP: 1 − mean entry"})):
        rows = sorted((r for r in mech["nngp"] if r["kernel"] == kernel), key=lambda r: r["depth"])
        b.plot([r["depth"] for r in rows], [r[key] for r in rows], ls="-", **st)
    L = np.array(sorted({r["depth"] for r in mech["nngp"]}), float)
    b.plot(L, NNGP_COEFF / L ** 2, color=OKABE_ITO["vermillion"], ls="--", lw=1.2, marker="", label=r"$9\pi^2/(2L^2)$")
    b.set_xscale("log")
    b.set_yscale("log")
    b.set_xlabel("depth $L$")
    b.set_ylabel("off-diagonal entries")
    b.set_title("(b) spread and NNGP gap")
    b.legend(**_BELOW)
    return fig


def plot_onset(onset_result: Mapping[str, Any]):
    """(a) Test ``R^2`` of the FFNet NTK against ``L / n`` for each ``n``; short vertical lines: ``L_1 / n``
    where the nugget's ridge ``(3/4) L`` equals the top eigenvalue of the centred informative kernel.
    (b) At the largest ``n``: the NTK and the NNGP against ``L``."""
    rows = onset_result["rows"]
    ns = sorted({r["n"] for r in rows if r["kernel"] == "ntk"})[-5:]
    colors = [OKABE_ITO[c] for c in ("sky", "green", "orange", "purple", "blue")][-len(ns):]
    markers = ["^", "D", "v", "P", "o"][-len(ns):]
    fig, (a, b) = panels(1, 2, panel_height=3.0)
    for n, col, mk in zip(ns, colors, markers):
        sel = sorted((r for r in rows if r["n"] == n and r["kernel"] == "ntk"), key=lambda r: r["depth"])
        a.plot([r["depth"] / n for r in sel], [r["r2"] for r in sel], color=col, marker=mk, label=f"n = {n}")
        a.axvline(4.0 / 3.0 * onset_result["spectrum"][n] / n, color=col, ls="--", lw=0.9, ymax=0.12)
    a.axhline(0.0, color=OKABE_ITO["grey"], ls=":", lw=1.2)
    a.set_xscale("log")
    a.set_xlabel("depth / training points, $L / n$")
    a.set_ylabel("test $R^2$ (FFNet NTK)")
    a.set_title(f"(a) {onset_result['task']}, balanced,\n{onset_result['n_test']} test points")
    a.legend(loc="upper right")
    n = ns[-1]
    for kernel, st in (("ntk", {"color": OKABE_ITO["black"], "marker": "s", "label": "FFNet NTK"}),
                       ("nngp", {"color": OKABE_ITO["blue"], "marker": "o", "label": "FFNet NNGP"})):
        sel = sorted((r for r in rows if r["n"] == n and r["kernel"] == kernel), key=lambda r: r["depth"])
        b.plot([r["depth"] for r in sel], [r["r2"] for r in sel], **st)
    b.axhline(0.0, color=OKABE_ITO["grey"], ls=":", lw=1.2)
    b.set_xscale("log")
    b.set_xlabel("depth $L$")
    b.set_ylabel("test $R^2$")
    b.set_title(f"(b) n = {n}: NTK against NNGP")
    b.legend(loc="upper right")
    return fig


__all__ = ["OKABE_ITO", "series_style", "plot_r2", "plot_accuracy", "plot_mechanism", "plot_onset"]
