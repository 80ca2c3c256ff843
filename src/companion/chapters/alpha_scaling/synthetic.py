"""Early-stopped kernel regression on synthetic data on the sphere (chapter 4, Tian & Yu).

Setting (this book's reconstruction of the papers' synthetic experiment; sizes and targets are ours):

* inputs ``x`` uniform on ``S^{d-1}``;
* two targets, both in the RKHS of the infinite-depth RNTK ``k_inf`` (the depth-1 kernel, the
  ``gamma > 1/2`` limit with ``trained="hidden"``; equation ``eq-04-kinf``), scaled to ``E f*(x)^2 = 1``:
  ``"sections"``, ``f* = sum_{j<=M} c_j k_inf(<x, z_j>)`` (equation ``eq-04-target``; nearly all its energy
  sits in degrees 0 to 2, a smooth target), and ``"spread"``, whose energy by degree is
  ``E_k ~ (k + 2)^-s`` on the even degrees ``2..K`` (equation ``eq-04-spread``; source condition: ``f*`` lies in
  the range of ``T^r`` for every ``r < r* = (s - 1) / (2d)``, ``T`` the kernel's integral operator);
* observations ``y = f*(x) + sigma * noise``, standard Gaussian noise;
* estimators: gradient flow ``f_t = K(., X) K^-1 (I - exp(-K t / n)) y`` with the normalised RNTK of a
  ResNet of depth ``L``, ``alpha = L^-gamma``, for a grid of stopping times ``t``; ``t = inf`` is the
  minimum-norm interpolant (training to zero loss); the stopping time is chosen three ways: on a fresh
  validation sample of ``n / 4`` points, on the schedule ``t = c n^tau`` (``c`` fixed once by validation at
  the smallest ``n``; ``tau`` from the theory), and the oracle (best on the grid, reported only);
* excess risk ``E_x (f_t(x) - f*(x))^2``, estimated on fresh test points.

The rate's form (classical spectral-regularisation theory, recalled, equation ``eq-04-rate``): with
eigenvalue decay ``i^-beta``, ``beta = d / (d - 1)``, and a target in the range of ``T^r``, the excess risk
of early stopping at ``t ~ n^(beta / (2 r beta + 1))`` decays like ``n^(-2 r beta / (2 r beta + 1))``; for the
RKHS ball (``r = 1/2``) that is the minimax ``n^(-d / (2d - 1))``. For the spread target ``r = r*`` gives
the exponent ``(s - 1) / (s + d - 2)`` and ``tau = d / (s + d - 2)`` (:func:`predicted_rate`).
"""

from __future__ import annotations

import functools
import math
import time
from typing import Any

import numpy as np

from companion.publish import report
from companion.util import validate as check
from companion.publish import claims as C
from companion.chapters.common import depth_colors, log_ticks
from companion.networks.models import branch_scaling
from companion.learning.fits import power_law
from companion.chapters.alpha_scaling.spectral import _gegenbauer_normalised, depth1_kernel_values, multiplicity


def sphere(n: int, d: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` points uniform on ``S^{d-1}``, shape ``(n, d)`` (``n, d >= 1``; ``rng`` a NumPy Generator)."""
    n = check.integer("n", n, minimum=1)
    d = check.integer("d", d, minimum=1)
    if not isinstance(rng, np.random.Generator):
        raise check.fail("rng", rng, "a numpy.random.Generator (e.g. numpy.random.default_rng(seed))")
    x = rng.standard_normal((n, d))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def predicted_rate(d: int, s: float) -> dict[str, float]:
    """The rate (equation ``eq-04-rate``) for a target with energy by degree ``E_k ~ k^-s`` on ``S^{d-1}``
    learned with a kernel whose coefficients decay like ``k^-d``: ``r* = (s - 1) / (2d)``, risk exponent
    ``-(s - 1) / (s + d - 2)``, stopping-time exponent ``tau = d / (s + d - 2)``; ``minimax``:
    ``-d / (2d - 1)`` (the RKHS ball, ``s = d + 1``). ``d >= 2``; ``s > 1``."""
    d = check.integer("d", d, minimum=2)
    s = check.real("s", s, minimum=1.0, min_inclusive=False)
    return {"r": (s - 1.0) / (2.0 * d), "rate": -(s - 1.0) / (s + d - 2.0), "tau": d / (s + d - 2.0),
            "minimax": -d / (2.0 * d - 1.0)}


def degree_energy(coef: np.ndarray, centers: np.ndarray, weights: np.ndarray, d: int) -> np.ndarray:
    """Energy by degree of ``f(x) = sum_j w_j g(<x, z_j>)`` with ``g(t) = sum_k coef_k N(d, k) P_k(t)``:
    ``E_k = ||f_k||^2_{L^2} = coef_k^2 N(d, k) sum_ij w_i w_j P_k(<z_i, z_j>)`` (Funk-Hecke; ``P_k`` the
    normalised Gegenbauer polynomial). ``coef`` shape ``(K + 1,)``, ``centers`` ``(M, d)`` unit rows,
    ``weights`` ``(M,)``. Returns shape ``(K + 1,)``."""
    coef = np.asarray(coef, dtype=np.float64)
    kmax = coef.size - 1
    gram = np.clip(centers @ centers.T, -1.0, 1.0)
    P = _gegenbauer_normalised(kmax, (d - 2) / 2.0, gram.ravel()).reshape(kmax + 1, *gram.shape)
    return coef**2 * multiplicity(d, np.arange(kmax + 1)) * np.einsum("i,kij,j->k", weights, P, weights)


class Target:
    """``f*(x) = sum_j c_j k_inf(<x, z_j>)`` with ``E f*^2 = 1`` (normalised on ``norm_points`` draws);
    equation ``eq-04-target``, ``k_inf`` from :func:`companion.kernels.depth1_limit`."""

    def __init__(self, d: int, centers: int, seed: int, norm_points: int = 20000):
        rng = np.random.default_rng([seed, 7919])
        self.d = d
        self.z = sphere(centers, d, rng)
        c = rng.standard_normal(centers)
        self.c = c
        scale = math.sqrt(float(np.mean(self._raw(sphere(norm_points, d, rng)) ** 2)))
        self.c = c / scale

    def _raw(self, x: np.ndarray) -> np.ndarray:
        return depth1_kernel_values(x @ self.z.T) @ self.c

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self._raw(x)

    def rkhs_norm(self) -> float:
        """``|f*|_H = sqrt(c^T K(Z, Z) c)`` in the RKHS of ``k_inf``."""
        return math.sqrt(float(self.c @ depth1_kernel_values(self.z @ self.z.T) @ self.c))

    def energy(self, kmax: int) -> np.ndarray:
        """Energy by degree ``E_0 .. E_kmax`` (exact, from the Funk-Hecke coefficients of ``k_inf``)."""
        from companion.chapters.alpha_scaling.spectral import depth1_coefficients

        return degree_energy(depth1_coefficients(self.d, kmax), self.z, self.c, self.d)


class SpreadTarget:
    """A target whose energy is spread over many degrees (equation ``eq-04-spread``, this book's choice):
    ``f*(x) = sum_j c_j g(<x, z_j>)``, ``g(t) = sum_{k <= K} g_k N(d, k) P_k(t)``, with ``g_k`` set so that
    the energy by degree is exactly ``E_k ~ (k + shift)^-s`` on the even degrees ``2 <= k <= K`` and 0
    elsewhere, normalised to ``E f*^2 = 1`` (``shift`` spreads the energy over more low degrees without
    changing the tail, which alone sets the source condition). Even degrees only: the depth-1 kernel has no odd coefficients beyond
    ``k = 1`` (chapter 4), so an odd component would lie outside its RKHS and could not be learned.
    Source condition: ``f*`` is in the range of ``T^r`` for ``r < (s - 1) / (2d)`` as ``K -> infinity``.

    Args: ``d >= 3``; ``s > 1``; ``degrees`` = ``K >= 2``; ``centers`` ``M >= N(d, K)`` (so each degree's
    component is a generic harmonic); ``seed >= 0``. Raises ``ValueError`` otherwise.
    """

    def __init__(self, d: int, s: float, degrees: int, centers: int, seed: int, shift: float = 2.0):
        self.d = check.integer("d", d, minimum=3)
        self.s = check.real("s", s, minimum=1.0, min_inclusive=False)
        self.K = check.integer("degrees", degrees, minimum=2)
        need = int(multiplicity(self.d, self.K))
        centers = check.integer("centers", centers, minimum=need)
        rng = np.random.default_rng([check.integer("seed", seed, minimum=0), 104729])
        self.z = sphere(centers, self.d, rng)
        self.c = rng.standard_normal(centers)
        k = np.arange(self.K + 1)
        shift = check.real("shift", shift, minimum=0.0)
        target = np.where((k >= 2) & (k % 2 == 0), (k + shift) ** -self.s, 0.0)
        self.target_energy = target / target.sum()
        raw = degree_energy(np.ones(self.K + 1), self.z, self.c, self.d)  # E_k for g_k = 1
        self.g = np.sqrt(np.divide(self.target_energy, raw, out=np.zeros_like(raw), where=raw > 0))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        t = np.clip(x @ self.z.T, -1.0, 1.0)
        P = _gegenbauer_normalised(self.K, (self.d - 2) / 2.0, t.ravel())
        coef = self.g * multiplicity(self.d, np.arange(self.K + 1))
        return (coef @ P).reshape(t.shape) @ self.c

    def energy(self, kmax: int | None = None) -> np.ndarray:
        """Energy by degree ``E_0 .. E_K`` (exact; equal to the prescribed ``k^-s`` profile)."""
        return degree_energy(self.g, self.z, self.c, self.d)


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


TARGETS = ("spread", "sections")


def _targets(P: dict[str, Any]) -> dict[str, Any]:
    return {"spread": SpreadTarget(P["dim"], P["source_s"], P["target_degrees"], P["target_centers"], P["seed"]),
            "sections": Target(P["dim"], P["centers"], P["seed"])}


def excess_risk_curves(P: dict[str, Any], log=report.log) -> dict[str, Any]:
    """Excess risk against the stopping time for every ``n`` in ``P["ns"]``, seed, learning kernel and
    target (:data:`TARGETS`), with the risk on a fresh validation sample of ``max(n // 4, 20)`` noisy points.

    ``P``: ``dim``, ``ns``, ``seeds``, ``n_test``, ``centers``, ``noise``, ``depth``, ``learn_gammas`` (e.g.
    ``[1.0, 0.0]``), ``times_per_decade``, ``seed``, ``source_s``, ``target_degrees``, ``target_centers``.

    Returns ``{"times" (J,), "ns", "gammas", "targets", "risk" (T, G, S, N, J), "val" (T, G, S, N, J),
    "interp" (T, G, S, N), "energy": {target: (K + 1,)}, "rkhs_norm", "noise", "dim", "depth", "centers",
    "source_s", "predicted"}``.
    """
    from companion.learning.regression import KernelRegression

    start = time.perf_counter()
    d, ns, S = P["dim"], list(P["ns"]), P["seeds"]
    times = stopping_times(P["times_per_decade"])
    targets = _targets(P)
    G, T = len(P["learn_gammas"]), len(TARGETS)
    risk = np.zeros((T, G, S, len(ns), len(times)))
    val = np.zeros_like(risk)
    interp = np.zeros((T, G, S, len(ns)))
    for s in range(S):
        rng = np.random.default_rng([P["seed"], s, 1])
        x_test = sphere(P["n_test"], d, rng)
        f_test = np.stack([targets[t](x_test) for t in TARGETS], axis=1)  # (n_test, T)
        for i, n in enumerate(ns):
            rng_n = np.random.default_rng([P["seed"], s, 2, n])
            x = sphere(n, d, rng_n)
            y = np.stack([targets[t](x) for t in TARGETS], axis=1) + P["noise"] * rng_n.standard_normal((n, T))
            x_val = sphere(max(n // 4, 20), d, rng_n)
            y_val = (np.stack([targets[t](x_val) for t in TARGETS], axis=1)
                     + P["noise"] * rng_n.standard_normal((len(x_val), T)))
            for gi, g in enumerate(P["learn_gammas"]):
                kr = KernelRegression(_on_device(learning_kernel(x @ x.T, P["depth"], g)), y)  # one eigh, both targets
                grid = list(times) + [math.inf]
                pred = np.asarray(kr.predict(_on_device(learning_kernel(x_test @ x.T, P["depth"], g)), "flow", grid))
                pv = np.asarray(kr.predict(_on_device(learning_kernel(x_val @ x.T, P["depth"], g)), "flow", list(times)))
                err = np.mean((pred - f_test[None]) ** 2, axis=1)  # (J + 1, T)
                risk[:, gi, s, i], interp[:, gi, s, i] = err[:-1].T, err[-1]
                val[:, gi, s, i] = np.mean((pv - y_val[None]) ** 2, axis=1).T
    log(f"Early-stopped regression: n in {ns}, {S} seeds, {G} kernels x {T} targets (depth {P['depth']}): "
        f"{time.perf_counter() - start:.1f} s")
    return {"times": times, "ns": np.array(ns), "gammas": list(P["learn_gammas"]), "targets": list(TARGETS),
            "risk": risk, "val": val, "interp": interp,
            "energy": {"spread": targets["spread"].energy(), "sections": targets["sections"].energy(P["target_degrees"])},
            "rkhs_norm": targets["sections"].rkhs_norm(), "noise": P["noise"], "dim": d, "depth": P["depth"],
            "centers": P["centers"], "source_s": P["source_s"], "predicted": predicted_rate(d, P["source_s"])}


def _at_time(risk: np.ndarray, times: np.ndarray, t: np.ndarray) -> np.ndarray:
    """``risk[..., j]`` on the log-spaced grid ``times``, interpolated (linearly in log-log) at times ``t``
    (one per leading index; clipped to the grid)."""
    lt = np.log(np.clip(t, times[0], times[-1]))
    flat_r, flat_t = risk.reshape(-1, risk.shape[-1]), np.broadcast_to(lt, risk.shape[:-1]).ravel()
    return np.exp(np.array([np.interp(v, np.log(times), np.log(r)) for r, v in zip(flat_r, flat_t)])).reshape(risk.shape[:-1])


def summarize(res: dict[str, Any], level: float = 0.95) -> dict[str, Any]:
    """Per (target, kernel): the excess risk with the stopping time chosen on validation, on the schedule
    ``t = c n^tau`` (``c`` = the validation time at the smallest ``n``, geometric mean over seeds; ``tau``
    from :func:`predicted_rate` for the spread target, ``d / (2d - 1)`` for the other), by the oracle, and
    of interpolation; power-law fits in ``n`` with ``level`` intervals over seeds.

    Returns ``{"predicted", "entries": {(target, gamma): {"val", "sched", "oracle", "interp" (S, N),
    "t_val", "t_sched", "fit_val", "fit_sched", "fit_oracle", "fit_interp", "fit_t"}}}``.
    """
    d, ns, times = res["dim"], res["ns"].astype(float), res["times"]
    pred = res["predicted"]
    out: dict[str, Any] = {"predicted": pred, "entries": {}}
    for ti, target in enumerate(res["targets"]):
        tau = pred["tau"] if target == "spread" else d / (2.0 * d - 1.0)
        for gi, g in enumerate(res["gammas"]):
            r, v = res["risk"][ti, gi], res["val"][ti, gi]  # (S, N, J)
            jv = np.argmin(v, axis=2)
            val = np.take_along_axis(r, jv[..., None], axis=2)[..., 0]
            t_val = times[jv]
            c = math.exp(float(np.mean(np.log(t_val[:, 0])))) / ns[0] ** tau
            t_sched = np.broadcast_to(c * ns**tau, val.shape)
            sched = _at_time(r, times, t_sched)
            oracle = r.min(axis=2)
            interp = res["interp"][ti, gi]
            fits = {k: power_law(ns, a, level=level) for k, a in
                    (("fit_val", val), ("fit_sched", sched), ("fit_oracle", oracle), ("fit_interp", interp), ("fit_t", t_val))}
            out["entries"][(target, g)] = {"val": val, "sched": sched, "oracle": oracle, "interp": interp,
                                           "t_val": t_val, "t_sched": t_sched[0], "tau": tau, **fits}
    return out


def _log_ratio_low(a: np.ndarray, b: np.ndarray, level: float = 0.95) -> float:
    """Lower end of the ``level`` t-interval over seeds of the ratio ``a / b`` (geometric mean)."""
    from scipy import stats

    lr = np.log(a) - np.log(b)
    if lr.size < 2:
        return float(np.exp(lr.mean()))
    half = float(stats.t.ppf(0.5 + level / 2, lr.size - 1)) * float(np.std(lr, ddof=1)) / math.sqrt(lr.size)
    return float(np.exp(lr.mean() - half))


def claims(res: dict[str, Any]) -> list[C.Claim]:
    """The rate of early stopping against its prediction (time chosen on validation), interpolation and
    constant alpha against early stopping; each with a counterfactual the same comparison rejects."""
    sm = summarize(res)
    pred = sm["predicted"]
    fast = next(g for g in res["gammas"] if g > 0.5)
    E = sm["entries"]
    sp = E[("spread", fast)]
    n_last = int(res["ns"][-1])
    out = []
    # The schedule's exponent is reported (table), not checked: with its constant fixed once at the smallest n
    # it lands above or below the prediction at finite n, so a check of it would test the constant, not the rate.
    for key, name in (("val", "validation"),):
        f = sp[f"fit_{key}"]
        se = f.stderr  # the standard error over seeds of the per-seed exponents
        out.append(C.at_most(
            f"04-es-rate-{key}", f"spread target (E_k ~ (k + 2)^-{res['source_s']:g}), gamma = {fast:g}, d = {res['dim']}: "
            f"fitted exponent of the excess risk, stopping time chosen on {name}, n = {int(res['ns'][0])} to {n_last}: at most "
            f"the predicted {pred['rate']:.3f} + one standard error over seeds ({se:.2f}): the risk falls at least as "
            "fast as the theorem's rate (an upper bound)",
            "Tian & Yu, abstract (early stopping is minimax optimal); rate: classical spectral-regularisation theory",
            f.slope, pred["rate"] + se,
            counterfactual=("interpolation (t = inf) on the same samples", sp["fit_interp"].slope)))
    const = [g for g in res["gammas"] if g == 0.0]
    out.append(C.at_least(
        "04-interp-worse", f"spread target, gamma = {fast:g}, n = {n_last}: interpolation (t = inf) excess risk / that with "
        "the validation-chosen time (lower end of the 95% interval over seeds; > 1 means worse)",
        "Tian & Yu, abstract (trained to overfitting, generalises poorly)",
        _log_ratio_low(sp["interp"][:, -1], sp["val"][:, -1]), 1.0,
        counterfactual=("the oracle stopping time in place of interpolation (it cannot do worse than validation)",
                        _log_ratio_low(sp["oracle"][:, -1], sp["val"][:, -1]))))
    if const:
        c = E[("spread", const[0])]
        out.append(C.at_least(
            "04-const-worse", f"spread target, n = {n_last}: excess risk of constant alpha (gamma = 0, L = {res['depth']}) "
            f"over that of gamma = {fast:g}, both stopped on validation (lower end of the 95% interval over seeds)",
            "Tian & Yu, abstract (alpha constant degenerates)", _log_ratio_low(c["val"][:, -1], sp["val"][:, -1]), 1.0,
            counterfactual=(f"roles swapped: gamma = {fast:g} over constant alpha",
                            _log_ratio_low(sp["val"][:, -1], c["val"][:, -1]))))
    return out


def rates_table(res: dict[str, Any]) -> str:
    """Markdown: fitted exponents with 95% intervals (over seeds) for each target, kernel and stopping rule."""
    sm = summarize(res)
    pred = sm["predicted"]
    lines = [f"Predicted for the spread target (s = {res['source_s']:g}, d = {res['dim']}): excess risk ~ n^{pred['rate']:.3f}, "
             f"stopping time ~ n^{pred['tau']:.3f}; minimax over the RKHS ball: n^{pred['minimax']:.3f}. "
             f"Noise sigma = {res['noise']:g}; learning kernel: ResNet of depth {res['depth']}.", "",
             "| target | learning kernel | stopping time | fitted exponent | 95% interval | risk at largest n |",
             "|---|---|---|---|---|---|"]
    for (target, g), e in sm["entries"].items():
        name = f"γ = {g:g}" + (" (α constant)" if g == 0 else "")
        for est, key in (("validation", "val"), ("schedule", "sched"), ("oracle (reported)", "oracle"), ("t = ∞", "interp")):
            f = e[f"fit_{key}"]
            lines.append(f"| {target} | {name} | {est} | {f.slope:.3f} | [{f.low:.3f}, {f.high:.3f}] | {e[key][:, -1].mean():.3g} |")
    return "\n".join(lines)


def energy_table(res: dict[str, Any], kmax: int = 12) -> str:
    """Markdown: the targets' energy by degree, one row per degree ``k = 0..kmax`` and one column per
    target (narrow enough for a phone), then the share of the energy beyond degree 2."""
    targets = list(res["targets"])
    lines = ["| degree *k* | " + " | ".join(targets) + " |", "|---|" + "---|" * len(targets)]
    for k in range(kmax + 1):
        cells = [f"{v:.2g}" if (v := float(res["energy"][t][k])) > 1e-15 else "0" for t in targets]
        lines.append(f"| {k} | " + " | ".join(cells) + " |")
    shares = [f"{(e := res['energy'][t])[3:].sum() / e.sum():.3g}" for t in targets]
    lines.append("| share in *k* > 2 | " + " | ".join(shares) + " |")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------
# One style per way of choosing the stopping time, the same in every panel (and the squares and triangles
# of plot_risk_vs_time mean the same as here).
_ESTIMATORS = (("val", {"color": "C0", "marker": "o", "linestyle": "-"}, "time chosen on validation"),
               ("sched", {"color": "C1", "marker": "^", "linestyle": "-."}, "time on the schedule $t = c\\,n^{\\tau}$"),
               ("interp", {"color": "C2", "marker": "s", "linestyle": "--"}, "interpolation ($t = \\infty$)"))


def plot_rates(res: dict[str, Any]):
    """Excess risk against ``n`` (log-log; geometric mean over seeds), one row of panels per target and one
    column per learning kernel (rows share their y axis): the stopping time chosen on validation (circles),
    on the schedule (triangles) and interpolation (squares); dotted: the predicted exponent (spread target)
    or the minimax one. The fitted exponents are in :func:`rates_table`. One legend below the panels;
    6 in wide: prints at full size."""
    from companion.publish.figures import panels

    sm = summarize(res)
    pred = sm["predicted"]
    ns = res["ns"].astype(float)
    targets, gammas = list(res["targets"]), list(res["gammas"])
    fig, axes = panels(len(targets), len(gammas), panel_height=2.3, sharex=True, sharey="row", squeeze=False)
    letters = iter("abcdefghijklmnopqrstuvwxyz")
    refs = []
    for row, target in enumerate(targets):
        ref = pred["rate"] if target == "spread" else pred["minimax"]
        # the reference starts where validation at gamma = gammas[0] starts, in every panel of the row
        e0 = sm["entries"][(target, gammas[0])]
        anchor = float(np.exp(np.log(e0["val"][:, 0]).mean()))
        for col, g in enumerate(gammas):
            ax = axes[row, col]
            e = sm["entries"][(target, g)]
            for key, style, name in _ESTIMATORS:
                ax.plot(ns, np.exp(np.log(e[key]).mean(0)), label=name, **style)
            # two references, two styles: the predicted exponent (black dotted), the minimax one (grey dash-dot)
            spread = target == "spread"
            line, = ax.plot(ns, anchor * (ns / ns[0]) ** ref, color="k" if spread else "0.45",
                            linestyle=":" if spread else "-.", marker="none", linewidth=1.5,
                            label=f"$n^{{{ref:.3f}}}$ (" + ("predicted" if spread else "minimax, RKHS ball") + ")")
            ax.set(xscale="log", yscale="log")
            log_ticks(ax, res["ns"])
            ax.set_title(f"({next(letters)}) {target} target, $\\gamma = {g:g}$")
            if row == len(targets) - 1:
                ax.set_xlabel("sample size $n$")
        refs.append(line)
        axes[row, 0].set_ylabel(r"excess risk $\|f_t - f^*\|^2_{L^2}$")
    for ax in axes[:, 0]:
        _decade_labels_only(ax)
    handles = axes[0, 0].get_lines()[:len(_ESTIMATORS)] + refs
    fig.legend(handles, [h.get_label() for h in handles], loc="outside lower center", ncol=2,
               title=f"$d = {res['dim']}$, noise $\\sigma = {res['noise']:g}$, depth $L = {res['depth']}$")
    return fig


def _decade_labels_only(ax) -> None:
    """On a log y axis spanning at least a decade, label 1, 2 and 5 x 10^k (only the powers of ten beyond
    two decades) and no minor ticks: matplotlib's labels at 2, 3, 4, 6 x 10^k crowd and overlap in a panel
    2 inches tall. Shared axes share the locator."""
    from matplotlib.ticker import LogFormatterSciNotation, LogLocator, NullFormatter

    lo, hi = ax.get_ylim()
    span = math.log10(hi / lo)
    if span >= 1.0:
        ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0) if span < 2.0 else (1.0,)))
        # every major tick labelled (by default only the powers of ten are, beyond a decade)
        ax.yaxis.set_major_formatter(LogFormatterSciNotation(minor_thresholds=(math.inf, math.inf)))
        ax.yaxis.set_minor_formatter(NullFormatter())


def _two_rows(handles: list) -> tuple[list, int]:
    """``handles`` reordered for a legend of two rows read left to right (a legend fills its columns
    top to bottom), and its number of columns."""
    ncol = -(-len(handles) // 2)
    order = [i for c in range(ncol) for i in (c, c + ncol) if i < len(handles)]
    return [handles[i] for i in order], ncol


def _decade_ticks(ax, values, every: int = 2) -> None:
    """x ticks of a log axis labelled at every ``every``-th power of ten in the range of ``values`` (minor
    ticks at the others): labels at every decade would overlap in a panel 3 inches wide."""
    from matplotlib.ticker import FixedLocator, NullFormatter

    lo, hi = math.floor(math.log10(min(values))), math.ceil(math.log10(max(values)))
    decades = np.arange(lo, hi + 1)
    ax.xaxis.set_major_locator(FixedLocator([10.0 ** p for p in decades if p % every == 0]))
    ax.xaxis.set_minor_locator(FixedLocator([10.0 ** p for p in decades if p % every]))
    ax.xaxis.set_minor_formatter(NullFormatter())


def plot_risk_vs_time(res: dict[str, Any]):
    """Excess risk against the stopping time (geometric mean over seeds), one line per ``n``, for the
    spread target: the U-shape of early stopping, interpolation (``t = inf``) as squares at the right edge,
    the schedule's times as triangles; one panel per learning kernel (a, b, ...), one legend below them.
    6 in wide: prints at full size."""
    from matplotlib.lines import Line2D

    from companion.publish.figures import panels

    sm = summarize(res)
    ti = res["targets"].index("spread")
    G = len(res["gammas"])
    fig, axes = panels(1, G, panel_height=2.9, sharey=True, squeeze=False)
    colors = depth_colors(list(res["ns"]))
    t = res["times"]
    for ax, gi in zip(axes[0], range(G)):
        e = sm["entries"][("spread", res["gammas"][gi])]
        for i, (n, c) in enumerate(zip(res["ns"], colors)):
            # no marker on the curves: squares and triangles mark interpolation and the schedule
            ax.plot(t, np.exp(np.log(res["risk"][ti, gi, :, i]).mean(0)), color=c, marker="none", label=f"$n = {n}$")
            ax.plot([t[-1] * 3], [np.exp(np.log(res["interp"][ti, gi, :, i]).mean())], "s", color=c, markersize=5)
            ax.plot([e["t_sched"][i]], [np.exp(np.log(e["sched"][:, i]).mean())], "^", color=c, markersize=6)
        g = res["gammas"][gi]
        letter = f"({chr(ord('a') + gi)}) " if G > 1 else ""
        ax.set_title(f"{letter}$\\gamma = {g:g}$" + (" (constant $\\alpha$)" if g == 0 else "") + f", $L = {res['depth']}$")
        ax.set(xscale="log", yscale="log", xlabel="stopping time $t$")
        _decade_ticks(ax, [t[0], t[-1] * 3])
    axes[0, 0].set_ylabel("excess risk (spread target)")
    _decade_labels_only(axes[0, 0])
    handles = axes[0, 0].get_lines()[::3] + [
        Line2D([], [], color="grey", marker="s", linestyle="none", markersize=5, label="interpolation ($t = \\infty$)"),
        Line2D([], [], color="grey", marker="^", linestyle="none", markersize=6, label="time on the schedule")]
    handles, ncol = _two_rows(handles)  # the sample sizes first, then what the markers mean
    fig.legend(handles=handles, loc="outside lower center", ncol=ncol)
    return fig


__all__ = ["SpreadTarget", "TARGETS", "Target", "claims", "degree_energy", "energy_table", "excess_risk_curves",
           "learning_kernel", "plot_rates", "plot_risk_vs_time", "predicted_rate", "rates_table", "sphere",
           "stopping_times", "summarize"]
