"""Power-law fits on log-log axes, with confidence intervals from seeds.

Every width or sample-size exponent in the book comes from here:

* :func:`loglog_slope` -- ordinary least squares of ``log y`` on ``log x``: ``y ~ exp(b) x^s``;
* :func:`power_law` -- the same fit when each ``x`` has several seeds, with a confidence interval for
  the exponent (a t-interval over per-seed slopes, or a percentile bootstrap over seeds);
* :func:`power_law_solve` -- where a fitted power law crosses a threshold (``x* = (C / t)^(1 / -s)``).

Logarithms are natural; ``intercept`` is ``log C`` in ``y ~ C x^slope``.
"""

from __future__ import annotations

import math
import sys
from dataclasses import asdict, dataclass
from typing import Any, Sequence

import numpy as np
from scipy import stats

from companion.util import validate as check

__all__ = ["loglog_slope", "PowerLawFit", "power_law", "power_law_solve", "halfwidths_from"]


def _floats(name: str, value: Any) -> np.ndarray:
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise check.fail(name, value, "real numbers") from None


def _positive_vector(name: str, value: Any) -> np.ndarray:
    arr = _floats(name, value)
    if arr.ndim != 1 or arr.size < 2:
        raise check.fail(name, f"array of shape {arr.shape}", "a 1-D array of at least 2 values")
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise check.fail(name, value, "finite values > 0 (they are log-transformed)")
    return arr


def loglog_slope(x: Sequence[float], y: Sequence[float]) -> tuple[float, float, float]:
    """Least-squares line through ``(log x, log y)``.

    Args:
      x, y: positive finite values of equal length >= 2 (at least two distinct ``x``).

    Returns:
      ``(slope, intercept, stderr)`` with ``y ~ exp(intercept) * x**slope``; ``stderr`` is the usual
      standard error of the slope (``nan`` with only two points: no residual degrees of freedom).

    Raises:
      ValueError: on non-positive, non-finite or mismatched inputs.
    """
    lx, ly = np.log(_positive_vector("x", x)), np.log(_positive_vector("y", y))
    if lx.shape != ly.shape:
        raise check.fail("y", f"{ly.size} values", f"as many values as x ({lx.size})")
    if np.ptp(lx) == 0:
        raise check.fail("x", x, "at least two distinct values")
    xm, ym = lx.mean(), ly.mean()
    sxx = float(np.sum((lx - xm) ** 2))
    slope = float(np.sum((lx - xm) * (ly - ym)) / sxx)
    intercept = float(ym - slope * xm)
    dof = lx.size - 2
    if dof <= 0:
        return slope, intercept, math.nan
    resid = ly - (intercept + slope * lx)
    stderr = math.sqrt(float(np.sum(resid**2)) / dof / sxx)
    return slope, intercept, stderr


@dataclass(frozen=True)
class PowerLawFit:
    """``y ~ C x^slope`` fitted on log-log axes; ``[low, high]`` is a ``level`` confidence interval.

    Attributes:
      slope, intercept: the pooled least-squares fit (``intercept = log C``).
      stderr: standard error of ``slope`` behind the interval (``nan`` for the bootstrap).
      low, high: the confidence interval for ``slope``.
      level: its nominal coverage.
      method: ``"t-seeds"`` (t-interval over per-seed slopes), ``"t-ols"`` (one seed: OLS standard
        error with ``k - 2`` degrees of freedom) or ``"bootstrap"`` (percentile bootstrap over seeds).
      seeds: how many seeds (rows) entered.
    """

    slope: float
    intercept: float
    stderr: float
    low: float
    high: float
    level: float
    method: str
    seeds: int

    @property
    def prefactor(self) -> float:
        """``C = exp(intercept)``."""
        return math.exp(self.intercept)

    def predict(self, x: Any) -> np.ndarray:
        """``C x^slope``."""
        return self.prefactor * np.asarray(x, dtype=float) ** self.slope

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def power_law(
    x: Sequence[float],
    y: Any,
    *,
    level: float = 0.95,
    method: str = "t",
    n_boot: int = 2000,
    seed: int = 0,
) -> PowerLawFit:
    """Fit ``y ~ C x^slope`` where ``y[s, i]`` is seed ``s`` at ``x[i]``; interval for the exponent.

    Args:
      x: the k >= 2 abscissae (e.g. widths), positive.
      y: shape ``(k,)`` (one seed) or ``(S, k)`` (S seeds), positive. NaN entries are dropped from the
        pooled fit and from that seed's slope.
      level: confidence level in (0, 1).
      method: ``"t"``: the seeds' individual slopes are i.i.d. estimates of the exponent, so the
        interval is ``mean +- t_{S-1} sd / sqrt(S)`` (needs S >= 2; with one seed it falls back to the
        OLS standard error with ``k - 2`` degrees of freedom, which needs k >= 3). ``"bootstrap"``:
        resample seeds with replacement, refit the pooled line, take percentiles (needs S >= 2).
      n_boot, seed: bootstrap resamples and their random seed.

    Returns:
      A :class:`PowerLawFit`; the point estimate is always the pooled fit over all seeds.
    """
    xv = _positive_vector("x", x)
    ya = _floats("y", y)
    if ya.ndim == 1:
        ya = ya[None, :]
    if ya.ndim != 2 or ya.shape[1] != xv.size:
        raise check.fail("y", f"array of shape {np.shape(y)}", f"shape ({xv.size},) or (seeds, {xv.size})")
    if np.any(ya[np.isfinite(ya)] <= 0) or np.any(np.isinf(ya)):
        raise check.fail("y", "array with entries <= 0 or inf", "positive values (NaN marks a missing run)")
    level = check.real("level", level, minimum=0.0, maximum=1.0, min_inclusive=False, max_inclusive=False)
    check.choice("method", method, ("t", "bootstrap"))
    n_boot = check.integer("n_boot", n_boot, minimum=10)
    seed = check.integer("seed", seed, minimum=0)
    S = ya.shape[0]
    ok = np.isfinite(ya)
    xx = np.broadcast_to(xv, ya.shape)
    slope, intercept, se_pooled = loglog_slope(xx[ok], ya[ok])
    alpha = 1.0 - level
    if method == "t" and S >= 2:
        slopes = np.array([loglog_slope(xv[r], row[r])[0] for row, r in zip(ya, ok) if r.sum() >= 2])
        if slopes.size < 2:
            raise check.fail("y", "fewer than two seeds with >= 2 finite values", "two or more usable seeds")
        se = float(np.std(slopes, ddof=1) / math.sqrt(slopes.size))
        half = float(stats.t.ppf(1 - alpha / 2, slopes.size - 1)) * se
        return PowerLawFit(slope, intercept, se, slope - half, slope + half, level, "t-seeds", S)
    if method == "t":
        if not math.isfinite(se_pooled):
            raise check.fail("x", x, "at least 3 points for an interval from a single seed")
        half = float(stats.t.ppf(1 - alpha / 2, int(ok.sum()) - 2)) * se_pooled
        return PowerLawFit(slope, intercept, se_pooled, slope - half, slope + half, level, "t-ols", 1)
    if S < 2:
        raise check.fail("method", method, "'t' when there is a single seed (the bootstrap resamples seeds)")
    rng = np.random.default_rng(seed)
    boots = []
    for _ in range(n_boot):
        idx = rng.integers(0, S, S)
        yb, ob = ya[idx], ok[idx]
        xb = xx[idx]
        if np.ptp(np.log(xb[ob])) == 0:
            continue
        boots.append(loglog_slope(xb[ob], yb[ob])[0])
    if len(boots) < 2:
        raise check.fail("y", f"{S} seeds whose resamples left one distinct x in {n_boot - len(boots)} of {n_boot}",
                         "seeds with finite values at two or more x (or method='t')")
    lo, hi = np.quantile(boots, [alpha / 2, 1 - alpha / 2])
    return PowerLawFit(slope, intercept, math.nan, float(lo), float(hi), level, "bootstrap", S)


def power_law_solve(prefactor: float, slope: float, threshold: float) -> float:
    """The ``x`` at which ``prefactor * x**slope == threshold`` (``slope != 0``).

    For a decreasing law (``slope < 0``) this is the smallest ``x`` with ``y <= threshold``:
    ``x* = (prefactor / threshold) ** (1 / -slope)``. A crossing beyond the float range is ``inf``
    (or ``0.0``), e.g. for a nearly flat law: never reached within any measurable width. An answer below
    the normal float range (under ``2.2e-308``) is a subnormal float, with the few digits it can hold.
    """
    prefactor = check.real("prefactor", prefactor, minimum=0.0, min_inclusive=False)
    threshold = check.real("threshold", threshold, minimum=0.0, min_inclusive=False)
    slope = check.real("slope", slope)
    if slope == 0:
        raise check.fail("slope", slope, "a non-zero exponent")
    ratio = threshold / prefactor
    # A subnormal ratio has lost relative precision (e.g. 1e-300 / 1.786e18 keeps ~5 digits), and
    # ratio ** (1 / slope) would carry that error into a normal-range answer: use logarithms there.
    if sys.float_info.min <= ratio < math.inf:
        try:
            return float(ratio ** (1.0 / slope))
        except OverflowError:
            return math.inf
    # threshold / prefactor under- or overflowed, or is subnormal: work with logarithms
    log_x = (math.log(threshold) - math.log(prefactor)) / slope
    return math.inf if log_x > math.log(sys.float_info.max) else math.exp(log_x)


def halfwidths_from(fit: PowerLawFit, value: float) -> float:
    """How far ``value`` lies from the fitted exponent, in half-widths of its confidence interval:
    ``|slope - value| / ((high - low) / 2)``. At most 1 exactly when ``value`` is inside the interval.

    ``inf`` for a zero-width interval that misses ``value``, ``nan`` if the interval is not finite.
    """
    value = check.real("value", value)
    half = (fit.high - fit.low) / 2.0
    if not (math.isfinite(half) and math.isfinite(fit.slope)):
        return math.nan
    d = abs(fit.slope - value)
    if half == 0.0:
        return 0.0 if d == 0.0 else math.inf
    return d / half
