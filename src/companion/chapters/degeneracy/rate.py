"""How fast the deep limits are reached (chapter 3): the FFNet's ``1/4 + (3/8) ln L / L + h(rho0) / L``
and the ResNet's ``k_1 + L^(1 - 2 gamma) g1``. Both expansions are this book's derivation (chapter 3,
section "Why the limit is 1/4"), beyond the papers; every step is measured here.

FFNet, unit inputs, ``theta_l = arccos rho_l`` (equation labels of ``notebooks/03_degeneracy.md``)::

    theta_{l+1} = theta_l - theta_l^2 / (3 pi) - theta_l^3 / (18 pi^2) + O(theta^4)      (eq-03-theta-map)
    3 / (1 - kappa0(rho_l)) = 3 pi / theta_l = l + (3/2) ln l + c(rho0) + o(1)           (eq-03-kappa0-log)
    P_l = prod_{j=l}^{L-1} kappa0(rho_j) = (l/L)^3 exp((9/2)(ln l / l - ln L / L) + O(1/l))  (eq-03-backward)
    k_L = (1 / (L + 1)) sum_{l=0}^{L} rho_l P_l                                           (eq-03-sum)
        = 1/4 + (3/8) ln L / L + h(rho0) / L + o(1/L)                                     (eq-03-rates)

The trajectory here is computed by plain float64 arithmetic (the ``math`` module), independently of
:mod:`companion.kernels`, so that comparing the two checks both.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from companion.publish import report
from companion.util import validate as check
from companion.chapters.common import depth1_first_order, ffnet_ntk, log_depths, resnet_ntk, rho_grid, sup_distance
from companion import kernels as K
from companion.learning.fits import loglog_slope

FFNET_LOG_COEF = 3.0 / 8.0  # eq-03-rates: L (k_L - 1/4) = (3/8) ln L + h(rho0) + o(1)
KAPPA0_LOG_COEF = 1.5  # eq-03-kappa0-log: 3 pi / theta_l - l = (3/2) ln l + c(rho0) + o(1)
BACKWARD_LOG_COEF = 4.5  # eq-03-backward: log P_l + 3 ln(L / l) = (9/2)(ln l / l - ln L / L) + O(1/l)
RATE_RHO0 = (-0.9, -0.5, 0.0, 0.5, 0.9, 0.99)  # the correlations of the coefficient check
RATE_FIT = (1_000, 100_000)  # depths over which the coefficient 3/8 is measured (at every scale)
RATE_POINTS = 9  # depths in RATE_FIT, log-spaced


# ---------------------------------------------------------------------------------------------------
# the FFNet trajectory, independently of the kernel module
def _sin_minus_tcos(theta: float) -> float:
    """``sin t - t cos t`` without cancellation (its Taylor series below ``t = 0.1``)."""
    if theta < 0.1:
        t2 = theta * theta
        return theta * t2 * (1.0 / 3.0 - t2 * (1.0 / 30.0 - t2 * (1.0 / 840.0 - t2 / 45360.0)))
    return math.sin(theta) - theta * math.cos(theta)


def plain_trajectory(rho0: float, depth: int, alpha: float | None = None) -> np.ndarray:
    """Angles ``theta_l = arccos rho_l``, ``l = 0..depth``, of the FFNet's correlation map
    ``rho_l = kappa1(rho_{l-1})`` (equation ``eq-03-theta-map``), by plain float64 arithmetic; with
    ``alpha`` given, of the ResNet's map ``rho_l = (rho_{l-1} + alpha^2 kappa1(rho_{l-1})) / (1 + alpha^2)``
    (chapter 4's ``eq-04-step``; used here as the counterfactual of the FFNet's laws).

    Carried as ``u = 1 - rho = 2 sin^2(theta / 2)``: ``1 - kappa1(rho) = u - (sin t - t cos t) / pi``, then
    ``theta = 2 arcsin(sqrt(u / 2))``, which keeps full relative accuracy as ``rho_l -> 1``.

    Args: ``rho0`` in ``[-1, 1]``; ``depth >= 0``; ``alpha >= 0`` or ``None`` (FFNet). Returns shape
    ``(depth + 1,)``, radians. Raises ``ValueError`` for a bad argument.
    """
    rho0 = check.real("rho0", rho0, minimum=-1.0, maximum=1.0)
    depth = check.integer("depth", depth, minimum=0)
    share = 1.0 if alpha is None else check.real("alpha", alpha, minimum=0.0) ** 2 / (1.0 + alpha**2)
    out = np.empty(depth + 1)
    theta = math.acos(rho0)
    out[0] = theta
    for l in range(1, depth + 1):
        u = 2.0 * math.sin(theta / 2.0) ** 2 - share * _sin_minus_tcos(theta) / math.pi
        theta = 2.0 * math.asin(math.sqrt(max(u, 0.0) / 2.0))
        out[l] = theta
    return out


def backward_products(theta: np.ndarray) -> np.ndarray:
    """``P_l = prod_{j=l}^{L-1} kappa0(rho_j)`` for ``l = 0..L`` (equation ``eq-03-sum``; their asymptotics
    ``(l / L)^3`` with its log correction is equation ``eq-03-backward``) from the angles
    ``theta_j`` (``j = 0..L``, shape ``(L + 1,)``), with ``kappa0 = 1 - theta / pi``; ``P_L = 1``.

    Computed as ``exp`` of a reversed cumulative sum of ``log1p(-theta_j / pi)``. Raises ``ValueError`` for
    angles outside ``[0, pi]`` or a non-1-D input.
    """
    theta = np.asarray(theta, dtype=np.float64)
    if theta.ndim != 1 or theta.size == 0 or not np.all(np.isfinite(theta)) or theta.min() < 0 or theta.max() > math.pi:
        raise check.fail("theta", f"array of shape {theta.shape}", "a non-empty 1-D array of angles in [0, pi]")
    logs = np.log1p(-theta[:-1] / math.pi)
    return np.exp(np.concatenate([np.cumsum(logs[::-1])[::-1], [0.0]]))


def ntk_from_sum(theta: np.ndarray) -> float:
    """The normalised FFNet NTK as the sum ``(1 / (L + 1)) sum_{l=0}^{L} rho_l P_l`` (equation
    ``eq-03-sum``), from the angles of :func:`plain_trajectory` (shape ``(L + 1,)``)."""
    P = backward_products(theta)
    return float(np.sum(np.cos(theta) * P) / theta.size)


def kappa0_log_slope(theta: np.ndarray, l1: int, l2: int) -> float:
    """``(r_{l2} - r_{l1}) / ln(l2 / l1)`` with ``r_l = 3 pi / theta_l - l = 3 / (1 - kappa0(rho_l)) - l``:
    ``3/2`` by equation ``eq-03-kappa0-log`` as ``l1, l2 -> infinity``. ``1 <= l1 < l2 < len(theta)``."""
    l1 = check.integer("l1", l1, minimum=1)
    l2 = check.integer("l2", l2, minimum=l1 + 1, maximum=len(theta) - 1)
    r1, r2 = 3.0 * math.pi / float(theta[l1]) - l1, 3.0 * math.pi / float(theta[l2]) - l2
    return (r2 - r1) / math.log(l2 / l1)


def asymptotics(P: dict[str, Any], rho0: float = 0.5, log=report.log) -> dict[str, Any]:
    """The steps of the derivation of ``eq-03-rates`` measured along one FFNet trajectory (``rho0``), for
    each depth in ``P["asymptotic_depths"]``.

    Returns ``{"rho0", "layers" (1..Lmax), "r" (3 pi / theta_l - l, eq-03-kappa0-log), "ratio_u"
    (l^2 (1 - rho_l) / (9 pi^2 / 2)), "runs": [{"depth", "t" (l / L), "P" (backward products), "summand"
    (rho_l P_l), "ntk" (the sum eq-03-sum, plain arithmetic), "ntk_package" and "ntk_package_shallower"
    (the kernel module's NTK at L and L - 1)}]}``.
    """
    start = time.perf_counter()
    depths = sorted(P["asymptotic_depths"])
    theta_all = plain_trajectory(rho0, depths[-1])
    layers = np.arange(1, depths[-1] + 1)
    u = 2.0 * np.sin(theta_all[1:] / 2.0) ** 2
    out = {"rho0": rho0, "layers": layers, "r": 3.0 * math.pi / theta_all[1:] - layers,
           "ratio_u": layers**2 * u / (9.0 * math.pi**2 / 2.0), "runs": []}
    for L in depths:
        theta = theta_all[: L + 1]
        Pl = backward_products(theta)
        summand = np.cos(theta) * Pl
        out["runs"].append({"depth": L, "t": np.arange(L + 1) / L, "P": Pl, "summand": summand,
                            "ntk": float(summand.sum() / (L + 1)), "ntk_package": float(ffnet_ntk(rho0, L)),
                            "ntk_package_shallower": float(ffnet_ntk(rho0, L - 1))})
    log(f"Asymptotic argument along one trajectory to depth {depths[-1]}: {time.perf_counter() - start:.1f} s")
    return out


# ---------------------------------------------------------------------------------------------------
# the coefficient of ln L / L
def log_coefficient(depths, scaled) -> dict[str, np.ndarray]:
    """Fit ``scaled = L (k_L - k_inf) = c1 ln L + c0 + c2 ln L / L + c3 / L`` by least squares over
    ``depths`` (equation ``eq-03-rates``: ``c1 = 3/8`` for the FFNet). The last two terms stand for the
    next order (``o(1)`` in ``eq-03-rates``); without them the fitted ``c1`` is about 1% high at depths
    ``10^3``-``10^5``, which is why they are in the model.

    Args: ``depths`` shape ``(D,)``, ``D >= 5``, positive; ``scaled`` shape ``(D,)`` or ``(D, R)`` finite.
    Returns ``{"coef" (R,) c1, "intercept" (R,) c0, "coef_plain" (c1 of the fit without the next-order
    terms), "coef_alt" (c1 with (ln L)^2 / L and ln L / L as next-order terms instead)}``.
    """
    L = np.asarray(depths, dtype=np.float64)
    y = np.asarray(scaled, dtype=np.float64)
    if L.ndim != 1 or L.size < 5 or np.any(L <= 0) or not np.all(np.isfinite(L)):
        raise check.fail("depths", L.tolist(), "a 1-D array of at least 5 positive depths")
    if y.shape[0] != L.size or y.ndim > 2 or not np.all(np.isfinite(y)):
        raise check.fail("scaled", f"array of shape {y.shape}", f"finite values of shape ({L.size},) or ({L.size}, R)")
    lL, one = np.log(L), np.ones_like(L)

    def fit(*cols):
        return np.linalg.lstsq(np.stack(cols, axis=1), y, rcond=None)[0]

    main = fit(lL, one, lL / L, 1.0 / L)
    return {"coef": main[0], "intercept": main[1], "coef_plain": fit(lL, one)[0],
            "coef_alt": fit(lL, one, lL**2 / L, lL / L)[0]}


def rate_study(P: dict[str, Any], log=report.log) -> dict[str, Any]:
    """``L (k_L - 1/4)`` of the FFNet and, for comparison, ``L (k_L - k_1)`` of the ResNet with
    ``gamma = 1`` (``trained="hidden"``, ``k_1`` the depth-1 kernel), at the correlations
    :data:`RATE_RHO0`, on log-spaced depths from 10 to ``10^5`` (``P["per_decade"]`` per decade), and the
    coefficient of ``ln L`` fitted by :func:`log_coefficient` over :data:`RATE_FIT` (equation ``eq-03-rates``).

    Returns ``{"rho0" (R,), "depths" (D,), "fit_depths", "ffnet": {"scaled" (D, R), **fit}, "resnet": {...}}``.
    """
    start = time.perf_counter()
    rho0 = np.array(RATE_RHO0)
    lo, hi = RATE_FIT
    depths = np.unique(np.concatenate([log_depths(hi, P["per_decade"]), np.round(np.logspace(
        math.log10(lo), math.log10(hi), RATE_POINTS)).astype(int)]))
    depths = depths[depths >= 10]
    fit_depths = np.round(np.logspace(math.log10(lo), math.log10(hi), RATE_POINTS)).astype(int)
    d1 = np.asarray(K.depth1_limit(rho0).ntk)
    out: dict[str, Any] = {"rho0": rho0, "depths": depths, "fit_depths": fit_depths}
    for arch, f in (("ffnet", lambda L: ffnet_ntk(rho0, L) - 0.25), ("resnet", lambda L: resnet_ntk(rho0, L, 1.0) - d1)):
        scaled = np.array([L * f(int(L)) for L in depths])
        sel = np.isin(depths, fit_depths)
        out[arch] = {"scaled": scaled, **log_coefficient(depths[sel], scaled[sel])}
    log(f"L (k_L - k_inf) at {len(depths)} depths to 10^5: {time.perf_counter() - start:.1f} s")
    return out


# ---------------------------------------------------------------------------------------------------
# distance to the limit against depth
def depth_rates(P: dict[str, Any], log=report.log) -> dict[str, Any]:
    """Sup distance (over ``rho0`` in [-0.9, 0.99]) of the normalised NTK from its depth limit against
    ``L`` (log-spaced to ``P["max_depth"]``): FFNet vs 1/4, ResNet ``alpha = L^-gamma`` (each gamma in
    ``P["gammas"]``, all > 1/2, ``trained="hidden"``) vs the depth-1 kernel; the log-log slope fitted over
    ``L >= P["fit_from"]`` (a reported measurement), and each derived law (equation ``eq-03-rates``):
    FFNet ``max_rho0 ((3/8) ln L + h(rho0)) / L`` with ``h`` measured at the deepest depth, ResNet
    ``max_rho0 |g1(rho0)| L^(1 - 2 gamma)`` (:func:`companion.chapters.common.depth1_first_order`).

    Returns ``{"depths", "series": [{"label", "gamma", "distance" (len(depths),), "law" (len(depths),),
    "slope", "stderr", "intercept"}], "fit_from"}``.
    """
    start = time.perf_counter()
    rho = rho_grid(P["rho_points"])
    depths = log_depths(P["max_depth"], P["per_decade"])
    fit = depths >= P["fit_from"]
    if fit.sum() < 3:
        raise check.fail("fit_from", P["fit_from"], f"a depth leaving >= 3 depths to fit (max_depth {P['max_depth']})")
    for g in P["gammas"]:
        if g <= 0.5:
            raise check.fail("gammas", P["gammas"], "values > 1/2 (the regime where the depth-1 kernel is the limit)")
    depth1 = np.asarray(K.depth1_limit(rho).ntk)
    g1 = float(np.max(np.abs(depth1_first_order(rho))))
    D = depths.astype(float)
    series = []
    curves = [ffnet_ntk(rho, int(L)) for L in depths]
    h = D[-1] * (curves[-1] - 0.25) - FFNET_LOG_COEF * math.log(D[-1])
    series.append({"label": "FFNet", "gamma": None, "distance": np.array([sup_distance(k, 0.25) for k in curves]),
                   "law": np.max(np.abs(FFNET_LOG_COEF * np.log(D)[:, None] + h[None, :]), axis=1) / D})
    for g in P["gammas"]:
        series.append({"label": f"ResNet γ = {g:g}", "gamma": g,
                       "distance": np.array([sup_distance(resnet_ntk(rho, int(L), g), depth1) for L in depths]),
                       "law": g1 * D ** (1.0 - 2.0 * g)})
    for s in series:
        s["slope"], s["intercept"], s["stderr"] = loglog_slope(depths[fit], s["distance"][fit])
    log(f"Distances to the limits at {len(depths)} depths: {time.perf_counter() - start:.1f} s")
    return {"depths": depths, "series": series, "fit_from": P["fit_from"]}


def first_order_check(gamma: float, depth: int, points: int = 400) -> dict[str, float]:
    """``L^(2 gamma - 1) max_rho0 |k_L - k_1|`` over ``rho0`` in [-0.9, 0.99] for the ResNet with
    ``alpha = L^-gamma`` (hidden), at ``depth`` and at ``depth // 10``, and its derived limit
    ``max |g1|`` (equation ``eq-03-first-order``). Returns ``{"scaled", "scaled_shallower", "g1_max"}``."""
    rho = rho_grid(points)
    d1 = np.asarray(K.depth1_limit(rho).ntk)

    def scaled(L: int) -> float:
        return sup_distance(resnet_ntk(rho, L, gamma), d1) * L ** (2.0 * gamma - 1.0)

    return {"scaled": scaled(depth), "scaled_shallower": scaled(max(depth // 10, 1)),
            "g1_max": float(np.max(np.abs(depth1_first_order(rho))))}


__all__ = [
    "BACKWARD_LOG_COEF", "FFNET_LOG_COEF", "KAPPA0_LOG_COEF", "RATE_FIT", "RATE_RHO0", "asymptotics",
    "backward_products", "depth_rates", "first_order_check", "kappa0_log_slope", "log_coefficient",
    "ntk_from_sum", "plain_trajectory", "rate_study",
]
