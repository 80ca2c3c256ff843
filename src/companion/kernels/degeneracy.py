"""How degenerate is a kernel matrix: distance from "constant + nugget", spectrum, effective rank.

A deep FFNet's NTK tends to ``c 1 1^T + (1 - c) I`` after normalisation (``c = 1/4``): every pair of
distinct inputs looks alike, and kernel regression predicts the training mean on new points. These
measures quantify how close a kernel matrix is to that, on the *normalised* matrix
``K_ij / sqrt(K_ii K_jj)`` (scale-free; rows with a zero diagonal are set to 0).
"""

from __future__ import annotations

import numpy as np

from companion.util import validate as check


def _square(name: str, K) -> np.ndarray:
    a = check.matrix(name, np.asarray(K))
    if a.shape[0] != a.shape[1]:
        raise check.fail(name, f"array of shape {a.shape}", "a square (n, n) kernel matrix")
    return a.astype(np.float64)


def _flag(name: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise check.fail(name, value, "True or False")
    return bool(value)


def normalize_kernel(K) -> np.ndarray:
    """``K_ij / sqrt(K_ii K_jj)`` (float64 NumPy); rows and columns with ``K_ii <= 0`` become 0."""
    a = _square("K", K)
    d = np.diag(a).copy()
    s = np.where(d > 0, 1.0 / np.sqrt(np.where(d > 0, d, 1.0)), 0.0)
    return a * s[:, None] * s[None, :]


def constant_kernel_distance(K) -> float:
    """RMS distance of the normalised off-diagonal entries from their mean.

    0 exactly when the normalised matrix is ``c 1 1^T + (1 - c) I`` ("constant + nugget", the deep
    FFNet NTK's limit); it is the Frobenius distance to the nearest such matrix divided by
    ``sqrt(n (n - 1))``, in correlation units. Needs ``n >= 2``.
    """
    kn = normalize_kernel(K)
    n = kn.shape[0]
    if n < 2:
        raise check.fail("K", f"array of shape {kn.shape}", "n >= 2 (off-diagonal entries needed)")
    off = kn[~np.eye(n, dtype=bool)]
    return float(np.sqrt(np.mean((off - off.mean()) ** 2)))


def gram_spectrum(K, normalized: bool = True) -> np.ndarray:
    """Eigenvalues in decreasing order, divided by their sum (so they sum to 1), of the normalised
    kernel matrix (``normalized=True``) or of ``K`` itself. Tiny negative rounding values are kept."""
    a = normalize_kernel(K) if _flag("normalized", normalized) else _square("K", K)
    a = (a + a.T) / 2
    lam = np.linalg.eigvalsh(a)[::-1]
    total = lam.sum()
    return lam / total if total > 0 else lam


def effective_rank(K, kind: str = "entropy", normalized: bool = True) -> float:
    """Effective rank of a kernel matrix, between 1 (rank one) and n (a multiple of the identity).

    ``kind="entropy"``: ``exp(-sum p log p)`` with ``p`` the normalised eigenvalues (Roy & Vetterli);
    ``kind="participation"``: ``(sum lambda)^2 / sum lambda^2``. Negative rounding eigenvalues are
    dropped. A "constant + nugget" matrix with constant ``c`` has participation rank
    ``n / (1 + (n - 1) c^2)``... i.e. few effective directions when ``c`` is large.
    """
    check.choice("kind", kind, ("entropy", "participation"))
    p = np.clip(gram_spectrum(K, normalized), 0.0, None)
    if not p.sum() > 0:  # e.g. the zero matrix: no spectrum to count (was 1.0 or NaN)
        raise check.fail("K", "a matrix without a positive eigenvalue", "a kernel matrix with a positive eigenvalue")
    p = p / p.sum()
    if kind == "participation":
        return float(1.0 / np.sum(p * p))
    nz = p[p > 0]
    return float(np.exp(-np.sum(nz * np.log(nz))))


def degeneracy_report(K) -> dict:
    """All measures at once: ``{"constant", "distance", "effective_rank", "participation_rank",
    "top_eigenvalue"}`` where ``constant`` is the mean normalised off-diagonal entry."""
    kn = normalize_kernel(K)
    n = kn.shape[0]
    off = kn[~np.eye(n, dtype=bool)] if n > 1 else np.zeros(1)
    spec = gram_spectrum(kn)
    return {
        "constant": float(off.mean()),
        "distance": constant_kernel_distance(kn) if n > 1 else 0.0,
        "effective_rank": effective_rank(kn),
        "participation_rank": effective_rank(kn, "participation"),
        "top_eigenvalue": float(spec[0]),
    }
