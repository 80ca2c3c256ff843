"""Kernel engine against neural-tangents 0.6.5 ``stax`` (the reference; needs the pinned jax 0.5.3).

Mapping (specification): inputs multiplied by ``sqrt(d)`` because ``Dense`` divides the input Gram
matrix by ``d``; FFNet = ``Dense(W_std=1), Relu, [Dense(W_std=sqrt 2), Relu] x (L-1), Dense(1, W_std=
sqrt 2)``; ResNet = ``Dense(W_std=1)``, ``L`` blocks ``FanOut(2) -> parallel(Dense(sqrt 2), Relu,
Dense(alpha) | Identity) -> FanInSum``, readout ``Dense(1, W_std=1)`` (``trained="all"``). For
``trained="hidden"`` the input layer's NTK is zeroed (its ``Kernel`` is passed on with ``ntk = 0``)
and the readout's contribution, its input NNGP, is subtracted at the end. ``stax.repeat`` keeps NT's
compile time flat in depth.
"""

from __future__ import annotations

import numpy as np
import pytest

import companion  # noqa: F401
from companion.kernels import diagonal, ffnet_kernels, resnet_kernels

pytest.importorskip("neural_tangents")
from companion.networks import reference  # noqa: E402  (the stax mapping shared with chapter 2 and the benchmark)

pytestmark = pytest.mark.reference

DEPTHS = [1, 2, 5, 20, 100]
N = 10


def _inputs():
    x = np.random.default_rng(11).normal(size=(N, 5))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x * np.linspace(0.5, 2.0, N)[:, None]  # several norms


def nt_ffnet(L):
    return reference.ffnet_kernel_fn(L)


def nt_resnet_kernels(x, L, alpha):
    """``{"all": (nngp, ntk), "hidden": (nngp, ntk)}`` from neural-tangents (inputs in our scale)."""
    return {t: reference.kernels(x, arch="resnet", depth=L, alpha=alpha, trained=t) for t in ("all", "hidden")}


def _rel_off(ours, ref):
    off = ~np.eye(N, dtype=bool)
    ours, ref = np.asarray(ours), np.asarray(ref)
    return float(np.max(np.abs(ours - ref)[off] / np.abs(ref)[off]))


@pytest.mark.parametrize("L", DEPTHS)
def test_ffnet_matches_neural_tangents(L):
    x = _inputs()
    k = nt_ffnet(L)(x * np.sqrt(x.shape[1]), None, ("nngp", "ntk"))
    sq = np.sum(x * x, axis=1)
    for method in ("recursion", "depthfree"):
        ours = ffnet_kernels(x, depth=L, method=method)
        assert _rel_off(ours.nngp, k.nngp) <= 1e-10
        assert _rel_off(ours.ntk, k.ntk) <= 1e-10
        # the diagonal is the exact closed form; neural-tangents evaluates arccos at rho ~ 1 - 1e-16 and,
        # through the square-root kink, loses about half its digits there (1e-8 .. 1e-7 relative)
        np.testing.assert_allclose(np.diag(np.asarray(ours.ntk)), (L + 1.0) * sq, rtol=5e-16)
    np.testing.assert_allclose(np.diag(np.asarray(k.ntk)), (L + 1.0) * sq, rtol=1e-6)
    np.testing.assert_allclose(np.diag(np.asarray(k.nngp)), sq, rtol=1e-6)


@pytest.mark.parametrize("L", DEPTHS)
def test_resnet_matches_neural_tangents(L):
    x = _inputs()
    sq = np.sum(x * x, axis=1)
    for alpha in sorted({0.5, L**-0.5}):
        ref = nt_resnet_kernels(x, L, alpha)
        for trained in ("hidden", "all"):
            nngp_ref, ntk_ref = ref[trained]
            for method in ("recursion", "depthfree"):
                ours = resnet_kernels(x, depth=L, alpha=alpha, trained=trained, method=method)
                assert _rel_off(ours.nngp, nngp_ref) <= 1e-10, (alpha, trained, method)
                assert _rel_off(ours.ntk, ntk_ref) <= 1e-10, (alpha, trained, method)
            s_nngp, s_ntk = diagonal("resnet", L, alpha, trained)
            np.testing.assert_allclose(np.diag(np.asarray(ours.ntk)), s_ntk * sq, rtol=5e-16)
            np.testing.assert_allclose(np.diag(ntk_ref), s_ntk * sq, rtol=1e-6)  # NT: see above
            np.testing.assert_allclose(np.diag(nngp_ref), s_nngp * sq, rtol=1e-6)


def test_cross_kernel_matches_neural_tangents():
    x = _inputs()
    y = np.random.default_rng(12).normal(size=(7, 5))
    d = x.shape[1]
    k = nt_ffnet(20)(x * np.sqrt(d), y * np.sqrt(d), ("nngp", "ntk"))
    ours = ffnet_kernels(x, y, depth=20)
    np.testing.assert_allclose(np.asarray(ours.ntk), np.asarray(k.ntk), rtol=1e-10)
    np.testing.assert_allclose(np.asarray(ours.nngp), np.asarray(k.nngp), rtol=1e-10)
