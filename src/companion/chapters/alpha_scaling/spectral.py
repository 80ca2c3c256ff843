"""Spectra of zonal kernels on the sphere (chapter 4): Gegenbauer/Legendre coefficients, eigenvalues with
their multiplicities, and their decay.

A zonal kernel ``K(x, x') = k(<x, x'>)`` on the unit sphere ``S^{d-1}`` is diagonal in the spherical
harmonics (Funk-Hecke): every harmonic of degree ``k`` is an eigenfunction of the integral operator
``(T f)(x) = E_{x'}[k(<x, x'>) f(x')]`` (``x'`` uniform on the sphere) with eigenvalue::

    mu_k = (w_{d-1} / w_d) int_{-1}^{1} k(t) P_k(t) (1 - t^2)^((d-3)/2) dt,      (eq-04-funk-hecke)
    w_{d-1} / w_d = Gamma(d/2) / (sqrt(pi) Gamma((d-1)/2)),

where ``P_k`` is the degree-``k`` Gegenbauer polynomial ``C_k^{(d-2)/2}`` normalised to ``P_k(1) = 1`` (the
Legendre polynomial for ``d = 3``), and multiplicity ``N(d, k) = (2k + d - 2) / k * binom(k + d - 3, d - 2)``
(``N(d, 0) = 1``). So ``k(1) = sum_k N(d, k) mu_k``.

Two independent ways to compute ``mu_k`` are provided:

* :func:`gegenbauer_coefficients` -- quadrature of *any* kernel function, in the angle ``t = cos(theta)``
  (the kernels of this book are analytic in ``theta`` on ``[0, pi]`` although not in ``t`` at ``t = 1``,
  so Gauss-Legendre in ``theta`` converges fast). Absolute accuracy about ``1e-16 * max|k|``: fine while
  ``mu_k`` is well above that (``d = 3`` to ``k`` of a few hundred).
* :func:`depth1_coefficients` -- for the infinite-depth RNTK (``gamma > 1/2``, trained="hidden"), the
  depth-1 kernel ``k(t) = t/2 + (sqrt(1 - t^2) + 2 t arcsin t) / (2 pi)`` (equation ``eq-04-kinf``; its
  values come from :func:`companion.kernels.depth1_limit`), from its Taylor series
  ``k(t) = sum_n b_n t^n`` (all ``b_n >= 0``) and the exact moments of the monomials::

      mu_k = sum_{j >= 0} b_{k+2j} (k+2j)! Gamma(d/2) / (2^(k+2j) j! Gamma(j + k + d/2)),

  a sum of positive terms (no cancellation, relative accuracy in any dimension) summed in log space,
  with an integral estimate of the tail. Its Taylor series has no odd terms beyond ``t``, so ``mu_k = 0``
  for odd ``k >= 3``: the quadrature checks this independently.
"""

from __future__ import annotations

import math
import time
from typing import Any, Callable

import numpy as np
from scipy import special

from companion.publish import report
from companion.util import validate as check
from companion import kernels as K
from companion.publish import claims as C
from companion.learning.fits import loglog_slope


def _dim(d) -> int:
    return check.integer("d", d, minimum=3)


def multiplicity(d: int, k) -> np.ndarray:
    """Number ``N(d, k)`` of linearly independent spherical harmonics of degree ``k`` on ``S^{d-1}``
    (the multiplicity in equation ``eq-04-funk-hecke``)."""
    d = _dim(d)
    k = np.asarray(k, dtype=np.int64)
    if np.any(k < 0):
        raise check.fail("k", k.tolist(), "degrees >= 0")
    kk = np.maximum(k, 1).astype(float)
    # (2k + d - 2) / k * binom(k + d - 3, d - 2), evaluated with log-gamma (exact enough to round)
    logb = special.gammaln(kk + d - 2) - special.gammaln(d - 1) - special.gammaln(kk)
    n = (2 * kk + d - 2) / kk * np.exp(logb)
    return np.where(k == 0, 1.0, np.round(n))


def sphere_ratio(d: int) -> float:
    """``w_{d-1} / w_d = Gamma(d/2) / (sqrt(pi) Gamma((d-1)/2))`` (surface areas of ``S^{d-2}``, ``S^{d-1}``)."""
    d = _dim(d)
    return math.exp(special.gammaln(d / 2) - special.gammaln((d - 1) / 2)) / math.sqrt(math.pi)


def gegenbauer_coefficients(kernel: Callable[[np.ndarray], np.ndarray], d: int, kmax: int,
                            nodes: int | None = None) -> np.ndarray:
    """Funk-Hecke eigenvalues ``mu_0 .. mu_kmax`` (equation ``eq-04-funk-hecke``) of the zonal kernel
    ``kernel(t)`` on ``S^{d-1}``, by Gauss-Legendre quadrature in the angle (``nodes`` points on
    ``[0, pi]``, default ``2 kmax + 400``).

    ``kernel`` maps an array of ``t = cos(theta)`` in ``[-1, 1]`` to kernel values (NumPy or JAX).
    """
    d = _dim(d)
    kmax = check.integer("kmax", kmax, minimum=0)
    nodes = 2 * kmax + 400 if nodes is None else check.integer("nodes", nodes, minimum=kmax + 2)
    x, w = np.polynomial.legendre.leggauss(nodes)
    theta = (x + 1.0) * (math.pi / 2.0)
    w = w * (math.pi / 2.0)
    t = np.cos(theta)
    vals = np.asarray(kernel(t), dtype=np.float64)
    if vals.shape not in (t.shape, ()) or not np.all(np.isfinite(vals)):
        bad = int(vals.size - np.count_nonzero(np.isfinite(vals)))
        raise check.fail("kernel", f"a function returning shape {vals.shape} with {bad} non-finite values on [-1, 1]",
                         f"a function returning finite values of shape ({nodes},)")
    weight = w * np.sin(theta) ** (d - 2) * vals * sphere_ratio(d)
    lam = (d - 2) / 2.0
    P = _gegenbauer_normalised(kmax, lam, t)  # (kmax + 1, nodes)
    return P @ weight


def _gegenbauer_normalised(kmax: int, lam: float, t: np.ndarray) -> np.ndarray:
    """``P_k(t) = C_k^lam(t) / C_k^lam(1)`` for ``k = 0..kmax`` by the three-term recurrence of the
    normalised polynomials (stable on ``[-1, 1]``): ``(k + 2 lam) P_{k+1} = (2k + 2 lam) t P_k - k P_{k-1}``."""
    P = np.empty((kmax + 1, t.size))
    P[0] = 1.0
    if kmax >= 1:
        P[1] = t
    for k in range(1, kmax):
        P[k + 1] = ((2 * k + 2 * lam) * t * P[k] - k * P[k - 1]) / (k + 2 * lam)
    return P


def depth1_kernel_values(t) -> np.ndarray:
    """The depth-1 kernel ``(kappa1(t) + t kappa0(t)) / 2`` (equation ``eq-04-kinf``) as a NumPy array:
    :func:`companion.kernels.depth1_limit`, which validates ``t`` (correlations in ``[-1, 1]``; entries
    within 1e-12 beyond are rounding and put on the interval; anything else raises ``ValueError``)."""
    return np.asarray(K.depth1_limit(t).ntk, dtype=np.float64)


def depth1_log_taylor(n: np.ndarray) -> np.ndarray:
    """``log b_n`` of the depth-1 kernel's Taylor coefficients (``-inf`` where ``b_n = 0``).

    ``b_0 = 1 / (2 pi)``, ``b_1 = 1/2``, odd ``n >= 3``: 0; even ``n = 2m >= 2``:
    ``b_{2m} = binom(2m-2, m-1) 4^{-(m-1)} / (2m - 1) * (2 - (2m - 1)/(2m)) / (2 pi)`` (from
    ``sqrt(1 - t^2)`` and ``t arcsin t``; all positive, ``~ m^{-3/2}``).
    """
    n = np.asarray(n, dtype=np.int64)
    out = np.full(n.shape, -np.inf)
    out[n == 0] = -math.log(2.0 * math.pi)
    out[n == 1] = math.log(0.5)
    even = (n >= 2) & (n % 2 == 0)
    m = n[even] / 2.0
    log_central = special.gammaln(2 * m - 1) - 2 * special.gammaln(m) - (m - 1) * math.log(4.0)
    out[even] = log_central - np.log(2 * m - 1) + np.log(2.0 - (2 * m - 1) / (2 * m)) - math.log(2.0 * math.pi)
    return out


def depth1_coefficients(d: int, kmax: int, spread: int = 40) -> np.ndarray:
    """Funk-Hecke eigenvalues ``mu_0 .. mu_kmax`` of the depth-1 kernel on ``S^{d-1}`` from its positive
    Taylor series (see the module docstring).

    For degree ``k`` the series is summed exactly over ``j < J = max(4000, spread * k^2)`` (its mass sits
    at ``j ~ k^2``) and the remainder is integrated: the terms behave like ``A j^-p (1 + c / j)`` with
    ``p = (d + 2) / 2`` exactly (Stirling: ``b_n ~ n^-3/2`` times a ratio of Gamma functions
    ``~ j^-(d-1)/2``), and ``A, c`` are matched to the terms at ``J/2`` and ``J``. Relative accuracy
    about ``1e-8`` at the default ``spread`` (the tail model's error; ``spread=160`` gives ``1e-10``),
    checked against quadrature in the tests and the chapter.
    """
    d = _dim(d)
    kmax = check.integer("kmax", kmax, minimum=0)
    spread = check.integer("spread", spread, minimum=1)
    out = np.zeros(kmax + 1)
    lg = special.gammaln(d / 2.0)
    p = (d + 2.0) / 2.0
    for k in range(kmax + 1):
        if k % 2 == 1:
            if k == 1:  # only b_1 t contributes: mu_1 = b_1 Gamma(d/2) / (2 Gamma(1 + d/2)) = 1 / (2 d)
                out[1] = 0.5 * math.exp(lg - math.log(2.0) - special.gammaln(1.0 + d / 2.0))
            continue  # b_n = 0 for odd n >= 3
        J = max(4000, spread * k * k)
        j = np.arange(J, dtype=np.float64)
        n = k + 2 * j
        logt = (depth1_log_taylor(n.astype(np.int64)) + special.gammaln(n + 1) + lg - n * math.log(2.0)
                - special.gammaln(j + 1) - special.gammaln(j + k + d / 2.0))
        top = logt.max()
        terms = np.exp(logt - top)
        j1, j0 = J - 1, (J - 1) // 2
        R = terms[j1] / terms[j0] * (j1 / j0) ** p  # = (1 + c/j1) / (1 + c/j0)
        c = (1.0 - R) / (R / j0 - 1.0 / j1)
        A = terms[j1] * j1**p / (1.0 + c / j1)
        x = J - 0.5  # sum_{j >= J} f(j) ~ int_{J - 1/2}^inf f (midpoint rule)
        tail = A * (x ** (1.0 - p) / (p - 1.0) + c * x ** (-p) / p)
        out[k] = math.exp(top) * (terms.sum() + tail)
    return out


# ---------------------------------------------------------------------------------------------------
def eigenvalues_with_index(mu: np.ndarray, d: int, tol: float = 0.0) -> dict[str, np.ndarray]:
    """Distinct eigenvalues ``mu_k > tol`` sorted in decreasing order, with where they sit in the full
    sorted sequence counted with multiplicity.

    Returns ``{"values", "degree", "first", "last"}``: ``values[i] = mu_{degree[i]}`` occupies positions
    ``first[i] .. last[i]`` (1-based) of the eigenvalues of the integral operator in decreasing order.
    """
    mu = np.asarray(mu, dtype=np.float64)
    if mu.ndim != 1 or not np.all(np.isfinite(mu)):
        bad = int(mu.size - np.count_nonzero(np.isfinite(mu)))
        raise check.fail("mu", f"array of shape {mu.shape} with {bad} non-finite entries", "a 1-D array of finite eigenvalues")
    tol = check.real("tol", tol)
    k = np.arange(len(mu))
    keep = mu > tol
    vals, deg = mu[keep], k[keep]
    order = np.argsort(-vals, kind="stable")
    vals, deg = vals[order], deg[order]
    mult = multiplicity(d, deg)
    last = np.cumsum(mult)
    return {"values": vals, "degree": deg, "first": last - mult + 1, "last": last}


def decay_exponent(mu: np.ndarray, kmin: int) -> dict[str, float]:
    """Decay exponent ``p`` of the even coefficients, ``mu_k ~ C k^-p``, from the local slopes
    ``s_k = ln(mu_{k+2} / mu_k) / ln((k+2) / k)`` over even ``k >= kmin``, extrapolated to ``k -> infinity``
    with the known form of the next-order terms: ``s_k = -p + a / k + b / k^2`` (the asymptotic law carries
    corrections of relative order ``d / k``). Returns ``{"exponent" (-p), "exponent_first" (-p with
    ``a / k`` only), "tolerance" (their difference: what the next-order term still moves), "plain" (an
    ordinary log-log slope over the same degrees, which is biased by the corrections)}``. Needs at least
    four even degrees with positive coefficients from ``kmin``; raises ``ValueError`` otherwise."""
    mu = np.asarray(mu, dtype=np.float64)
    kmin = check.integer("kmin", kmin, minimum=2)
    k = np.arange(mu.size)
    ev = k[(k % 2 == 0) & (k >= kmin)]
    if ev.size < 4 or np.any(mu[ev] <= 0):
        raise check.fail("mu", f"{ev.size} even degrees >= {kmin}", "at least 4 even degrees with positive coefficients")
    s = np.log(mu[ev[1:]] / mu[ev[:-1]]) / np.log(ev[1:] / ev[:-1])
    km = np.sqrt(ev[1:] * ev[:-1])
    one = np.ones_like(km)
    p2 = np.linalg.lstsq(np.stack([one, 1 / km, 1 / km**2], axis=1), s, rcond=None)[0][0]
    p1 = np.linalg.lstsq(np.stack([one, 1 / km], axis=1), s, rcond=None)[0][0]
    return {"exponent": float(p2), "exponent_first": float(p1), "tolerance": float(abs(p2 - p1)),
            "plain": float(loglog_slope(ev, mu[ev])[0])}


def spectrum_study(P: dict[str, Any], log=report.log) -> dict[str, Any]:
    """Coefficients of the depth-1 kernel (the infinite-depth RNTK, gamma > 1/2) for each dimension in
    ``P["dims"]`` up to degree ``P["kmax"]``: by the positive series (all ``d``) and by quadrature
    (``mu_k`` resolved above rounding); the gamma = 1/2 limit kernel by quadrature (its odd coefficients are
    the counterfactual of the parity check); and, as counterfactuals of the decay and agreement checks,
    the series in a neighbouring dimension (``d - 1``, or ``d + 1`` for ``d = 3``) and the quadrature in
    ``d + 1``.

    Returns ``{"kmax", "dims", "runs": [{"d", "k", "series", "quadrature", "decay" (see
    :func:`decay_exponent`), "decay_cf" (the same for the neighbouring dimension), "d_cf", "eig", "eig_slope",
    "odd_max" (max |mu_k| / mu_0 over odd k >= 3, by quadrature), "odd_max_ode" (the same for the
    gamma = 1/2 limit), "agreement" (max relative difference series vs quadrature for resolved k),
    "agreement_cf" (series in d vs quadrature in d + 1)}], "ode": {"d", "quadrature"}}``.
    """
    start = time.perf_counter()
    kmax = P["kmax"]
    kq = min(kmax, 40)  # the ODE is solved at every node: keep it small
    nodes_ode = 2 * kq + 100
    ode_values: dict[int, np.ndarray] = {}

    def ode_kernel(t):  # the same nodes for every d: solve the ODE once
        if t.size not in ode_values:
            ode_values[t.size] = np.asarray(K.ode_limit(t).ntk)
        return ode_values[t.size]

    runs = []
    k = np.arange(kmax + 1)
    for d in P["dims"]:
        series = depth1_coefficients(d, kmax)
        quad = gegenbauer_coefficients(depth1_kernel_values, d, kmax)
        d_cf = d + 1 if d == 3 else d - 1
        decay = decay_exponent(series, kmax // 2)
        decay_cf = decay_exponent(depth1_coefficients(d_cf, kmax), kmax // 2)
        eig = eigenvalues_with_index(series, d)
        # reported, not checked: the fit over the eigenvalues of degree >= kmax/2 at the geometric middle of each
        # block of equal eigenvalues (the index of degree k is ~ k^(d-1) only up to corrections of order d^2 / k)
        sel = eig["degree"] >= kmax // 2
        eig_slope = loglog_slope(np.sqrt(eig["first"] * eig["last"])[sel], eig["values"][sel])[0]
        floor = 1e-13 * abs(quad[0])
        resolved = np.abs(quad) > 1e3 * floor
        check_k = resolved & ((k % 2 == 0) | (k == 1))
        agreement = float(np.max(np.abs(series[check_k] - quad[check_k]) / np.abs(series[check_k])))
        quad_cf = gegenbauer_coefficients(depth1_kernel_values, d + 1, kmax)
        agreement_cf = float(np.max(np.abs(series[check_k] - quad_cf[check_k]) / np.abs(series[check_k])))
        odd = (k % 2 == 1) & (k >= 3)
        ode = gegenbauer_coefficients(ode_kernel, d, kq, nodes=nodes_ode)
        ko = np.arange(kq + 1)
        runs.append({"d": d, "k": k, "series": series, "quadrature": quad, "decay": decay, "decay_cf": decay_cf,
                     "d_cf": d_cf, "eig": eig, "eig_slope": eig_slope,
                     "odd_max": float(np.max(np.abs(quad[odd])) / quad[0]) if odd.any() else 0.0,
                     "odd_max_ode": float(np.max(np.abs(ode[(ko % 2 == 1) & (ko >= 3)])) / abs(ode[0])),
                     "ode": ode, "agreement": agreement, "agreement_cf": agreement_cf,
                     "agreement_kmax": int(k[check_k].max())})
    log(f"Spectra of the depth-1 kernel in d = {P['dims']} to degree {kmax}: {time.perf_counter() - start:.1f} s")
    return {"kmax": kmax, "dims": list(P["dims"]), "runs": runs, "ode": {"d": P["dims"][0], "quadrature": runs[0]["ode"]}}


def claims(result: dict[str, Any]) -> list[C.Claim]:
    """Checks of the spectrum study (see chapter 4), each with a counterfactual the same comparison rejects."""
    out = []
    for r in result["runs"]:
        d = r["d"]
        out.append(C.at_most(
            f"04-odd-vanish-d{d}", f"d = {d}: odd Funk-Hecke coefficients k >= 3 of the infinite-depth RNTK vanish "
            "(max |mu_k| / mu_0, quadrature); bound 1e-12: quadrature rounding, about 1e-16 per node",
            "parity of k_inf (linear + even): this book's derivation", r["odd_max"], 1e-12,
            counterfactual=("the gamma = 1/2 limit kernel (eq-04-ode)", r["odd_max_ode"])))
        out.append(C.at_most(
            f"04-series-quadrature-d{d}", f"d = {d}: positive series and quadrature agree (max relative difference, "
            f"k <= {r['agreement_kmax']}); bound 1e-7: ten times the series' tail-model error", "two independent computations",
            r["agreement"], 1e-7, counterfactual=(f"quadrature in d = {d + 1}", r["agreement_cf"])))
        dec = r["decay"]
        out.append(C.within(
            f"04-even-decay-d{d}", f"d = {d}: decay exponent of the even coefficients (local slopes over k in "
            f"[{result['kmax'] // 2}, {result['kmax']}] extrapolated in 1/k); tolerance {dec['tolerance']:.2g}: what the "
            "next-order term b / k^2 moves it", "k^-d: this book's derivation (d = 3); Bietti & Mairal 2019 for the "
            "two-layer NTK", dec["exponent"], -float(d), dec["tolerance"],
            counterfactual=(f"the same measurement in d = {r['d_cf']}", r["decay_cf"]["exponent"])))
    return out


def table(result: dict[str, Any]) -> str:
    """Markdown: per dimension, the first coefficients and the fitted decay exponents."""
    kmax = result["kmax"]
    lines = ["| d | mu_0 | mu_1 = 1/(2d) | mu_2 | max odd k >= 3 (quadrature) / mu_0 | even-k exponent "
             f"(k in [{kmax // 2}, {kmax}], extrapolated) | plain log-log fit | expected | eigenvalue exponent "
             "(index fit, reported) | expected |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in result["runs"]:
        d, s = r["d"], r["series"]
        lines.append(f"| {d} | {s[0]:.6f} | {s[1]:.6f} | {s[2]:.6f} | {r['odd_max']:.1e} | {r['decay']['exponent']:.3f} | "
                     f"{r['decay']['plain']:.3f} | {-d} | {r['eig_slope']:.3f} | {-d / (d - 1):.3f} |")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------
def plot_spectrum(result: dict[str, Any]):
    """Top row, one panel per dimension (a, b, ...): ``mu_k`` against ``k`` (log-log), even degrees from the
    series and from quadrature, ``k = 1``, the ``k^-d`` reference and, for contrast, the odd coefficients of
    the gamma = 1/2 limit (one legend above them: the styles are the same in all). Bottom panel, the
    full width: eigenvalues against their index, with ``i^(-d/(d-1))`` references. 6 in wide: prints at
    full size."""
    from companion.publish.figures import panels

    runs = result["runs"]
    top = min(len(runs), 3)  # panels() allows at most three side by side
    rows = -(-len(runs) // top)
    fig, axes = panels(rows + 1, top, panel_height=2.55, squeeze=False)
    grid = axes[-1, 0].get_gridspec()
    for ax in axes[-1]:
        ax.remove()
    eig_ax = fig.add_subplot(grid[-1, :])
    coef_axes = list(axes[:-1].ravel())
    for ax in coef_axes[len(runs):]:
        ax.remove()
    letters = "abcdefghijklmnopqrstuvwxyz"
    for j, (ax, r) in enumerate(zip(coef_axes, runs)):
        k, s, q = r["k"], r["series"], r["quadrature"]
        d = r["d"]
        even = (k % 2 == 0) & (k > 0)
        ax.plot(k[even], s[even], "-", color="C0", label="even $k$ (series)")
        ok = even & (np.abs(q) > 1e-13 * q[0])
        ax.plot(k[ok][::max(1, ok.sum() // 25)], q[ok][::max(1, ok.sum() // 25)], "x", color="C1",
                label="even $k$ (quadrature)")
        ax.plot([1], [s[1]], "s", color="C2", label="$k = 1$")
        kk = k[(k >= result["kmax"] // 4) & even]
        ax.plot(kk, s[kk[-1]] * (kk / kk[-1]) ** (-float(d)), "k:", linewidth=1.5, label="$k^{-d}$")
        o = r["ode"]
        ko = np.arange(len(o))
        good = (ko > 0) & (np.abs(o) > 1e-13 * abs(o[0]))
        odd = good & (ko % 2 == 1) & (ko >= 3)
        ax.plot(ko[odd], np.abs(o[odd]), "v", color="C3", markersize=3.5,
                label=r"$\gamma = 1/2$ limit, odd $k \geq 3$")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("degree $k$")
        ax.set_title(f"({letters[j]}) coefficients $\\mu_k$, $d = {d}$")
        if j % top == 0:
            ax.set_ylabel(r"eigenvalue $\mu_k$")
    # one legend for the coefficient panels, above them (inside a panel it would cover the series)
    fig.legend(*coef_axes[0].get_legend_handles_labels(), loc="outside upper center", ncol=3)
    ax = eig_ax
    for i, r in enumerate(runs):
        d = r["d"]
        vals, first, last = r["eig"]["values"], r["eig"]["first"], r["eig"]["last"]
        xs = np.stack([first, last + 1], axis=1).reshape(-1)  # each eigenvalue as a step over its block
        ys = np.repeat(vals, 2)
        ax.plot(xs, ys, color=f"C{i}", label=f"$d = {d}$: slope {r['eig_slope']:.3f}")
        ref = last[-1] * np.array([0.05, 1.0])
        ax.plot(ref, vals[-1] * (ref / last[-1]) ** (-d / (d - 1.0)), "k:", linewidth=1.2)
    ax.plot([], [], "k:", label=r"$i^{-d/(d-1)}$")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("index $i$ (with multiplicity)")
    ax.set_ylabel(r"$i$-th largest eigenvalue")
    ax.set_title(f"({letters[len(runs)]}) eigenvalue decay")
    ax.legend(loc="lower left")
    return fig


__all__ = [
    "claims", "decay_exponent", "depth1_coefficients", "depth1_kernel_values", "depth1_log_taylor", "eigenvalues_with_index",
    "gegenbauer_coefficients", "multiplicity", "plot_spectrum", "sphere_ratio", "spectrum_study", "table",
]
