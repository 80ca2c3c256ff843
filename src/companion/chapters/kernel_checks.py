"""The kernel engine checked three ways (chapter 2): against neural-tangents, against finite networks,
and against closed forms.

1. :func:`reference_check`: ``companion.kernels`` against neural-tangents 0.6.5 ``stax`` models of the
   same architectures (:mod:`companion.networks.reference`), off the diagonal, over depths, both ``trained``
   settings and both evaluation paths; on the diagonal both against the exact closed forms.
2. :func:`finite_width_check`: the empirical NTK of ``companion.networks.models`` networks against the analytic
   kernel as the width grows (the sweep and fits of :mod:`companion.chapters.finite_width`).
3. :func:`closed_form_check`: the engine's diagonal against ``L + 1`` (FFNet) and
   ``2 L alpha^2 (1 + alpha^2)^(L-1)`` (ResNet, hidden), symmetry and positive semi-definiteness.
"""

from __future__ import annotations

import time
from typing import Any, Mapping

import numpy as np

from companion.util import validate as check
from companion.publish import claims as C
from companion.chapters import common
from companion.networks import width
from companion.kernels import diagonal, ffnet_kernels, kappa0, kappa1, resnet_kernels
from companion.learning.fits import halfwidths_from
from companion.networks.models import branch_scaling

CONFIGS = (("ffnet", None, "all"), ("resnet", 0.5, "hidden"), ("resnet", 0.5, "all"), ("resnet", 1.0, "hidden"))


def inputs(n: int, d: int = 5, seed: int = 11) -> np.ndarray:
    """``n`` random directions in ``R^d`` with norms spread over ``[0.5, 2]`` (the kernels are homogeneous)."""
    n = check.integer("n", n, minimum=1)
    d = check.integer("d", d, minimum=1)
    seed = check.integer("seed", seed, minimum=0)
    x = np.random.default_rng(seed).normal(size=(n, d))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x * np.linspace(0.5, 2.0, n)[:, None]


def _ours(arch, depth, gamma, trained, x, method):
    if arch == "ffnet":
        return ffnet_kernels(x, depth=depth, method=method)
    return resnet_kernels(x, depth=depth, alpha=branch_scaling(depth, gamma), trained=trained, method=method)


def _rel_off(a, b) -> float:
    a, b = np.asarray(a), np.asarray(b)
    off = ~np.eye(a.shape[0], dtype=bool)
    return float(np.max(np.abs(a - b)[off] / np.abs(b)[off]))


def _rel_diag(a, exact) -> float:
    return float(np.max(np.abs(np.diag(np.asarray(a)) - exact) / exact))


def reference_check(P: Mapping[str, Any], log=None) -> list[dict[str, Any]]:
    """Errors of the engine against neural-tangents, one row per (config, depth, method).

    Args:
      P: ``depths`` (each >= 1) and ``n`` (number of inputs).

    Returns:
      Rows with ``arch, gamma, trained, depth, method``, ``off_nngp``/``off_ntk`` (max relative
      off-diagonal difference), ``diag_ours``/``diag_nt`` (max relative error of the NTK diagonal against
      the closed form), ``off_by_one`` (the off-diagonal difference of the engine at depth ``L + 1`` from
      neural-tangents at ``L``: the counterfactual of claim ``02-vs-nt``).
    """
    import warnings

    from companion.networks import reference

    log = log or (lambda *_: None)
    x = inputs(P["n"])
    sq = np.sum(x * x, axis=1)
    rows = []
    log(f"Kernels against neural-tangents: depths {P['depths']}, {len(CONFIGS)} architectures ...")
    start = time.perf_counter()
    for arch, gamma, trained in CONFIGS:
        for L in P["depths"]:
            alpha = None if gamma is None else branch_scaling(L, gamma)
            with warnings.catch_warnings():
                # stax warns that FanInSum cannot verify independent branches: here one branch is the
                # identity by construction (model H), which is what the kernel recursion assumes too
                warnings.filterwarnings("ignore", message="`FanIn` layers assume independent inputs")
                nngp_ref, ntk_ref = reference.kernels(x, arch=arch, depth=L, alpha=alpha, trained=trained)
            exact = diagonal(arch, L, 0.0 if alpha is None else alpha, trained)[1] * sq
            # counterfactual: the engine one block / layer deeper (an off-by-one in the depth), same comparison
            deeper = _ours(arch, L + 1, gamma, trained, x, "recursion")
            off_by_one = max(_rel_off(deeper.nngp, nngp_ref), _rel_off(deeper.ntk, ntk_ref))
            for method in ("recursion", "depthfree"):
                k = _ours(arch, L, gamma, trained, x, method)
                rows.append({
                    "arch": arch, "gamma": gamma, "trained": trained, "depth": L, "method": method,
                    "off_nngp": _rel_off(k.nngp, nngp_ref), "off_ntk": _rel_off(k.ntk, ntk_ref),
                    "diag_ours": _rel_diag(k.ntk, exact), "diag_nt": _rel_diag(ntk_ref, exact),
                    "off_by_one": off_by_one,
                })
    log(f"... done in {time.perf_counter() - start:.1f} s")
    return rows


def closed_form_check(P: Mapping[str, Any]) -> dict[str, float]:
    """Worst relative diagonal error against the closed forms and worst PSD violation, over ``P['depths']``
    extended to 10^4, every configuration.

    Returns ``{"diag", "psd" (:func:`psd_violation`, worst), "sym", "n", "psd_flipped" (the same measure
    on :func:`flipped_kernel` of the same inputs)}``."""
    x = inputs(P["n"])
    sq = np.sum(x * x, axis=1)
    worst_diag, worst_psd, worst_sym = 0.0, 0.0, 0.0
    for arch, gamma, trained in CONFIGS:
        for L in sorted(set(P["depths"]) | {1000, 10_000}):
            alpha = 0.0 if gamma is None else branch_scaling(L, gamma)
            k = _ours(arch, L, gamma, trained, x, "auto")
            exact_nngp, exact_ntk = diagonal(arch, L, alpha, trained)
            worst_diag = max(worst_diag, _rel_diag(k.ntk, exact_ntk * sq), _rel_diag(k.nngp, exact_nngp * sq))
            for K in (np.asarray(k.nngp), np.asarray(k.ntk)):
                worst_psd = max(worst_psd, psd_violation(K))
                worst_sym = max(worst_sym, float(np.max(np.abs(K - K.T)) / np.max(np.abs(K))))
    return {"diag": worst_diag, "psd": worst_psd, "sym": worst_sym, "n": int(P["n"]),
            "psd_flipped": psd_violation(flipped_kernel(x))}


def psd_violation(K: np.ndarray) -> float:
    """``-lambda_min / lambda_max`` of the symmetric matrix ``K`` (0 or below: positive semi-definite)."""
    w = np.linalg.eigvalsh(np.asarray(K, dtype=np.float64))
    return float(-w.min() / np.max(np.abs(w)))


def flipped_kernel(x: np.ndarray) -> np.ndarray:
    """A kernel with a sign error: the depth-1 ResNet NTK with the ``W_l`` term subtracted,
    ``|x||x'| (kappa1(rho) - rho kappa0(rho)) / 2``. It vanishes on the diagonal, so it is not PSD (the
    counterfactual of claim ``02-psd``)."""
    x = np.asarray(x, dtype=np.float64)
    norms = np.linalg.norm(x, axis=1)
    rho = np.clip((x @ x.T) / np.outer(norms, norms), -1.0, 1.0)
    np.fill_diagonal(rho, 1.0)
    return np.outer(norms, norms) * (np.asarray(kappa1(rho)) - rho * np.asarray(kappa0(rho))) / 2.0


def finite_width_check(P: Mapping[str, Any], out_dir=None, progress: bool | None = None, log=None) -> dict[str, Any]:
    """Empirical NTK of ReLU networks at initialisation against the analytic kernel, over widths.

    ``progress=None`` shows the progress bar except inside the book build; ``log=None`` is silent.

    Uses :func:`companion.chapters.finite_width.init_point` as a resumable sweep; returns ``{"params", "init",
    "fits"}`` where ``fits["init"][(arch, gamma)]`` is the power-law fit of the relative error in width.
    """
    from companion.publish.figures import in_book_build, output_dir
    from companion.util.sweep import run_sweep

    log = log or (lambda *_: None)
    if progress is None:
        progress = not in_book_build()

    grid = [{"arch": a, "gamma": g, "depth": P["fw_depth"], "width": w, "n": P["fw_n"], "d": 8, "seed": s}
            for a, g in (("ffnet", None), ("resnet", 0.5), ("resnet", 1.0))
            for w in P["widths"] for s in range(P["seeds"])]
    log(f"Empirical NTK against the analytic kernel: {len(grid)} networks ...")
    start = time.perf_counter()
    records = run_sweep("02-init", grid, width.init_point, out_dir or output_dir() / "sweeps", progress,
                        version=width.INIT_VERSION)
    log(f"... done in {time.perf_counter() - start:.1f} s")
    result = {"params": {**dict(P), "init_widths": P["widths"]}, "init": records}
    result["fits"] = {"init": common.width_fits(records, "rel_error", by=("arch", "gamma")),
                      "other": common.width_fits([r for r in records if r["arch"] == "resnet"], "rel_error_other",
                                                 by=("arch", "gamma"))}
    return result


EPS = float(np.finfo(np.float64).eps)
# Two float64 implementations of the same recursion that take arccos of a rounded correlation (as
# neural-tangents does) can differ by half the float64 digits near |rho| = 1, where arccos has a
# square-root kink: sqrt(eps) = 1.5e-8 is the agreement they can guarantee.
AGREEMENT_TOL = float(np.sqrt(EPS))
RATE_HALFWIDTHS = 1.0  # -1/2 must lie inside every fitted exponent's 95% interval (over seeds)


def rate_distance(fits: Mapping[tuple, Any]) -> float:
    """The largest distance of a fitted width exponent from the central-limit ``-1/2``, in half-widths of
    its 95% interval over seeds (:func:`companion.learning.fits.halfwidths_from`)."""
    return max(halfwidths_from(f, -0.5) for f in fits.values())


def claims(ref_rows: list[dict[str, Any]], closed: Mapping[str, float], fw_result: Mapping[str, Any],
           max_depth: int = 10_000) -> list[C.Claim]:
    """The chapter's checks, each with a counterfactual that the same comparison rejects:

    * ``02-vs-nt``: off-diagonal agreement with neural-tangents to :data:`AGREEMENT_TOL`; counterfactual: the
      engine one block deeper;
    * ``02-diag-exact``: the diagonal equals the closed forms to ``max_depth * eps`` (the rounding of a
      ``max_depth``-step recursion); counterfactual: neural-tangents' diagonal;
    * ``02-psd``: no eigenvalue below ``-10 n eps`` times the largest (the eigensolver's backward error);
      counterfactual: a kernel with a sign error (:func:`flipped_kernel`);
    * ``02-width-rate``: ``-1/2`` inside every fitted width exponent's 95% interval; counterfactual: the
      same empirical kernels against another gamma's analytic kernel.
    """
    off = max(max(r["off_nngp"], r["off_ntk"]) for r in ref_rows)
    off_cf = max(r.get("off_by_one", float("nan")) for r in ref_rows)
    diag_nt = max(r["diag_nt"] for r in ref_rows)
    n = int(closed.get("n", 16))
    psd_tol = 10 * n * EPS
    return [
        C.at_most("02-vs-nt", "max relative off-diagonal difference from neural-tangents (NNGP and NTK, all depths; "
                  "tolerance √eps: the agreement two arccos-based float64 implementations can guarantee)",
                  "this book's check against neural-tangents 0.6.5", off, AGREEMENT_TOL,
                  counterfactual=("the engine one block deeper than neural-tangents (L + 1 against L)", off_cf)),
        C.at_most("02-diag-exact", f"max relative error of the NTK and NNGP diagonals against the closed forms "
                  f"(L up to {max_depth}; tolerance L·eps, the rounding of an L-step recursion)",
                  "closed forms (this book's derivation)", closed["diag"], max_depth * EPS,
                  counterfactual=("neural-tangents' NTK diagonal", diag_nt)),
        C.at_most("02-psd", f"worst −λ_min/λ_max of every kernel matrix (L up to {max_depth}; tolerance 10·n·eps, "
                  "the eigensolver's backward error)", "kernels are positive semi-definite",
                  closed["psd"], psd_tol,
                  counterfactual=("a kernel with a sign error: κ₁ − ρκ₀ instead of κ₁ + ρκ₀", closed["psd_flipped"])),
        C.at_most("02-width-rate", "empirical NTK → analytic NTK like m^(−1/2): largest distance of a fitted width "
                  "exponent from −1/2, in half-widths of its 95% interval over seeds",
                  "central limit theorem (Jacot et al. 2018)", rate_distance(fw_result["fits"]["init"]), RATE_HALFWIDTHS,
                  counterfactual=("the same empirical kernels against the analytic kernel of another γ",
                                  rate_distance(fw_result["fits"]["other"]))),
    ]


def plot_reference(rows: list[dict[str, Any]]):
    """(a) max relative off-diagonal difference from neural-tangents against depth, by the recursion (solid) and
    the depth-free path (dashed). (b) relative error of the NTK diagonal against the closed form, neural-tangents'
    (solid) and the engine's (dotted). A colour per configuration; one key below both panels."""
    from matplotlib.lines import Line2D

    from companion.publish.figures import panels

    fig, (ax1, ax2) = panels(1, 2, panel_height=3.4)
    floor = 1e-17  # exact agreement is drawn at the floor of the log axis
    names = []
    for i, (arch, gamma, trained) in enumerate(CONFIGS):
        name = "FFNet" if arch == "ffnet" else rf"ResNet $\gamma={gamma:g}$, {trained}"
        names.append(name)
        for method, style in (("recursion", "-o"), ("depthfree", "--s")):
            sel = [r for r in rows if (r["arch"], r["gamma"], r["trained"], r["method"]) == (arch, gamma, trained, method)]
            L = [r["depth"] for r in sel]
            err = [max(r["off_nngp"], r["off_ntk"], floor) for r in sel]
            # the depth-free lines are keyed by their style, not counted as series of their own
            ax1.plot(L, err, style, color=f"C{i}", markersize=3, alpha=0.9 if method == "recursion" else 0.6,
                     **({"label": name} if method == "recursion" else {"gid": f"{name} (depth-free)"}))
        sel = [r for r in rows if (r["arch"], r["gamma"], r["trained"], r["method"]) == (arch, gamma, trained, "recursion")]
        ax2.plot([r["depth"] for r in sel], [max(r["diag_nt"], floor) for r in sel], "-o", color=f"C{i}", markersize=3,
                 label=name)
        ax2.plot([r["depth"] for r in sel], [max(r["diag_ours"], floor) for r in sel], ":", color=f"C{i}",
                 marker="none", gid=f"{name} (companion)")
    ax1.axhline(AGREEMENT_TOL, color="grey", linewidth=0.8, linestyle=":", gid="tolerance")
    depths = sorted({r["depth"] for r in rows})
    for ax in (ax1, ax2):
        ax.set(xscale="log", yscale="log", xlabel="depth $L$")
        common.log_ticks(ax, depths)
    ax1.set(ylabel="max rel. off-diagonal difference", title="(a) against neural-tangents")
    ax2.set(ylabel="rel. error of the NTK diagonal", title="(b) against the closed form")
    colours = [Line2D([], [], color=f"C{i}", linestyle="-", marker="none") for i in range(len(CONFIGS))]
    styles = [Line2D([], [], color="k", linestyle="-", marker="o", markersize=3),
              Line2D([], [], color="k", linestyle="--", marker="s", markersize=3, alpha=0.6),
              Line2D([], [], color="k", linestyle=":", marker="none"),
              Line2D([], [], color="grey", linestyle=":", linewidth=0.8, marker="none")]
    keys = ["(a) recursion, (b) neural-tangents", "(a) depth-free path", "(b) companion",
            r"(a) tolerance $\sqrt{\epsilon}$"]
    fig.legend(colours + styles, names + keys, loc="outside lower center", ncol=2)
    return fig


def plot_finite_width(result: Mapping[str, Any]):
    """Relative error of the empirical NTK against width, with fitted exponents (log-log)."""
    return common.plot_init_error(result, result["fits"])
