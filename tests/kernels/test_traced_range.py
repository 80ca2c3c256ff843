"""Traced inputs (``jax.jit``, ``jax.grad``) get the eager path's range handling: the scale's overflow is a
named error at trace time, and products of norms and scales never overflow before the entry does.

The kind (final review): ``_traced_kernels`` formed ``c**depth`` and ``n1 * n2`` in linear space, so
``jit(resnet_kernels)(eye(2), depth=1021, alpha=1)`` gave ``inf`` where the eager call raises, and an
FFNet entry of rows of norms 1e300 and 1e-300 gave NaN where the eager value is 4. Members tried here:
random depths, alphas, trained settings and row norms ``10^U(-300, 300)``; the reference is the eager
call (which checks every entry's range in log space) on the same rows, pair by pair.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from companion.kernels import ffnet_kernels, normalized_kernels, products, resnet_kernels
from companion.kernels.recursion import Spec, log_scales

LIMIT64 = math.log(np.finfo(np.float64).max) - 1.0
LIMIT32 = math.log(np.finfo(np.float32).max) - 1.0


def kernels(arch, depth, alpha, trained, x, y, **kw):
    if arch == "ffnet":
        return ffnet_kernels(x, y, depth=depth, **kw)
    return resnet_kernels(x, y, depth=depth, alpha=alpha, trained=trained, **kw)


def scale_log(arch, depth, alpha, trained) -> float:
    spec = Spec("ffnet", depth) if arch == "ffnet" else Spec("resnet", depth, alpha, trained)
    return max(log_scales(spec))


def norms(x):
    """Row norms without overflow (``np.linalg.norm`` squares: 1e300 rows give inf)."""
    m = np.max(np.abs(x), axis=1, keepdims=True)
    return m * np.linalg.norm(x / m, axis=1, keepdims=True)


def rows(rng, n, d, lo, hi):
    z = rng.normal(size=(n, d))
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    return z * 10.0 ** rng.uniform(lo, hi, size=(n, 1))


def member(rng, lo=-300, hi=300):
    arch = str(rng.choice(["ffnet", "resnet"]))
    return (arch, int(rng.integers(0, 2001)), float(rng.uniform(0.0, 3.0)), str(rng.choice(["hidden", "all"])),
            rows(rng, 2, 3, lo, hi), rows(rng, 2, 3, lo, hi))


# ------------------------------------------------------------------------------ the given members
def test_issue_scale_overflow_raises_at_trace_time():
    with pytest.raises(ValueError) as eager:
        resnet_kernels(np.eye(2), depth=1021, alpha=1.0)
    with pytest.raises(ValueError) as traced:  # was: inf
        jax.jit(lambda x: resnet_kernels(x, depth=1021, alpha=1.0).ntk)(jnp.eye(2))
    with pytest.raises(ValueError) as grad:
        jax.grad(lambda x: jnp.sum(resnet_kernels(x, depth=1021, alpha=1.0).ntk))(jnp.eye(2))
    quantity = "the NTK diagonal for a unit input, 2 depth alpha^2 (1 + alpha^2)^(depth - 1) = exp(714.6)"
    for err in (eager, traced, grad):
        msg = str(err.value)
        assert msg.startswith("alpha=1.0, depth=1021 is invalid for dtype float64 with ")
        assert quantity in msg and f"bound exp({LIMIT64:.4g})" in msg
    assert "traced inputs" in str(traced.value) and "traced inputs" in str(grad.value)


@pytest.mark.parametrize("seed", [None, 1, 2])
def test_issue_huge_times_tiny_norm_is_finite_under_jit(seed):
    if seed is None:  # the reported rows: unit direction pair, rho = 1, value (L + 1) |x| |y| = 4
        x, y = np.array([[1e300, 0.0]]), np.array([[1e-300, 0.0]])
    else:
        rng = np.random.default_rng(seed)
        x, y = rows(rng, 1, 4, 300, 300), rows(rng, 1, 4, -300, -300)
    want = np.asarray(ffnet_kernels(x, y, depth=3).ntk)
    got = np.asarray(jax.jit(lambda a, b: ffnet_kernels(a, b, depth=3).ntk)(x, y))  # was NaN
    if seed is None:
        assert want[0, 0] == 4.0 and got[0, 0] == 4.0
    np.testing.assert_allclose(got, want, rtol=4 * np.finfo(float).eps)
    # derivatives: d K / d x = |y| S (k x/|x| + ...) ~ 1e-300, d K / d y ~ 1e300, finite and right
    f = lambda a, b: jnp.sum(ffnet_kernels(a, b, depth=3).ntk)  # noqa: E731
    gx, gy = jax.jit(jax.grad(f, argnums=(0, 1)))(x, y)
    for arg, g, i in ((x, gx, 0), (y, gy, 1)):
        g = np.asarray(g)
        assert np.all(np.isfinite(g))
        e = np.random.default_rng(7).normal(size=arg.shape)
        h = 1e-6 * float(norms(arg)[0, 0])
        pl, mi = [x, y], [x, y]
        pl[i], mi[i] = arg + h * e, arg - h * e
        fd = (float(f(*pl)) - float(f(*mi))) / (2 * h)
        assert float(np.sum(g * e)) == pytest.approx(fd, rel=1e-6)


# ------------------------------------------------------------------------------ random members, float64
@pytest.mark.parametrize("seed", range(6))
def test_jit_equals_eager_pair_by_pair(seed):
    """Random members; every entry: equal to the eager value of its two rows (rtol 1e-12) where that is
    computed, ``inf`` or a float (never NaN) where eager refuses it for the inputs' norms; the scale
    alone over the bound: the same named error at trace time."""
    rng = np.random.default_rng(seed)
    for _ in range(4):
        arch, depth, alpha, trained, x, y = member(rng)
        f = jax.jit(lambda a, b: tuple(kernels(arch, depth, alpha, trained, a, b)))  # noqa: B023
        if scale_log(arch, depth, alpha, trained) > LIMIT64:
            with pytest.raises(ValueError, match=f"^alpha={alpha!r}, depth={depth!r} is invalid for dtype float64"):
                f(x, y)
            continue
        got = [np.asarray(m) for m in f(x, y)]
        for i in range(2):
            for j in range(2):
                try:
                    want = kernels(arch, depth, alpha, trained, x[i : i + 1], y[j : j + 1])
                except ValueError as err:
                    assert str(err).startswith(("x1=", "x2="))  # the scale passed: the norms overflow
                    assert not any(np.isnan(m[i, j]) for m in got)
                    continue
                for g, w in zip(got, want):
                    w = float(np.asarray(w)[0, 0])
                    assert np.isfinite(g[i, j])
                    assert g[i, j] == pytest.approx(w, rel=1e-12, abs=0.0), (arch, depth, alpha, trained, i, j)


@pytest.mark.parametrize("seed", range(4))
def test_jit_gradients_finite_and_right_where_eager_is_finite(seed):
    rng = np.random.default_rng(100 + seed)
    done = 0
    while done < 2:
        arch, depth, alpha, trained, x, y = member(rng)
        try:
            want = kernels(arch, depth, alpha, trained, x, y)
        except ValueError:
            continue
        done += 1
        f = lambda a, b: jnp.sum(kernels(arch, depth, alpha, trained, a, b).ntk)  # noqa: E731, B023
        np.testing.assert_allclose(float(jax.jit(f)(x, y)), float(np.sum(np.asarray(want.ntk))), rtol=1e-12)
        gx, gy = jax.jit(jax.grad(f, argnums=(0, 1)))(x, y)
        for arg, g, i in ((x, gx, 0), (y, gy, 1)):
            g = np.asarray(g)
            assert np.all(np.isfinite(g))
            # central differences along a random direction of each row scaled to the row's norm
            e = rng.normal(size=arg.shape) * norms(arg)
            h = 1e-6
            pl, mi = [x, y], [x, y]
            pl[i], mi[i] = arg + h * e, arg - h * e
            fd = (float(f(*pl)) - float(f(*mi))) / (2 * h)
            scale = float(np.sum(np.abs(g * e)))
            assert abs(float(np.sum(g * e)) - fd) <= 1e-6 * scale + 1e-300


def test_traced_alpha_scale_in_log_space():
    """A traced alpha cannot be checked at trace time: the scale is formed as depth * log1p(alpha^2) and
    entries stay finite (and equal to eager) where the inputs bring them into range; d/d alpha finite."""
    x = np.array([[1.0, 0.0], [0.6, 0.8]]) * math.exp(-700.0)  # S = 2^2000: eager computes these entries
    for trained in ("hidden", "all"):
        want = resnet_kernels(x, depth=2000, alpha=1.0, trained=trained)
        f = lambda a: tuple(resnet_kernels(x, depth=2000, alpha=a, trained=trained))  # noqa: E731, B023
        got = jax.jit(f)(1.0)
        for g, w in zip(got, want):
            np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-12)
        da = float(jax.grad(lambda a: jnp.sum(f(a)[1]))(1.0))  # noqa: B023
        fd = (float(jnp.sum(f(1.0 + 1e-7)[1])) - float(jnp.sum(f(1.0 - 1e-7)[1]))) / 2e-7
        assert np.isfinite(da) and da == pytest.approx(fd, rel=1e-5)
    # alpha = 0: the hidden NTK's scale 2 L alpha^2 c^(L-1) is 0 with derivative 0 (not NaN from
    # log(alpha^2)); the scale enters the kernels as f 2^E (module products)
    def hidden_scale(a):
        f, big_e = products.traced_scale_parts(products.traced_log_scales("resnet", 3, a * a, "hidden")[1], jnp.float64)
        return products.ldexp(f, big_e)

    assert float(hidden_scale(0.0)) == 0.0 and float(jax.grad(hidden_scale)(0.0)) == 0.0
    assert float(jax.grad(hidden_scale)(0.5)) == pytest.approx(float(jax.grad(lambda a: 6 * a**2 * (1 + a**2) ** 2)(0.5)))
    for trained, q in (("hidden", "nngp"), ("all", "nngp"), ("all", "ntk")):
        g = jax.grad(lambda a: jnp.sum(getattr(resnet_kernels(np.eye(2), depth=3, alpha=a, trained=trained), q)))(0.0)  # noqa: B023
        assert float(g) == 0.0
    # an overflowing scale with a traced alpha: inf (documented), never NaN
    k = jax.jit(lambda a: resnet_kernels(np.eye(2), depth=1021, alpha=a).ntk)(1.0)
    assert np.all(np.isinf(np.asarray(k)[np.eye(2, dtype=bool)]))


def test_traced_input_norm_overflow_gives_inf():
    x = np.array([[1e200, 0.0], [0.0, 1e-200]])
    with pytest.raises(ValueError, match="^x1="):
        ffnet_kernels(x, depth=3)
    K = np.asarray(jax.jit(lambda a: ffnet_kernels(a, depth=3).ntk)(x))
    assert K[0, 0] == math.inf and K[1, 1] == 0.0  # 4e400 overflows, 4e-400 underflows
    assert K[0, 1] == K[1, 0] and np.isfinite(K[0, 1])  # |x1| |x2| S k = 4 k, k(0) = NTK at rho = 0
    kn = float(np.asarray(normalized_kernels(x, arch="ffnet", depth=3).ntk)[0, 1])
    assert K[0, 1] == pytest.approx(4.0 * kn, rel=1e-15)


# ------------------------------------------------------------------------------ float32
def _float32_members(seed, n):
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < n:
        arch, depth, alpha, trained, x, y = member(rng, -15, 15)
        if scale_log(arch, depth, alpha, trained) + math.log(1e15) * 2 > LIMIT32:
            alpha = alpha * 0.05  # keep most members computable in float32
        out.append((arch, depth % 400, alpha, trained, x.astype(np.float32), y.astype(np.float32)))
    return out


def _check_float32(members):
    for arch, depth, alpha, trained, x, y in members:
        f = jax.jit(lambda a, b: tuple(kernels(arch, depth, alpha, trained, a, b, dtype="float32")))  # noqa: B023
        try:
            want = kernels(arch, depth, alpha, trained, x, y, dtype="float32")
        except ValueError as err:
            if str(err).startswith("alpha="):
                with pytest.raises(ValueError, match=f"^alpha={alpha!r}, depth={depth!r} is invalid for dtype float32"):
                    f(jnp.asarray(x), jnp.asarray(y))
            continue
        got = f(jnp.asarray(x), jnp.asarray(y))
        # the diagonals in float64 (a float32 input's own kernel may overflow where the cross kernel does not)
        d1 = [np.asarray(m) for m in kernels(arch, depth, alpha, trained, x, None)]
        d2 = [np.asarray(m) for m in kernels(arch, depth, alpha, trained, y, None)]
        for g, w, a, b in zip(got, want, d1, d2):
            g, w = np.asarray(g), np.asarray(w)
            assert g.dtype == np.float32 and np.all(np.isfinite(g))
            # float32 accuracy: 1e-5 in normalised units, i.e. relative to sqrt(K_ii K_jj)
            scale = np.sqrt(np.outer(np.diag(a).astype(float), np.diag(b).astype(float)))
            assert np.all(np.abs(g.astype(float) - w.astype(float)) <= 2e-5 * scale)


@pytest.mark.usefixtures("x64_off")
def test_float32_jit_matches_eager_float32_x64_off():
    _check_float32(_float32_members(5, 5))


@pytest.mark.usefixtures("x64_on")
def test_float32_jit_matches_eager_float32_x64_on():
    _check_float32(_float32_members(6, 5))


@pytest.mark.parametrize("seed", range(2))
def test_float32_inputs_under_jit_follow_the_requested_float64(seed):
    """float32 images under jit with the default ``dtype="float64"`` are computed (and range-checked) in
    float64, as eagerly: a ResNet at depth 200 with alpha = 1 fits float64 but not float32, so it must not
    raise 'invalid for dtype float32'; the values equal the eager ones."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(4, 5)).astype(np.float32)
    depth = int(rng.integers(1, 100))
    for f in (lambda a: resnet_kernels(a, depth=200, alpha=1.0).ntk, lambda a: ffnet_kernels(a, depth=depth).nngp):
        got = jax.jit(f)(x)
        assert got.dtype == np.float64
        np.testing.assert_allclose(np.asarray(got), np.asarray(f(x)), rtol=1e-12)
