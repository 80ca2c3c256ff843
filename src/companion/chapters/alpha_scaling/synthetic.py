"""Early-stopped kernel regression on synthetic data on the sphere (chapter 4, Tian & Yu).

Setting (this book's reconstruction of the papers' synthetic experiment; sizes and targets are ours):

* inputs ``x`` uniform on ``S^{d-1}``;
* target ``f*(x) = sum_{j=1}^{M} c_j k_inf(<x, z_j>)``, a finite sum of sections of the infinite-depth
  RNTK ``k_inf`` (the depth-1 kernel, the ``gamma > 1/2`` limit with ``trained="hidden"``), so ``f*`` lies in
  its RKHS; centres ``z_j`` uniform on the sphere, ``c_j ~ N(0, 1)``, scaled to ``E f*(x)^2 = 1``;
* observations ``y = f*(x) + sigma * noise``, standard Gaussian noise;
* estimators: gradient flow (early stopping) ``f_t = K(., X) K^-1 (I - exp(-K t / n)) y`` with the
  normalised RNTK of a ResNet of depth ``L``, ``alpha = L^-gamma``, for a grid of stopping times ``t``;
  ``t = inf`` is the minimum-norm interpolant (training to zero loss);
* excess risk ``E_x (f_t(x) - f*(x))^2``, estimated on fresh test points.

The theorem as summarised for Tian & Yu [A]: for ``alpha`` decreasing fast enough with depth, early-stopped
kernel regression with the (infinite-depth) RNTK attains the minimax rate for targets in its RKHS; with
``alpha`` constant the RNTK degenerates; trained to overfitting the network generalises poorly. The rate's
form [R]: eigenvalue decay ``i^-beta`` with ``beta = d / (d - 1)`` gives ``n^(-beta / (beta + 1)) =
n^(-d / (2d - 1))`` with stopping time ``t ~ n^(beta / (beta + 1))``. The stopping time here is the
oracle one (the best on the grid, per sample), which is at least as good as any schedule.
"""

from __future__ import annotations

import functools
import math
import time
from typing import Any

import numpy as np

from companion.util import validate as check
from companion.publish import claims as C
from companion.chapters.common import depth_colors
from companion.networks.models import branch_scaling
from companion.learning.fits import power_law
from companion.chapters.alpha_scaling.spectral import correlations, depth1_kernel


def sphere(n: int, d: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` points uniform on ``S^{d-1}``, shape ``(n, d)`` (``n, d >= 1``; ``rng`` a NumPy Generator)."""
    n = check.integer("n", n, minimum=1)
    d = check.integer("d", d, minimum=1)
    if not isinstance(rng, np.random.Generator):
        raise check.fail("rng", rng, "a numpy.random.Generator (e.g. numpy.random.default_rng(seed))")
    x = rng.standard_normal((n, d))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def k_inf(rho) -> np.ndarray:
    """The infinite-depth RNTK (``gamma > 1/2``, hidden) as a function of the correlation: the depth-1
    kernel in closed form (NumPy; equal to ``kernels.depth1_limit`` to 1e-14, tested).

    ``rho``: correlations in ``[-1, 1]`` (beyond by more than 1e-12 raises ``ValueError``)."""
    return depth1_kernel(correlations("rho", rho))


class Target:
    """``f*(x) = sum_j c_j k_inf(<x, z_j>)`` with ``E f*^2 = 1`` (normalised on ``norm_points`` draws)."""

    def __init__(self, d: int, centers: int, seed: int, norm_points: int = 20000):
        rng = np.random.default_rng([seed, 7919])
        self.d = d
        self.z = sphere(centers, d, rng)
        c = rng.standard_normal(centers)
        self.c = c
        scale = math.sqrt(float(np.mean(self._raw(sphere(norm_points, d, rng)) ** 2)))
        self.c = c / scale

    def _raw(self, x: np.ndarray) -> np.ndarray:
        return k_inf(x @ self.z.T) @ self.c

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self._raw(x)

    def rkhs_norm(self) -> float:
        """``|f*|_H = sqrt(c^T K(Z, Z) c)`` in the RKHS of ``k_inf``."""
        return math.sqrt(float(self.c @ k_inf(self.z @ self.z.T) @ self.c))


CHUNK = 1 << 16  # kernel entries per call: one fixed shape, so each kernel compiles once


@functools.lru_cache(maxsize=16)
def _evaluator(depth: int, alpha: float):
    """A jitted map ``rho (CHUNK,) -> normalised NTK`` through the depth-free table of this ResNet (the
    table is built once, by the recursion, and cached)."""
    import jax
    import jax.numpy as jnp

    from companion.kernels import depthfree
    from companion.kernels.recursion import Spec

    table = depthfree.build_table(Spec("resnet", depth, alpha, "hidden"))
    coef = jnp.asarray(table.coef)

    @jax.jit
    def apply(rho):
        r = jnp.clip(rho, -1.0, 1.0)
        theta = 2.0 * jnp.arctan2(jnp.sqrt(1.0 - r), jnp.sqrt(1.0 + r))
        return depthfree.evaluate(table, coef, theta)[1]

    return apply


def learning_kernel(rho, depth: int, gamma: float) -> np.ndarray:
    """The normalised RNTK (trained="hidden") of a ResNet of depth ``L``, ``alpha = L^-gamma``, applied to
    a correlation matrix (NumPy, any shape); equals ``kernels.resnet_normalized(rho, L, alpha)`` to the
    depth-free table's accuracy (about 1e-13).

    Evaluated by one jitted function per kernel on chunks of :data:`CHUNK` entries (zero-padded): O(1)
    per entry whatever the depth, and one compilation for every sample size.
    """
    depth = check.integer("depth", depth, minimum=1)
    gamma = check.real("gamma", gamma, minimum=0.0)
    r = np.asarray(rho, dtype=np.float64)
    flat = r.ravel()
    m = flat.size
    flat = np.concatenate([flat, np.zeros((-m) % CHUNK)])
    out = np.empty_like(flat)
    apply = _evaluator(depth, branch_scaling(depth, gamma))
    for i in range(0, flat.size, CHUNK):
        out[i:i + CHUNK] = np.asarray(apply(flat[i:i + CHUNK]))
    return out[:m].reshape(r.shape)


def _on_device(a: np.ndarray):
    """``a`` as a JAX array when an accelerator is present (the eigendecomposition then runs there)."""
    import jax

    if jax.default_backend() == "cpu":
        return a
    import jax.numpy as jnp

    return jnp.asarray(a)


def stopping_times(per_decade: int, lo: float = -1.0, hi: float = 7.0) -> np.ndarray:
    """Log-spaced stopping times ``10^lo .. 10^hi`` (``per_decade >= 1`` per decade, finite ``lo <= hi``)."""
    per_decade = check.integer("per_decade", per_decade, minimum=1)
    lo = check.real("lo", lo)
    hi = check.real("hi", hi, minimum=lo)
    return np.logspace(lo, hi, int(round((hi - lo) * per_decade)) + 1)


def excess_risk_curves(P: dict[str, Any], log=print) -> dict[str, Any]:
    """Excess risk against the stopping time for every ``n`` in ``P["ns"]``, seed and kernel.

    ``P``: ``dim``, ``ns``, ``seeds``, ``n_test``, ``centers``, ``noise``, ``depth``, ``learn_gammas`` (the learning
    kernels, e.g. ``[1.0, 0.0]``: fast-decaying and constant ``alpha``), ``times_per_decade``, ``seed``.

    Returns ``{"times" (J,), "ns", "gammas", "risk" (G, S, N, J), "interp" (G, S, N), "target_norm",
    "rkhs_norm", "noise", "dim", "depth"}``.
    """
    from companion.learning.regression import KernelRegression

    start = time.perf_counter()
    d, ns, S = P["dim"], list(P["ns"]), P["seeds"]
    times = stopping_times(P["times_per_decade"])
    target = Target(d, P["centers"], P["seed"])
    G = len(P["learn_gammas"])
    risk = np.zeros((G, S, len(ns), len(times)))
    interp = np.zeros((G, S, len(ns)))
    for s in range(S):
        rng = np.random.default_rng([P["seed"], s, 1])
        x_test = sphere(P["n_test"], d, rng)
        f_test = target(x_test)
        for i, n in enumerate(ns):
            rng_n = np.random.default_rng([P["seed"], s, 2, n])
            x = sphere(n, d, rng_n)
            y = target(x) + P["noise"] * rng_n.standard_normal(n)
            for gi, g in enumerate(P["learn_gammas"]):
                Ktr = _on_device(learning_kernel(x @ x.T, P["depth"], g))
                Kte = _on_device(learning_kernel(x_test @ x.T, P["depth"], g))
                kr = KernelRegression(Ktr, y)
                pred = np.asarray(kr.predict(Kte, "flow", list(times) + [math.inf]))
                err = np.mean((pred - f_test[None, :]) ** 2, axis=1)
                risk[gi, s, i], interp[gi, s, i] = err[:-1], err[-1]
    log(f"Early-stopped regression: n in {ns}, {S} seeds, {G} kernels (depth {P['depth']}): "
        f"{time.perf_counter() - start:.1f} s")
    return {"times": times, "ns": np.array(ns), "gammas": list(P["learn_gammas"]), "risk": risk, "interp": interp,
            "rkhs_norm": target.rkhs_norm(), "noise": P["noise"], "dim": d, "depth": P["depth"],
            "centers": P["centers"]}


def summarize(res: dict[str, Any]) -> dict[str, Any]:
    """Oracle early stopping per (kernel, seed, n), fitted rates and the reference.

    Returns ``{"reference" (-d/(2d-1)), "time_reference" (d/(2d-1)), "kernels": [{"gamma", "best" (S, N),
    "t_best" (S, N), "interp" (S, N), "fit" (PowerLawFit of best vs n), "fit_t" (of t_best), "fit_interp"}]}``.
    """
    d = res["dim"]
    out = {"reference": -d / (2.0 * d - 1.0), "time_reference": d / (2.0 * d - 1.0), "kernels": []}
    for gi, g in enumerate(res["gammas"]):
        r = res["risk"][gi]  # (S, N, J)
        j = np.argmin(r, axis=2)
        best = np.take_along_axis(r, j[..., None], axis=2)[..., 0]
        t_best = res["times"][j]
        interp = res["interp"][gi]
        out["kernels"].append({
            "gamma": g, "best": best, "t_best": t_best, "interp": interp,
            "fit": power_law(res["ns"], best), "fit_t": power_law(res["ns"], t_best),
            "fit_interp": power_law(res["ns"], interp),
        })
    return out


def claims(res: dict[str, Any]) -> list[C.Claim]:
    """Early stopping attains (at least) the reference rate; interpolation and constant alpha do worse."""
    sm = summarize(res)
    ref = sm["reference"]
    fast = next(k for k in sm["kernels"] if k["gamma"] > 0.5)
    out = [
        C.at_most("04-es-rate", f"early-stopped excess risk (gamma = {fast['gamma']:g}, d = {res['dim']}): fitted slope "
                  f"<= reference -d/(2d-1) + 0.1 (the theorem is an upper bound)", "Tian & Yu [A]; rate [R]",
                  fast["fit"].slope, ref + 0.1),
        C.at_least("04-interp-worse", f"interpolation (t = inf) excess risk / early-stopped, gamma = {fast['gamma']:g}, "
                   f"n = {res['ns'][-1]} (mean over seeds)", "Tian & Yu [A] (overfitting generalises poorly)",
                   float(fast["interp"][:, -1].mean() / fast["best"][:, -1].mean()), 1.0),
    ]
    const = [k for k in sm["kernels"] if k["gamma"] == 0.0]
    if const:
        c = const[0]
        out.append(C.at_least("04-const-worse", f"constant alpha (gamma = 0, L = {res['depth']}) early-stopped excess risk "
                              f"/ that of gamma = {fast['gamma']:g}, n = {res['ns'][-1]}", "Tian & Yu [A] (alpha constant degenerates)",
                              float(c["best"][:, -1].mean() / fast["best"][:, -1].mean()), 1.0))
    return out


def rates_table(res: dict[str, Any]) -> str:
    """Markdown: fitted exponents with 95% intervals (over seeds) for each kernel and estimator."""
    sm = summarize(res)
    lines = [f"Reference (minimax, [R]): excess risk ~ n^{sm['reference']:.4f}, stopping time ~ n^{sm['time_reference']:.4f}; "
             f"d = {res['dim']}, noise sigma = {res['noise']:g}, target: {res['centers']} kernel sections, "
             f"RKHS norm {res['rkhs_norm']:.2f}.", "",
             "| learning kernel | estimator | fitted exponent of the excess risk | 95% interval | risk at largest n |",
             "|---|---|---|---|---|"]
    for k in sm["kernels"]:
        name = f"ResNet L = {res['depth']}, gamma = {k['gamma']:g}"
        for est, fit, vals in (("early stopping (oracle t)", k["fit"], k["best"]), ("interpolation (t = inf)", k["fit_interp"], k["interp"])):
            lines.append(f"| {name} | {est} | {fit.slope:.3f} | [{fit.low:.3f}, {fit.high:.3f}] | {vals[:, -1].mean():.4g} |")
        lines.append(f"| {name} | optimal stopping time | {k['fit_t'].slope:.3f} | [{k['fit_t'].low:.3f}, {k['fit_t'].high:.3f}] | "
                     f"{np.median(k['t_best'][:, -1]):.3g} |")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------
def plot_rates(res: dict[str, Any]):
    """Left: excess risk against ``n`` (log-log; mean +- standard error over seeds) for early stopping and
    interpolation, each learning kernel, with the reference slope. Right: the oracle stopping time."""
    import matplotlib.pyplot as plt

    sm = summarize(res)
    ns = res["ns"].astype(float)
    S = res["risk"].shape[1]
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(9.0, 3.9))
    for i, k in enumerate(sm["kernels"]):
        color = f"C{i}"
        name = rf"$\gamma = {k['gamma']:g}$" + (" (constant $\\alpha$)" if k["gamma"] == 0 else "")
        for vals, fit, style, est in ((k["best"], k["fit"], "o-", "early stopping"),
                                      (k["interp"], k["fit_interp"], "s--", "interpolation")):
            mean = vals.mean(0)
            se = vals.std(0, ddof=1) / math.sqrt(S) if S > 1 else np.zeros_like(mean)
            ax.errorbar(ns, mean, yerr=se, fmt=style, color=color, markersize=4, capsize=2,
                        label=f"{name}, {est}: slope {fit.slope:.2f}")
        tb = k["t_best"]
        ax2.errorbar(ns, np.exp(np.log(tb).mean(0)), yerr=None, fmt="o-", color=color,
                     label=f"{name}: slope {k['fit_t'].slope:.2f}")
    fast = next(k for k in sm["kernels"] if k["gamma"] > 0.5)
    anchor = fast["best"].mean(0)[0]
    ax.plot(ns, anchor * (ns / ns[0]) ** sm["reference"], "k:", linewidth=1.5,
            label=f"reference $n^{{-d/(2d-1)}}$ = $n^{{{sm['reference']:.2f}}}$")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("sample size $n$")
    ax.set_ylabel(r"excess risk $\|f_t - f^*\|^2_{L^2}$")
    ax.set_title(f"$d = {res['dim']}$, noise $\\sigma = {res['noise']:g}$, ResNet depth {res['depth']}")
    ax.legend(fontsize=6.5, loc="lower left")
    tanchor = np.exp(np.log(fast["t_best"]).mean(0))[0]
    ax2.plot(ns, tanchor * (ns / ns[0]) ** sm["time_reference"], "k:", linewidth=1.5,
             label=f"reference $n^{{d/(2d-1)}}$")
    ax2.set_xscale("log")
    ax2.set_yscale("log")
    ax2.set_xlabel("sample size $n$")
    ax2.set_ylabel("oracle stopping time $t$ (geometric mean)")
    ax2.set_title("optimal stopping time")
    ax2.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    return fig


def plot_risk_vs_time(res: dict[str, Any]):
    """Excess risk against the stopping time (mean over seeds), one line per ``n``: the U-shape of early
    stopping, with interpolation (``t = inf``) as markers at the right edge; one panel per kernel."""
    import matplotlib.pyplot as plt


    G = len(res["gammas"])
    fig, axes = plt.subplots(1, G, figsize=(4.4 * G, 3.6), sharey=True, squeeze=False)
    colors = depth_colors(list(res["ns"]))
    t = res["times"]
    for ax, gi in zip(axes[0], range(G)):
        for i, (n, c) in enumerate(zip(res["ns"], colors)):
            ax.plot(t, res["risk"][gi, :, i].mean(0), color=c, label=f"$n = {n}$")
            ax.plot([t[-1] * 3], [res["interp"][gi, :, i].mean()], "s", color=c, markersize=4)
        g = res["gammas"][gi]
        ax.set_title(rf"$\gamma = {g:g}$" + (" (constant $\\alpha$)" if g == 0 else "") + f", $L = {res['depth']}$")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("stopping time $t$ (squares: $t = \\infty$)")
    axes[0, 0].set_ylabel("excess risk (mean over seeds)")
    axes[0, 0].legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    return fig


__all__ = ["Target", "claims", "excess_risk_curves", "k_inf", "learning_kernel", "plot_rates", "plot_risk_vs_time",
           "rates_table", "sphere", "stopping_times", "summarize"]
