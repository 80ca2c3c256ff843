"""Chapter 1's checks (companion.chapters.signal_propagation): each claim holds on the chapter's networks
and its counterfactual, measured by the same code, is rejected."""

from __future__ import annotations

import math

import numpy as np
import pytest

from companion.chapters import signal_propagation as sp
from companion.kernels import kappa1, nngp_trajectory


def _synthetic(noise: float, seeds: int = 8, depth: int = 6, rho0: float = 0.5, seed: int = 0):
    """A result of :func:`sp.propagation` whose finite networks are the recursion plus seed noise."""
    rng = np.random.default_rng(seed)
    runs = []
    for arch, gamma in (("ffnet", None), ("resnet", 0.5), ("resnet", 1.0)):
        alpha = 0.0 if gamma is None else depth**-gamma
        tr = nngp_trajectory(arch, depth, rho0, alpha)
        hat = tr["rho"][None, :] + noise * rng.standard_normal((seeds, depth + 1))
        hat[:, 0] = rho0
        runs.append({"arch": arch, "gamma": gamma, "alpha": alpha, **tr, "rho_hat": hat, "q_hat": tr["q"][None]})
    return {"layers": np.arange(depth + 1), "runs": runs,
            "params": {"width": 256, "depth": depth, "seeds": seeds, "rho0": rho0, "gammas": [0.5, 1.0]}}


def test_follow_z_is_in_standard_errors_and_the_swap_is_rejected():
    res = _synthetic(noise=0.01)
    z = sp.follow_z(res)
    assert z < sp.Z_MAX  # noise only: a few standard errors at most
    assert sp.follow_z(res, swap=True) > 3 * sp.Z_MAX  # gamma = 1/2 and 1 differ by ~0.06 >> 0.01 / sqrt(8)
    # a bias of 10 standard errors in one network is caught
    res["runs"][2]["rho_hat"][:, 1:] += 10 * 0.01 / math.sqrt(8)
    assert sp.follow_z(res) > sp.Z_MAX
    with pytest.raises(ValueError, match="seeds"):
        sp.follow_z(_synthetic(noise=0.01, seeds=1))
    one = _synthetic(noise=0.01)
    one["runs"] = one["runs"][:2]
    with pytest.raises(ValueError, match="gammas"):
        sp.follow_z(one, swap=True)


def test_claims_hold_and_every_counterfactual_is_rejected():
    out = sp.claims(_synthetic(noise=0.01))
    assert [c.id for c in out] == ["01-finite-follows-nngp", "01-ffnet-rate", "01-resnet-keeps"]
    assert all(c.passed for c in out), [(c.id, c.measured, c.target, c.tolerance) for c in out]
    assert all(c.counterfactual_passed is False for c in out), [(c.id, c.counterfactual_measured) for c in out]


def test_asymptotic_rates():
    # FFNet: (1 - rho_L) / (9 pi^2 / (2 L^2)) -> 1 with an O(ln L / L) correction
    assert abs(sp.rate_ratio("ffnet", 10_000, 0.5) - 1) < 0.005 < abs(sp.rate_ratio("ffnet", 1000, 0.5) - 1)
    # unscaled ResNet: half a kappa1 step per block, so the ratio tends to 4
    assert abs(sp.rate_ratio("resnet", 10_000, 0.5, 0.0) - 4) < 0.05
    # gamma = 1: L |rho_L - rho_0| -> kappa1(rho_0) - rho_0; gamma = 1/2: the drift does not vanish
    for rho0 in (-0.5, 0.5):
        target = abs(float(kappa1(rho0)) - rho0)
        assert abs(sp.scaled_drift(10_000, rho0, 1.0) - target) < 1e-4 * target + 1e-6
    assert sp.scaled_drift(10_000, 0.5, 0.5) / 10_000 > 0.09
    table = sp.drift_table(0.5, depths=(10, 100))
    assert table.count("\n") == 3 and "γ = 1" in table and "$" not in table


def test_tiny_propagation_shapes():
    res = sp.propagation({"width": 16, "depth": 2, "gammas": [0.5, 1.0], "seeds": 2, "rho0": 0.3})
    assert [r["label"] for r in res["runs"]][0] == "FFNet" and len(res["runs"]) == 3
    for r in res["runs"]:
        assert r["rho_hat"].shape == (2, 3) and r["rho"].shape == (3,)
        np.testing.assert_allclose(r["rho_hat"][:, 0], 0.3, atol=1e-12)
    assert math.isfinite(sp.follow_z(res)) and math.isfinite(sp.follow_z(res, swap=True))
