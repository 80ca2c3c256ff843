"""A 50-digit reference (Python's ``decimal``, no extra dependency): arc-cosine kernels and the FFNet /
ResNet recursions straight from the specification, with ``rho`` carried as ``1 - rho`` and ``1 + rho``.

Independent of the package: no JAX, no shared code. ``exact_uv`` gives ``1 -+ rho`` of two stored
float64 rows exactly (to 50 digits), i.e. the right correlation of the inputs as stored.
"""

from __future__ import annotations

from decimal import Decimal, localcontext

DIGITS = 50


def _ctx():
    return localcontext(prec=DIGITS + 10)


def D(x) -> Decimal:
    return Decimal(float(x)) if not isinstance(x, Decimal) else x  # exact binary value of a float


def _atan_series(x: Decimal) -> Decimal:
    s, p, k, x2 = Decimal(0), x, 0, x * x
    eps = Decimal(10) ** -(DIGITS + 8)
    while abs(p) > eps:
        s += p / (2 * k + 1) if k % 2 == 0 else -p / (2 * k + 1)
        p *= x2
        k += 1
    return s


def atan(x: Decimal) -> Decimal:
    """arctan for x >= 0 (halving the argument until it is small, then the Taylor series)."""
    with _ctx():
        n = 0
        while x > Decimal("0.05"):
            x = x / (1 + (1 + x * x).sqrt())
            n += 1
        return _atan_series(x) * (2**n)


def pi() -> Decimal:
    with _ctx():
        return 16 * atan(Decimal(1) / 5) - 4 * atan(Decimal(1) / 239)


PI = pi()


def angle(u: Decimal, v: Decimal) -> Decimal:
    """theta = 2 atan2(sqrt u, sqrt v) in [0, pi] (u = 1 - rho, v = 1 + rho)."""
    with _ctx():
        if u == 0:
            return Decimal(0)
        if v == 0:
            return PI
        if u <= v:
            return 2 * atan((u / v).sqrt())
        return PI - 2 * atan((v / u).sqrt())


def kappa0(u: Decimal, v: Decimal) -> Decimal:
    with _ctx():
        return 1 - angle(u, v) / PI


def kappa1(u: Decimal, v: Decimal) -> Decimal:
    with _ctx():
        th = angle(u, v)
        return ((u * v).sqrt() + (PI - th) * (1 - u)) / PI


def uv_of_rho(rho: float) -> tuple[Decimal, Decimal]:
    with _ctx():
        r = D(rho)
        return 1 - r, 1 + r


def exact_uv(x, y) -> tuple[Decimal, Decimal]:
    """``(1 - rho, 1 + rho)`` of two stored rows, to 50 digits."""
    with _ctx():
        a = [D(t) for t in x]
        b = [D(t) for t in y]
        ab = sum(p * q for p, q in zip(a, b))
        aa = sum(p * p for p in a)
        bb = sum(q * q for q in b)
        rho = ab / (aa * bb).sqrt()
        return 1 - rho, 1 + rho


def ffnet(u: Decimal, v: Decimal, depth: int) -> tuple[Decimal, Decimal]:
    """Normalised (nngp, ntk) of the FFNet: rho_h = kappa1(rho_{h-1}), Theta_h = Theta_{h-1} kappa0 + rho_h."""
    with _ctx():
        th = 1 - u
        for _ in range(depth):
            k0, k1 = kappa0(u, v), kappa1(u, v)
            th = th * k0 + k1
            u, v = 1 - k1, 1 + k1
        return 1 - u, th / (depth + 1)


def resnet(u: Decimal, v: Decimal, depth: int, alpha: float, trained: str) -> tuple[Decimal, Decimal]:
    """Normalised (nngp, ntk) of ResNet model H (the specification's forward and backward sums)."""
    with _ctx():
        a2 = D(alpha) ** 2
        c = 1 + a2
        us = [(u, v)]
        for _ in range(depth):
            uu, vv = us[-1]
            k1 = kappa1(uu, vv)
            # 1 - rho_l = (u + a2 (1 - kappa1)) / c,  1 + rho_l = (v + a2 (1 + kappa1)) / c
            us.append(((uu + a2 * (1 - k1)) / c, (vv + a2 * (1 + k1)) / c))
        P, th = Decimal(1), Decimal(0)
        for l in range(depth, 0, -1):
            uu, vv = us[l - 1]
            r = 1 - uu
            th += a2 * P * c ** (l - 1) * (kappa1(uu, vv) + r * kappa0(uu, vv))
            P *= 1 + a2 * kappa0(uu, vv)
        KL = c**depth * (1 - us[-1][0])
        r0 = 1 - u
        hidden_diag = 2 * depth * a2 * c ** (depth - 1)
        if trained == "hidden":
            return KL / c**depth, th / hidden_diag
        return KL / c**depth, (th + KL + P * r0) / (hidden_diag + 2 * c**depth)
