"""Argument checks shared by every public function.

Each check raises :class:`ValueError` whose message names the argument, the value it got and what
is allowed, so that a wrong call fails before any computation and never yields a quiet wrong number.
Nothing is clipped or coerced silently.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Iterable

import numpy as np

TRAINED = ("hidden", "all")
DTYPES = ("float64", "float32")


def _fmt(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def fail(name: str, value: Any, allowed: str) -> ValueError:
    """Build the standard error: ``name=value is invalid; allowed: ...``."""
    return ValueError(f"{name}={_fmt(value)} is invalid; allowed: {allowed}")


def integer(name: str, value: Any, *, minimum: int = 0, maximum: int | None = None) -> int:
    """Return ``value`` as ``int`` if it is an integer in ``[minimum, maximum]``.

    Booleans and floats (even 3.0) are rejected: a depth of ``3.5`` or ``True`` is a bug upstream.
    """
    ok = isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, (bool, np.bool_))
    rng = f"an integer >= {minimum}" + (f" and <= {maximum}" if maximum is not None else "")
    if not ok:
        raise fail(name, value, rng)
    value = int(value)
    if value < minimum or (maximum is not None and value > maximum):
        raise fail(name, value, rng)
    return value


def real(
    name: str,
    value: Any,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    min_inclusive: bool = True,
    max_inclusive: bool = True,
) -> float:
    """Return ``value`` as ``float`` if it is a finite real number in the given range."""
    lo = "" if minimum is None else f"{'>=' if min_inclusive else '>'} {minimum}"
    hi = "" if maximum is None else f"{'<=' if max_inclusive else '<'} {maximum}"
    rng = "a finite real number" + (f" {lo}" if lo else "") + (" and" if lo and hi else "") + (f" {hi}" if hi else "")
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        raise fail(name, value, rng)
    try:
        value = float(value)
    except OverflowError:  # a Python int beyond the float range (10**400)
        raise fail(name, value, rng) from None
    if not math.isfinite(value):
        raise fail(name, value, rng)
    if minimum is not None and (value < minimum or (not min_inclusive and value == minimum)):
        raise fail(name, value, rng)
    if maximum is not None and (value > maximum or (not max_inclusive and value == maximum)):
        raise fail(name, value, rng)
    return value


def choice(name: str, value: Any, allowed: Iterable[Any]) -> Any:
    """Return ``value`` if it is one of ``allowed``."""
    allowed = tuple(allowed)
    if value not in allowed:
        raise fail(name, value, "one of " + ", ".join(repr(a) for a in allowed))
    return value


def dtype(name: str, value: Any) -> np.dtype:
    """Return a supported floating dtype (float64 or float32)."""
    try:
        dt = np.dtype(value)
    except TypeError:
        raise fail(name, value, "one of " + ", ".join(DTYPES)) from None
    if dt.name not in DTYPES:
        raise fail(name, value, "one of " + ", ".join(DTYPES))
    return dt


def matrix(name: str, value: Any, *, features: int | None = None, other: str | None = None) -> np.ndarray:
    """Check a finite 2-D input array of shape ``(n, d)``; return it as a NumPy array.

    ``features`` (with the name of the array it must agree with, ``other``) enforces matching
    feature dimensions between two inputs.
    """
    arr = np.asarray(value)
    if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise fail(name, f"array of shape {arr.shape}", "a 2-D array of shape (n, d) with n, d >= 1")
    if not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
        raise fail(name, f"array of dtype {arr.dtype}", "a real numeric array")
    if not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise fail(name, f"array with {bad} non-finite entries", "finite entries only (no NaN or inf)")
    if features is not None and arr.shape[1] != features:
        raise fail(
            name,
            f"array with {arr.shape[1]} features",
            f"the same feature dimension as {other or 'the first input'} ({features})",
        )
    return arr
